"""envtrace.alarms"""
