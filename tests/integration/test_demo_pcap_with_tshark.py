"""Wireshark agrees with the demo pcap, and the tshark reader with the built-in one."""

from __future__ import annotations

import logging
import shutil
import struct
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from citysoc.core.errors import CollectorError
from collectors.packets.pcap import read_pcap
from collectors.sources.tshark import read_pcap_tshark
from collectors.stats import CollectorStats
from scenarios import generator

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


@pytest.mark.parametrize("name", ["demo-city.pcap", "demo-city-truncated.pcap"])
def test_tshark_reader_gives_the_builtin_readers_events(name: str) -> None:
    path = PCAP.with_name(name)
    builtin, fast = CollectorStats(), CollectorStats()
    expected = list(read_pcap(path, builtin))
    got = list(read_pcap_tshark(path, fast))
    assert got == expected
    assert fast.summary() == builtin.summary()
    datasets = Counter(e["event.dataset"] for e in got)
    assert set(datasets) >= {
        "network_traffic.flow",
        "network_traffic.dns",
        "network_traffic.rtsp",
        "network_traffic.modbus",
        "network_traffic.wsdiscovery",
    }


def test_tshark_reader_reports_the_cut_with_its_location(
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = PCAP.with_name("demo-city-truncated.pcap")
    stats = CollectorStats()
    with caplog.at_level(logging.WARNING, logger="collectors.stats"):
        list(read_pcap_tshark(path, stats))
    assert stats.errors == Counter({"truncated-pcap": 1})
    records = generator.pcap_records(path.read_bytes())
    where = f"record {len(records) + 1}, byte {records[-1][0] + records[-1][1]}"
    assert f"{path}, {where}: truncated-pcap" in caplog.text
    assert "cut short in the middle of a packet" in caplog.text


def test_malformed_frames_are_counted_by_layer(tmp_path: Path) -> None:
    eth = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01"
    frames = [eth + b"\x08\x00\x45\x00", b"\x01", eth + b"\x08\x06" + b"\x00" * 28]
    path = tmp_path / "bad.pcap"
    with path.open("wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for n, data in enumerate(frames):
            out.write(struct.pack("<IIII", 1795658400 + n, 0, len(data), len(data)) + data)
    stats = CollectorStats()
    assert list(read_pcap_tshark(path, stats)) == []
    assert stats.errors == Counter({"malformed-ipv4": 1, "malformed-ethernet": 1})
    assert stats.skipped == Counter({"non-ip": 1})
    assert stats.received == 3 and stats.parsed == 0


def test_missing_tshark_is_a_collector_error(tmp_path: Path) -> None:
    with pytest.raises(CollectorError, match="tshark"):
        read_pcap_tshark(PCAP, CollectorStats(), tshark=str(tmp_path / "no-tshark"))
