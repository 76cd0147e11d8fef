"""What ``envtrace verify`` reports: one ``Finding`` per disagreement, and the catalogue of codes.

An **error** means the stored data no longer is what was sealed or published (something was
edited, deleted, inserted, reordered or truncated): ``verify`` exits 1. A **warning** is a fact an
auditor should know that is not proof of tampering (the platform's own re-derivation of readings
disagrees with what it sealed at receipt, leaves not yet covered by any checkpoint ...). A **note**
says what could not be checked and why (an SM4 key that is no longer available ...).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


E, W, N = Severity.ERROR, Severity.WARNING, Severity.NOTE

CATALOGUE: dict[str, tuple[Severity, str]] = {
    # the tree
    "leaf-missing": (E, "a leaf index below the tree size has no ledger_leaf row (deleted)"),
    "leaf-extra": (
        E,
        "a ledger_leaf row lies beyond the size the head records (inserted, or head rolled back)",
    ),
    "leaf-hash": (E, "a leaf's stored leaf_hash is not SHA-256(0x00 || payload): payload or hash edited"),
    "leaf-kind": (E, "a leaf's kind column differs from the kind inside its payload"),
    "leaf-unreadable": (E, "a leaf payload is not a JSON object with a kind"),
    "node-mismatch": (E, "a stored perfect-subtree hash differs from the one recomputed from the leaves"),
    "node-missing": (E, "a perfect subtree of the tree has no ledger_node row"),
    "node-extra": (E, "a ledger_node row names a subtree the recomputed tree does not have"),
    "head-size": (E, "ledger_head.size differs from the number of leaves"),
    "head-root": (E, "ledger_head.root differs from the root recomputed from the leaves"),
    # published checkpoints
    "checkpoint-root": (
        E,
        "the tree recomputed from the stored leaves does not give a published root (fork)",
    ),
    "checkpoint-truncated": (E, "a published checkpoint is larger than the stored tree (truncation)"),
    "checkpoint-signature": (E, "a checkpoint does not verify with the published public keys"),
    "checkpoint-row": (E, "a ledger_checkpoint row's columns differ from its signed note"),
    "checkpoint-unpublished": (E, "a checkpoint recorded in the database is not in the published file"),
    "checkpoint-unrecorded": (E, "a checkpoint of the published file is not recorded in the database"),
    "checkpoint-order": (E, "published checkpoints go back in size or time"),
    "checkpoint-file": (E, "the published checkpoint file is missing or unreadable while checkpoints exist"),
    "checkpoint-none": (W, "nothing was published yet: no outsider can hold the platform to this tree"),
    "checkpoint-behind": (
        N,
        "leaves appended after the newest published checkpoint (sealed, not yet published)",
    ),
    "key-unpublished": (W, "a key sealed in the ledger (ledger_key) is not among the published public keys"),
    # raw frames and readings
    "frame-missing": (E, "a raw_frame leaf has no raw_frame row (deleted)"),
    "frame-field": (E, "a raw_frame column differs from its sealed leaf or from its raw bytes"),
    "frame-bytes": (E, "a raw frame's bytes no longer hash to the SHA-256 its leaf sealed"),
    "frame-unsealed": (E, "a raw_frame row points at no raw_frame leaf (inserted, or its pointer edited)"),
    "quarantine-missing": (E, "a quarantined frame's quarantine row is missing"),
    "quarantine-field": (E, "a quarantine row differs from the frame's sealed leaf"),
    "quarantine-extra": (E, "a quarantine row belongs to no quarantined frame (inserted)"),
    "reading-value": (E, "a stored reading differs from the value in the raw frame it came from"),
    "reading-missing": (E, "a reading the raw frame made is not stored (deleted)"),
    "reading-extra": (E, "a stored reading was not made by the raw frame it names (inserted or moved)"),
    "reading-orphan": (E, "a stored reading names a raw frame that does not exist"),
    "reading-station": (E, "a stored reading names another station than its raw frame"),
    "readings-digest": (E, "a frame's stored readings do not give the digest its leaf sealed"),
    "reading-superseded": (N, "a reading of a frame is stored from an earlier frame (first arrival wins)"),
    "readings-derivation": (
        W,
        "re-decoding a raw frame does not reproduce the readings it sealed at receipt",
    ),
    "decode-unavailable": (N, "a raw frame could not be re-decoded (SM4 key unavailable ...): digest only"),
    # other records
    "station-enrolment": (E, "a station row differs from its sealed enrolment"),
    "station-approval": (E, "a station's approval differs from its sealed approval"),
    "station-registry": (
        E,
        "a station's registry fields differ from its newest sealed registry record (edited in place)",
    ),
    "record-missing": (E, "a sealed record's row is missing from its table"),
    "record-mismatch": (E, "a row of a sealed table differs from its leaf"),
    "record-unsealed": (E, "a row of a sealed table points at no leaf of its kind"),
    "correction-target": (E, "a correction names a record that is not in the ledger as it names it"),
    "kind-unchecked": (
        N,
        "leaves of a kind with no documented row check: their place in the tree is verified",
    ),
}


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    message: str
    leaf: int | None = None
    record: str | None = None
    detail: dict[str, object] = field(default_factory=dict)

    @property
    def severity(self) -> Severity:
        return CATALOGUE[self.code][0]

    def line(self) -> str:
        where = []
        if self.leaf is not None:
            where.append(f"leaf {self.leaf}")
        if self.record:
            where.append(self.record)
        place = f" [{', '.join(where)}]" if where else ""
        return f"{self.severity.upper()} {self.code}{place}: {self.message}"

    def as_json(self) -> dict[str, object]:
        return {
            "severity": str(self.severity),
            "code": self.code,
            "leaf": self.leaf,
            "record": self.record,
            "message": self.message,
            "detail": self.detail,
        }


@dataclass
class Report:
    """Every finding (up to ``limit`` per code; the rest are only counted) and what was checked."""

    limit: int = 50
    findings: list[Finding] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    checked: Counter[str] = field(default_factory=Counter)
    elapsed_s: float = 0.0

    def add(self, finding: Finding) -> None:
        if finding.code not in CATALOGUE:  # pragma: no cover - a programming error
            raise KeyError(finding.code)
        self.counts[finding.code] += 1
        if self.counts[finding.code] <= self.limit:
            self.findings.append(finding)

    def count(self, severity: Severity) -> int:
        return sum(n for code, n in self.counts.items() if CATALOGUE[code][0] is severity)

    @property
    def ok(self) -> bool:
        return self.count(Severity.ERROR) == 0

    def summary(self) -> str:
        what = ", ".join(f"{n} {k}" for k, n in self.checked.items())
        errors, warnings, notes = (self.count(s) for s in Severity)
        state = "OK: intact" if self.ok else "FAILED: the stored records differ from what was sealed"
        return (
            f"verify {state}; {errors} errors, {warnings} warnings, {notes} notes; checked {what}; "
            f"{self.elapsed_s:.1f} s"
        )

    def lines(self) -> list[str]:
        out = [f.line() for f in self.findings]
        for code, n in sorted(self.counts.items()):
            if n > self.limit:
                out.append(f"... {n - self.limit} more {code} findings not shown")
        return out

    def as_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "errors": self.count(Severity.ERROR),
            "warnings": self.count(Severity.WARNING),
            "notes": self.count(Severity.NOTE),
            "counts": dict(self.counts),
            "checked": dict(self.checked),
            "elapsed_s": round(self.elapsed_s, 3),
            "findings": [f.as_json() for f in self.findings],
            "summary": self.summary(),
        }
