"""What of an alert a caller of some agencies may read: the hosts it names, cut to theirs.

An alert of one agency can name hosts of another: a Tan Binh camera sweeping District 1's
cameras is a Tan Binh alert whose targets are District 1's cameras (District 1 has its own
alert of the same sweep, with those targets). Evidence events are cut by the agency that owns
them (``queries.visible_evidence``); the addresses the alert itself lists (targets,
observables, relaying infrastructure, the grouping entity) are cut here, by the agency the
topology places them in. The attacker stays: it is what reached the caller's agency, and its
own traffic shows it. Counts (``target_count``) stay whole: how many, never which.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from citysoc.core.topology import Topology
from soc_api.alerts.models import Alert, AlertPublic
from soc_api.auth.models import Principal

__all__ = ["hidden_from", "visible_alert", "visible_alerts", "visible_values"]


def hidden_from(who: Principal, topology: Topology) -> Callable[[str], bool]:
    """A test of one value (``ip:10.31.0.5`` or a bare address): is it a host of an agency
    ``who`` may not read? Values that are not addresses, or sit outside the city, are not."""
    if who.agencies is None:
        return lambda _value: False
    mine = frozenset(who.agencies)

    def hidden(value: str) -> bool:
        place = topology.locate(value.removeprefix("ip:"))
        return place is not None and place.agency not in mine

    return hidden


def _shown(values: Mapping[str, Any], hidden: Callable[[str], bool]) -> dict[str, Any]:
    """The fields of an alert's ``values`` that name hosts, with those ``hidden`` left out
    (the attacker, bare or as ``ip:``, always stays)."""
    attacker = values["attacker"] or ""
    actor = attacker.partition(":")[2] or attacker

    def shown(value: str) -> bool:
        return value in (attacker, actor) or not hidden(value)

    def entity_value(value: Any) -> Any:
        if isinstance(value, str):
            return value if shown(value) else None
        if isinstance(value, list):
            return [v for v in value if not isinstance(v, str) or shown(v)] or None
        return value

    entity = {k: entity_value(v) for k, v in values["entity"].items()}
    return {
        "targets": [t for t in values["targets"] if shown(t)],
        "observables": [o for o in values["observables"] if shown(o)],
        "infrastructure": [i for i in values["infrastructure"] if shown(i)],
        "entity": {k: v for k, v in entity.items() if v is not None},
    }


def visible_alert(alert: Alert | AlertPublic, *, who: Principal, topology: Topology) -> AlertPublic:
    """The alert as ``who`` may read it (unchanged for city-wide callers)."""
    public = alert if isinstance(alert, AlertPublic) else AlertPublic.model_validate(alert)
    if who.agencies is None:
        return public
    return public.model_copy(update=_shown(public.__dict__, hidden_from(who, topology)))


def visible_alerts(
    alerts: Sequence[Alert | AlertPublic], *, who: Principal, topology: Topology
) -> list[AlertPublic]:
    return [visible_alert(a, who=who, topology=topology) for a in alerts]


def visible_values(
    alerts: list[dict[str, Any]], *, who: Principal, topology: Topology
) -> list[dict[str, Any]]:
    """:func:`visible_alerts` of alerts as plain values (``AlertPublic``'s fields): the same
    cut, without a model for each."""
    if who.agencies is None:
        return alerts
    hidden = hidden_from(who, topology)
    return [{**values, **_shown(values, hidden)} for values in alerts]
