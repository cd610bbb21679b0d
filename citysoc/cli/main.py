"""Entry point of the ``citysoc`` command."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from pydantic import ValidationError

import citysoc
from citysoc.cli.output import fail
from citysoc.core.errors import CitysocError
from citysoc.core.logs import configure_logging
from citysoc.core.settings import Settings

log = logging.getLogger(__name__)

# One module per command group; each has ``add_parser(subparsers)``. Add a line to add one.
COMMANDS = (
    "citysoc.cli.demo",
    "citysoc.cli.serve",
    "citysoc.cli.collect",
    "citysoc.cli.rules",
    "citysoc.cli.db",
    "citysoc.cli.token",
    "citysoc.cli.audit",
    "citysoc.cli.infra",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="citysoc",
        description="citysoc: the city Information Security Centre as code. "
        "Settings come from CITYSOC_* environment variables.",
    )
    parser.add_argument("--version", action="version", version=f"citysoc {citysoc.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(name).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except (ValidationError, CitysocError) as exc:
        fail(f"bad settings: {exc}")
        return 2
    configure_logging(settings.log_level, settings.log_format)
    try:
        code: int = args.func(args, settings)
    except CitysocError as exc:
        fail(str(exc))
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
