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
from citysoc.core.settings import Settings, explain_settings_error

log = logging.getLogger(__name__)

# Each command and the module whose ``add_parser(subparsers)`` adds it. Add a line to add one.
# Only the module of the command given is imported: ``collect`` need not load the SOC API.
COMMANDS = {
    "demo": "citysoc.cli.demo",
    "serve": "citysoc.cli.serve",
    "user": "citysoc.cli.serve",
    "collect": "citysoc.cli.collect",
    "rules": "citysoc.cli.rules",
    "db": "citysoc.cli.db",
    "token": "citysoc.cli.token",
    "audit": "citysoc.cli.audit",
    "infra": "citysoc.cli.infra",
    "native": "citysoc.cli.native",
    "box": "citysoc.cli.box",
    "store": "citysoc.cli.store",
    "report": "citysoc.cli.report",
    "range": "citysoc.cli.range",
    "release": "citysoc.cli.release",
}
# What ``citysoc --help`` lists, so that it imports no command's module (a unit test keeps
# each line equal to the help its module gives). A command missing here is imported for it.
SUMMARIES = {
    "demo": "run the SOC with demo data and users",
    "serve": "run the SOC API, the console and the detections",
    "user": "create a console user, reset its password, role or agency, or disable it",
    "collect": "read traffic or logs into the event store",
    "rules": "validate, test, compile and export detection rules",
    "db": "migrate the SOC state database (alerts, users, audit)",
    "token": "create or revoke API tokens for machines",
    "audit": "check the tamper-evident audit log",
    "infra": "plan the city's infrastructure offline (no cloud)",
    "native": "compile the EVE hot path to C with mypyc (optional: it runs as Python without)",
    "box": "the city in a box: booted Debian hosts in namespaces",
    "store": "prepare and check the event store",
    "report": "compliance reports for auditors (signed)",
    "release": "build, gate and verify analytics bundles",
    "range": "the attack range: replay the scenario library on the wire and score it",
}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for ``argv``: with its command's module only, or every module for help."""
    parser = argparse.ArgumentParser(
        prog="citysoc",
        description="citysoc: the city Information Security Centre as code. "
        "Settings come from CITYSOC_* environment variables.",
    )
    parser.add_argument("--version", action="version", version=f"citysoc {citysoc.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    words = [word for word in (sys.argv[1:] if argv is None else argv) if not word.startswith("-")]
    wanted = COMMANDS.get(words[0]) if words else None
    if wanted:
        importlib.import_module(wanted).add_parser(sub)
        return parser
    for command, module in COMMANDS.items():  # the list of commands: their summaries only
        if command in SUMMARIES:
            sub.add_parser(command, help=SUMMARIES[command])
        elif not any(action.dest == command for action in sub._choices_actions):
            importlib.import_module(module).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser(argv).parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        fail(f"bad settings: {explain_settings_error(exc)}")
        return 2
    except CitysocError as exc:
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
