"""envtrace.evidence: proving the ledger to outsiders.

Modules: ``errors`` · ``options`` (where keys and the checkpoint file live, how often to sign) ·
``keys`` (the Ed25519 signing keys outside the database) · ``published`` (the checkpoint file) ·
``publication`` (the tree against what was published) · ``signer`` (signing, rotation, the start-up
gate) · ``jobs`` (the periodic checkpoint job) · ``findings`` / ``audit`` / ``tree_audit`` /
``frame_audit`` / ``record_audit`` / ``derive`` / ``readonly`` (``envtrace verify``) ·
``corrections`` · ``bundle`` / ``bundle_check`` (self-contained evidence bundles, checked offline) ·
``queries`` (for the web app).
See ``docs/evidence.md``.
"""

from envtrace.evidence.audit import VerifyContext, verify_database, verify_url
from envtrace.evidence.bundle import build_bundle, export_bundle
from envtrace.evidence.bundle_check import BUNDLE_FORMAT, BUNDLE_VERSION, verify_bundle
from envtrace.evidence.corrections import CORRECTION_KIND, RecordRef, append_correction, correction_payload
from envtrace.evidence.errors import (
    BundleInvalid,
    CheckpointFileCorrupt,
    EvidenceError,
    KeyStoreError,
    NoSigningKey,
    OriginMismatch,
    PublicationError,
    PublicationMismatch,
    RecordNotFound,
    TreeForked,
    TreeTruncated,
    UntrustedCheckpoint,
)
from envtrace.evidence.findings import CATALOGUE, Finding, Report, Severity
from envtrace.evidence.options import EvidenceOptions
from envtrace.evidence.signer import (
    check_against_published,
    checkpoint_if_due,
    ensure_key,
    rotate_key,
    sign_now,
)

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_VERSION",
    "CATALOGUE",
    "CORRECTION_KIND",
    "BundleInvalid",
    "CheckpointFileCorrupt",
    "EvidenceError",
    "EvidenceOptions",
    "Finding",
    "KeyStoreError",
    "NoSigningKey",
    "OriginMismatch",
    "PublicationError",
    "PublicationMismatch",
    "RecordNotFound",
    "RecordRef",
    "Report",
    "Severity",
    "TreeForked",
    "TreeTruncated",
    "UntrustedCheckpoint",
    "VerifyContext",
    "append_correction",
    "build_bundle",
    "check_against_published",
    "checkpoint_if_due",
    "correction_payload",
    "ensure_key",
    "export_bundle",
    "rotate_key",
    "sign_now",
    "verify_bundle",
    "verify_database",
    "verify_url",
]
