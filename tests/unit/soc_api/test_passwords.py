"""Password hashes: the product's scrypt cost, and the test-only cost kept to its fixture."""

from __future__ import annotations

import pytest

from soc_api.auth import passwords
from soc_api.auth.passwords import FLOOR, hash_password, verify_password


def cost_of(stored: str) -> tuple[int, int, int]:
    scheme, n, r, p, _salt, _digest = stored.split("$")
    assert scheme == "scrypt"
    return int(n), int(r), int(p)


def test_new_hashes_cost_at_least_the_floor() -> None:
    """Also fails if a test's lower cost outlived it (this file runs beside those tests)."""
    assert passwords.COST == FLOOR
    assert FLOOR.n >= 2**14 and FLOOR.r >= 8 and FLOOR.p >= 1
    assert cost_of(hash_password("correct horse")) == (FLOOR.n, FLOOR.r, FLOOR.p)


def test_hash_verifies_only_its_password() -> None:
    stored = hash_password("correct horse")
    assert verify_password("correct horse", stored)
    assert not verify_password("correct horse!", stored)
    assert hash_password("correct horse") != stored  # salted


@pytest.mark.parametrize(
    "stored",
    ["", "plain", "bcrypt$1$2$3$4$5", "scrypt$x$8$1$AAAA$AAAA", "scrypt$16384$8$1$!!$!!"],
)
def test_malformed_stored_hash_never_verifies(stored: str) -> None:
    assert not verify_password("anything", stored)


def test_cheap_passwords_lowers_the_cost_for_its_test_only(cheap_passwords: None) -> None:
    stored = hash_password("correct horse")
    assert cost_of(stored)[0] < FLOOR.n
    assert verify_password("correct horse", stored)
    assert not verify_password("wrong", stored)
