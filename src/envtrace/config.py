"""Settings, read from the environment (prefix ``ENVTRACE_``) and the command line.

Only the composition roots (cli, web app factory, gateway start-up) read settings; the pure cores
take their parameters as arguments.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DB_URL = "sqlite:///envtrace.db"


class Settings(BaseSettings):
    """Platform settings. Every field is documented in README.md ("Configuration")."""

    model_config = SettingsConfigDict(env_prefix="ENVTRACE_", extra="ignore")

    db_url: str = Field(DEFAULT_DB_URL, description="Database URL: sqlite:///PATH or postgresql://...")
    state_dir: Path | None = Field(
        None,
        description="Folder for the ledger signing keys, the published checkpoint file and the "
        "station-key master key (outside the database). Default: beside the SQLite file, or under "
        "~/.local/share/envtrace for PostgreSQL.",
    )
    gateway_host: str = Field("127.0.0.1", description="Address the HJ 212 gateway listens on.")
    gateway_port: int = Field(8212, description="TCP port of the HJ 212 gateway.")
    http_host: str = Field("127.0.0.1", description="Address the web app listens on.")
    http_port: int | None = Field(None, description="TCP port of the web app (none: no web app).")
    sqlite_synchronous: str = Field(
        "FULL", description="SQLite synchronous pragma: FULL survives power loss, NORMAL only crashes."
    )
    unknown_stations: Literal["enrol", "refuse"] = Field(
        "enrol",
        description="What the gateway does with an MN it does not know: enrol it as a pending station "
        "(trust on first use; its data are stored, sealed and acknowledged, marked unapproved) or "
        "refuse it (quarantined as auth, answered QnRtn=4).",
    )
    tolerant: bool = Field(
        False,
        description="Accept the known deviations of real devices (Modbus CRC, length counting CRC+CRLF "
        "...) from every station, recording them; otherwise only from stations marked tolerant.",
    )
    idle_timeout_s: float = Field(
        600.0, description="Close a station connection that sent nothing for this many seconds."
    )
    batch_max: int = Field(4000, description="Most frames the writer commits in one transaction.")
    queue_high: int = Field(
        50_000, description="Pause reading from stations when this many frames await commit."
    )
    queue_low: int = Field(10_000, description="Resume reading when fewer frames than this await commit.")
    history_requests: bool = Field(
        True, description="Ask stations for missed minute/hour data (2051/2061) when their series has gaps."
    )
    history_timeout_s: float = Field(
        120.0, description="Forget a history request the station has not finished after this long."
    )
    # --- HJ 212-2025: SM4 keys, station commands, identity (docs/keys.md, docs/gateway.md)
    key_overlap_s: float = Field(
        86_400.0,
        description="After a station takes a new SM4 key, its previous key is still tried this many "
        "seconds (frames in flight or resent under the old key). HJ 212-2025 sets no figure.",
    )
    key_rotation_days: float = Field(
        90.0, description="A station's SM4 key older than this is replaced (HJ 212-2025 §6.4.3: 90 days)."
    )
    key_auto_rotate: bool = Field(
        True,
        description="The gateway delivers a new key (CN 1014) to a connected station whose key is due, "
        "if the station did not ask first.",
    )
    key_delivery_form: Literal["raw", "text"] = Field(
        "raw",
        description="SM4 wire form of a key delivery to a station not yet seen sending cipher (after "
        "that: the station's own form). The standard prints the {0x..} text form but its length field "
        "fits raw bytes; unconfirmed.",
    )
    encrypted_plaintext: Literal["accept", "quarantine"] = Field(
        "accept",
        description="A station registered as encrypted sends a data CP in clear: accept it (recorded as "
        "the deviation crypto:not-encrypted) or quarantine it (crypto).",
    )
    command_poll_s: float = Field(2.0, description="Seconds between looks for queued station commands.")
    command_timeout_s: float = Field(
        300.0, description="A command sent to a station and not answered (9012) this long expires."
    )
    identity_refresh_s: float = Field(
        3_600.0,
        description="The same CN 1001 logger identity updates its last-seen time at most this often.",
    )
    rollup_standard_check_basis: Literal["station", "platform", "either"] = Field(
        "either",
        description="A CN 2062 standard-sample check fails on the station's ResultType=0, on the "
        "platform's HJ 75 drift judgement (needs the analyser span), or on either.",
    )
    rollup_standard_check_scope: Literal["until_pass", "hour"] = Field(
        "until_pass",
        description="A failed CN 2062 standard-sample check invalidates the parameter's hours until the "
        "next passing check (HJ 75 practice, unconfirmed) or only the hour the check started in.",
    )
    # --- background worker, live detection and alarms (envtrace.alarms.live, docs/live-detection.md)
    worker: bool = Field(
        True, description="envtrace serve also runs the background worker (envtrace worker) as a child."
    )
    rollup_interval_s: float = Field(30.0, description="Seconds between roll-up runs of the worker.")
    live_detect_interval_s: float = Field(
        60.0, description="Seconds between live-detection runs (feed new judged hours to the detectors)."
    )
    live_warmup_days: float = Field(
        30.0, description="Days of a station's judged hours before its baseline is fitted (no alarm before)."
    )
    live_refit_days: float = Field(
        30.0, description="Refit a station's baseline after this many days of data."
    )
    live_lookback_days: int = Field(
        180, description="Days of history a baseline is fitted on and the live window keeps."
    )
    live_neighbour_candidates: int = Field(
        12, description="Nearest ambient stations offered to an ambient station's neighbour model."
    )
    live_qc_ignore: str = Field(
        "flag_C,flag_F,flag_M,flag_T,shutdown_startup,gap,near_detection_limit,spike",
        description="Comma-separated quality patterns that raise no alarm (routine flags and look-alikes).",
    )
    alarm_intake_interval_s: float = Field(
        30.0,
        description="Seconds between runs turning exceedances, ZsAvg disagreements and silences into alarms.",
    )
    offline_after_s: float = Field(
        3600.0, description="A station silent this long raises an offline alarm (0: never)."
    )
    alarm_escalation_interval_s: float = Field(60.0, description="Seconds between escalation runs.")
    alarm_policy: Path | None = Field(
        None, description="TOML alarm policy (severities, deadlines, queues); none: the defaults."
    )
    notify_config: Path | None = Field(
        None,
        description="TOML notification configuration (SMTP, recipients, webhooks); none: no notifications.",
    )
    notify_interval_s: float = Field(30.0, description="Seconds between notification runs.")


def state_dir_for(db_url: str, configured: Path | None = None) -> Path:
    """The folder that holds what must live outside the database for ``db_url``."""
    if configured is not None:
        return configured
    env = os.environ.get("ENVTRACE_STATE_DIR")
    if env:
        return Path(env)
    if db_url.startswith("sqlite:///"):
        path = db_url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            return Path(path).expanduser().resolve().with_suffix(".state")
    digest = hashlib.sha256(db_url.encode()).hexdigest()[:12]
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "envtrace" / digest
