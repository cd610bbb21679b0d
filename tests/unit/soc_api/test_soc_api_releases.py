"""Releases in the SOC API: only a signed decision bound to its manifest is recorded, only a
passing release is promoted, rollback returns to the one before, and all of it is audited."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from citysoc.core.keys import public_pem
from releases.models import BundleManifest, CheckResult, GateDecision, content_hash
from releases.signing import sign_decision
from soc_api.audit.models import AuditEntry

Soc = Any  # the seeded SOC helper of conftest.py
KEY = Ed25519PrivateKey.generate()


def upload(version: str, *, passed: bool = True, key: Ed25519PrivateKey = KEY,
           rule: str = "a", failures: tuple[str, ...] = ()) -> dict[str, Any]:  # fmt: skip
    files = {"sigma/x/rule.yml": rule * 64, "citysoc-version": "b" * 64}
    manifest = BundleManifest(
        version=version, citysoc_version="0.1.0", created=datetime(2026, 12, 1, tzinfo=UTC),
        content_hash=content_hash(files), files=files, rules={"x": rule * 64},
    )  # fmt: skip
    checks = [CheckResult(name="rule-proofs", passed=True, detail="58 proven"),
              CheckResult(name="range-score", passed=passed, detail="score",
                          failures=list(failures))]  # fmt: skip
    decision = GateDecision(
        bundle_version=version, bundle_hash=manifest.content_hash, passed=passed,
        checks=checks, policy_hash="p" * 64, decided_at=datetime(2026, 12, 1, tzinfo=UTC),
    )  # fmt: skip
    signed = sign_decision(decision, key)
    return {"manifest": manifest.document(), "decision": signed.document()}


@pytest.fixture
def ops(soc: Soc, tmp_path: Path) -> Soc:
    public = tmp_path / "release.pub"
    public.write_bytes(public_pem(KEY.public_key()))
    soc.ctx.settings = soc.ctx.settings.model_copy(update={"release_public_key": public})
    soc.login("ops")
    return soc


def test_record_promote_and_roll_back(ops: Soc) -> None:
    first = ops.client.post("/api/v1/releases", json=upload("2026.12.1"))
    assert first.status_code == 201, first.text
    second = ops.client.post("/api/v1/releases", json=upload("2026.12.2", rule="c"))
    one, two = first.json()["id"], second.json()["id"]
    assert ops.client.post("/api/v1/releases", json=upload("2026.12.2", rule="c")).json()[
        "id"] == two  # fmt: skip
    assert ops.client.post(f"/api/v1/releases/{one}/promote", json={}).status_code == 200
    assert ops.client.post(f"/api/v1/releases/{two}/promote",
                           json={"note": "new rules"}).status_code == 200  # fmt: skip
    assert ops.client.get("/api/v1/releases").json()["deployed"] == two
    back = ops.client.post("/api/v1/releases/rollback", json={"note": "false positives"})
    assert back.status_code == 200 and back.json()["release_id"] == one
    history = ops.client.get("/api/v1/releases").json()
    assert history["deployed"] == one
    assert [p["action"] for p in history["promotions"]] == ["rollback", "promote", "promote"]
    with ops.ctx.sessions() as session:
        actions = session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.object_type == "release")
            .order_by(AuditEntry.id)
        ).all()
    assert list(actions) == ["release.record", "release.record", "release.promote",
                       "release.promote", "release.rollback"], actions  # fmt: skip


def test_a_refused_release_is_recorded_with_what_newly_fails_and_never_promoted(
    ops: Soc,
) -> None:
    ops.client.post("/api/v1/releases", json=upload("2026.12.1"))
    bad = upload("2026.12.2", passed=False, rule="d", failures=("camera-hikvision-urlencoded",))
    refused = ops.client.post("/api/v1/releases", json=bad).json()
    assert refused["passed"] is False
    assert refused["newly_failing"] == ["range-score: camera-hikvision-urlencoded"]
    promote = ops.client.post(f"/api/v1/releases/{refused['id']}/promote", json={})
    assert promote.status_code == 422 and "did not pass" in promote.json()["error"]["message"]


def test_unsigned_tampered_or_foreign_decisions_are_refused(ops: Soc) -> None:
    other = upload("2026.12.3", key=Ed25519PrivateKey.generate())
    assert "bad signature" in ops.client.post("/api/v1/releases", json=other).text
    tampered = upload("2026.12.3")
    tampered["decision"]["passed"] = False
    assert ops.client.post("/api/v1/releases", json=tampered).status_code == 422
    mismatched = upload("2026.12.3")
    mismatched["manifest"] = upload("2026.12.4", rule="z")["manifest"]
    answer = ops.client.post("/api/v1/releases", json=mismatched)
    assert answer.status_code == 422 and "not this manifest" in answer.text
    assert ops.client.get("/api/v1/releases").json()["items"] == []


def test_only_ops_and_admins_change_releases_and_agencies_read_none(soc: Soc) -> None:
    soc.login("d1")
    assert soc.client.get("/api/v1/releases").status_code == 403
    assert soc.client.post("/api/v1/releases", json=upload("x")).status_code == 403
    soc.login("auditor")
    assert soc.client.get("/api/v1/releases").status_code == 200
    assert soc.client.post("/api/v1/releases/rollback", json={}).status_code == 403


def test_the_releases_page_shows_history_newly_missed_and_deploys(ops: Soc) -> None:
    good = ops.client.post("/api/v1/releases", json=upload("2026.12.1")).json()
    bad = upload("2026.12.2", passed=False, rule="d", failures=("camera-dahua-exploit",))
    refused = ops.client.post("/api/v1/releases", json=bad).json()
    page = ops.client.get("/releases").text
    assert f'data-release="{good["id"]}" data-passed="yes" data-deployed="no"' in page
    assert f'data-release="{refused["id"]}" data-passed="no"' in page
    assert 'class="failed"><strong>' in page and "camera-dahua-exploit" in page
    assert page.count('action="/releases/') == 1  # only the passing one can be deployed
    token = re.search(r'name="csrf" content="([^"]+)"', page)
    assert token is not None  # ops has no alert queue: the token of this page
    form = {"csrf": token.group(1), "note": "first deployment"}
    assert ops.client.post(f"/releases/{good['id']}/promote", data=form).status_code == 200
    page = ops.client.get("/releases").text
    assert f'data-release="{good["id"]}" data-passed="yes" data-deployed="yes"' in page
    assert "first deployment" in page and 'id="rollback-form"' in page
    forged = ops.client.post(f"/releases/{good['id']}/promote", data={"csrf": "x"})
    assert forged.status_code == 403
    ops.login("auditor")  # reads, cannot deploy
    page = ops.client.get("/releases").text
    assert "data-release" in page and 'action="/releases/' not in page
