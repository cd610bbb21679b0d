"""``citysoc native``: compile the hot-path modules with mypyc, or remove them."""

from __future__ import annotations

import argparse

from citysoc.cli.output import say
from citysoc.core import native
from citysoc.core.settings import Settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "native",
        help="compile the EVE hot path to C with mypyc (optional: it runs as Python without)",
    )
    parser.add_argument("--force", action="store_true", help="compile even if up to date")
    parser.add_argument("--clean", action="store_true", help="remove the compiled modules")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.clean:
        removed = native.clean()
        say(f"removed {len(removed)} files: {', '.join(p.name for p in removed) or 'none'}")
        return 0
    if native.is_built() and not args.force:
        say(f"compiled and up to date: {', '.join(native.MODULES)}")
        return 0
    log_path = native.build()
    say(f"compiled with mypyc: {', '.join(native.MODULES)} (compiler output: {log_path})")
    return 0
