"""Shared fixtures: settings on a temporary data folder, the example topology."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from citysoc.core.settings import BUNDLED_TOPOLOGY, Settings
from citysoc.core.topology import Topology, load_topology

REPO = Path(__file__).resolve().parent.parent

# Property tests in make test are derandomized: the same code gets the same verdict. Longer,
# random runs use a named profile (tests/unit/fuzz/conftest.py).
hypothesis_settings.register_profile("citysoc-ci", derandomize=True)


# Tests that need the machine to themselves (timing-sensitive, or changing what the whole
# machine shares): `make test` runs them after the parallel runs, one at a time.
SERIAL_FOLDERS = ("tests/integration/range",)


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("hypothesis_profile", None) is None:
        hypothesis_settings.load_profile("citysoc-ci")
    config.addinivalue_line(
        "markers", "serial: needs the machine alone; run after the parallel runs (make test)"
    )


@pytest.fixture(scope="session")
def topology() -> Topology:
    return load_topology(BUNDLED_TOPOLOGY)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", detection_interval_seconds=3600)


@pytest.fixture
def cheap_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """Passwords hashed at a test-only scrypt cost (n = 2**4, not the product's 2**14) for the
    test that asks for it: a seeded SOC API makes eight users and each login verifies one, at
    ~35 ms each. The product's cost has no setting; this fixture alone lowers it, and undoes it
    after the test (verifying reads the cost stored in each hash)."""
    from soc_api.auth import passwords  # the SOC API's modules only for the tests using it

    monkeypatch.setattr(passwords, "COST", passwords.ScryptCost(n=2**4))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test by its folder, so `-m "not e2e"` and the like select by layer.

    In parallel runs (``-n N --dist loadfile``, as ``make test`` runs them) the tests of one
    file run in one worker, one after the other, so a file's tests may share a fixed port, a
    namespace name or a module fixture. Tests of *different* files must not share such a
    thing (pytest-xdist's ``xdist_group`` does not group under pytest 9: it renames node ids
    through an attribute pytest 9 no longer reads); tests that need the machine alone (the
    range on the wire: its detections race the clock) are marked ``serial``.
    """
    for item in items:
        parts = Path(str(item.path)).relative_to(REPO).parts
        if len(parts) > 1 and parts[1] in ("integration", "e2e"):
            item.add_marker(parts[1])
        if "/".join(parts).startswith(SERIAL_FOLDERS):
            item.add_marker("serial")
