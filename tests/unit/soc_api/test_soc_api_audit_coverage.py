"""Every changing or refused action leaves an audit entry.

Reproducers: creating a user with ``citysoc user``, a failed login and a refused (403)
request left nothing in the audit log, though the README says every change is listed.
"""

from __future__ import annotations

from typing import Any

import pytest

from citysoc.cli.main import main
from soc_api.audit.models import AuditEntry
from soc_api.audit.service import verify_chain
from soc_api.db import init_state, make_engine

Soc = Any  # the seeded SOC helper of conftest.py


def entries(soc: Soc, action: str) -> list[AuditEntry]:
    with soc.ctx.sessions() as session:
        return list(session.query(AuditEntry).filter_by(action=action).all())


def test_citysoc_user_is_audited_with_who_ran_it(
    tmp_path: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITYSOC_DATA_DIR", str(tmp_path))
    monkeypatch.setattr("getpass.getpass", lambda _prompt: "a long enough password")
    assert main(["user", "op.nguyen", "--role", "agency_analyst", "--agency", "d1"]) == 0
    assert main(["user", "op.nguyen", "--role", "city_analyst"]) == 0
    assert main(["user", "op.nguyen", "--disable"]) == 0
    assert main(["user", "nobody", "--disable"]) == 1
    capsys.readouterr()
    sessions = init_state(make_engine(f"sqlite:///{tmp_path / 'soc.db'}"))
    with sessions() as session:
        rows = session.query(AuditEntry).filter_by(object_type="user").all()
        assert verify_chain(session).intact
    assert [r.action for r in rows] == ["user.create", "user.update", "user.disable"]
    assert all(r.actor.startswith("cli") for r in rows)
    assert rows[0].agency == "d1" and rows[0].detail["role"] == "agency_analyst"
    assert rows[1].detail["changed"] == ["password", "role", "agency"]
    assert "a long enough password" not in str([r.detail for r in rows])


def test_a_failed_login_is_audited(soc: Soc) -> None:
    assert soc.login("city", "not the password") == 401
    assert soc.login("no-such-user", "whatever") == 401
    failed = entries(soc, "user.login_failed")
    assert [(e.actor, e.object_id) for e in failed] == [
        ("anonymous", "city"),
        ("anonymous", "no-such-user"),
    ]
    assert failed[0].detail["client"] == "testclient"


def test_a_refused_request_is_audited_with_who_asked(soc: Soc) -> None:
    soc.login("tb")
    assert soc.client.get("/api/v1/audit").status_code == 403
    headers = {"Authorization": f"Bearer {soc.tokens['ingest-d1']}"}
    soc.client.cookies.clear()
    assert soc.client.get("/api/v1/alerts", headers=headers).status_code == 403
    refused = entries(soc, "request.refused")
    assert [(e.actor, e.object_id, e.agency) for e in refused] == [
        ("tb", "GET /api/v1/audit", "tanbinh"),
        ("token:ingest-d1", "GET /api/v1/alerts", "d1"),
    ]
    assert refused[0].detail["reason"]


def test_a_forged_form_is_audited(soc: Soc) -> None:
    soc.login("city")
    alert = soc.client.get("/api/v1/alerts").json()["items"][0]["id"]
    response = soc.client.post(f"/alerts/{alert}/triage", data={"csrf": "forged"})
    assert response.status_code == 403
    (refused,) = entries(soc, "request.refused")
    assert refused.actor == "city" and "CSRF" in refused.detail["reason"]


def test_logout_is_audited(soc: Soc) -> None:
    soc.login("d1")
    soc.client.post("/logout", data={"csrf": soc.csrf()})
    (logout,) = entries(soc, "user.logout")
    assert logout.actor == "d1" and logout.agency == "d1"
