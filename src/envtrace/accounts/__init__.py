"""envtrace.accounts"""
