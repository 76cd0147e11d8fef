"""Response and request models of the JSON API (the public contract; see /openapi.json)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorEnvelope(BaseModel):
    ok: Literal[False] = False
    error: ErrorBody
    status: int


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorEnvelope, "description": "Bad request"},
    401: {"model": ErrorEnvelope, "description": "Not logged in"},
    403: {"model": ErrorEnvelope, "description": "Role not allowed, or CSRF token missing"},
    404: {"model": ErrorEnvelope, "description": "Not found (or not yours)"},
    422: {"model": ErrorEnvelope, "description": "Invalid parameters"},
}


class Health(BaseModel):
    ok: bool
    database: bool
    schema_current: bool
    version: str


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str | None
    role: str
    enterprise_id: int | None
    locked: bool


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class LoginOut(BaseModel):
    ok: bool = True
    user: UserOut
    csrf_token: str
    expires_ts: int


class Me(BaseModel):
    user: UserOut
    csrf_token: str


class OkOut(BaseModel):
    ok: bool = True


class StationOut(BaseModel):
    id: int
    mn: str
    name: str | None
    kind: str
    approved: bool
    enabled: bool
    point_id: int | None
    point_name: str | None
    enterprise_id: int | None
    enterprise_name: str | None
    city: str | None
    county: str | None
    lat: float | None
    lon: float | None
    online: bool
    last_seen_us: int | None
    last_data_ts: int | None
    frames: int
    quarantined: int


class StationList(BaseModel):
    data: list[StationOut]
    count: int


class StationState(BaseModel):
    id: int
    online: bool
    last_seen_us: int | None
    last_data_ts: int | None
    frames: int


class StationStates(BaseModel):
    data: list[StationState]
    count: int


class StationPatch(BaseModel):
    name: str | None = Field(None, max_length=200)
    point_id: int | None = None
    kind: (
        Literal["flue_gas", "water", "ambient", "noise", "surface_water", "vocs", "dust", "other"] | None
    ) = None
    enabled: bool | None = None
    tolerant: bool | None = None


class ParameterOut(BaseModel):
    code: str
    name_zh: str
    name_en: str
    unit: str | None


class ParameterList(BaseModel):
    data: list[ParameterOut]
    count: int


class SeriesOut(BaseModel):
    """Columnar points: ``value`` is the reading (raw) or the mean (hour/day roll-ups)."""

    station_id: int
    parameter: str
    start: int
    end: int
    resolution: Literal["raw", "hour", "day"]
    granularity: str
    ts: list[int]
    value: list[float | None]
    low: list[float | None]
    high: list[float | None]
    zs: list[float | None]
    flag: list[str | None]
    n: list[int]
    n_normal: list[int]
    limit: float | None = None


class RateOut(BaseModel):
    key: str
    stations: int
    online: int
    capture_rate: float | None
    effective_rate: float | None


class SeverityCount(BaseModel):
    severity: str
    open: int
    overdue: int


class AlarmSummary(BaseModel):
    open: int
    overdue: int
    by_severity: list[SeverityCount]


class CheckpointAge(BaseModel):
    size: int
    ts: int
    age_s: int


class OverviewOut(BaseModel):
    start: int = Field(description="Window start: the last complete hours the roll-up has judged")
    end: int
    stations: int
    approved: int
    pending: int
    online: int
    offline: int
    frames: int
    frames_window: int = Field(description="Raw frames received in the last 24 h")
    quarantined: int
    quarantined_window: int = Field(description="Frames quarantined in the last 24 h")
    capture_rate: float | None
    effective_rate: float | None
    effective_basis: Literal["judged", "minutes"] = Field(
        description="judged: valid judged hours / expected hours; minutes: nothing judged yet in the "
        "window, so the 45-normal-minutes completeness proxy is shown"
    )
    alarms: AlarmSummary
    checkpoint: CheckpointAge | None = Field(description="The newest signed ledger checkpoint")
    by_city: list[RateOut]
    by_county: list[RateOut]
    by_enterprise: list[RateOut]


class FrameOut(BaseModel):
    id: int
    received_us: int
    peer: str
    station_id: int | None
    mn: str | None
    cn: str | None
    qn: str | None
    data_ts: int | None
    status: str
    edition: str | None
    leaf_index: int | None
    size: int


class FrameList(BaseModel):
    data: list[FrameOut]
    count: int
    next_cursor: int | None


class FrameReadingOut(BaseModel):
    parameter: str
    granularity: str
    data_ts: int
    value: float | None
    zs_value: float | None
    flag: str | None


class InclusionProofOut(BaseModel):
    leaf_index: int
    tree_size: int
    root_hex: str
    leaf_hash_hex: str
    path_hex: list[str]
    verified: bool
    checkpoint_id: int | None = Field(
        None, description="The signed checkpoint proven against (null: the current, not yet signed, tree)"
    )
    checkpoint_ts: int | None = None


class CpItemOut(BaseModel):
    code: str = Field(description="the factor code as received")
    code_2017: str | None = Field(description="its HJ 212-2017 code (2005 codes mapped by ST)")
    name_zh: str | None
    name_en: str | None
    fields: dict[str, str] = Field(description="suffix -> value as received (Rtd, Avg, ZsAvg, Flag ...)")


class DecodedOut(BaseModel):
    """What the HJ 212 codec reads in the stored bytes now."""

    ok: bool
    mode: str = Field(description="strict, or tolerant when only known device deviations fail strict")
    error_kind: str | None = Field(description="framing, length, crc, syntax or crypto")
    error: str | None
    strict_error: str | None = Field(description="why strict decoding refused it, when tolerant passed")
    deviations: list[str]
    edition: str | None
    wire_form: str
    crc: str | None
    crc_variant: str | None
    decrypted: bool = Field(description="the CP was SM4-decrypted with the station's registered key")
    header: dict[str, str] = Field(description="header fields as received (PW masked)")
    fields: dict[str, str] = Field(description="CP fields that are not factor items (DataTime ...)")
    items: list[CpItemOut]


class FrameDetailOut(FrameOut):
    raw_text: str = Field(
        description="The bytes as text, undecodable bytes shown as \\xNN; the station's PW masked with *"
    )
    raw_hex: str = Field(description="The bytes in hex, the PW value masked (0x2a) as in raw_text")
    raw_sha256: str = Field(
        description="SHA-256 of the exact bytes received (sealed in the frame's leaf; evidence bundles "
        "carry the bytes themselves)"
    )
    wire: str
    deviations: str | None
    quarantine_kind: str | None
    quarantine_reason: str | None
    readings: list[FrameReadingOut]
    proof: InclusionProofOut | None
    decoded: DecodedOut = Field(description="The bytes decoded again by the HJ 212 codec, now")
    evidence_ready: bool = Field(
        description="A signed checkpoint covers it: its evidence bundle can be exported"
    )


class QuarantineOut(BaseModel):
    id: int
    frame_id: int
    received_us: int
    peer: str
    mn: str | None
    kind: str
    reason: str
    size: int


class QuarantineList(BaseModel):
    data: list[QuarantineOut]
    count: int
    next_cursor: int | None


class EnterpriseOut(BaseModel):
    id: int
    code: str
    name: str
    name_en: str | None
    city: str | None
    county: str | None
    industry: str | None
    key_unit: bool


class EnterpriseList(BaseModel):
    data: list[EnterpriseOut]
    count: int


class EnterpriseIn(BaseModel):
    code: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=200)
    name_en: str | None = Field(None, max_length=200)
    city: str | None = Field(None, max_length=64)
    county: str | None = Field(None, max_length=64)
    industry: str | None = Field(None, max_length=64)
    key_unit: bool = False


class EnterprisePatch(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    name_en: str | None = Field(None, max_length=200)
    city: str | None = Field(None, max_length=64)
    county: str | None = Field(None, max_length=64)
    industry: str | None = Field(None, max_length=64)
    key_unit: bool | None = None


class PointOut(BaseModel):
    id: int
    code: str
    name: str
    kind: str
    enterprise_id: int | None
    city: str | None
    county: str | None
    lat: float | None
    lon: float | None


class PointList(BaseModel):
    data: list[PointOut]
    count: int


class PointIn(BaseModel):
    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["flue_gas", "water", "ambient", "noise", "surface_water", "vocs", "dust", "other"]
    enterprise_id: int | None = None
    city: str | None = Field(None, max_length=64)
    county: str | None = Field(None, max_length=64)
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)


class CreatedOut(BaseModel):
    ok: bool = True
    id: int


class UserList(BaseModel):
    data: list[UserOut]
    count: int


class UserIn(BaseModel):
    username: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    role: Literal[
        "admin",
        "monitoring_staff",
        "enforcement_officer",
        "lab_analyst",
        "reviewer",
        "signatory",
        "enterprise",
        "discipline_inspector",
    ]
    display_name: str | None = Field(None, max_length=100)
    enterprise_id: int | None = None


class PasswordOut(BaseModel):
    ok: bool = True
    username: str
    password: str = Field(description="Shown once; only its argon2 hash is stored")


class AttemptOut(BaseModel):
    id: int
    username: str
    ts: int
    ok: bool
    ip: str | None
    reason: str


class AttemptList(BaseModel):
    data: list[AttemptOut]
    count: int
    next_cursor: int | None


class PublicStation(BaseModel):
    id: int
    name: str | None
    kind: str
    city: str | None
    county: str | None
    lat: float | None
    lon: float | None
    enterprise_name: str | None


class PublicStationList(BaseModel):
    data: list[PublicStation]
    count: int


class AirValue(BaseModel):
    parameter: str
    hour_ts: int
    value: float
    source: Literal["rollup", "reported", "minutes"] = Field(
        description="rollup: the concentration the roll-up's AQI used; reported / minutes: provisional "
        "(the station's hourly value, or the mean of its minute data)"
    )


class AirStation(BaseModel):
    id: int
    name: str | None
    city: str | None
    lat: float | None
    lon: float | None
    hour_ts: int | None
    values: list[AirValue]
    aqi: int | None = Field(None, description="Hourly AQI (HJ 633); null = NA or none")
    primary: list[str] = Field(default_factory=list)
    level: int = Field(0, description="AQI category 1-6 (0: none)")
    category_zh: str | None = None
    category_en: str | None = None
    colour: str = Field("#9aa5b1", description="Category colour of the edition in force, #rrggbb")
    edition: str | None = None
    aqi_source: Literal["rollup", "provisional", "none"] = Field(
        "none",
        description="rollup: computed by the roll-up from validity-judged hours; provisional: the "
        "roll-up has not produced this station's AQI yet, computed here from the newest hour's "
        "concentrations (national release rule); none: no data",
    )


class AirCurrent(BaseModel):
    data: list[AirStation]
    count: int
    aqi_available: bool
    provisional: int = Field(0, description="Stations whose AQI is provisional (not the roll-up's yet)")


class OpenReading(BaseModel):
    station_id: int
    parameter: str
    granularity: str
    data_ts: int
    value: float | None
    zs_value: float | None
    flag: str | None


class OpenReadingPage(BaseModel):
    data: list[OpenReading]
    count: int
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at the end")


class CheckpointOut(BaseModel):
    id: int
    size: int
    root_hex: str
    ts: int
    key_id: str
    note: str


class CheckpointList(BaseModel):
    data: list[CheckpointOut]
    count: int
    next_cursor: int | None
