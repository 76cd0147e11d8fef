"""envtrace.ledger"""
