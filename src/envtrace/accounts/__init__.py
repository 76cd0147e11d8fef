"""Accounts: users with one role each, argon2 passwords, lockout, server-side sessions."""

from envtrace.accounts.errors import (
    AccountError,
    InvalidUser,
    LoginRefused,
    UnknownUser,
    UserExists,
    WeakPassword,
)
from envtrace.accounts.passwords import generate_password, hash_password, verify_password
from envtrace.accounts.roles import ANY_USER, REGISTRY_EDITORS, STAFF, USER_ROLES, Role
from envtrace.accounts.service import (
    NewSession,
    Policy,
    authenticate,
    close_session,
    create_user,
    find_session,
    open_session,
    resolve_session,
    session_verdict,
    set_locked,
    set_password,
    token_digest,
    touch_session,
)

__all__ = [
    "ANY_USER",
    "REGISTRY_EDITORS",
    "STAFF",
    "USER_ROLES",
    "AccountError",
    "InvalidUser",
    "LoginRefused",
    "NewSession",
    "Policy",
    "Role",
    "UnknownUser",
    "UserExists",
    "WeakPassword",
    "authenticate",
    "close_session",
    "create_user",
    "find_session",
    "generate_password",
    "hash_password",
    "open_session",
    "resolve_session",
    "session_verdict",
    "set_locked",
    "set_password",
    "token_digest",
    "touch_session",
    "verify_password",
]
