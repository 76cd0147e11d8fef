"""envtrace.hj212"""
