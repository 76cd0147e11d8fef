"""Options of the web app that are not platform settings (environment prefix ``ENVTRACE_WEB_``).

Every field is documented in docs/web.md ("Configuration").
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebOptions(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ENVTRACE_WEB_", extra="ignore")

    province: str = Field(
        "jiangsu",
        description="Province drawn on the public map: a file name of the bundled boundary data "
        "(static/vendor/maps/<province>.json), e.g. jiangsu, zhejiang, guangdong.",
    )
    secure_cookies: Literal["auto", "always", "never"] = Field(
        "auto", description="Secure flag on cookies: auto = when the request came over https."
    )
    trust_forwarded_proto: bool = Field(
        False, description="Trust X-Forwarded-Proto from a reverse proxy to decide https."
    )
    lockout_failures: int = Field(5, ge=1, description="Failed logins that lock a user name ...")
    lockout_window_s: int = Field(900, ge=1, description="... within this many seconds.")
    session_idle_s: int = Field(7200, ge=60, description="A session ends after this long unused.")
    session_max_s: int = Field(43200, ge=60, description="A session ends this long after login.")
    rollup_interval_s: float = Field(
        5.0, ge=0, description="How often the app rolls new readings up (0: never; the gateway may)."
    )
    live_poll_s: int = Field(3, ge=1, description="How often console pages poll live state.")
    offline_after_s: int = Field(
        600, ge=1, description="Public map: a station with no data for this long is shown offline."
    )
