"""HJ 212 code tables: system codes (ST), commands (CN), answer codes, data flags.

Sources, cited per table:

* ST: HJ 212-2017 table 5 (ranges and codes; English names as in ``hj-standards.md`` §1.5, Chinese
  names as remembered from the table, to be checked against the PDF); 44 and 45 from HJ 212-2025 as
  used by implementations (``hj212-2025-and-hj75.md`` §1.4, UNVERIFIED against the text).
* CN: HJ 212-2017 table 9; HJ 212-2025 additions and deletions from the 2025 appendix C as mapped by
  a public implementation (``hj212-2025-and-hj75.md`` §1.4, IMPL); HJ/T 212-2005-only commands from
  memory of the 2005 text (UNVERIFIED meanings; kept so that 2005 devices are recognised).
* QnRtn: HJ 212-2017 table 7; ExeRtn: table 6.
* Data flags: HJ 212-2017 table 8 (2017 meanings) and HJ/T 212-2005 (2005 meanings, including the
  digit flags of 2005 ambient-air stations), ``hj-standards.md`` §1.8.
* Encryption scope: HJ 212-2025 §6.4.4 (data commands 2000-2999, 1014 and 3020 from the field).

Left out: the 2017 field-information codes (``i1xxxx`` ...), which live in ``tables/factors.csv``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

from envtrace.hj212.flag import Edition

SystemCategory = Literal["environmental-quality", "pollution-source", "process", "interaction", "extension"]
Medium = Literal["water", "gas"]


@dataclass(frozen=True, slots=True)
class SystemCode:
    """One ST value: name, medium for 2005 code mapping, and where it comes from."""

    st: str
    name_zh: str
    name_en: str
    medium: Medium | None
    source: str


_T5 = "HJ 212-2017 table 5"
_ST_ROWS: tuple[SystemCode, ...] = (
    SystemCode("21", "地表水质量监测", "surface water quality", "water", _T5),
    SystemCode("22", "空气质量监测", "ambient air quality", "gas", _T5),
    SystemCode("23", "声环境质量监测", "acoustic environment quality", None, _T5),
    SystemCode("24", "地下水质量监测", "groundwater quality", "water", _T5),
    SystemCode("25", "土壤质量监测", "soil quality", None, _T5),
    SystemCode("26", "海水质量监测", "sea water quality", "water", _T5),
    SystemCode("27", "挥发性有机物监测", "volatile organic compounds", "gas", _T5),
    SystemCode("31", "大气环境污染源", "atmospheric pollution source (flue gas)", "gas", _T5),
    SystemCode("32", "地表水体环境污染源", "surface-water pollution source (wastewater)", "water", _T5),
    SystemCode("33", "地下水体环境污染源", "groundwater pollution source", "water", _T5),
    SystemCode("34", "海洋环境污染源", "marine pollution source", "water", _T5),
    SystemCode("35", "土壤环境污染源", "soil pollution source", None, _T5),
    SystemCode("36", "声环境污染源", "noise source", None, _T5),
    SystemCode("37", "振动环境污染源", "vibration source", None, _T5),
    SystemCode("38", "放射性环境污染源", "radioactive source", None, _T5),
    SystemCode("39", "工地扬尘污染源", "construction-site dust", "gas", _T5),
    SystemCode("41", "电磁环境污染源", "electromagnetic source", None, _T5),
    SystemCode("44", "用电监测", "electricity monitoring", None, "HJ 212-2025 (IMPL, UNVERIFIED)"),
    SystemCode("45", "关键生产工况", "key production conditions", None, "HJ 212-2025 (IMPL, UNVERIFIED)"),
    SystemCode("51", "烟气排放过程监控", "flue-gas process monitoring", "gas", _T5),
    SystemCode("52", "污水排放过程监控", "wastewater process monitoring", "water", _T5),
    SystemCode("91", "系统交互", "system interaction", None, _T5),
)
SYSTEMS: dict[str, SystemCode] = {row.st: row for row in _ST_ROWS}


def system_category(st: str) -> SystemCategory | None:
    """The table 5 range an ST value falls in; ``None`` outside every range (e.g. ``"101"``)."""
    if len(st) != 2 or not st.isascii() or not st.isalnum() or st != st.upper():
        return None
    if st.isdigit():
        value = int(st)
        if 10 <= value <= 29:
            return "environmental-quality"
        if 30 <= value <= 49:
            return "pollution-source"
        if 50 <= value <= 69:
            return "process"
        if 91 <= value <= 99:
            return "interaction"
        return None
    return "extension" if st[0].isalpha() and st[1].isdigit() else None  # A0-Z9


def system_medium(st: str | None) -> Medium | None:
    """Water or gas system, deciding how HJ/T 212-2005 factor codes map (``factors.code_2017``)."""
    info = SYSTEMS.get(st or "")
    return info.medium if info is not None else None


Direction = Literal["centre->field", "field->centre", "both"]


@dataclass(frozen=True, slots=True)
class Command:
    """One CN value: what it does in each direction, the editions that define it, its source."""

    cn: int
    name_en: str
    centre_to_field: str | None
    field_to_centre: str | None
    editions: frozenset[Edition]
    source: str
    deleted_in_2025: bool = False


_ALL: frozenset[Edition] = frozenset({"2005", "2017", "2025"})
_NEW: frozenset[Edition] = frozenset({"2017", "2025"})
_ONLY_2025: frozenset[Edition] = frozenset({"2025"})
_ONLY_2005: frozenset[Edition] = frozenset({"2005"})
_ONLY_2017: frozenset[Edition] = frozenset({"2017"})
_T9 = "HJ 212-2017 table 9"
_C25 = "HJ 212-2025 appendix C (IMPL: caoyiliang/HJ212)"
_C05 = "HJ/T 212-2005 (meaning from memory, UNVERIFIED)"

_CN_ROWS: tuple[Command, ...] = (
    Command(1000, "set timeout and retries", "OverTime, ReCount", None, _ALL, _T9),
    Command(1001, "logger hardware identity", None, "i23005..i23008-Info", _ONLY_2025, _C25),
    Command(1002, "set logger MN", "i23005-Info", None, _ONLY_2025, _C25),
    Command(1011, "field time", "get time (PolId)", "upload SystemTime", _ALL, _T9),
    Command(1012, "set field time", "PolId, SystemTime", None, _ALL, _T9),
    Command(1013, "time calibration request", None, "notice: asks for the time", _NEW, _T9),
    Command(1014, "secret key", "deliver NewSK", "request a new key", _ONLY_2025, _C25),
    Command(1021, "get alarm limits", "get", "upload", _ONLY_2005, _C05),
    Command(1022, "set alarm limits", "set", None, _ONLY_2005, _C05),
    Command(1031, "get upper-computer address", "get", "upload", _ONLY_2005, _C05),
    Command(1032, "set upper-computer address", "set", None, _ONLY_2005, _C05),
    Command(1041, "get data report time", "get", "upload", _ONLY_2005, _C05),
    Command(1042, "set data report time", "set", None, _ONLY_2005, _C05),
    Command(1061, "realtime interval", "get RtdInterval", "upload RtdInterval", _ALL, _T9),
    Command(1062, "set realtime interval", "RtdInterval", None, _ALL, _T9),
    Command(1063, "minute interval", "get MinInterval", "upload MinInterval", _NEW, _T9),
    Command(1064, "set minute interval", "MinInterval", None, _NEW, _T9),
    Command(1072, "set password", "NewPW", None, _ALL, _T9),
    Command(2011, "realtime data", "start realtime upload", "realtime data", _ALL, _T9),
    Command(2012, "stop realtime data", "notice: stop", None, _ALL, _T9),
    Command(2013, "raw periodic measurement data", "get (Begin/EndTime)", "upload", _ONLY_2025, _C25),
    Command(2021, "equipment status", "start status upload", "status (SBx-RS)", _ALL, _T9),
    Command(2022, "stop equipment status", "notice: stop", None, _ALL, _T9),
    Command(2031, "daily data", "get (Begin/EndTime)", "daily data", _ALL, _T9),
    Command(2041, "equipment daily run time", "get (Begin/EndTime)", "run time (SBx-RT)", _ALL, _T9),
    Command(2051, "minute data", "get (Begin/EndTime)", "minute data", _ALL, _T9),
    Command(2052, "single noise measurement", None, "xxx-Data", _ONLY_2025, _C25),
    Command(2061, "hourly data", "get (Begin/EndTime)", "hourly data", _ALL, _T9),
    Command(2062, "standard-sample check data", "get", "SampleRd/StandardValue", _ONLY_2025, _C25),
    Command(2071, "alarm records", "get", "upload", _ONLY_2005, _C05),
    Command(2072, "alarm event", None, "upload", _ONLY_2005, _C05),
    Command(2081, "logger restart time", None, "RestartTime", _NEW, _T9),
    Command(2111, "furnace temperature 5-min mean", None, "a01901-Avg", _ONLY_2025, _C25),
    Command(3011, "zero/span calibration", "PolId (2025: CalibrationType)", None, _NEW, _T9),
    Command(3012, "immediate sampling", "PolId", None, _NEW, _T9),
    Command(3013, "cleaning / blow-back", "PolId", None, _NEW, _T9),
    Command(3014, "comparison sampling", "PolId", None, _ONLY_2017, _T9, deleted_in_2025=True),
    Command(3015, "over-limit retention", "PolId", "DataTime, VaseNo", _ONLY_2017, _T9, True),
    Command(3016, "set sampling period", "CstartTime, CTime", None, _ONLY_2017, _T9, True),
    Command(3017, "sampling period", "get", "CstartTime, CTime", _ONLY_2017, _T9, True),
    Command(3018, "sample-out time", "get", "Stime", _NEW, _T9),
    Command(3019, "instrument id", "get", "PolId, xxxxxx-SN", _NEW, _T9),
    Command(3020, "field information", "get (PolId, InfoId, times)", "xxxxxx-Info", _NEW, _T9),
    Command(3021, "set field parameter", "PolId, InfoId value", None, _NEW, _T9),
    Command(3022, "immediate sample retention", "PolId", None, _ONLY_2025, _C25),
    Command(3024, "start standard-sample check", "PolId", None, _ONLY_2025, _C25),
    Command(9011, "request answer", None, "QnRtn", _ALL, _T9),
    Command(9012, "execution result", None, "ExeRtn", _ALL, _T9),
    Command(9013, "notice answer", "answer", "answer", _ALL, _T9),
    Command(9014, "data answer", "answer", "answer", _ALL, _T9),
    Command(9015, "heartbeat", None, "heartbeat (empty CP)", _ONLY_2025, _C25),
)
COMMANDS: dict[int, Command] = {c.cn: c for c in _CN_ROWS}


def command_info(cn: int | str) -> Command | None:
    """The command table row for a CN (int or the packet's 4-digit string), or ``None``."""
    if isinstance(cn, str):
        if not (cn.isascii() and cn.isdigit()):
            return None
        cn = int(cn)
    return COMMANDS.get(cn)


def must_encrypt(cn: int | str) -> bool:
    """HJ 212-2025 §6.4.4: field->centre data commands 2000-2999, 1014 and 3020 shall be encrypted."""
    if isinstance(cn, str):
        if not (cn.isascii() and cn.isdigit()):
            return False
        cn = int(cn)
    return 2000 <= cn <= 2999 or cn in (1014, 3020)


class QnRtn(IntEnum):
    """Request answer codes, CN 9011 ``QnRtn`` (HJ 212-2017 table 7)."""

    READY = 1  # ready to execute the request
    REFUSED = 2
    PW_ERROR = 3
    MN_ERROR = 4
    ST_ERROR = 5
    FLAG_ERROR = 6
    QN_ERROR = 7
    CN_ERROR = 8
    CRC_ERROR = 9
    UNKNOWN_ERROR = 100


class ExeRtn(IntEnum):
    """Execution result codes, CN 9012 ``ExeRtn`` (HJ 212-2017 table 6)."""

    SUCCESS = 1
    FAILED = 2  # failed, reason unknown
    CONDITION_ERROR = 3  # request condition error
    TIMEOUT = 4  # communication timeout
    BUSY = 5
    FAULT = 6  # system fault
    NO_DATA = 100


@dataclass(frozen=True, slots=True)
class DataFlag:
    """A data flag (``xxxxxx-Flag``) with its meaning in each edition (``None``: not defined)."""

    code: str
    meaning_2017: str | None
    meaning_2005: str | None


_FLAG_ROWS = (
    ("N", "instrument normal", "normal"),
    ("F", "instrument stopped (停运)", "emission source stopped"),
    ("M", "maintenance period", "maintenance"),
    ("S", "manually entered set value", "set value"),
    ("D", "instrument fault", "fault"),
    ("C", "calibration state", "calibration (校验)"),
    ("T", "above the measuring upper limit", "above upper limit"),
    ("B", "instrument-logger communication abnormal", None),
    ("P", None, "power failure"),
    ("0", None, "ambient station: calibration data"),
    ("1", None, "ambient station: meteorological parameter"),
    ("2", None, "ambient station: abnormal"),
    ("3", None, "ambient station: normal"),
)
DATA_FLAGS: dict[str, DataFlag] = {row[0]: DataFlag(*row) for row in _FLAG_ROWS}


def data_flag_meaning(code: str, edition: Edition | None) -> str | None:
    """What a data flag means for a packet of ``edition`` (2025 uses the 2017 table)."""
    info = DATA_FLAGS.get(code)
    if info is None:
        return None
    return info.meaning_2005 if edition == "2005" else info.meaning_2017


FACILITY_STATES: dict[str, str] = {  # SBxxx-RS, HJ 212-2017 table 4 (2005: only 0/1)
    "0": "off",
    "1": "running",
    "2": "calibrating",
    "3": "maintenance",
    "4": "alarm",
    "5": "blow-back",
}

MIN_INTERVALS = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30)  # MinInterval values, HJ 212-2017 table 4
