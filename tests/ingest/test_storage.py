"""The storage process and its link: commits before reports, end of file, crashes, thread mode,
and a graceful stop when SIGTERM reaches the whole process group."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from tests.ingest.conftest import MN, PW, LiveGateway, upload

from envtrace.ingest import prepare_database
from envtrace.ingest.storage import BATCH, BYE, COMMITTED, READY, STOP, Inbox, pack, serve
from envtrace.ingest.work import Work
from envtrace.store import connect, register_station, write_transaction
from envtrace.store.ledger_log import forget_cache

Make = Callable[..., LiveGateway]


def _qn(i: int) -> str:
    return f"20260801085857{i:03d}"


def _record(station_id: int, i: int) -> tuple[object, ...]:
    w = Work(None, upload(_qn(i), f"202608010859{i:02d}"), 1_785_500_000_000_000 + i, "127.0.0.1:1")
    w.mn, w.cn, w.st, w.qn, w.edition = MN, "2011", "31", _qn(i), "2017"
    w.station_id, w.status, w.data_ts = station_id, "data", 1_785_500_000 + i
    w.source = (("a21026-Rtd", f"{i}.5"), ("a21026-Flag", "N"))
    return w.record()


def test_serve_reports_each_commit_and_commits_what_it_has_at_end_of_file(db_url: str) -> None:
    forget_cache()
    engine = connect(db_url)
    prepare_database(engine)
    with write_transaction(engine) as conn:
        sid = register_station(conn, mn=MN, pw=PW, kind="flue_gas", st="31")
    ours, theirs = socket.socketpair()
    thread = threading.Thread(
        target=serve, args=(theirs,), kwargs={"engine": engine, "seal": True, "batch_max": 10}
    )
    thread.start()
    inbox = Inbox(ours)
    assert inbox.read(block=True)[0][0] == READY
    ours.sendall(pack((BATCH, [_record(sid, 1), _record(sid, 2)], [])))
    (report,) = inbox.read(block=True)
    assert report[:2] == (COMMITTED, 2)
    with engine.connect() as conn:  # reported means committed: another connection sees it
        assert conn.execute(text("SELECT count(*) FROM raw_frame")).scalar() == 2
        assert conn.execute(text("SELECT count(*) FROM reading")).scalar() == 2
    ours.sendall(pack((BATCH, [_record(sid, 3)], [])))
    ours.shutdown(socket.SHUT_WR)  # the network process is gone: what was sent is still stored
    thread.join(30)
    assert not thread.is_alive()
    assert [m[0] for m in inbox.read(block=True)] == [COMMITTED]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM raw_frame")).scalar() == 3
        statuses = conn.execute(text("SELECT status FROM raw_frame ORDER BY id")).scalars().all()
    assert statuses == ["accepted"] * 3
    ours.close()
    theirs.close()
    engine.dispose()
    forget_cache()


def test_stop_commits_then_says_bye(sqlite_url: str) -> None:
    forget_cache()
    engine = connect(sqlite_url)
    prepare_database(engine)
    with write_transaction(engine) as conn:
        sid = register_station(conn, mn=MN, pw=PW, kind="flue_gas", st="31")
    ours, theirs = socket.socketpair()
    thread = threading.Thread(
        target=serve, args=(theirs,), kwargs={"engine": engine, "seal": True, "batch_max": 10}
    )
    thread.start()
    inbox = Inbox(ours)
    assert inbox.read(block=True)[0][0] == READY
    ours.sendall(pack((BATCH, [_record(sid, 1)], [(sid, True, "127.0.0.1:1", 5)])) + pack((STOP,)))
    kinds: list[int] = []
    while BYE not in kinds:
        kinds += [m[0] for m in inbox.read(block=True)]
    assert kinds == [COMMITTED, BYE]
    thread.join(30)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT online, connected_us FROM station_state")).one() == (1, 5)
    ours.close()
    theirs.close()
    engine.dispose()
    forget_cache()


def _closed_without_answer(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(65536) == b""
    except (TimeoutError, ConnectionResetError):
        return False


def test_a_storage_crash_stops_the_gateway_and_answers_nothing_uncommitted(
    make_gateway: Make, db_url: str
) -> None:
    live = make_gateway()
    with live.engine.begin() as conn:  # every insert fails: the frame stays uncommitted, retried
        if db_url.startswith("sqlite"):
            conn.execute(
                text("CREATE TRIGGER fail BEFORE INSERT ON raw_frame BEGIN SELECT RAISE(ABORT, 'held'); END")
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION fail() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'held'; END $$ "
                    "LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text("CREATE TRIGGER fail BEFORE INSERT ON raw_frame FOR EACH ROW EXECUTE FUNCTION fail()")
            )
    c = live.client()
    c.send(upload(_qn(1)))
    end = time.monotonic() + 10
    while live.gateway.pending == 0 and time.monotonic() < end:
        time.sleep(0.01)
    pid = live.gateway.storage.pid
    assert pid is not None
    assert pid != os.getpid()
    os.kill(pid, signal.SIGKILL)
    assert _closed_without_answer(c.sock, 20)  # the gateway went down; no answer came first
    live.thread.join(30)
    assert not live.thread.is_alive()
    assert len(live.errors) == 1
    assert "storage process ended" in str(live.errors[0])
    assert live.query("SELECT count(*) FROM raw_frame")[0][0] == 0


def test_storage_in_a_thread(make_gateway: Make) -> None:
    live = make_gateway(storage="thread")
    c = live.client()
    c.send(upload(_qn(1)) + upload(_qn(2), "20260801085858"))
    assert all(";CN=9014;" in a for a in c.answers(2))
    live.wait_idle()
    assert live.query("SELECT status FROM raw_frame ORDER BY id") == [("accepted",), ("accepted",)]
    assert live.gateway.storage.pid == os.getpid()  # no child process


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_sigterm_to_the_whole_process_group_is_a_graceful_stop(sqlite_url: str, tmp_path: Path) -> None:
    port = _free_port()
    envtrace = Path(sys.executable).with_name("envtrace")
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(envtrace), "serve", "--db", sqlite_url, "--port", str(port)],
            stdout=out, stderr=out, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    try:
        end = time.monotonic() + 60
        while time.monotonic() < end:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail(f"envtrace serve did not start: {log.read_text()[-2000:]}")
        sock.sendall(
            b"".join(upload(_qn(i), f"202608010900{i:02d}", mn="SIGTERM0000000000000001") for i in range(20))
        )
        got = b""
        sock.settimeout(20)
        while got.count(b"\r\n") < 20:
            chunk = sock.recv(65536)
            assert chunk, got
            got += chunk
        os.killpg(proc.pid, signal.SIGTERM)  # the leader and the storage process both get it
        assert proc.wait(30) == 0, log.read_text()[-2000:]
        sock.close()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    engine = connect(sqlite_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM raw_frame WHERE status = 'accepted'")).scalar() == 20
    engine.dispose()
    end = time.monotonic() + 10
    while True:  # nothing of the session is left running (a zombie waiting for init is dead)
        ps = subprocess.run(
            ["ps", "-o", "pid=,stat=,args=", "-s", str(proc.pid)], capture_output=True, text=True
        )
        alive = [line for line in ps.stdout.splitlines() if line.split()[1][0] != "Z"]
        if not alive or time.monotonic() > end:
            break
        time.sleep(0.1)
    assert alive == []
