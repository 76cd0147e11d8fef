"""`envtrace serve`: the HJ 212 gateway in the foreground, and the web app in a child process.

SIGTERM or SIGINT stops gracefully: the listener closes, everything received is committed, the
pending answers are sent, the connections close, the web process stops; exit status 0.

The web app (``envtrace.web.app.create_app(settings)``) runs under uvicorn in a **separate
process** started with the ``spawn`` method and the same settings, so web load never stalls the
gateway's event loop. It dies with the gateway (it watches its parent). The background worker
(``envtrace worker``: roll-up, live detection, alarms, checkpoints) runs the same way unless
``ENVTRACE_WORKER=false``.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

    from envtrace.config import Settings
    from envtrace.ingest import GatewayConfig

log = logging.getLogger("envtrace.serve")


def raise_fd_limit() -> int:
    """Raise RLIMIT_NOFILE to its hard limit (thousands of station connections); returns it."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


def gateway_config(settings: Settings) -> GatewayConfig:
    from envtrace.config import state_dir_for
    from envtrace.ingest import GatewayConfig

    return GatewayConfig(
        host=settings.gateway_host,
        port=settings.gateway_port,
        unknown_stations=settings.unknown_stations,
        tolerant=settings.tolerant,
        idle_timeout_s=settings.idle_timeout_s,
        batch_max=settings.batch_max,
        queue_high=settings.queue_high,
        queue_low=settings.queue_low,
        history_requests=settings.history_requests,
        history_timeout_s=settings.history_timeout_s,
        state_dir=str(state_dir_for(settings.db_url, settings.state_dir)),
        key_overlap_s=settings.key_overlap_s,
        key_rotation_days=settings.key_rotation_days,
        key_auto_rotate=settings.key_auto_rotate,
        key_delivery_form=settings.key_delivery_form,
        encrypted_plaintext=settings.encrypted_plaintext,
        command_poll_s=settings.command_poll_s,
        command_timeout_s=settings.command_timeout_s,
        identity_refresh_s=settings.identity_refresh_s,
    )


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


def run_web(settings_json: str, parent: int) -> None:
    """Child-process entry: the web app under uvicorn (spawned; reads the settings it was given)."""
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    import uvicorn

    from envtrace.config import Settings

    settings = Settings.model_validate_json(settings_json)
    try:
        from envtrace.web.app import create_app
    except ImportError as exc:  # the web package is not there (yet): say so, keep the gateway up
        print(f"envtrace serve: no web app ({exc}); only the gateway runs", file=sys.stderr, flush=True)
        return
    app = create_app(settings)
    port = settings.http_port if settings.http_port is not None else 8000
    uvicorn.run(app, host=settings.http_host, port=port, log_level="warning", access_log=False)


def start_web(settings: Settings) -> BaseProcess:
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(
        target=run_web, args=(settings.model_dump_json(), os.getpid()), name="envtrace-web", daemon=False
    )
    proc.start()
    return proc


def stop_web(proc: BaseProcess | None) -> None:
    if proc is None or not proc.is_alive():
        return
    if proc.pid is not None:
        os.kill(proc.pid, signal.SIGTERM)
    proc.join(10)
    if proc.is_alive():
        proc.kill()
        proc.join(5)


# --- worker: the background jobs (roll-up, live detection, alarms) in a child process -----------
def run_worker(settings_json: str, parent: int) -> None:
    """Child-process entry: ``envtrace worker`` with the gateway's settings; exits with the gateway."""
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    from envtrace.cli.worker import collect_jobs
    from envtrace.config import Settings
    from envtrace.jobs import run_forever
    from envtrace.store import connect

    setup_logging()
    settings = Settings.model_validate_json(settings_json)
    engine = connect(settings.db_url, sqlite_synchronous=settings.sqlite_synchronous)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the gateway, which stops us
    try:
        run_forever(engine, collect_jobs(settings), stop)
    finally:
        engine.dispose()


def start_worker(settings: Settings) -> BaseProcess:
    ctx = multiprocessing.get_context("spawn")
    args = (settings.model_dump_json(), os.getpid())
    proc = ctx.Process(target=run_worker, args=args, name="envtrace-worker", daemon=False)
    proc.start()
    return proc


# --- end worker ----------------------------------------------------------------------------------


def serve(settings: Settings) -> int:
    """Run the gateway (and the web app when ``http_port`` is set) until SIGTERM / SIGINT."""
    import asyncio

    from envtrace.ingest import Gateway, prepare_database
    from envtrace.store import connect

    limit = raise_fd_limit()
    engine = connect(settings.db_url, sqlite_synchronous=settings.sqlite_synchronous)
    prepare_database(engine)
    # --- evidence: refuse to run on a tree that does not extend the published checkpoints -------
    from envtrace.evidence import EvidenceError, check_against_published

    try:
        check_against_published(engine, settings)
    except EvidenceError as exc:
        log.critical("refusing to start: %s", exc)
        print(f"envtrace serve: refusing to start: {exc}", file=sys.stderr, flush=True)
        engine.dispose()
        return 3
    # --- end evidence ------------------------------------------------------------------------------
    web = start_web(settings) if settings.http_port is not None else None
    worker = start_worker(settings) if settings.worker else None  # --- worker (one line) ---
    gateway = Gateway(engine, gateway_config(settings))
    log.info("file descriptors: %d", limit)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, gateway.stop)
        await gateway.run()

    try:
        _run(main())
    finally:
        stop_web(web)
        stop_web(worker)  # --- worker: the same SIGTERM, join, kill sequence ---
        engine.dispose()
    return 0


def _run(coro: Any) -> None:
    import asyncio

    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        asyncio.run(coro)
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(coro)


def setup_logging() -> None:
    logging.basicConfig(
        level=os.environ.get("ENVTRACE_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve_command(
        db: Annotated[str | None, typer.Option("--db", help="Database URL (ENVTRACE_DB_URL).")] = None,
        port: Annotated[int | None, typer.Option("--port", help="HJ 212 gateway TCP port.")] = None,
        http_port: Annotated[
            int | None, typer.Option("--http-port", help="Web app port (none: no web).")
        ] = None,
        host: Annotated[str | None, typer.Option("--host", help="Address both listeners bind.")] = None,
        unknown_stations: Annotated[
            str | None, typer.Option("--unknown-stations", help="enrol (default) or refuse.")
        ] = None,
        tolerant: Annotated[
            bool | None,
            typer.Option("--tolerant/--strict", help="Accept known deviations from all stations."),
        ] = None,
    ) -> None:
        """Run the HJ 212 gateway (and the web app with --http-port) in the foreground."""
        from envtrace.config import Settings

        overrides: dict[str, Any] = {}
        if db is not None:
            overrides["db_url"] = db
        if port is not None:
            overrides["gateway_port"] = port
        if http_port is not None:
            overrides["http_port"] = http_port
        if host is not None:
            overrides["gateway_host"] = host
            overrides["http_host"] = host
        if unknown_stations is not None:
            overrides["unknown_stations"] = unknown_stations
        if tolerant is not None:
            overrides["tolerant"] = tolerant
        setup_logging()
        settings = Settings(**overrides)
        raise typer.Exit(serve(settings))
