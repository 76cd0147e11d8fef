"""envtrace.detect"""
