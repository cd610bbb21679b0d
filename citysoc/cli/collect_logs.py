"""``citysoc collect eve|syslog``: log files into ECS events."""

from __future__ import annotations

import argparse
from pathlib import Path

from citysoc.cli.collect import collect_files
from citysoc.core.settings import Settings
from collectors.eve import read_eve
from collectors.syslog import read_syslog_file


def add_parsers(kinds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    eve = kinds.add_parser("eve", help="read Suricata EVE JSON files")
    eve.add_argument("paths", nargs="+", type=Path)
    eve.add_argument("--agency", help="agency of events outside the topology")
    eve.set_defaults(func=run_eve)
    syslog = kinds.add_parser("syslog", help="read syslog files, one message per line")
    syslog.add_argument("paths", nargs="+", type=Path)
    syslog.add_argument("--agency", help="agency of events outside the topology")
    syslog.set_defaults(func=run_syslog)


def run_eve(args: argparse.Namespace, settings: Settings) -> int:
    return collect_files(args.paths, read_eve, settings, args.agency)


def run_syslog(args: argparse.Namespace, settings: Settings) -> int:
    return collect_files(args.paths, read_syslog_file, settings, args.agency)
