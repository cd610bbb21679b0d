"""File scanning: hashes, type, YARA matches as scalar fields, unreadable files counted."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from citysoc.core.errors import RuleError
from collectors.sources.files import FolderWatcher, YaraRules, scan_file
from collectors.stats import CollectorStats

RULE = """
rule test_webshell_marker : webshell php {
    strings: $marker = "CITYSOC-TEST-WEBSHELL-MARKER"
    condition: $marker
}
"""


@pytest.fixture
def rules(tmp_path: Path) -> YaraRules:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "test.yar").write_text(RULE)
    return YaraRules(folder)


def test_a_matching_file_becomes_an_alert_with_scalar_yara_fields(
    tmp_path: Path, rules: YaraRules
) -> None:
    content = b"<?php // CITYSOC-TEST-WEBSHELL-MARKER harmless test file ?>"
    path = tmp_path / "upload" / "shell.PHP"
    path.parent.mkdir()
    path.write_bytes(content)
    event = scan_file(path, rules, CollectorStats())
    assert event is not None
    assert event["file.hash.sha256"] == hashlib.sha256(content).hexdigest()
    assert event["file.hash.md5"] == hashlib.md5(content).hexdigest()
    assert event["file.hash.sha1"] == hashlib.sha1(content).hexdigest()
    assert (event["file.name"], event["file.extension"], event["file.size"]) == (
        "shell.PHP",
        "php",
        len(content),
    )
    assert (event["yara.rules"], event["yara.tags"], event["yara.match_count"]) == (
        "test_webshell_marker",
        "php,webshell",
        1,
    )
    assert event["event.kind"] == "alert" and event["event.category"] == ["file", "malware"]
    assert event["related.hash"] == [
        event["file.hash.md5"],
        event["file.hash.sha1"],
        event["file.hash.sha256"],
    ]
    arrays = {"event.category", "event.type", "related.hash"}  # ECS arrays; the rest scalars
    assert all(isinstance(v, str | int | float | bool) for k, v in event.items() if k not in arrays)


def test_a_clean_file_is_an_event_without_matches(tmp_path: Path, rules: YaraRules) -> None:
    path = tmp_path / "firmware.bin"
    path.write_bytes(b"\x7fELF" + bytes(100))
    event = scan_file(path, rules, CollectorStats())
    assert event is not None
    assert (event["yara.match_count"], event["event.kind"]) == (0, "event")
    assert event["file.mime_type"] == "application/x-elf" and "yara.rules" not in event


def test_an_unreadable_file_is_counted_with_its_path(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stats = CollectorStats()
    assert scan_file(tmp_path / "vanished.pdf", None, stats) is None
    assert stats.errors["file-unreadable"] == 1
    assert "vanished.pdf" in caplog.text


def test_rules_that_do_not_compile_are_a_rule_error(tmp_path: Path) -> None:
    (tmp_path / "bad.yar").write_text("rule broken { condition: }")
    with pytest.raises(RuleError):
        YaraRules(tmp_path)


def test_the_watcher_reports_new_and_changed_files_once_they_settle(tmp_path: Path) -> None:
    (tmp_path / "mail").mkdir()
    first = tmp_path / "mail" / "a.doc"
    first.write_bytes(b"one")
    watcher = FolderWatcher([tmp_path], CollectorStats())
    assert watcher.poll() == []  # seen once: maybe still being written
    assert watcher.poll() == [first]
    assert watcher.poll() == []
    first.write_bytes(b"changed content")
    watcher.poll()
    assert watcher.poll() == [first]
    assert watcher.poll(settle=False) == []
