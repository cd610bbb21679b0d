"""``citysoc token create|revoke``: API tokens for collectors and machines."""

from __future__ import annotations

import argparse

from citysoc.cli.output import say
from citysoc.core.settings import Settings
from citysoc.core.topology import load_topology
from soc_api.auth.models import TokenScope
from soc_api.auth.tokens import create_token, revoke_token
from soc_api.db import init_state, make_engine, transaction


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("token", help="create or revoke API tokens for machines")
    actions = parser.add_subparsers(dest="token_action", required=True)
    create = actions.add_parser("create", help="create a token and print it (once)")
    create.add_argument("--name", required=True, help="what uses it, e.g. sensor-d1")
    create.add_argument("--scope", choices=[s.value for s in TokenScope], required=True)
    create.add_argument("--agency", help="restrict it to one agency's data")
    create.add_argument("--days", type=int, default=90, help="days until it expires")
    create.set_defaults(func=run_create)
    revoke = actions.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(func=run_revoke)


def run_create(args: argparse.Namespace, settings: Settings) -> int:
    if not 1 <= args.days <= 3650:
        say("--days must be between 1 and 3650")
        return 2
    if args.agency and args.agency not in load_topology(settings.topology_path).agencies:
        say(f"no agency {args.agency!r} in the city's topology ({settings.topology_path})")
        return 2
    sessions = init_state(make_engine(settings.resolved_state_url))
    with transaction(sessions) as session:
        issued = create_token(
            session,
            name=args.name,
            scope=TokenScope(args.scope),
            agency=args.agency,
            days=args.days,
            actor="cli",
        )
    say(f"token {issued.id} ({issued.name}, scope {args.scope}, expires {issued.expires_at}):")
    say(issued.token)
    say("It is shown only now: store it in the collector's secret store.")
    return 0


def run_revoke(args: argparse.Namespace, settings: Settings) -> int:
    sessions = init_state(make_engine(settings.resolved_state_url))
    with transaction(sessions) as session:
        if not revoke_token(session, token_id=args.id, actor="cli"):
            say(f"no token {args.id}")
            return 1
    say(f"token {args.id} revoked")
    return 0
