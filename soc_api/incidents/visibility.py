"""Incidents and target views cut to the hosts a caller may read (see ``alerts.visibility``).

The service already keeps an agency's caller to its own alerts and counts the others; the
alerts it keeps may still name another agency's hosts (a sweep from the caller's camera into
another district), and so may the observables and target views built from them.
"""

from __future__ import annotations

from citysoc.core.topology import Topology
from soc_api.alerts.visibility import hidden_from, visible_alerts
from soc_api.auth.models import Principal
from soc_api.incidents.models import IncidentPublic, TargetView


def visible_incident(
    incident: IncidentPublic, *, who: Principal, topology: Topology
) -> IncidentPublic:
    if who.agencies is None:
        return incident
    hidden = hidden_from(who, topology)
    actors = {a.attacker for a in incident.alerts if a.attacker} | {incident.actor}

    def shown(value: str) -> bool:
        bare = value.removeprefix("pivot:")
        return bare in actors or not hidden(bare)

    return incident.model_copy(
        update={
            "alerts": visible_alerts(incident.alerts, who=who, topology=topology),
            "shared_observables": [o for o in incident.shared_observables if shown(o)],
            "links": [link for link in incident.links if shown(link)],
        }
    )


def visible_targets(
    views: list[TargetView], *, who: Principal, topology: Topology
) -> list[TargetView]:
    """Target views of the caller's agencies' hosts (or hosts outside the city) only."""
    hidden = hidden_from(who, topology)
    return [v for v in views if not hidden(v.target)]
