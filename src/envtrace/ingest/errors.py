"""Errors of ``envtrace.ingest``.

::

    IngestError
    ├── BadGatewayConfig     a setting the gateway cannot run with (names the setting and value)
    └── WriterStopped        the writer thread died; carries the exception that stopped it
"""

from __future__ import annotations


class IngestError(Exception):
    """Base of every gateway error."""


class BadGatewayConfig(IngestError):
    def __init__(self, setting: str, value: object, reason: str) -> None:
        super().__init__(f"gateway setting {setting} = {value!r}: {reason}")
        self.setting = setting
        self.value = value
        self.reason = reason


class WriterStopped(IngestError):
    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"the gateway's writer stopped: {cause!r}")
        self.cause = cause
