"""Canonical JSON: the one byte form that hashes and signatures are computed over.

Keys sorted, no spaces, UTF-8 kept as is: the same value always gives the same bytes, so a
signature or digest made by one program verifies in another.
"""

from __future__ import annotations

import json
from typing import Any


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
