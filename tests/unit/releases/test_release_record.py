"""Gated bundles recorded in the SOC from the command line, deployed and rolled back
(``keys`` is the session's key pair of conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from citysoc.cli.main import main
from soc_api.db import init_state, make_engine
from soc_api.releases.models import Release, ReleasePromotion


def test_record_promote_and_roll_back_from_the_cli(
    passed: Path, refused: Path, keys: Any, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("CITYSOC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CITYSOC_RELEASE_PUBLIC_KEY", str(keys.public_path))
    assert main(["release", "record", str(passed)]) == 0
    assert main(["release", "record", str(refused)]) == 0
    assert "REFUSED" in capsys.readouterr().out
    sessions = init_state(make_engine(f"sqlite:///{tmp_path / 'soc.db'}"))
    with sessions() as session:
        good, bad = session.scalars(select(Release).order_by(Release.id)).all()
    assert good.passed and not bad.passed
    assert main(["release", "promote", bad.version]) == 2  # a refused bundle is never deployed
    assert "did not pass the gate" in capsys.readouterr().err
    assert main(["release", "promote", good.version, "--note", "first"]) == 0
    assert main(["release", "rollback"]) == 2  # nothing earlier to go back to
    with sessions() as session:
        steps = session.scalars(select(ReleasePromotion)).all()
    assert [(s.release_id, s.action, s.note) for s in steps] == [(good.id, "promote", "first")]


def test_a_decision_signed_by_another_key_is_not_recorded(
    passed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from citysoc.core.keys import public_pem

    other = tmp_path / "other.pub"
    other.write_bytes(public_pem(Ed25519PrivateKey.generate().public_key()))
    monkeypatch.setenv("CITYSOC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CITYSOC_RELEASE_PUBLIC_KEY", str(other))
    assert main(["release", "record", str(passed)]) == 2
    assert "bad signature" in capsys.readouterr().err
