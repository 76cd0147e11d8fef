"""Errors of ``envtrace.evidence``.

::

    EvidenceError
    ├── KeyStoreError             the signing-key folder cannot be used (names the path and why)
    │   └── NoSigningKey          no active signing key (run the platform once, or rotate)
    ├── OriginMismatch            the configured log origin differs from the one already published
    ├── PublicationError          the database and the published checkpoints disagree: refuse to run
    │   ├── CheckpointFileCorrupt the checkpoint file cannot be parsed (names the entry)
    │   ├── UntrustedCheckpoint   a published checkpoint does not verify with the published keys
    │   ├── PublicationMismatch   the file and the ledger_checkpoint table disagree
    │   ├── TreeTruncated         the tree is smaller than a published checkpoint
    │   └── TreeForked            the tree does not extend a published checkpoint (other root)
    ├── RecordNotFound            no such frame or leaf to export
    └── BundleInvalid             an evidence bundle fails a check (names the check)

Every error carries the values that made it fail; the messages name the checkpoint (its source,
size, root and time) so that an operator can act on them without reading code.
"""

from __future__ import annotations

import time
from pathlib import Path


def _when(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


class EvidenceError(Exception):
    """Base of every error of this package."""


class KeyStoreError(EvidenceError):
    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"signing keys at {path}: {reason}")
        self.path = path
        self.reason = reason


class NoSigningKey(KeyStoreError):
    def __init__(self, path: Path) -> None:
        super().__init__(path, "no active signing key (it is generated on the first checkpoint)")


class OriginMismatch(EvidenceError):
    def __init__(self, configured: str, published: str, where: str) -> None:
        super().__init__(
            f"the log origin is fixed per database: {where} says {published!r} but the configuration "
            f"asks for {configured!r}"
        )
        self.configured = configured
        self.published = published
        self.where = where


class PublicationError(EvidenceError):
    """The tree in the database cannot be reconciled with what was published: do not run on it."""


class CheckpointFileCorrupt(PublicationError):
    def __init__(self, path: Path, entry: int, reason: str) -> None:
        super().__init__(f"checkpoint file {path}, entry {entry}: {reason}")
        self.path = path
        self.entry = entry
        self.reason = reason


class UntrustedCheckpoint(PublicationError):
    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class PublicationMismatch(PublicationError):
    def __init__(self, reason: str, *, source: str, size: int, root: bytes) -> None:
        super().__init__(f"{source} (size {size}, root {root.hex()}): {reason}")
        self.reason = reason
        self.source = source
        self.size = size
        self.root = root


class _TreeError(PublicationError):
    def __init__(
        self,
        message: str,
        *,
        source: str,
        checkpoint_size: int,
        checkpoint_root: bytes,
        checkpoint_ts: int,
        size: int,
        root: bytes,
    ) -> None:
        super().__init__(
            f"{message}: published checkpoint {source} has size {checkpoint_size}, root "
            f"{checkpoint_root.hex()}, signed {_when(checkpoint_ts)}; the database holds {size} leaves "
            f"with root {root.hex()}"
        )
        self.source = source
        self.checkpoint_size = checkpoint_size
        self.checkpoint_root = checkpoint_root
        self.checkpoint_ts = checkpoint_ts
        self.size = size
        self.root = root


class TreeTruncated(_TreeError):
    """The database holds fewer leaves than a published checkpoint: records were removed."""


class TreeForked(_TreeError):
    """The database's tree does not extend a published checkpoint: records were rewritten."""

    def __init__(
        self,
        reason: str,
        *,
        source: str,
        checkpoint_size: int,
        checkpoint_root: bytes,
        checkpoint_ts: int,
        size: int,
        root: bytes,
    ) -> None:
        super().__init__(
            f"the ledger does not extend the published checkpoint ({reason})",
            source=source,
            checkpoint_size=checkpoint_size,
            checkpoint_root=checkpoint_root,
            checkpoint_ts=checkpoint_ts,
            size=size,
            root=root,
        )
        self.reason = reason


class RecordNotFound(EvidenceError):
    def __init__(self, what: str) -> None:
        super().__init__(f"not found: {what}")
        self.what = what


class BundleInvalid(EvidenceError):
    def __init__(self, check: str, reason: str) -> None:
        super().__init__(f"{check}: {reason}")
        self.check = check
        self.reason = reason
