"""``citysoc demo``: the whole SOC on its embedded default, fed with the bundled samples."""

from __future__ import annotations

import argparse
import logging
import secrets
import shutil
import threading
import time
from pathlib import Path

from citysoc.cli.collect import Reader, collect_events
from citysoc.cli.output import say
from citysoc.cli.serve import port_number, serve
from citysoc.core.settings import Settings
from citysoc.core.topology import load_topology
from collectors import SAMPLES
from collectors.packets.pcap import read_pcap
from collectors.sources.eve import read_eve
from collectors.sources.syslog import read_syslog_file
from collectors.stats import CollectorStats
from eventstore.engine.client import open_client
from eventstore.engine.indices import install
from eventstore.open import engine_spec
from soc_api.auth.models import Role
from soc_api.auth.service import upsert_user
from soc_api.context import SocContext
from soc_api.db import transaction

log = logging.getLogger(__name__)

DEMO_INPUTS: tuple[tuple[Reader, Path], ...] = (
    (read_pcap, SAMPLES / "demo-city.pcap"),
    (read_pcap, SAMPLES / "demo-city-truncated.pcap"),
    (read_eve, SAMPLES / "eve.json"),
    (read_syslog_file, SAMPLES / "syslog.log"),
)
DEMO_USERS = (
    ("analyst", Role.CITY_ANALYST, None, "City SOC analyst"),
    ("d1-analyst", Role.AGENCY_ANALYST, "d1", "District 1 analyst"),
    ("auditor", Role.AUDITOR, None, "Information security auditor"),
    ("ops", Role.OPS, None, "SOC operations engineer"),
    ("admin", Role.ADMIN, None, "SOC administrator"),
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("demo", help="run the SOC with demo data and users")
    parser.add_argument("--port", type=port_number, help="port (default from CITYSOC_API_PORT)")
    parser.add_argument("--fresh", action="store_true", help="start from empty stores")
    parser.add_argument(
        "--store",
        metavar="URL",
        help="the event store (default CITYSOC_EVENT_STORE, else SQLite under the data "
        "folder), e.g. opensearch+http://127.0.0.1:9250; an engine is prepared as "
        "`citysoc store init` does",
    )
    parser.set_defaults(func=run)


def feed_samples(ctx: SocContext) -> None:
    """Collect every bundled sample into the store, then run the detections at once.

    The schedule is held meanwhile, so alerts appear together rather than input by input.
    """
    started = time.perf_counter()
    try:
        load_samples(ctx)
        ctx.store.settle()  # on an engine: until the samples are within the detection slice
    finally:
        ctx.scheduler.resume()
    run = ctx.scheduler.run_once()
    log.info(
        "demo data in and detections run in %.1fs: %d alerts raised",
        time.perf_counter() - started, run.created,
    )  # fmt: skip


def load_samples(ctx: SocContext) -> None:
    for read, path in DEMO_INPUTS:
        stats = CollectorStats()
        report = collect_events(
            read(path, stats),
            stats,
            store=ctx.store,
            topology=ctx.topology,
            default_agency=ctx.settings.default_agency,
        )
        log.info(
            "demo input %s: %d events stored (%d already there), errors %s",
            path.name, report.stored, report.duplicates, dict(stats.errors) or "none",
        )  # fmt: skip


def prepare_store(settings: Settings) -> str:
    """Put an engine's templates (idempotent); how the banner names the store."""
    spec = engine_spec(settings)
    if spec is None:
        return f"its embedded default (SQLite under {settings.data_dir.resolve()})"
    client = open_client(spec)
    try:
        install(client, load_topology(settings.topology_path))
    finally:
        client.close()
    return f"the engine {spec.redacted}"


def run(args: argparse.Namespace, settings: Settings) -> int:
    host, port = settings.api_host, args.port or settings.api_port
    if args.store:
        settings = settings.model_copy(update={"event_store": args.store})
    if args.fresh and settings.data_dir.exists():
        shutil.rmtree(settings.data_dir)  # an engine's events stay: they are not the demo's
    where = prepare_store(settings)
    password = (
        settings.demo_password.get_secret_value()
        if settings.demo_password
        else secrets.token_urlsafe(9)
    )

    def set_up(ctx: SocContext) -> None:
        with transaction(ctx.sessions) as session:
            for username, role, agency, name in DEMO_USERS:
                upsert_user(session, username=username, password=password, role=role,
                            agency=agency, display_name=name)  # fmt: skip
        ctx.scheduler.hold()
        threading.Thread(target=feed_samples, args=(ctx,), name="demo-feed", daemon=True).start()

    say("")
    say(f"  citysoc demo: the SOC on {where}")
    say(f"  Console:  http://{host}:{port}/")
    say(f"  Log in:   analyst / {password}      (city-wide)")
    say(f"            d1-analyst / {password}   (District 1 only)")
    say(f"            auditor / {password}      (read-only: alerts, audit log, reports)")
    say(f"            ops / {password}          (rules and releases)")
    say(f"            admin / {password}        (users and API tokens)")
    say(f"  API:      http://{host}:{port}/docs")
    say("  Stop:     Ctrl-C")
    say("")
    return serve(settings, host, port, startup=(set_up,))
