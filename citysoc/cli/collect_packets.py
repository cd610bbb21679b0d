"""``citysoc collect pcap``: capture files into ECS events."""

from __future__ import annotations

import argparse
from pathlib import Path

from citysoc.cli.collect import collect_files
from citysoc.core.settings import Settings
from collectors.pcap import read_pcap


def add_parsers(kinds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    pcap = kinds.add_parser("pcap", help="read pcap files (flows, DNS, HTTP, RTSP, Modbus)")
    pcap.add_argument("paths", nargs="+", type=Path)
    pcap.add_argument("--agency", help="agency of events outside the topology")
    pcap.set_defaults(func=run_pcap)


def run_pcap(args: argparse.Namespace, settings: Settings) -> int:
    return collect_files(args.paths, read_pcap, settings, args.agency)
