"""``citysoc native``: compile the hot-path modules with mypyc, or remove them."""

from __future__ import annotations

import argparse

from citysoc.cli.output import say
from citysoc.core.settings import Settings
from collectors import NATIVE


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "native",
        help="compile the EVE hot path to C with mypyc (optional: it runs as Python without)",
    )
    parser.add_argument("--force", action="store_true", help="compile even if up to date")
    parser.add_argument("--clean", action="store_true", help="remove the compiled modules")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    names = ", ".join(NATIVE.names)
    if args.clean:
        removed = NATIVE.clean()
        say(f"removed {len(removed)} compiled modules: {', '.join(p.name for p in removed)}")
        return 0
    if NATIVE.is_built() and not args.force:
        say(f"compiled and up to date: {names}")
        return 0
    log_path = NATIVE.build()
    say(f"compiled with mypyc: {names} (compiler output: {log_path})")
    return 0
