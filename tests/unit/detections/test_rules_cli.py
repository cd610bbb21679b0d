"""What `citysoc rules validate` tells an engineer: every loaded rule accounted for."""

from __future__ import annotations

import re

import pytest

from citysoc.cli.main import main


def test_validate_accounts_for_every_loaded_rule(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "validate"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    found = re.search(
        r"(\d+) rules loaded: (\d+) alerting event rules and (\d+) correlations compiled to "
        r"SQLite; (\d+) building blocks .*; 0 errors",
        line,
    )
    assert found, line
    loaded, events, correlations, blocks = (int(n) for n in found.groups())
    assert events > 0 and correlations > 0 and blocks > 0
    assert loaded == events + correlations + blocks
