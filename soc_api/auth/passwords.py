"""Password hashing with scrypt (standard library), parameters stored with each hash."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass


@dataclass(frozen=True)
class ScryptCost:
    """scrypt's work factors: CPU/memory cost ``n`` (a power of two), block size, parallelism."""

    n: int
    r: int = 8
    p: int = 1


FLOOR = ScryptCost(n=2**14)  # 16 MiB and ~35 ms a hash on one of our cores
# What new hashes cost. Nothing in the product changes it; the test suites' `cheap_passwords`
# fixture lowers it for the one test it serves (verifying reads the cost stored in the hash).
COST = FLOOR


def hash_password(password: str) -> str:
    cost, salt = COST, secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=cost.n, r=cost.r, p=cost.p, dklen=32)
    encoded = base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    return f"scrypt${cost.n}${cost.r}${cost.p}${encoded[0]}${encoded[1]}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
        digest = hashlib.scrypt(
            password.encode(), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, expected)
