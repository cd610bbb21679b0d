"""``citysoc db upgrade|current``: migrate the SOC state schema."""

from __future__ import annotations

import argparse

from citysoc.cli.output import say
from citysoc.core.settings import Settings
from soc_api.db import make_engine
from soc_api.migrate import current_revision, upgrade


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("db", help="migrate the SOC state database (alerts, users, audit)")
    actions = parser.add_subparsers(dest="db_action", required=True)
    up = actions.add_parser("upgrade", help="apply every pending migration")
    up.add_argument("revision", nargs="?", default="head", help="target revision (default head)")
    up.set_defaults(func=run_upgrade)
    actions.add_parser("current", help="print the schema revision").set_defaults(func=run_current)


def run_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    engine = make_engine(settings.resolved_state_url)
    try:
        revision = upgrade(engine, args.revision)
    finally:
        engine.dispose()
    say(f"SOC state at revision {revision}")
    return 0


def run_current(_args: argparse.Namespace, settings: Settings) -> int:
    engine = make_engine(settings.resolved_state_url)
    try:
        say(f"SOC state at revision {current_revision(engine) or 'none (empty database)'}")
    finally:
        engine.dispose()
    return 0
