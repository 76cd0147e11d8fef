"""envtrace.governance"""
