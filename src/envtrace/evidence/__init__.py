"""Proving the ledger to outsiders: checkpoint publication, signing keys, verification, evidence bundles."""
