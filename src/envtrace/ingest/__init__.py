"""envtrace.ingest"""
