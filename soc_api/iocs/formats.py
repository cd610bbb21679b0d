"""Read IOCs from STIX 2.1 bundles (indicators with simple patterns) and from CSV.

Each reader yields ``(position, IocCreate)`` or ``(position, message)`` for an item it could
not use, so an import reports every bad item with where it was and keeps the good ones.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from typing import Any

import stix2  # type: ignore[import-untyped]
from pydantic import ValidationError

from soc_api.errors import InvalidRequestError
from soc_api.iocs.models import IocCreate, IocKind, Tlp

Item = tuple[int, IocCreate | str]
MAX_BAD_ROWS = 200  # a feed this broken is refused from there on: bounded work per import

# The TLP marking definitions of STIX 2.1 (TLP 1.0) and of the TLP 2.0 extension.
TLP_MARKINGS = {
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": Tlp.CLEAR,
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": Tlp.GREEN,
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": Tlp.AMBER,
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": Tlp.RED,
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": Tlp.CLEAR,
    "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": Tlp.GREEN,
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": Tlp.AMBER,
    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": Tlp.AMBER_STRICT,
    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": Tlp.RED,
}
_TLP_NAMES = {"WHITE": Tlp.CLEAR, **{t.value: t for t in Tlp}}

_PATTERN = re.compile(
    r"^\[\s*(?P<path>[a-z0-9-]+:[A-Za-z0-9_.'-]+)\s*=\s*'(?P<value>(?:[^'\\]|\\.)*)'\s*\]$"
)
_PATHS = {
    "ipv4-addr:value": IocKind.IP,
    "ipv6-addr:value": IocKind.IP,
    "domain-name:value": IocKind.DOMAIN,
    "url:value": IocKind.URL,
    "file:hashes.'SHA-256'": IocKind.SHA256,
    "file:hashes.SHA256": IocKind.SHA256,
    "file:hashes.'SHA-1'": IocKind.SHA1,
    "file:hashes.MD5": IocKind.MD5,
    "user-account:account_login": IocKind.USER,
    "user-account:user_id": IocKind.USER,
}


def tlp_of(obj: Any, bundle_markings: dict[str, Tlp], default: Tlp) -> Tlp:
    for ref in obj.get("object_marking_refs", ()) or ():
        label = TLP_MARKINGS.get(str(ref)) or bundle_markings.get(str(ref))
        if label is not None:
            return label
    return default


def _bundle_markings(objects: list[Any]) -> dict[str, Tlp]:
    found: dict[str, Tlp] = {}
    for obj in objects:
        if obj.get("type") != "marking-definition":
            continue
        name = str(obj.get("name", "")).upper().removeprefix("TLP:")
        definition = obj.get("definition") or {}
        name = str(definition.get("tlp", name)).upper() if isinstance(definition, dict) else name
        if name in _TLP_NAMES:
            found[str(obj["id"])] = _TLP_NAMES[name]
    return found


def read_stix(text: str, *, default_tlp: Tlp) -> Iterator[Item]:
    """Indicators of a STIX 2.1 bundle whose pattern compares one observable to a value."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidRequestError(f"not JSON: {exc.msg} at line {exc.lineno}") from None
    except ValueError as exc:  # e.g. an integer longer than Python converts
        raise InvalidRequestError(f"not usable JSON: {str(exc)[:120]}") from None
    except RecursionError:
        raise InvalidRequestError("not usable JSON: nested too deeply") from None
    if not isinstance(doc, dict) or doc.get("type") != "bundle":
        raise InvalidRequestError("not a STIX 2.1 bundle: the top object needs type 'bundle'")
    if not isinstance(doc.get("objects", []), list):
        raise InvalidRequestError("not a STIX 2.1 bundle: objects must be a list")
    try:
        bundle = stix2.parse(doc, allow_custom=True)
    # stix2 reports malformed content with assorted exception types
    except (
        stix2.exceptions.STIXError,
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
        RecursionError,
    ) as exc:
        raise InvalidRequestError(f"not a valid STIX 2.1 bundle: {exc}") from None
    objects = [o for o in (getattr(bundle, "objects", None) or []) if hasattr(o, "get")]
    markings = _bundle_markings(objects)
    for position, obj in enumerate(objects):
        if obj.get("type") != "indicator":
            continue
        match = _PATTERN.match(str(obj.get("pattern", "")).strip())
        kind = _PATHS.get(match.group("path")) if match else None
        if match is None or kind is None:
            yield (
                position,
                f"indicator {obj.get('id')}: only [object:property = 'value'] "
                "patterns on addresses, domains, URLs, hashes and accounts are read",
            )
            continue
        description = str(obj.get("name") or obj.get("description") or "")[:2000]
        yield (
            position,
            _create(
                kind.value,
                match.group("value"),
                tlp_of(obj, markings, default_tlp).value,
                description,
            ),
        )


def read_csv(text: str, *, default_tlp: Tlp) -> Iterator[Item]:
    """CSV with a header: ``kind,value`` and optionally ``tlp,severity,description``."""
    reader = csv.DictReader(io.StringIO(text))
    try:
        header = reader.fieldnames
    except csv.Error as exc:
        raise InvalidRequestError(f"CSV header: {exc}") from None
    if not header or not {"kind", "value"} <= set(header):
        raise InvalidRequestError("the CSV needs a header with at least the columns kind,value")
    bad = 0
    while bad < MAX_BAD_ROWS:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # the reader starts afresh on the next line
            bad += 1
            yield reader.line_num + 1, f"CSV line {reader.line_num + 1}: {exc}"
            continue
        item = _row(row, default_tlp)
        bad += isinstance(item, str)
        yield reader.line_num, item
    yield reader.line_num + 1, f"{MAX_BAD_ROWS} bad rows: the import stopped here; fix the feed"


def _row(row: dict[str, str | None], default_tlp: Tlp) -> IocCreate | str:
    tlp = (row.get("tlp") or default_tlp.value).upper().removeprefix("TLP:")
    return _create(
        row.get("kind") or "",
        row.get("value") or "",
        _TLP_NAMES[tlp].value if tlp in _TLP_NAMES else tlp,
        row.get("description") or "",
        row.get("severity") or "high",
    )


_KINDS = frozenset(k.value for k in IocKind)


def _create(
    kind: str, value: str, tlp: str, description: str, severity: str = "high"
) -> IocCreate | str:
    kind = kind.strip().lower()
    if kind not in _KINDS:  # the common mistake, refused without building a ValidationError
        return f"kind: {kind[:32]!r} is not one of {', '.join(sorted(_KINDS))}"
    try:
        return IocCreate.model_validate(
            {
                "kind": kind,
                "value": value,
                "tlp": tlp,
                "description": description,
                "severity": severity.strip().lower(),
            }
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
