"""Findings that need no detector -- the roll-up's exceedances and forged-correction disagreements,
and stations that fell silent -- and the ``alarm_intake`` job that raises them (``run_intake``).

- An **exceedance** record (a valid hour or day above its limit, ``envtrace.store.hourly``) becomes an
  :class:`~envtrace.alarms.intake.Exceedance`; consecutive periods extend one alarm.
- A **ZsAvg disagreement** (the station's own corrected value outside the band of the platform's two
  recomputations by more than the reporting precision allows) **below** that band, while the
  station's own average of the period agrees with the platform's, is the signature of a forged
  correction (a corrected value written down to stay under the limit): it becomes a
  ``forged_correction`` finding of kind ``fraud``, scored
  ``difference / (difference + tolerance)`` (0.5 at twice the tolerance's distance, 0.9 at ten
  times). ``avg`` and ``cou`` disagreements are left to the console: a station totalling Cou in g, or
  summing loads over other samples than the platform, is not falsifying anything.
- A station heard from last at ``t`` and silent for ``offline_after_s`` gives one ``offline`` finding
  spanning ``[t, t + offline_after_s)`` (its fingerprint does not change while the silence lasts, so
  it is raised once; a new silence after the station came back is a new finding).
- A **logger swapped** behind an MN (HJ 212-2025 CN 1001: a logger ID, CPU ID or MAC other than the
  station's bound identity, recorded and sealed by the gateway as a ``changed`` binding,
  ``envtrace.store.station_identity``) gives one ``logger_swapped`` finding of kind ``fraud`` scored
  :data:`SWAP_SCORE` (critical under the default policy): a second device may be posing as the
  station, or a replaced logger may carry altered software. Its window runs from the old logger's
  last recorded report to the new one's first; its evidence names both identities (logger ID, CPU ID,
  MACs, their SHA-256, first and last seen, reports, peer address), the MN and the binding rows. The
  change is marked reported in the transaction that raises it, so it is raised once.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine

from envtrace.alarms.intake import Exceedance, Finding, RaiseReport, raise_alarms_in
from envtrace.alarms.live_options import DEFAULT_OPTIONS, LiveOptions
from envtrace.store import detect_state as ds
from envtrace.store.detect_state import Silence
from envtrace.store.engine import write_transaction
from envtrace.store.hourly import DisagreementRecord, ExceedanceRecord, disagreements, exceedances
from envtrace.store.station_identity import Binding, mark_reported, unreported_changes

ZS_DETECTOR = "rollup.zs_avg_disagreement"
OFFLINE_DETECTOR = "platform.offline"
FORGED = "forged_correction"
SWAP_DETECTOR = "platform.logger_identity"
SWAPPED = "logger_swapped"
#: The score of a swapped logger: ``fraud`` at 0.8 is ``critical`` under the default policy.
SWAP_SCORE = 0.8


def exceedance_item(r: ExceedanceRecord) -> Exceedance:
    """The alarm intake's shape of a roll-up exceedance record (``docs/rollup.md``)."""
    return Exceedance(
        station=r.station_id,
        parameter=r.parameter,
        start=r.period_ts,
        end=r.period_end,
        value=r.value,
        limit=r.limit_value,
        unit=r.unit,
        standard=r.limit_source,
        basis=r.granularity,
        o2_ref=r.o2_ref,
    )


def _local(ts: int, utc_offset_min: int) -> str:
    return (datetime.fromtimestamp(ts, UTC) + timedelta(minutes=utc_offset_min)).strftime("%Y-%m-%d %H:%M")


def disagreement_finding(r: DisagreementRecord, *, utc_offset_min: int = 480) -> Finding:
    """A ``forged_correction`` finding from a ZsAvg disagreement record."""
    if r.field != "zs_avg":
        raise ValueError(f"disagreement {r.id} is on {r.field}, not zs_avg")
    period = 3600 if r.granularity == "hour" else 86400
    start, end = r.period_ts, r.period_ts + period
    unit = r.unit or ""
    share = f" ({r.station_value / r.platform_value:.0%} of it)" if r.platform_value else ""
    when = _local(start, utc_offset_min)
    basis_zh = {"hour": "小时", "day": "日"}.get(r.granularity, r.granularity)
    score = r.difference / (r.difference + r.tolerance) if r.difference + r.tolerance > 0 else 1.0
    body: dict[str, object] = {
        "source": "disagreement",
        "detector": ZS_DETECTOR,
        "station": r.station_id,
        "parameters": [f"{r.parameter}-Zs", r.parameter],
        "start": start,
        "end": end,
        "pattern": FORGED,
        "kind": "fraud",
        "score": round(score, 6),
        "statistic": r.station_value,
        "baseline": r.platform_value,
        "threshold": r.tolerance,
        "expected_per_year": None,
        "field": r.field,
        "granularity": r.granularity,
        "unit": unit,
        "platform_alt": r.platform_alt,
        "difference": r.difference,
        "decimals": r.decimals,
        "station_frame_id": r.station_frame_id,
        "disagreement_id": r.id,
        "value_version": r.version,
        "reason_zh": (
            f"{when} {r.parameter} {basis_zh}折算值（ZsAvg）站点上报 {r.station_value:g} {unit}，"
            f"平台按基准氧含量公式由实测值与氧含量复算为 {r.platform_value:g} {unit}，"
            f"相差 {r.difference:g}，超出允许偏差 {r.tolerance:g}：疑似折算值造假"
        ),
        "reason_en": (
            f"{when} {r.parameter} {r.granularity} corrected value (ZsAvg) reported "
            f"{r.station_value:g} {unit}{share}, but the reference-O2 formula on the reported measured "
            f"value and O2 gives {r.platform_value:g} {unit}; the difference {r.difference:g} exceeds "
            f"the tolerance {r.tolerance:g}: suspected forged correction"
        ),
        "plots": [
            {"label": f"{r.parameter}-Zs reported", "times": [start], "values": [r.station_value]},
            {"label": f"{r.parameter}-Zs recomputed", "times": [start], "values": [r.platform_value]},
        ],
    }
    return Finding(
        "disagreement",
        r.station_id,
        ZS_DETECTOR,
        (f"{r.parameter}-Zs", r.parameter),
        start,
        end,
        FORGED,
        "fraud",
        score,
        body,
    )


def offline_finding(silence: Silence, *, after_s: int, utc_offset_min: int = 480) -> Finding:
    """An ``offline`` finding: nothing received for ``after_s`` seconds since the last receipt."""
    start = silence.last_seen_us // 1_000_000
    end = start + after_s
    seen = _local(start, utc_offset_min)
    data = "—" if silence.last_data_ts is None else _local(silence.last_data_ts, utc_offset_min)
    hours = after_s / 3600
    body: dict[str, object] = {
        "source": "offline",
        "detector": OFFLINE_DETECTOR,
        "station": silence.station_id,
        "parameters": [],
        "start": start,
        "end": end,
        "pattern": "offline",
        "kind": "offline",
        "score": 0.5,
        "statistic": after_s,
        "baseline": None,
        "threshold": after_s,
        "expected_per_year": None,
        "last_seen_us": silence.last_seen_us,
        "last_data_ts": silence.last_data_ts,
        "reason_zh": (
            f"站点自 {seen} 起 {hours:g} 小时未上传任何数据（最新数据时间 {data}）：数采仪离线或传输中断"
        ),
        "reason_en": (
            f"nothing received from the station for {hours:g} h since {seen} (newest data time {data}): "
            "data logger offline or transmission interrupted"
        ),
        "plots": [],
    }
    return Finding(
        "offline", silence.station_id, OFFLINE_DETECTOR, (), start, end, "offline", "offline", 0.5, body
    )


def _identity(b: Binding) -> dict[str, object]:
    return {
        "binding_id": b.id,
        "identity": b.identity,
        "logger_id": b.logger_id,
        "cpu_id": b.cpu_id,
        "mac1": b.mac1,
        "mac2": b.mac2,
        "mn": b.mn,
        "first_seen_us": b.first_seen_us,
        "last_seen_us": b.last_seen_us,
        "reports": b.reports,
        "peer": b.peer,
    }


def _shown(b: Binding | None, identity: str | None) -> str:
    if b is None:
        return f"identity {(identity or '?')[:12]}"
    macs = "/".join(m for m in (b.mac1, b.mac2) if m) or "-"
    return f"logger {b.logger_id or '-'}, CPU {b.cpu_id or '-'}, MAC {macs}"


def logger_swap_finding(new: Binding, old: Binding | None, *, utc_offset_min: int = 480) -> Finding:
    """A ``logger_swapped`` finding from a ``changed`` binding and the binding it replaced."""
    first = new.first_seen_us // 1_000_000
    last_old = None if old is None else old.last_seen_us // 1_000_000
    start = first if last_old is None else min(last_old, first)
    end = first + 1
    when = _local(first, utc_offset_min)
    before = "—" if last_old is None else _local(last_old, utc_offset_min)
    was, now_is = _shown(old, new.previous), _shown(new, new.identity)
    body: dict[str, object] = {
        "source": "identity",
        "detector": SWAP_DETECTOR,
        "station": new.station_id,
        "parameters": [],
        "start": start,
        "end": end,
        "pattern": SWAPPED,
        "kind": "fraud",
        "score": SWAP_SCORE,
        "statistic": None,
        "baseline": None,
        "threshold": None,
        "expected_per_year": None,
        "mn": new.mn,
        "new": _identity(new),
        "old": _identity(old) if old is not None else {"identity": new.previous},
        "reason_zh": (
            f"监测点 {new.mn} 的数采仪身份（CN 1001）于 {when} 变更：原为 {was}（最后记录 {before}），"
            f"现为 {now_is}：疑似更换数采仪或他机冒用监测点编码"
        ),
        "reason_en": (
            f"the data logger behind MN {new.mn} changed at {when} (CN 1001 identity): it was {was} "
            f"(last recorded {before}), it is now {now_is}: logger swapped, or another device posing "
            "as the station"
        ),
        "plots": [],
    }
    return Finding(
        "identity", new.station_id, SWAP_DETECTOR, (), start, end, SWAPPED, "fraud", SWAP_SCORE, body
    )


def run_intake(engine: Engine, now: int, options: LiveOptions = DEFAULT_OPTIONS) -> dict[str, int]:
    """One run of ``alarm_intake``: exceedances, ZsAvg disagreements, silent stations, swapped loggers."""
    counts: Counter[str] = Counter()
    _consume_exceedances(engine, now, options, counts)
    _consume_disagreements(engine, now, options, counts)
    _report_silences(engine, now, options, counts)
    _report_logger_swaps(engine, now, options, counts)
    return dict(counts)


def _report_logger_swaps(engine: Engine, now: int, options: LiveOptions, counts: Counter[str]) -> None:
    with write_transaction(engine) as conn:
        changes = unreported_changes(conn)
        if not changes:
            return
        facts = ds.station_facts(conn)
        items = [
            logger_swap_finding(
                new,
                old,
                utc_offset_min=facts[new.station_id].utc_offset_min if new.station_id in facts else 480,
            )
            for new, old in changes
        ]
        _count(counts, "logger_swaps", raise_alarms_in(conn, items, now=now, policy=options.policy))
        for new, _ in changes:
            mark_reported(conn, new.id, now=now)


def _count(counts: Counter[str], prefix: str, report: RaiseReport) -> None:
    counts[f"{prefix}_opened"] += len(report.opened)
    counts[f"{prefix}_extended"] += len(report.extended)
    counts[f"{prefix}_duplicates"] += report.duplicates


def _consume_exceedances(engine: Engine, now: int, options: LiveOptions, counts: Counter[str]) -> None:
    while True:
        with write_transaction(engine) as conn:
            after = ds.cursor_position(conn, "exceedances")
            records = exceedances(conn, after_id=after, new_only=True, limit=500)
            if not records:
                return
            items = [exceedance_item(r) for r in records if r.current]
            counts["exceedances_superseded"] += len(records) - len(items)
            _count(counts, "exceedances", raise_alarms_in(conn, items, now=now, policy=options.policy))
            ds.set_cursor(conn, "exceedances", records[-1].id, now=now)


def _consume_disagreements(engine: Engine, now: int, options: LiveOptions, counts: Counter[str]) -> None:
    while True:
        with write_transaction(engine) as conn:
            after = ds.cursor_position(conn, "disagreements")
            records = disagreements(conn, after_id=after, new_only=True, limit=500)
            if not records:
                return
            facts = ds.station_facts(conn)
            items: list[Finding] = []
            for r in records:
                if r.field != "zs_avg" or not r.current:
                    continue
                if r.station_value >= min(r.platform_value, r.platform_alt or r.platform_value):
                    counts["disagreements_overstated"] += 1
                    continue
                if _average_disagrees(conn, r):
                    counts["disagreements_not_the_correction"] += 1
                    continue
                offset = facts[r.station_id].utc_offset_min if r.station_id in facts else 480
                items.append(disagreement_finding(r, utc_offset_min=offset))
            _count(counts, "disagreements", raise_alarms_in(conn, items, now=now, policy=options.policy))
            ds.set_cursor(conn, "disagreements", records[-1].id, now=now)


def _average_disagrees(conn: Connection, r: DisagreementRecord) -> bool:
    """Whether the station's own average of the period disagrees too: then its corrected value may
    well follow the reported average (a short or re-aggregated hour record), and the mismatch is not
    in the correction."""
    same = disagreements(
        conn, station_id=r.station_id, parameter=r.parameter, start=r.period_ts, end=r.period_ts + 1
    )
    return any(d.field == "avg" and d.granularity == r.granularity and d.version == r.version for d in same)


def _report_silences(engine: Engine, now: int, options: LiveOptions, counts: Counter[str]) -> None:
    if options.offline_after_s <= 0:
        return
    with write_transaction(engine) as conn:
        silent = ds.silent_stations(conn, seen_before_us=(now - options.offline_after_s) * 1_000_000)
        if not silent:
            return
        facts = ds.station_facts(conn)
        items = [
            offline_finding(
                s,
                after_s=options.offline_after_s,
                utc_offset_min=facts[s.station_id].utc_offset_min if s.station_id in facts else 480,
            )
            for s in silent
        ]
        _count(counts, "offline", raise_alarms_in(conn, items, now=now, policy=options.policy))
        for s in silent:
            ds.mark_silence_reported(conn, s, now=now)
