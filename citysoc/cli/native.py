"""``citysoc native``: compile the hot-path modules with mypyc, or remove them."""

from __future__ import annotations

import argparse
import logging
import time

from citysoc.cli.output import say
from citysoc.core.settings import Settings
from collectors import NATIVE

log = logging.getLogger(__name__)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "native",
        help="compile the EVE hot path to C with mypyc (optional: it runs as Python without)",
    )
    parser.add_argument("--force", action="store_true", help="compile even if up to date")
    parser.add_argument("--clean", action="store_true", help="remove the compiled modules")
    parser.add_argument(
        "--restore-only",
        action="store_true",
        help="only restore a cached build of these sources; exit 3 if there is none",
    )
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
    cache = settings.native_cache_dir
    if not args.force and NATIVE.restore(cache):
        say(f"compiled modules restored from the cache ({cache}): {names}")
        return 0
    if args.restore_only:
        say(f"no cached build of these sources in {cache}")
        return 3
    say(f"compiling {names} with mypyc: a few minutes, once per version of these sources")
    started = time.monotonic()
    log_path = NATIVE.build()
    try:
        NATIVE.save(cache)
    except OSError as exc:  # a read-only home: the build is in place all the same
        log.warning("could not cache the compiled modules in %s: %s", cache, exc)
    took = time.monotonic() - started
    say(f"compiled with mypyc in {took:.0f} s: {names} (compiler output: {log_path})")
    return 0
