"""The range command's choices and refusals (no root needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cityrange import runner
from cityrange.library import load_library
from citysoc.cli.range import bundle_hash, chosen
from citysoc.core.errors import RangeError


def test_scenarios_are_chosen_by_id_and_unknown_ones_refused() -> None:
    library = load_library()
    picked = chosen(library, "dc-dns-tunnel, web-path-traversal")
    order = [s.id for s in library]
    assert [s.id for s in picked] == sorted((s.id for s in picked), key=order.index)
    assert {s.id for s in picked} == {"dc-dns-tunnel", "web-path-traversal"}
    assert chosen(library, None) == library
    with pytest.raises(RangeError, match="no scenario nope"):
        chosen(library, "dc-dns-tunnel,nope")


def test_the_bundle_hash_comes_from_its_manifest(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps({"content_hash": "ab" * 32}))
    assert bundle_hash(tmp_path) == "ab" * 32
    with pytest.raises(RangeError, match="not a folder"):
        bundle_hash(tmp_path / "missing")


def test_without_root_the_range_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner.os, "geteuid", lambda: 1000)
    with pytest.raises(RangeError, match="needs root"):
        runner.preflight()
