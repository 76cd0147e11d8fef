"""envtrace.store"""
