"""The simulator as a TCP client, against a test double of the platform (real sockets)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from envtrace.hj212 import Station, decode, deliver_key, get_history, get_time, parse_time, set_time
from envtrace.sim import SimConfig, Simulation, StationConfig, build_stations, expected_error
from envtrace.sim.link import Backoff

from .double import Platform, Received

T = TypeVar("T")


def run(factory: Callable[[], Awaitable[T]], within: float = 30.0) -> T:
    async def main() -> T:
        async with asyncio.timeout(within):
            return await factory()

    return asyncio.run(main())


def config(port: int, stations: list[StationConfig], **changes: Any) -> SimConfig:
    base = SimConfig(
        host="127.0.0.1",
        port=port,
        stations=stations,
        speed=60.0,
        realtime_interval=30.0,
        ack_timeout=1.0,
        drain=2.0,
        heartbeat=0.0,
        backoff_initial=0.1,
        backoff_max=0.4,
        start=datetime(2026, 6, 1, tzinfo=UTC).timestamp(),
    )
    return replace(base, **changes)


def station_of(st: StationConfig) -> Station:
    return Station(st.mn, st.pw, st.st, "2025" if st.edition == "2025" else "2017")


def data_time(r: Received) -> str:
    return (r.decoded.cp or {}).get("DataTime", "")


async def until(predicate: Callable[[], bool], within: float = 10.0) -> None:
    """Poll ``predicate`` (state spread over the double and the simulator: no single event to await)."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


# ---------------------------------------------------------------------------------- conformance


def test_every_frame_written_conforms_except_the_injected_faults() -> None:
    stations = build_stations(6, seed=31, edition="mixed", encrypt=True)
    writes: list[tuple[str, bytes, str | None]] = []

    async def scenario() -> tuple[Platform, Any]:
        async with Platform(keys={s.mn: s.key.encode() for s in stations if s.encrypted}) as p:
            cfg = config(
                p.port,
                stations,
                duration=2.0,
                speed=600.0,
                faults=0.25,
                ack_timeout=0.3,
                on_write=lambda mn, data, kind: writes.append((mn, data, kind)),
            )
            summary = await Simulation(cfg).run()
            return p, summary

    platform, summary = run(scenario)
    keys = {s.mn: (s.key.encode() if s.encrypted else None) for s in stations}
    kinds = Counter(k for _, _, k in writes)
    assert kinds[None] > 100
    assert sum(v for k, v in kinds.items() if k) == summary.counters["faults"] > 10
    for mn, data, kind in writes:
        frame = data[data.index(b"##") :] if kind == "garbage" else data
        d = decode(frame, key=keys[mn])
        if expected_error(kind or "") is None:
            assert d.ok, (kind, d.error)
        else:
            assert d.error is not None
            assert d.error.kind == expected_error(kind or ""), (kind, d.error)
    bad = [r for r in platform.frames if not r.decoded.ok]
    rejected = {data for _, data, kind in writes if expected_error(kind or "")}
    assert all(r.raw in rejected for r in bad)
    assert summary.counters["failed"] == 0


def test_uploads_carry_the_answer_bit_and_the_edition() -> None:
    stations = build_stations(4, seed=32, edition="mixed")

    async def scenario() -> Platform:
        async with Platform() as p:
            await Simulation(config(p.port, stations, duration=1.0, speed=1500.0)).run()
            return p

    platform = run(scenario)
    editions = {s.mn: s.edition for s in stations}
    for r in platform.frames:
        flag = int((r.decoded.header or {})["Flag"])
        if 2000 <= int(r.cn) <= 2999:
            assert flag & 1  # answer required
        assert flag >> 2 == (2 if editions[r.mn] == "2025" else 1)
    assert {"2011", "2051", "2021"} <= {r.cn for r in platform.frames}


# ---------------------------------------------------------------------------------- resending


def test_unanswered_uploads_are_resent_with_the_same_qn_until_answered() -> None:
    stations = build_stations(1, seed=33)
    seen: Counter[str] = Counter()

    def answer(r: Received) -> bool:
        seen[r.qn] += 1
        return seen[r.qn] > 2  # withhold the first two answers of every upload

    async def scenario() -> tuple[Platform, Any]:
        async with Platform(answer=answer) as p:
            cfg = config(p.port, stations, duration=1.2, speed=60.0, ack_timeout=0.15, retries=3, drain=3.0)
            return p, await Simulation(cfg).run()

    platform, summary = run(scenario)
    c = summary.counters
    uploads = [r for r in platform.frames if r.cn.startswith("2")]
    by_qn: dict[str, list[bytes]] = {}
    for r in uploads:
        by_qn.setdefault(r.qn, []).append(r.raw)
    assert by_qn
    assert all(len(v) == 3 and len(set(v)) == 1 for v in by_qn.values())
    assert c["resent"] == 2 * len(by_qn)
    assert c["acked"] == len(by_qn)
    assert c["failed"] == c["unacked"] == 0


def test_uploads_that_exhaust_their_retries_return_from_the_backlog_with_rf_1() -> None:
    stations = [replace(s, edition="2025") for s in build_stations(1, seed=34)]
    quiet_until: list[float] = []

    def answer(r: Received) -> bool:
        return r.at >= quiet_until[0]

    async def scenario() -> tuple[Platform, Any]:
        async with Platform(answer=answer) as p:
            quiet_until.append(asyncio.get_running_loop().time() + 1.0)
            cfg = config(
                p.port,
                stations,
                duration=2.5,
                speed=120.0,
                ack_timeout=0.1,
                retries=1,
                backlog_rate=5.0,
                drain=4.0,
            )
            return p, await Simulation(cfg).run()

    platform, summary = run(scenario)
    uploads = [r for r in platform.frames if r.cn.startswith("2")]
    first_seen: dict[tuple[str, str], str] = {}
    resent = []
    for r in uploads:
        key = (r.cn, data_time(r))
        if r.decoded.packet and r.decoded.packet.resent:
            resent.append(r)
            assert key in first_seen
            assert first_seen[key] != r.qn
        else:
            first_seen.setdefault(key, r.qn)
    assert resent
    flags = [bool(r.decoded.packet and r.decoded.packet.resent) for r in uploads]
    first, last = flags.index(True), len(flags) - 1 - flags[::-1].index(True)
    assert not all(flags[first : last + 1])  # new data interleaved with the backlog
    assert summary.counters["failed"] == 0
    assert summary.counters["unacked"] == 0


def test_2017_stations_resend_the_backlog_without_rf() -> None:
    stations = build_stations(1, seed=35)
    quiet_until: list[float] = []

    async def scenario() -> Platform:
        async with Platform(answer=lambda r: r.at >= quiet_until[0]) as p:
            quiet_until.append(asyncio.get_running_loop().time() + 0.8)
            cfg = config(p.port, stations, duration=1.5, speed=120.0, ack_timeout=0.1, retries=1, drain=3.0)
            await Simulation(cfg).run()
            return p

    platform = run(scenario)
    uploads = [r for r in platform.frames if r.cn.startswith("2")]
    assert all(r.decoded.ok and "RF" not in (r.decoded.header or {}) for r in uploads)
    keys = Counter((r.cn, data_time(r)) for r in uploads)
    qns = {(r.cn, data_time(r), r.qn) for r in uploads}
    assert len(qns) > len(keys)  # the same data went again under a new QN


# ---------------------------------------------------------------------------------- connections


def test_backoff_doubles_with_jitter_up_to_the_cap_and_resets() -> None:
    b = Backoff(0.5, 4.0, random.Random(1))
    delays = [b.next() for _ in range(6)]
    for delay, base in zip(delays, (0.5, 1.0, 2.0, 4.0, 4.0, 4.0), strict=True):
        assert 0.5 * base <= delay <= 1.5 * base
    assert len({round(d, 6) for d in delays}) == len(delays)  # jittered
    b.reset()
    assert 0.25 <= b.next() <= 0.75


def test_stations_reconnect_after_a_drop_and_resend_what_they_collected_meanwhile() -> None:
    stations = [replace(s, edition="2025") for s in build_stations(3, seed=36)]

    async def scenario() -> tuple[Platform, Any]:
        async with Platform() as p:
            sim = Simulation(config(p.port, stations, speed=120.0, backoff_initial=0.5, backoff_max=0.5))
            task = asyncio.create_task(sim.run())
            await until(lambda: len(p.of("2011")) >= 6)
            p.drop_all()
            await until(lambda: p.connections >= 6 and sim.counters.reconnects >= 3)
            await until(lambda: any(r.decoded.packet and r.decoded.packet.resent for r in p.frames))
            sim.stop()
            return p, await task

    platform, summary = run(scenario)
    assert summary.counters["reconnects"] >= 3
    assert summary.counters["disconnects"] >= 3
    assert platform.of("1001")
    assert len(platform.of("1001")) >= 6
    assert summary.counters["unacked"] == 0


def test_stations_keep_trying_until_the_platform_comes_up() -> None:
    stations = [replace(s, edition="2025") for s in build_stations(2, seed=37)]

    async def scenario() -> tuple[Platform, Any]:
        probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = probe.sockets[0].getsockname()[1]
        probe.close()
        await probe.wait_closed()
        sim = Simulation(config(port, stations, speed=120.0, backoff_initial=0.1, backoff_max=0.3))
        task = asyncio.create_task(sim.run())
        await until(lambda: sim.counters.connect_failures >= 4)
        p = Platform()
        p._server = await asyncio.start_server(p._client, "127.0.0.1", port)
        p.port = port
        try:
            await until(lambda: sim.counters.acked >= 10)
            sim.stop()
            return p, await task
        finally:
            await p.close()

    platform, summary = run(scenario)
    assert summary.counters["connect_failures"] >= 4
    assert summary.counters["connections"] == 2
    assert any(r.decoded.packet and r.decoded.packet.resent for r in platform.frames)  # collected offline


def test_2025_stations_send_heartbeats_and_drop_a_silent_link() -> None:
    stations = [replace(s, edition="2025") for s in build_stations(1, seed=38)]

    async def scenario() -> tuple[Platform, Any]:
        async with Platform(answer=lambda r: r.cn != "9015") as p:
            cfg = config(p.port, stations, speed=10.0, heartbeat=0.2, ack_timeout=0.15, retries=1)
            sim = Simulation(cfg)
            task = asyncio.create_task(sim.run())
            await until(lambda: p.connections >= 2)
            sim.stop()
            return p, await task

    platform, summary = run(scenario)
    beats = platform.of("9015")
    assert len(beats) >= 2
    for r in beats:
        assert (r.decoded.header or {})["Flag"] == "9"
        assert r.decoded.cp == {}
    assert summary.counters["notices_unanswered"] >= 1
    assert summary.counters["reconnects"] >= 1


# ---------------------------------------------------------------------------------- requests


def _answers(platform: Platform, qn: str) -> list[Received]:
    return [r for r in platform.frames if r.qn == qn]


def test_history_requests_are_answered_from_the_stations_own_records() -> None:
    st = build_stations(1, seed=39)[0]
    start = datetime(2026, 6, 1, tzinfo=UTC).timestamp()
    hours: list[str] = []

    async def scenario() -> Platform:
        async with Platform() as p:
            sim = Simulation(config(p.port, [st], speed=3600.0, realtime_interval=60.0, start=start))
            task = asyncio.create_task(sim.run())
            await until(lambda: len({data_time(r) for r in p.of("2061")}) >= 3)
            hours.extend(sorted({data_time(r) for r in p.of("2061")})[:2])
            w = p.writers[st.mn]
            w.write(
                get_history(station_of(st), qn="20260601120000001", cn=2061, begin=hours[0], end=hours[1])
            )
            w.write(
                get_history(
                    station_of(st),
                    qn="20260601120000500",
                    cn=2051,
                    begin="20200101000000",
                    end="20200102000000",
                )
            )
            await until(lambda: len(_answers(p, "20260601120000500")) >= 2)
            await until(lambda: any(r.cn == "9012" for r in _answers(p, "20260601120000001")))
            sim.stop()
            await task
            return p

    platform = run(scenario)
    answers = _answers(platform, "20260601120000001")
    assert answers[0].cn == "9011"
    assert answers[-1].cn == "9012"
    assert all(r.decoded.ok for r in answers)
    assert answers[0].decoded.cp == {"QnRtn": "1"}
    assert answers[-1].decoded.cp == {"ExeRtn": "1"}
    assert (answers[0].decoded.header or {})["ST"] == "91"

    def content(frames: list[Received]) -> set[tuple[str, str, tuple]]:
        return {
            (data_time(r), (r.decoded.header or {}).get("PNO", ""), tuple(r.decoded.cp_pairs or ()))
            for r in frames
        }

    def asks_answer(r: Received) -> bool:
        return bool(int((r.decoded.header or {})["Flag"]) & 1)

    # the answer's data: QN of the request (sub-packets: + 1 ms each), no answer asked
    data = [r for r in platform.of("2061") if not asks_answer(r)]
    assert data
    assert all(r.qn.startswith("2026060112000000") for r in data)
    assert {data_time(r) for r in data} == set(hours)
    live = [r for r in platform.of("2061") if asks_answer(r) and data_time(r) in hours]
    assert content(data) == content(live)  # the same values as uploaded live
    empty = _answers(platform, "20260601120000500")
    assert [r.cn for r in empty] == ["9011", "9012"]
    assert empty[1].decoded.cp == {"ExeRtn": "100"}


def test_time_query_and_time_setting() -> None:
    st = build_stations(1, seed=40)[0]
    start = datetime(2026, 6, 1, tzinfo=UTC).timestamp()

    async def scenario() -> Platform:
        async with Platform() as p:
            sim = Simulation(config(p.port, [st], speed=10.0, realtime_interval=10.0, start=start))
            task = asyncio.create_task(sim.run())
            await until(lambda: st.mn in p.writers)
            p.writers[st.mn].write(get_time(station_of(st), qn="20260601080000001"))
            await until(lambda: len(_answers(p, "20260601080000001")) >= 3)
            p.writers[st.mn].write(
                set_time(station_of(st), qn="20260601080000002", system_time="20260611080000")
            )
            await until(lambda: len(_answers(p, "20260601080000002")) >= 2)
            n = len(p.of("2011"))
            await until(lambda: len(p.of("2011")) >= n + 2)
            sim.stop()
            await task
            return p

    platform = run(scenario)
    got = _answers(platform, "20260601080000001")
    assert [r.cn for r in got] == ["9011", "1011", "9012"]
    told = parse_time((got[1].decoded.cp or {})["SystemTime"])
    assert told is not None
    assert abs(told - datetime(2026, 6, 1, 8, 0)) < timedelta(minutes=10)
    assert [r.cn for r in _answers(platform, "20260601080000002")] == ["9011", "9012"]
    last = parse_time(data_time(platform.of("2011")[-1]))
    assert last is not None
    assert last >= datetime(2026, 6, 11, 8, 0)


# ---------------------------------------------------------------------------------- SM4 keys


def test_sm4_uploads_round_trip_through_the_codec_in_both_wire_forms() -> None:
    stations = build_stations(2, seed=41, edition="2025", encrypt=True)
    for form in ("raw", "text"):

        async def scenario(form: str = form) -> Platform:
            async with Platform(keys={s.mn: s.key.encode() for s in stations}) as p:
                await Simulation(config(p.port, stations, duration=1.0, speed=300.0, cipher_form=form)).run()
                return p

        platform = run(scenario)
        uploads = [r for r in platform.frames if r.cn.startswith("2")]
        assert uploads
        for r in uploads:
            assert r.decoded.ok
            assert r.decoded.wire_form == form
            assert not decode(r.raw).ok  # without the key the CP is not readable
            assert "DataTime" in (r.decoded.cp or {})


def test_key_renewal_request_and_adoption_with_an_overlap() -> None:
    st = replace(build_stations(1, seed=42, edition="2025", encrypt=True)[0], key_age_days=85.0)
    old, new, newer = st.key.encode(), b"K3yRotat10nNew01", b"K3yRotat10nNew02"
    marks: dict[str, int] = {}

    async def scenario() -> tuple[Platform, Any]:
        async with Platform(keys={st.mn: old}) as p:
            sim = Simulation(config(p.port, [st], speed=60.0, key_overlap=30.0))
            task = asyncio.create_task(sim.run())
            await until(lambda: bool(p.of("1014")))
            w = p.writers[st.mn]
            w.write(
                deliver_key(
                    station_of(st),
                    qn="20260601090000001",
                    new_key=new.decode(),
                    sk_create_time="20260601090000000",
                    key=old,
                )
            )
            await until(lambda: any(r.cn == "9012" for r in _answers(p, "20260601090000001")))
            p.keys[st.mn] = new
            marks["first"] = len(p.frames)
            await until(lambda: any(r.cn == "2011" for r in p.frames[marks["first"] :]))
            # within the overlap, a frame from the centre under the old key is still understood
            w.write(
                deliver_key(
                    station_of(st),
                    qn="20260601090000002",
                    new_key=newer.decode(),
                    sk_create_time="20260601090001000",
                    key=old,
                )
            )
            await until(lambda: any(r.cn == "9012" for r in _answers(p, "20260601090000002")))
            p.keys[st.mn] = newer
            marks["second"] = len(p.frames)
            await until(lambda: any(r.cn == "2011" for r in p.frames[marks["second"] :]))
            sim.stop()
            return p, await task

    platform, summary = run(scenario)
    request = platform.of("1014")[0]
    assert request.decoded.ok
    assert request.decoded.wire_form == "raw"
    assert (request.decoded.cp or {}).get("SKCreateTime", "").isdigit()
    assert [r.cn for r in _answers(platform, "20260601090000001")] == ["9011", "9012"]
    assert [r.cn for r in _answers(platform, "20260601090000002")] == ["9011", "9012"]
    assert summary.counters["keys_adopted"] == 2
    assert summary.counters["key_requests"] >= 1
    between = [r for r in platform.frames[marks["first"] : marks["second"]] if r.cn == "2011"]
    after = [r for r in platform.frames[marks["second"] :] if r.cn == "2011"]
    assert between
    assert after
    assert decode(between[0].raw, key=new).ok
    assert not decode(between[0].raw, key=old).ok
    assert decode(after[-1].raw, key=newer).ok
    assert not decode(after[-1].raw, key=new).ok


# ---------------------------------------------------------------------------------- scale


def test_hundreds_of_stations_share_one_loop() -> None:
    stations = build_stations(400, seed=43)

    async def scenario() -> tuple[Platform, Any]:
        async with Platform() as p:
            cfg = config(p.port, stations, duration=2.0, speed=30.0, ramp=0.5, ack_timeout=5.0)
            return p, await Simulation(cfg).run()

    platform, summary = run(scenario, within=60.0)
    c = summary.counters
    assert c["connections"] == 400
    assert platform.connections == 400
    assert c["acked"] == c["sent"] - c["resent"] > 400  # every upload answered once
    assert c["unacked"] == c["failed"] == 0
    assert len({r.mn for r in platform.frames}) == 400
