"""Reports of the last ended half-year made once, in the background; failures recorded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from citysoc.core.topology import Topology
from eventstore.sqlite import SqliteEventStore
from soc_api.compliance.evidence import RuleOutcome
from soc_api.compliance.frameworks import bundled_frameworks
from soc_api.compliance.schedule import ReportSchedule, last_complete_period, read_status
from soc_api.db import init_state, make_engine


def test_last_complete_period() -> None:
    assert last_complete_period(datetime(2027, 1, 2, tzinfo=UTC)).name == "2026-H2"
    assert last_complete_period(datetime(2026, 12, 31, tzinfo=UTC)).name == "2026-H1"
    assert last_complete_period(datetime(2026, 7, 1, tzinfo=UTC)).name == "2026-H1"


@pytest.fixture
def schedule(topology: Topology, tmp_path: Path) -> Iterator[ReportSchedule]:
    calls = {"rules": 0}

    def rules() -> list[RuleOutcome]:
        calls["rules"] += 1
        return [RuleOutcome("cam", "cameras", ("T1110",), True)]

    with SqliteEventStore(tmp_path / "events.db") as store:
        plan = ReportSchedule(
            topology=topology, sessions=init_state(make_engine(f"sqlite:///{tmp_path}/soc.db")),
            store=store, data_dir=tmp_path / "var", interval=0, policies=None, rules=rules,
            pdf=False, clock=lambda: datetime(2027, 1, 2, tzinfo=UTC),
        )  # fmt: skip
        plan.calls = calls  # type: ignore[attr-defined]
        yield plan


def test_makes_each_missing_report_once(schedule: ReportSchedule) -> None:
    expected = len(schedule.topology.agencies) * len(bundled_frameworks())
    status = schedule.run_once()
    assert status["period"] == "2026-H2" and len(status["generated"]) == expected
    assert status["failures"] == []
    assert schedule.calls["rules"] == 1  # type: ignore[attr-defined]
    assert (schedule.folder / "decree85-d1-2026-H2.sig.json").exists()
    again = schedule.run_once()
    assert again["generated"] == [] and read_status(schedule.folder) == again


def test_a_failure_is_recorded_and_the_rest_made(
    schedule: ReportSchedule, monkeypatch: pytest.MonkeyPatch
) -> None:
    import soc_api.compliance.schedule as module

    real = module.build_report

    def flaky(ctx, fw, lang="vi"):  # type: ignore[no-untyped-def]
        if ctx.agency == "dot":
            raise OSError("disk full")
        return real(ctx, fw, lang)

    monkeypatch.setattr(module, "build_report", flaky)
    status = schedule.run_once()
    assert {f["report"] for f in status["failures"]} == {
        f"{fw}-dot-2026-H2" for fw in bundled_frameworks()
    }
    assert all("OSError: disk full" in f["error"] for f in status["failures"])
    saved = json.loads((schedule.folder / "schedule.json").read_text())
    assert saved["failures"] == status["failures"]
    assert len(status["generated"]) == (len(schedule.topology.agencies) - 1) * 3
