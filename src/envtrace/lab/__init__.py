"""envtrace.lab"""
