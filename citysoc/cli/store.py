"""``citysoc store init|health``: prepare and check the event store ``CITYSOC_EVENT_STORE``
names.

``init`` puts the engine's ingest pipeline, mappings, per-agency index templates and
lifecycle policies (idempotent: a second run reports every item unchanged); on the embedded
SQLite store it only creates the file.
"""

from __future__ import annotations

import argparse

from citysoc.cli.output import fail, say, table
from citysoc.core.settings import Settings
from citysoc.core.topology import load_topology
from eventstore.open import describe, engine_spec, open_event_store


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("store", help="prepare and check the event store")
    verbs = parser.add_subparsers(dest="store_action", required=True)
    verbs.add_parser(
        "init", help="put the engine's pipeline, templates and lifecycle policies"
    ).set_defaults(func=run_init)
    verbs.add_parser("health", help="whether the event store answers").set_defaults(func=run_health)


def run_init(_args: argparse.Namespace, settings: Settings) -> int:
    spec = engine_spec(settings)
    if spec is None:
        store = open_event_store(settings)
        store.close()
        say(f"embedded event store ready: {settings.event_store_path}")
        return 0
    from eventstore.engine.client import open_client
    from eventstore.engine.indices import install

    client = open_client(spec)
    try:
        changes = install(client, load_topology(settings.topology_path))
    finally:
        client.close()
    table(
        ["kind", "name", "outcome", "detail"],
        [(c.kind, c.name, c.outcome, c.detail) for c in changes],
    )
    changed = sum(c.outcome in ("created", "updated") for c in changes)
    say(f"{spec.redacted}: {changed} of {len(changes)} items changed")
    return 0


def run_health(_args: argparse.Namespace, settings: Settings) -> int:
    store = open_event_store(settings)
    try:
        health = store.health()
    finally:
        store.close()
    if not health.ok:
        fail(f"{describe(settings)}: {health.detail}")
        return 1
    say(f"{health.kind} {health.detail}: {health.events} events")
    return 0
