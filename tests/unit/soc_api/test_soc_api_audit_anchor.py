"""Audit anchoring: signed checkpoints of the chain's head catch what the chain cannot.

Reproducers: deleting the last rows of the audit log still verified; rewriting a row and
re-hashing every row after it still verified.
"""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from citysoc.cli.main import main
from soc_api.audit.anchor import (
    CHECKPOINTS,
    PRIVATE_KEY,
    PUBLIC_KEY,
    Sealer,
    seal,
    verify_anchored,
)
from soc_api.audit.models import GENESIS, AuditEntry
from soc_api.audit.service import append, content_hash, verify_chain
from soc_api.db import init_state, make_engine, transaction


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> sessionmaker[Session]:
    monkeypatch.setenv("CITYSOC_DATA_DIR", str(tmp_path))
    return init_state(make_engine(f"sqlite:///{tmp_path / 'soc.db'}"))


def add(sessions: sessionmaker[Session], count: int, start: int = 0) -> list[int]:
    with transaction(sessions) as session:
        return [
            append(session, actor="a", action="alert.update", object_type="alert", object_id=n).id
            for n in range(start, start + count)
        ]


def rehash_from(session: Session, first_id: int) -> None:
    """What an attacker with the database does: fix every hash from ``first_id`` on."""
    rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    previous = GENESIS
    for row in rows:
        if row.id >= first_id:
            row.prev_hash = previous
            row.hash = content_hash(row, previous)
        previous = row.hash


def test_checkpoints_are_signed_and_the_key_is_private(
    state: sessionmaker[Session], tmp_path: Path
) -> None:
    add(state, 3)
    with state() as session:
        first = seal(session, tmp_path)
        assert first is not None and first.entries == 3
        assert seal(session, tmp_path) is None  # nothing new: no new checkpoint
    assert stat.S_IMODE((tmp_path / PRIVATE_KEY).stat().st_mode) == 0o600
    add(state, 2, start=3)
    with state() as session:
        assert seal(session, tmp_path) is not None
        report = verify_anchored(session, tmp_path)
    assert report.ok and report.checkpoints == 2 and report.latest is not None
    assert report.latest.entries == 5


def test_deleting_the_last_rows_is_named(
    state: sessionmaker[Session], tmp_path: Path, capsys: Any
) -> None:
    ids = add(state, 6)
    with state() as session:
        seal(session, tmp_path)
    with transaction(state) as session:
        session.execute(delete(AuditEntry).where(AuditEntry.id > ids[3]))
    with state() as session:
        assert verify_chain(session).intact  # the chain alone cannot tell
    assert main(["audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert "truncated" in err and "2 sealed entries are missing" in err
    assert f"entries {ids[4]}-{ids[5]}" in err


def test_rewriting_and_rehashing_is_named(
    state: sessionmaker[Session], tmp_path: Path, capsys: Any
) -> None:
    ids = add(state, 5)
    with state() as session:
        seal(session, tmp_path)
    with transaction(state) as session:
        row = session.get(AuditEntry, ids[1])
        assert row is not None
        row.actor = "someone-else"
        rehash_from(session, ids[1])
    with state() as session:
        assert verify_chain(session).intact
    assert main(["audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert "rewritten" in err and f"entries up to {ids[4]} were changed" in err


def test_removing_a_middle_row_and_rehashing_is_named(
    state: sessionmaker[Session], tmp_path: Path, capsys: Any
) -> None:
    ids = add(state, 5)
    with state() as session:
        seal(session, tmp_path)
    with transaction(state) as session:
        session.execute(delete(AuditEntry).where(AuditEntry.id == ids[2]))
        rehash_from(session, ids[3])
    assert main(["audit", "verify"]) == 1
    assert "1 missing" in capsys.readouterr().err


def test_entries_after_the_latest_checkpoint_verify_and_get_sealed(
    state: sessionmaker[Session], tmp_path: Path, capsys: Any
) -> None:
    add(state, 2)
    assert main(["audit", "verify"]) == 0
    assert "no signed checkpoint yet" in capsys.readouterr().out
    assert main(["audit", "seal"]) == 0
    add(state, 2, start=2)
    assert main(["audit", "verify"]) == 0
    assert "1 signed checkpoints" in capsys.readouterr().out


def test_a_forged_or_unsigned_checkpoint_is_refused(
    state: sessionmaker[Session], tmp_path: Path, capsys: Any
) -> None:
    add(state, 3)
    with state() as session:
        seal(session, tmp_path)
    path = tmp_path / CHECKPOINTS
    sealed = json.loads(path.read_text())
    path.write_text(json.dumps({**sealed, "entries": 2}) + "\nnot json\n")
    assert main(["audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert "bad signature" in err and "line 2 is not a checkpoint" in err


def test_verifying_with_a_public_key_kept_elsewhere(
    state: sessionmaker[Session], tmp_path: Path, capsys: Any
) -> None:
    add(state, 3)
    assert main(["audit", "seal"]) == 0
    kept = tmp_path / "kept-offline.pub"
    kept.write_bytes((tmp_path / PUBLIC_KEY).read_bytes())
    # an attacker with the data dir replaces key and checkpoints
    for name in (PRIVATE_KEY, PUBLIC_KEY, CHECKPOINTS):
        (tmp_path / name).unlink()
    with transaction(state) as session:
        session.execute(delete(AuditEntry))
    add(state, 1)
    assert main(["audit", "seal"]) == 0
    capsys.readouterr()
    # self-consistent with the new key, but the event store kept the first checkpoint...
    assert main(["audit", "verify"]) == 1
    assert "differs from its copy in the event store" in capsys.readouterr().err
    assert main(["audit", "verify", "--public-key", str(kept)]) == 1  # ...and our key says so
    assert "bad signature" in capsys.readouterr().err


def test_the_sealer_seals_at_intervals_and_at_stop(
    state: sessionmaker[Session], tmp_path: Path
) -> None:
    add(state, 1)
    sealer = Sealer(state, tmp_path, interval=0.05)
    sealer.start()
    try:
        deadline = time.monotonic() + 5
        while not (tmp_path / CHECKPOINTS).exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert (tmp_path / CHECKPOINTS).exists()
        add(state, 1, start=1)
    finally:
        sealer.stop()
    with state() as session:
        report = verify_anchored(session, tmp_path)
    assert report.ok and report.latest is not None and report.latest.entries == 2


def test_the_api_reports_the_anchored_check(soc: Any) -> None:
    with soc.ctx.sessions() as session:
        seal(session, soc.ctx.settings.data_dir)
    soc.login("auditor")
    report = soc.client.get("/api/v1/audit/verify/anchored").json()
    assert report["chain_intact"] and report["problems"] == [] and report["checkpoints"] == 1
    with transaction(soc.ctx.sessions) as session:
        last = session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))
        session.execute(delete(AuditEntry).where(AuditEntry.id >= (last or 0) - 1))
    report = soc.client.get("/api/v1/audit/verify/anchored").json()
    assert any("truncated" in p for p in report["problems"])
    soc.login("tb")
    assert soc.client.get("/api/v1/audit/verify/anchored").status_code == 403


def test_the_console_audit_page_shows_the_anchored_check(soc: Any) -> None:
    soc.login("auditor")
    page = soc.client.get("/audit", params={"verify": "true"}).text
    assert 'data-anchored="yes"' in page
    with soc.ctx.sessions() as session:
        seal(session, soc.ctx.settings.data_dir)
    with transaction(soc.ctx.sessions) as session:
        last = session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))
        session.execute(delete(AuditEntry).where(AuditEntry.id == last))
    page = soc.client.get("/audit", params={"verify": "true"}).text
    # the check runs before the page's own read is logged: the removal shows as truncation
    anchor = page.split('id="audit-anchor"', 1)[1].split("</div>", 1)[0]
    assert 'data-anchored="no"' in anchor and "truncated" in anchor, anchor


def test_the_event_store_keeps_copies_that_catch_a_cut_or_edited_file(
    state: sessionmaker[Session], tmp_path: Path
) -> None:
    from eventstore.sqlite import SqliteEventStore

    with SqliteEventStore(tmp_path / "events.db") as store:
        add(state, 3)
        with state() as session:
            seal(session, tmp_path, store)
        add(state, 2, start=3)
        with state() as session:
            seal(session, tmp_path, store)
            assert verify_anchored(session, tmp_path, store=store).ok
        copies = store.get(["citysoc-audit-checkpoint-1", "citysoc-audit-checkpoint-2"])
        assert [e["event.dataset"] for e in copies] == ["citysoc.audit", "citysoc.audit"]

        # An attacker with the SOC host removes the last entries and the last checkpoint.
        path = tmp_path / CHECKPOINTS
        path.write_text(path.read_text().splitlines()[0] + "\n")
        with transaction(state) as session:
            session.execute(delete(AuditEntry).where(AuditEntry.id > 3))
        with state() as session:
            assert verify_anchored(session, tmp_path).ok  # the file alone is fooled
            report = verify_anchored(session, tmp_path, store=store)
        assert not report.ok
        assert any("lost checkpoint 2" in p for p in report.problems), report.problems
        assert any(p.startswith("truncated") for p in report.problems), report.problems

        # ...or edits the file's checkpoint: it no longer matches the store's copy.
        first = json.loads(path.read_text())
        path.write_text(json.dumps({**first, "at": "2020-01-01T00:00:00Z"}) + "\n")
        with state() as session:
            report = verify_anchored(session, tmp_path, store=store)
        assert any("differs from its copy in the event store" in p for p in report.problems)


def test_an_unreachable_store_is_named_not_fatal(
    state: sessionmaker[Session], tmp_path: Path
) -> None:
    from citysoc.core.errors import StoreError

    class Down:
        def get(self, _ids: object, **_kw: object) -> list[object]:
            raise StoreError("the engine did not answer")

    add(state, 2)
    with state() as session:
        seal(session, tmp_path)
        report = verify_anchored(session, tmp_path, store=Down())  # type: ignore[arg-type]
    assert report.chain_intact and report.checkpoints == 1
    assert report.problems == [
        "the event store's copies of the checkpoints are unreadable: the engine did not answer"
    ]
