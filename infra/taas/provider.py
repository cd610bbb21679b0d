"""The dynamic provider behind :mod:`infra.taas.resources`: create, diff, read, delete.

Pulumi serialises a dynamic provider into the stack's state and runs it in its own process,
so a provider holds no connection: it opens one per call from the ``cloud`` input (a
``clouds.yaml`` entry). ``connect_with`` is injectable for tests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from infra.taas.client import TaasApi, connect

# What each kind sends to Neutron; any change to these replaces the object (TaaS updates
# only names and descriptions, and a tap flow's ends are fixed for its life).
API_FIELDS = {
    "tap_service": ("name", "description", "port_id"),
    "tap_flow": ("name", "description", "source_port", "tap_service_id", "direction"),
}
DIRECTIONS = frozenset({"IN", "OUT", "BOTH"})


class TaasProvider(ResourceProvider):
    """One TaaS object kind (``tap_service`` or ``tap_flow``) as a Pulumi resource."""

    def __init__(self, kind: str, connect_with: Callable[[str], TaasApi] = connect) -> None:
        if kind not in API_FIELDS:
            raise ValueError(f"unknown TaaS kind {kind!r}")
        self.kind = kind
        self.connect_with = connect_with

    def _body(self, props: dict[str, Any]) -> dict[str, Any]:
        return {f: props[f] for f in API_FIELDS[self.kind] if props.get(f) not in (None, "")}

    def create(self, props: dict[str, Any]) -> CreateResult:
        if self.kind == "tap_flow" and props.get("direction") not in DIRECTIONS:
            raise ValueError(f"tap flow direction must be one of {sorted(DIRECTIONS)}")
        made = self.connect_with(str(props.get("cloud", ""))).create(self.kind, self._body(props))
        return CreateResult(str(made["id"]), {**props, "status": made.get("status", "")})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        keys = sorted((set(olds) | set(news)) - {"__provider", "status"})
        changed = [k for k in keys if olds.get(k) != news.get(k)]
        replaces = [k for k in changed if k in (*API_FIELDS[self.kind], "cloud")]
        return DiffResult(
            changes=bool(changed),
            replaces=replaces,
            stables=[],
            delete_before_replace=bool(replaces),
        )

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Only the project's own labels changed (segment, sensor, tags): nothing to send."""
        return UpdateResult({**news, "status": olds.get("status", "")})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        found = self.connect_with(str(props.get("cloud", ""))).read(self.kind, id_)
        if found is None:
            return ReadResult(None, {})
        api = {f: found[f] for f in API_FIELDS[self.kind] if f in found}
        return ReadResult(id_, {**props, **api, "status": found.get("status", "")})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        self.connect_with(str(props.get("cloud", ""))).delete(self.kind, id_)
