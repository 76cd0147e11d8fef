"""Errors of ``envtrace.accounts``.

::

    AccountError
    ├── UserExists           the user name is taken
    ├── UnknownUser          no user of that name or id
    ├── InvalidUser          a name, role or enterprise binding that cannot be stored
    ├── WeakPassword         a password shorter than the minimum
    └── LoginRefused         wrong name or password, locked account, or too many failures (reason)
"""

from __future__ import annotations


class AccountError(Exception):
    """Base of every accounts error."""


class UserExists(AccountError):
    def __init__(self, username: str) -> None:
        super().__init__(f"user {username!r} already exists")
        self.username = username


class UnknownUser(AccountError):
    def __init__(self, who: str | int) -> None:
        super().__init__(f"no user {who!r}")
        self.who = who


class InvalidUser(AccountError):
    def __init__(self, message: str, value: object) -> None:
        super().__init__(f"{message}: {value!r}")
        self.value = value


class WeakPassword(AccountError):
    def __init__(self, length: int, minimum: int) -> None:
        super().__init__(f"password has {length} characters, at least {minimum} are required")
        self.length = length
        self.minimum = minimum


class LoginRefused(AccountError):
    """``reason`` is one of ``bad_credentials``, ``locked``, ``lockout``; the message never says
    which of name or password was wrong."""

    def __init__(self, username: str, reason: str) -> None:
        super().__init__(f"login refused for {username!r}: {reason}")
        self.username = username
        self.reason = reason
