"""Join alerts that share an observable (IP, domain, hash, user, URL) within a time window.

Alerts sharing an observable are sorted by time; each is joined to the previous one when it
began no later than ``window`` after that one was last seen. Joins are transitive
(union-find), so a chain of alerts across agencies becomes one incident.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from citysoc.core.ecs import parse_timestamp
from soc_api.alerts.models import Alert


@dataclass
class Group:
    alerts: list[Alert] = field(default_factory=list)

    @property
    def id(self) -> int:
        return min(a.id for a in self.alerts)

    @property
    def agencies(self) -> set[str]:
        return {a.agency for a in self.alerts}

    def shared_observables(self) -> list[str]:
        counts: dict[str, set[int]] = defaultdict(set)
        for alert in self.alerts:
            for observable in alert.observables or ():
                counts[observable].add(alert.id)
        return sorted(o for o, ids in counts.items() if len(ids) > 1)


class _Union:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, item: int) -> int:
        self.parent.setdefault(item, item)
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def join(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


def group_alerts(alerts: Sequence[Alert], window: timedelta) -> list[Group]:
    """Groups of two or more alerts, newest activity first."""
    union = _Union()
    sharing: dict[str, list[Alert]] = defaultdict(list)
    for alert in alerts:
        for observable in alert.observables or ():
            sharing[observable].append(alert)
    for members in sharing.values():
        members.sort(key=lambda a: a.first_seen)
        for before, after in itertools.pairwise(members):
            gap = parse_timestamp(after.first_seen) - parse_timestamp(before.last_seen)
            if gap <= window:
                union.join(before.id, after.id)
    groups: dict[int, Group] = defaultdict(Group)
    for alert in alerts:
        if alert.id in union.parent:
            groups[union.find(alert.id)].alerts.append(alert)
    found = [g for g in groups.values() if len(g.alerts) > 1]
    found.sort(key=lambda g: max(a.last_seen for a in g.alerts), reverse=True)
    return found
