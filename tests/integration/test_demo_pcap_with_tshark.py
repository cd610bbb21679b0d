"""Wireshark's own dissectors agree that the generated demo pcap is well-formed traffic."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("tshark") is None, reason="needs Debian's tshark"),
]

PCAP = Path(__file__).resolve().parents[2] / "collectors" / "samples" / "demo-city.pcap"


def tshark(*args: str) -> list[str]:
    done = subprocess.run(
        ["tshark", "-n", "-r", str(PCAP), *args], capture_output=True, text=True, check=True
    )
    return [line for line in done.stdout.splitlines() if line]


def test_tcp_sessions_are_consistent() -> None:
    # out-of-order, lost segments, retransmissions... would make tshark skip the payloads
    flagged = tshark("-Y", "tcp.analysis.flags && !tcp.analysis.window_update")
    assert flagged == []


def test_tshark_sees_the_attacks_the_collectors_report() -> None:
    fields = ("-T", "fields", "-e", "ip.src", "-e", "rtsp.status")
    rtsp = Counter(tshark("-Y", "rtsp.response", *fields))
    assert rtsp["10.31.0.21\t401"] == 8
    put = tshark("-Y", 'http.request.method == "PUT"', "-T", "fields", "-e", "http.request.uri")
    assert put == ["/SDK/webLanguage"]
    syns = tshark("-Y", "ip.src == 10.32.0.66 && tcp.flags == 0x002 && tcp.dstport == 23")
    assert len(syns) >= 30
