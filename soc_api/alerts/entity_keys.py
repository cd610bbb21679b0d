"""The keys under which an alert's entities are found in the table ``alert_entities``.

An entity is written ``kind:value`` (``ip:203.0.113.77``, ``user:root``). The search language
matches it given whole or without its kind: ``x`` equals the query's text, or ends with ``:``
and the text. So each entity is kept lowercased under its whole text (``whole`` true) and
under what follows each of its colons (``whole`` false): ``ip:2001:db8::1`` under
``2001:db8::1``, ``db8::1``, ``:1`` and ``1`` too, as the language has always matched it. A
look-up is then one equality on an index. Keys are cut at :data:`MAX_KEY` characters; a query
for a longer text reads the lists themselves (``soc_api.search.alert_sql``).
"""

from __future__ import annotations

from collections.abc import Iterable

ROLES = ("attacker", "targets", "observables", "infrastructure", "fingerprints")
"""The alert columns that hold entities: ``attacker`` one, the others lists."""
MAX_KEY = 512


def keys_of(value: object) -> set[tuple[str, bool]]:
    """``(key, whole)`` for one entity (none for a value that is not text)."""
    if not isinstance(value, str):
        return set()
    text = value.lower()
    keys = {(text[:MAX_KEY], True)}
    colon = text.find(":")
    while colon != -1:
        keys.add((text[colon + 1 :][:MAX_KEY], False))
        colon = text.find(":", colon + 1)
    return keys


def entity_rows(alert_id: int, role: str, value: object) -> list[dict[str, object]]:
    """The rows of one role of an alert: ``value`` is the column's value (text or a list)."""
    values: Iterable[object] = value if isinstance(value, list | tuple) else (value,)
    keys = {key for item in values for key in keys_of(item)}
    return [{"alert_id": alert_id, "role": role, "value": k, "whole": w} for k, w in keys]
