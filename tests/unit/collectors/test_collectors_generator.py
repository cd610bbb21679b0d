"""The demo traffic generator: same bytes every run, consistent TCP, bundled samples fresh."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

from scapy.layers.inet import TCP
from scapy.utils import rdpcap

from scenarios import generator

SAMPLES = generator.SAMPLES


def test_two_runs_give_identical_bytes(tmp_path: Path) -> None:
    first, second = tmp_path / "a.pcap", tmp_path / "b.pcap"
    assert generator.write_demo_pcap(first) == generator.write_demo_pcap(second) == 263
    assert first.read_bytes() == second.read_bytes()


def test_bundled_samples_equal_a_fresh_generation(tmp_path: Path) -> None:
    generator.main([str(tmp_path)])
    for name in ("demo-city.pcap", "demo-city-truncated.pcap"):
        bundled = (SAMPLES / name).read_bytes()
        assert bundled == (tmp_path / name).read_bytes(), f"{name} is stale: regenerate it"
        assert len(bundled) < 200_000


def test_truncated_copy_is_cut_inside_a_record(tmp_path: Path) -> None:
    dst = tmp_path / "cut.pcap"
    kept = generator.write_truncated_pcap(SAMPLES / "demo-city.pcap", dst)
    records = generator.pcap_records(dst.read_bytes())
    assert len(records) == kept
    end = records[-1][0] + records[-1][1]
    assert dst.stat().st_size - end > 16  # a record header and part of its data remain


def test_conversation_has_consistent_sequence_numbers() -> None:
    turns: list[generator.Turn] = [("c", b"hello"), ("s", b"world!"), ("c", b"bye")]
    pkts = generator.tcp_conversation(
        ("10.0.0.1", 40000), ("10.0.0.2", 80), 0.0, turns, rng=random.Random(1)
    )
    flags = [str(p[TCP].flags) for p in pkts]
    assert flags == ["S", "SA", "A", "PA", "PA", "PA", "FA", "FA", "A"]
    syn, synack = pkts[0][TCP], pkts[1][TCP]
    assert synack.ack == syn.seq + 1
    assert pkts[3][TCP].seq == syn.seq + 1 and pkts[3][TCP].ack == synack.seq + 1
    assert pkts[4][TCP].seq == synack.seq + 1 and pkts[4][TCP].ack == syn.seq + 1 + 5
    assert pkts[5][TCP].seq == syn.seq + 1 + 5 and pkts[5][TCP].ack == synack.seq + 1 + 6
    assert pkts[6][TCP].seq == syn.seq + 1 + 8
    assert pkts[7][TCP].ack == syn.seq + 1 + 8 + 1
    assert pkts[8][TCP].ack == synack.seq + 1 + 6 + 1


def test_refused_and_unanswered_conversations() -> None:
    refused = generator.tcp_conversation(
        ("10.0.0.1", 40000), ("10.0.0.2", 23), 0.0, [], rng=random.Random(2), ending="refused"
    )
    assert [str(p[TCP].flags) for p in refused] == ["S", "RA"]
    assert refused[1][TCP].ack == refused[0][TCP].seq + 1
    lone = generator.tcp_conversation(
        ("10.0.0.1", 40000), ("10.0.0.2", 23), 0.0, [], rng=random.Random(2), ending="unanswered"
    )
    assert [str(p[TCP].flags) for p in lone] == ["S"]


def test_demo_pcap_times_are_ordered_and_start_at_the_base() -> None:
    pkts = rdpcap(str(SAMPLES / "demo-city.pcap"))
    times = [float(p.time) for p in pkts]
    assert times == sorted(times)
    assert abs(times[0] - generator.BASE_EPOCH) < 2.0
    assert datetime(2026, 11, 20, 2, 0, tzinfo=UTC).timestamp() == generator.BASE_EPOCH
