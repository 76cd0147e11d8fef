"""A feeder that stores stations and readings through the store's own functions, as the gateway's
writer does (frame ids allocated in the write transaction, raw frame and readings committed together)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, insert

from envtrace.store import register_station, upsert_enterprise, upsert_point
from envtrace.store.engine import write_transaction
from envtrace.store.raw import RAW_FRAME_COLUMNS, allocate_frame_ids, insert_frames
from envtrace.store.registry import station_parameter
from envtrace.store.series import READING_COLUMNS, insert_readings

CN = {"rtd": "2011", "min": "2051", "hour": "2061", "day": "2031"}


def cst(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    """Unix seconds of a China Standard Time wall-clock instant."""
    return int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()) - 8 * 3600


@dataclass(frozen=True)
class R:
    """One reading to store: granularity, parameter, data time and the item's fields."""

    granularity: str
    parameter: str
    data_ts: int
    value: float | None
    flag: str | None = "N"
    zs_value: float | None = None
    cou: float | None = None
    min: float | None = None
    max: float | None = None


def _f(x: float | None) -> float | None:
    """Readings hold floats (the decoder makes them so); a test may write 3 for 3.0."""
    return None if x is None else float(x)


class Feed:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._n = 0

    def station(
        self,
        mn: str,
        kind: str,
        *,
        city: str | None = None,
        industry: str | None = None,
        params: dict[str, tuple[str | None, float | None]] | None = None,
        edition: str = "2017",
    ) -> int:
        with write_transaction(self.engine) as conn:
            ent = None
            if industry is not None:
                ent = upsert_enterprise(conn, code=f"E{mn}", name=f"enterprise {mn}", industry=industry)
            point = upsert_point(
                conn, code=f"P{mn}", name=f"point {mn}", kind=kind, enterprise_id=ent, city=city
            )
            sid = register_station(conn, mn=mn, pw="123456", kind=kind, point_id=point, edition=edition)
            for code, (unit, o2_ref) in (params or {}).items():
                conn.execute(
                    insert(station_parameter).values(station_id=sid, parameter=code, unit=unit, o2_ref=o2_ref)
                )
        return sid

    def frame(self, station_id: int, readings: Sequence[R]) -> int:
        """One accepted raw frame carrying ``readings``; returns its id."""
        return self.frames(station_id, [readings])[0]

    def frames(self, station_id: int, groups: Sequence[Sequence[R]]) -> list[int]:
        """One accepted raw frame per group of readings, committed together (a writer batch)."""
        with write_transaction(self.engine) as conn:
            ids = allocate_frame_ids(conn, len(groups))
            frame_rows = []
            rows = []
            for fid, readings in zip(ids, groups, strict=True):
                self._n += 1
                frame = {
                    "id": fid,
                    "received_us": 1_800_000_000_000_000 + self._n,
                    "peer": "127.0.0.1:1",
                    "station_id": station_id,
                    "mn": None,
                    "st": "31",
                    "cn": CN[readings[0].granularity],
                    "qn": None,
                    "flag": 5,
                    "pnum": None,
                    "pno": None,
                    "data_ts": readings[0].data_ts,
                    "edition": "2017",
                    "status": "accepted",
                    "rf": False,
                    "wire": "plain",
                    "deviations": None,
                    "leaf_index": None,
                    "raw": b"##test",
                }
                frame_rows.append(tuple(frame[c] for c in RAW_FRAME_COLUMNS))
                for r in readings:
                    values = {
                        "station_id": station_id,
                        "granularity": r.granularity,
                        "parameter": r.parameter,
                        "data_ts": r.data_ts,
                        "value": _f(r.value),
                        "min": _f(r.min),
                        "max": _f(r.max),
                        "cou": _f(r.cou),
                        "zs_value": _f(r.zs_value),
                        "zs_min": None,
                        "zs_max": None,
                        "flag": r.flag,
                        "eflag": None,
                        "sample_ts": None,
                        "extra": None,
                        "frame_id": fid,
                    }
                    rows.append(tuple(values[c] for c in READING_COLUMNS))
            insert_frames(conn, frame_rows)
            insert_readings(conn, rows)
        return ids

    def minutes(
        self,
        station_id: int,
        parameter: str,
        hour_ts: int,
        values: Sequence[float | None],
        flags: Sequence[str],
    ) -> None:
        """One minute-data frame per minute (2051, 1-min interval); None = no reading that minute."""
        groups = [
            [R("min", parameter, hour_ts + 60 * i, v, f)]
            for i, (v, f) in enumerate(zip(values, flags, strict=True))
            if v is not None
        ]
        self.frames(station_id, groups)

    def minutes_many(self, station_id: int, hour_ts: int, series: dict[str, float], count: int = 60) -> None:
        """``count`` normal 1-min records of several parameters, one frame per minute."""
        self.frames(
            station_id, [[R("min", p, hour_ts + 60 * i, v) for p, v in series.items()] for i in range(count)]
        )
