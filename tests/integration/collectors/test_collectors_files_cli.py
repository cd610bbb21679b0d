"""``citysoc collect files --watch`` end to end, and the metrics endpoint on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

from citysoc.core.errors import Location
from collectors.metrics import CollectorMetrics
from collectors.stats import CollectorStats

REPO = Path(__file__).resolve().parents[3]
RULE = (
    'rule test_firmware_backdoor : firmware { strings: $a = "CITYSOC-TEST-BACKDOOR" condition: $a }'
)


def test_watched_folders_are_scanned_into_the_store(tmp_path: Path) -> None:
    rules, uploads, mail = tmp_path / "rules", tmp_path / "uploads", tmp_path / "mail"
    for folder in (rules, uploads, mail):
        folder.mkdir()
    (rules / "test.yar").write_text(RULE)
    (uploads / "fw.bin").write_bytes(b"\x7fELF...CITYSOC-TEST-BACKDOOR...")
    (mail / "letter.txt").write_text("harmless")
    env = {**os.environ, "CITYSOC_DATA_DIR": str(tmp_path / "var")}
    command = [sys.executable, "-m", "citysoc.cli.main", "collect", "files", "--once",
               "--watch", str(uploads), "--watch", str(mail), "--rules", str(rules)]  # fmt: skip
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert '"events": 2' in done.stdout
    with sqlite3.connect(tmp_path / "var" / "events.db") as conn:
        rows = dict(conn.execute('SELECT "file.name", "yara.match_count" FROM events').fetchall())
        rule = conn.execute('SELECT "yara.rules" FROM events WHERE "file.name" = ?', ("fw.bin",))
        assert rule.fetchone()[0] == "test_firmware_backdoor"
    assert rows == {"fw.bin": 1, "letter.txt": 0}


def test_metrics_are_served_on_localhost() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stats = CollectorStats(received=3, parsed=2, events=2)
    stats.error("syslog-binary", Location("udp://127.0.0.1:1"), "test")
    metrics = CollectorMetrics()
    metrics.watch("syslog", stats)
    metrics.serve(port)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    assert 'citysoc_collector_received_total{source="syslog"} 3.0' in text
    assert 'citysoc_collector_errors_total{reason="syslog-binary",source="syslog"} 1.0' in text
