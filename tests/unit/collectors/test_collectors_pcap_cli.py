"""``citysoc collect pcap``: JSON summary on stdout, the closing summary on stderr."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest

from citysoc.cli.collect_packets import add_parsers, choose_reader
from citysoc.core.settings import Settings
from scenarios import generator

SAMPLES = generator.SAMPLES


def run(argv: list[str], settings: Settings) -> int:
    parser = argparse.ArgumentParser()
    add_parsers(parser.add_subparsers())
    args = parser.parse_args(argv)
    code: int = args.func(args, settings)
    return code


def test_collect_pcap_builtin_prints_both_summaries(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    cut = SAMPLES / "demo-city-truncated.pcap"
    assert run(["pcap", "--reader", "builtin", str(cut)], settings) == 0
    out, err = capsys.readouterr()
    path, _, summary = out.strip().partition(": ")
    figures = json.loads(summary)
    assert path == str(cut)
    assert figures["errors"] == {"truncated-pcap": 1}
    assert figures["stored"] == figures["events"] > 0
    assert f"{cut} (builtin reader): {figures['received']:,} packets" in err
    assert "errors: truncated-pcap 1" in err and "skipped: rtp-media" in err
    assert "packets/s" in err


def test_auto_reader_keeps_classic_pcap_builtin(tmp_path: Path) -> None:
    assert choose_reader("auto", SAMPLES / "demo-city.pcap") == "builtin"
    assert choose_reader("tshark", SAMPLES / "demo-city.pcap") == "tshark"
    pcapng = tmp_path / "city.pcapng"
    pcapng.write_bytes(b"\x0a\x0d\x0d\x0a" + bytes(28))
    expected = "tshark" if shutil.which("tshark") else "builtin"
    assert choose_reader("auto", pcapng) == expected
