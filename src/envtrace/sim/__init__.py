"""envtrace.sim"""
