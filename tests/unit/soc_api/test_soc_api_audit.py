"""The audit chain: every change recorded, verified, and a tampered row named."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from citysoc.cli.main import main
from soc_api.audit.models import AuditEntry
from soc_api.audit.service import append, verify_chain
from soc_api.db import init_state, make_engine, transaction

Soc = Any  # the seeded SOC helper of conftest.py


def test_triage_is_audited_and_the_chain_holds(soc: Soc) -> None:
    alert_id = soc.alert_of("d1")
    soc.login("d1")
    soc.client.patch(f"/api/v1/alerts/{alert_id}",
                     json={"status": "closed", "close_reason": "false_positive"})  # fmt: skip
    soc.login("auditor")
    entries = soc.client.get("/api/v1/audit", params={"object_type": "alert"}).json()["items"]
    assert entries[0]["detail"]["after"]["status"] == "closed"
    assert entries[0]["detail"]["close_reason"] == "false_positive" and entries[0]["actor"] == "d1"
    report = soc.client.get("/api/v1/audit/verify").json()
    assert report["intact"] and report["entries"] >= 3  # logins, the change, the read


def test_a_tampered_row_is_named(tmp_path: Any) -> None:
    sessions = init_state(make_engine(f"sqlite:///{tmp_path / 'soc.db'}"))
    with transaction(sessions) as session:
        ids = [append(session, actor="a", action="x", object_type="alert", object_id=i).id
               for i in range(5)]  # fmt: skip
    with sessions() as session:
        assert verify_chain(session).intact
    with transaction(sessions) as session:
        session.execute(update(AuditEntry).where(AuditEntry.id == ids[2]).values(actor="mallory"))
    with sessions() as session:
        report = verify_chain(session)
    assert (report.intact, report.first_broken_id, report.entries) == (False, ids[2], 2)
    assert "altered" in (report.problem or "")


def test_a_removed_row_breaks_the_next_link(tmp_path: Any, capsys: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("CITYSOC_DATA_DIR", str(tmp_path))
    sessions = init_state(make_engine(f"sqlite:///{tmp_path / 'soc.db'}"))
    with transaction(sessions) as session:
        ids = [append(session, actor="a", action="x", object_type="alert", object_id=i).id
               for i in range(4)]  # fmt: skip
    assert main(["audit", "verify"]) == 0
    with transaction(sessions) as session:
        session.delete(session.get(AuditEntry, ids[1]))
    assert main(["audit", "verify"]) == 1
    assert f"broken at entry {ids[2]}" in capsys.readouterr().err


def test_tokens_made_and_revoked_from_the_cli_are_audited(
    tmp_path: Any, capsys: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv("CITYSOC_DATA_DIR", str(tmp_path))
    create = ["token", "create", "--name", "sensor-d1", "--scope", "ingest", "--agency"]
    assert main([*create, "atlantis"]) == 2
    assert "no agency 'atlantis'" in capsys.readouterr().out
    assert main([*create, "d1"]) == 0
    printed = capsys.readouterr().out
    token_id = int(printed.split()[1])
    assert "cst_" in printed and main(["token", "revoke", str(token_id)]) == 0
    sessions = init_state(make_engine(f"sqlite:///{tmp_path / 'soc.db'}"))
    with sessions() as session:
        rows = session.query(AuditEntry).filter_by(object_type="token").all()
    assert [(r.action, r.actor, r.object_id, r.agency) for r in rows] == [
        ("token.create", "cli", str(token_id), "d1"),
        ("token.revoke", "cli", str(token_id), "d1"),
    ]
