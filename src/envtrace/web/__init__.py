"""envtrace.web"""
