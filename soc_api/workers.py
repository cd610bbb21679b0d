"""``citysoc serve --workers N``: N API worker processes, the rest of the SOC in one more.

Python answers one request at a time per process (the GIL), so one process serves about
100 requests/s of analysts' traffic on a whole core. With N > 1 workers this process, the
supervisor, listens on the address itself and starts N worker processes (``spawn``: fresh
interpreters, no threads or locks copied) that each run uvicorn on that one listening socket,
the kernel spreading connections between them. The supervisor runs what must happen once:
the detection schedule, the audit seals, scheduled reports and notification deliveries
(:mod:`soc_api.background`). Workers reach the schedule through :class:`ScheduleLink`.

Stopping: SIGTERM or SIGINT to the supervisor stops every worker gracefully (SIGKILL after
:data:`STOP_SECONDS`), then the background work, then the supervisor. Workers live in a
process group of their own (a terminal's Ctrl-C reaches the supervisor only, which stops
them in order) and ask the kernel for SIGTERM when the supervisor dies, however it dies, so
none is left behind. A worker that ends unasked is logged and started again; more than
:data:`RESTARTS` such ends within :data:`RESTART_WINDOW` seconds stop the whole server with
an error, rather than restarting a worker that cannot start forever.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType

import uvicorn

from citysoc.core.errors import ConfigError
from citysoc.core.logs import configure_logging
from citysoc.core.settings import Settings
from soc_api.app import create_app
from soc_api.auth.secret import session_secret
from soc_api.background import StartupTask, start_background
from soc_api.context import build_context
from soc_api.memory_report import start_memory_report
from soc_api.metrics import share_between_processes
from soc_api.schedule_link import ScheduleLink

log = logging.getLogger(__name__)

METRICS_FOLDER = "metrics"  # in the data dir: every process's metric values
STOP_SECONDS = 20.0  # a worker's graceful stop, then SIGKILL
RESTARTS = 5  # unasked ends of workers within RESTART_WINDOW that stop the server
RESTART_WINDOW = 60.0
BACKLOG = 2048  # uvicorn's own default
PR_SET_PDEATHSIG = 1


def listen(host: str, port: int) -> socket.socket:
    """The listening socket every worker accepts on; a clear error when it is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not 0: asyncio sets TCP_NODELAY only on sockets that say so, and
    # without it a response written in two parts waits for the client's delayed ACK (40 ms)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port} ({exc.strerror}): another SOC may be running; "
            "stop it or choose another port with --port"
        ) from exc
    sock.listen(BACKLOG)
    return sock


def _die_with(parent: int) -> None:
    """Ask the kernel for SIGTERM when the supervisor ends (Linux), and leave its group."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
            log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    except (OSError, AttributeError) as exc:  # not Linux: the supervisor's stop still holds
        log.warning("cannot ask to end with the supervisor: %s", exc)
    if os.getppid() != parent:  # it ended before the request above took effect
        os._exit(1)
    os.setpgid(0, 0)


def worker_main(
    settings: Settings, sock: socket.socket, link: ScheduleLink, number: int, parent: int
) -> None:
    """One API worker: uvicorn on the supervisor's socket, the app told where the schedule is."""
    _die_with(parent)
    configure_logging(settings.log_level, settings.log_format)
    share_between_processes(settings.data_dir / METRICS_FOLDER)
    app = create_app(settings, schedule=link)
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        proxy_headers=False,  # the app decides which X-Forwarded-For to believe
        timeout_graceful_shutdown=int(STOP_SECONDS) - 5,
    )
    server = uvicorn.Server(config)
    log.info("API worker %d (pid %d) serving", number, os.getpid())
    server.run(sockets=[sock])
    if not server.started:
        raise SystemExit(3)  # the app did not start: the supervisor counts it


class Supervisor:
    """Runs the background work here and keeps ``workers`` API workers running."""

    def __init__(
        self,
        settings: Settings,
        *,
        host: str,
        port: int,
        workers: int,
        startup: Sequence[StartupTask] = (),
    ) -> None:
        self.settings = settings
        self.host, self.port = host, port
        self.workers = workers
        self.startup = tuple(startup)
        self._spawn_context = multiprocessing.get_context("spawn")
        self._stopping = threading.Event()
        self._procs: list[BaseProcess] = []

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT (0) or until workers keep ending (1)."""
        sock = listen(self.host, self.port)
        reader, writer = self._spawn_context.Pipe(duplex=False)
        link = ScheduleLink(self.settings.data_dir, reader, writer)
        handlers = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        metrics = self.settings.data_dir / METRICS_FOLDER
        shutil.rmtree(metrics, ignore_errors=True)  # the values of an earlier start
        share_between_processes(metrics)
        try:
            session_secret(self.settings)  # made once here, before any worker reads it
            ctx = build_context(self.settings)
            try:
                ctx.scheduler.publish_to(link)
                background = start_background(ctx, self.startup)
                memory = start_memory_report(ctx)  # debugging only: off unless configured
                try:
                    self._procs = [self._spawn(sock, link, n) for n in range(self.workers)]
                    log.info(
                        "SOC API on http://%s:%d: %d workers (pids %s), detections in pid %d",
                        self.host, self.port, self.workers,
                        ", ".join(str(p.pid) for p in self._procs), os.getpid(),
                    )  # fmt: skip
                    return self._watch(sock, link, ctx.scheduler.trigger)
                finally:
                    self._stop_workers()
                    if memory is not None:
                        memory.stop()
                    background.stop()
            finally:
                ctx.close()
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
            sock.close()
            reader.close()
            writer.close()
            shutil.rmtree(metrics, ignore_errors=True)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if not self._stopping.is_set():
            log.info("%s: stopping the API workers", signal.Signals(signum).name)
        self._stopping.set()

    def _spawn(self, sock: socket.socket, link: ScheduleLink, number: int) -> BaseProcess:
        proc = self._spawn_context.Process(
            target=worker_main,
            args=(self.settings, sock, link, number, os.getpid()),
            name=f"citysoc-api-{number}",
            daemon=True,  # and multiprocessing ends it at exit, should all else fail
        )
        proc.start()
        return proc

    def _watch(self, sock: socket.socket, link: ScheduleLink, trigger: Callable[[], None]) -> int:
        ends: list[float] = []
        while not self._stopping.is_set():
            ready = wait([link.wake_reader, *(p.sentinel for p in self._procs)], timeout=0.5)
            if link.wake_reader in ready and link.drain():
                trigger()
            for number, proc in enumerate(self._procs):
                if proc.exitcode is None or self._stopping.is_set():
                    continue
                now = time.monotonic()
                ends = [t for t in ends if now - t < RESTART_WINDOW] + [now]
                log.error(
                    "API worker %d (pid %s) ended with exit code %s",
                    number,
                    proc.pid,
                    proc.exitcode,
                )
                if len(ends) > RESTARTS:
                    log.critical(
                        "API workers ended %d times within %.0f s: stopping the SOC API",
                        len(ends), RESTART_WINDOW,
                    )  # fmt: skip
                    return 1
                self._procs[number] = self._spawn(sock, link, number)
                log.info("API worker %d restarted (pid %s)", number, self._procs[number].pid)
        return 0

    def _stop_workers(self) -> None:
        for proc in self._procs:
            if proc.exitcode is None:
                proc.terminate()
        deadline = time.monotonic() + STOP_SECONDS
        for proc in self._procs:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.exitcode is None:
                log.warning(
                    "API worker pid %s did not stop in %.0f s: killed", proc.pid, STOP_SECONDS
                )
                proc.kill()
                proc.join(5)
