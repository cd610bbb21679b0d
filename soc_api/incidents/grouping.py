"""Group alerts into incidents by actor: what one attacker did, never who was hit.

Alerts are joined when they share their **attacker** entity, when their attackers are tied by
strong shared evidence (the same distinctive tool fingerprint: a JA3/JA4 hash or a rare user
agent), or when an attacker acts from a host another attacker had just compromised (a
**pivot**: an initial-access, execution, persistence or privilege-escalation alert whose
target later acts as an attacker). Each kind of link has its own window. Targets never join
alerts: two actors hitting the same PLC stay two incidents, and the victim is shown as a
target view instead. Alerts without an attacker (their only actor was infrastructure such as
a resolver or a collector) are incidents of their own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from citysoc.core.ecs import parse_timestamp
from soc_api.alerts.models import Alert

# Kill-chain order of the ATT&CK tactics (enterprise, then the ICS ones beside their kin).
KILL_CHAIN = (
    "reconnaissance", "resource_development", "initial_access", "execution", "persistence",
    "privilege_escalation", "defense_evasion", "evasion", "credential_access", "discovery",
    "lateral_movement", "collection", "command_and_control", "exfiltration",
    "inhibit_response_function", "impair_process_control", "impact",
)  # fmt: skip
COMPROMISE = frozenset({"initial_access", "execution", "persistence", "privilege_escalation"})
PIVOT_WINDOW = timedelta(hours=6)
# User agents of common clients say nothing about who runs them: they never link attackers.
GENERIC_AGENTS = (
    "mozilla/", "python-requests", "curl/", "wget/", "go-http-client", "libvlc", "java/",
    "okhttp", "apache-httpclient", "python-urllib", "lavf", "gstreamer",
)  # fmt: skip


def stage(alert: Alert) -> int:
    tactic = alert.tactic or ""
    return KILL_CHAIN.index(tactic) if tactic in KILL_CHAIN else len(KILL_CHAIN)


def distinctive(fingerprint: str) -> bool:
    kind, _, value = fingerprint.partition(":")
    if kind in ("ja3", "ja4"):
        return bool(value)
    return kind == "ua" and len(value) >= 8 and not value.lower().startswith(GENERIC_AGENTS)


@dataclass
class Group:
    alerts: list[Alert] = field(default_factory=list)
    links: set[str] = field(default_factory=set)  # why its alerts are together

    @property
    def id(self) -> int:
        return min(a.id for a in self.alerts)

    @property
    def agencies(self) -> set[str]:
        return {a.agency for a in self.alerts}

    @property
    def attackers(self) -> list[str]:
        return list(dict.fromkeys(a.attacker for a in self.ordered() if a.attacker))

    def ordered(self) -> list[Alert]:
        """Along the kill chain: by tactic, then by time."""
        return sorted(self.alerts, key=lambda a: (stage(a), a.first_seen, a.id))

    def shared_observables(self) -> list[str]:
        """The entities that link the group: its attackers and their shared fingerprints."""
        return [*self.attackers, *sorted(f for f in self.links if not f.startswith("pivot"))]


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


def _time(value: str) -> datetime:
    return parse_timestamp(value)


def _chain(union: _Union, members: Iterable[Alert], window: timedelta) -> bool:
    """Join alerts of one key whose activity is no further apart than ``window``."""
    joined = False
    ordered = sorted(members, key=lambda a: a.first_seen)
    if not ordered:
        return False
    latest, previous = _time(ordered[0].last_seen), ordered[0]
    for alert in ordered[1:]:
        if _time(alert.first_seen) - latest <= window:
            union.join(previous.id, alert.id)
            joined = True
        latest = max(latest, _time(alert.last_seen))
        previous = alert
    return joined


def _pivots(alerts: Sequence[Alert], union: _Union) -> dict[int, str]:
    """Join an attacker acting from a host an earlier alert had compromised."""
    found: dict[int, str] = {}
    compromised: dict[str, list[Alert]] = defaultdict(list)
    for alert in alerts:
        if (alert.tactic or "") in COMPROMISE and alert.attacker:
            for target in alert.targets or ():
                compromised[target].append(alert)
    for alert in alerts:
        for earlier in compromised.get(alert.attacker or "", ()):
            gap = _time(alert.first_seen) - _time(earlier.first_seen)
            if earlier.attacker != alert.attacker and timedelta(0) <= gap <= PIVOT_WINDOW:
                union.join(earlier.id, alert.id)
                found[alert.id] = f"pivot:{alert.attacker}"
    return found


def group_alerts(alerts: Sequence[Alert], window: timedelta) -> list[Group]:
    """Every alert in exactly one incident; newest activity first."""
    union = _Union()
    by_key: dict[str, list[Alert]] = defaultdict(list)
    for alert in alerts:
        union.find(alert.id)
        if alert.attacker:
            by_key[alert.attacker].append(alert)
            for fingerprint in alert.fingerprints or ():
                if distinctive(fingerprint):
                    by_key[fingerprint].append(alert)
    links: dict[int, set[str]] = defaultdict(set)
    for key, members in by_key.items():
        if len({a.id for a in members}) > 1 and _chain(union, members, window):
            for alert in members:
                links[alert.id].add(key)
    for alert_id, pivot in _pivots(alerts, union).items():
        links[alert_id].add(pivot)
    groups: dict[int, Group] = defaultdict(Group)
    for alert in alerts:
        group = groups[union.find(alert.id)]
        group.alerts.append(alert)
        group.links |= {k for k in links[alert.id] if k != alert.attacker}
    found = list(groups.values())
    found.sort(key=lambda g: max(a.last_seen for a in g.alerts), reverse=True)
    return found


def target_views(groups: Sequence[Group]) -> dict[str, list[Group]]:
    """Victims reached by two or more incidents: one target, several actors."""
    reached: dict[str, list[Group]] = defaultdict(list)
    for group in groups:
        for target in dict.fromkeys(t for a in group.alerts for t in a.targets or ()):
            reached[target].append(group)
    return {t: gs for t, gs in reached.items() if len(gs) > 1}
