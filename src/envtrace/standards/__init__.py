"""envtrace.standards"""
