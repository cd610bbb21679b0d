"""Turn detection hits into alerts: deduplicated, placed in the city, scored."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from citysoc.core.ecs import Event, parse_timestamp
from detections.engine.runner import Hit
from soc_api.alerts.models import SEVERITY_RISK, Alert, AlertStatus
from soc_api.alerts.observables import observables_of
from soc_api.alerts.roles import MAX_TARGETS, Roles, roles_of

log = logging.getLogger(__name__)


def dedup_key(hit: Hit, attacker: str | None = None, agency: str = "") -> str:
    """One open alert per rule, attacker and agency (a scan of 80 cameras is one alert with
    80 targets); a hit without an attacker is keyed by its whole group, as before."""
    if attacker:
        return f"{hit.rule.rule_id}|{attacker}|{agency}"
    return hit.rule.rule_id + "|" + json.dumps(hit.group, sort_keys=True, default=str)


def _fold(alert: Alert, hit: Hit, roles: Roles, last: str) -> None:
    ids = list(dict.fromkeys([*alert.event_ids, *hit.event_ids]))
    alert.event_ids = ids
    alert.event_count = len(ids)
    alert.last_seen = max(alert.last_seen, last)
    targets = list(dict.fromkeys([*(alert.targets or ()), *roles.targets]))
    alert.targets = targets[:MAX_TARGETS]
    alert.target_count = max(alert.target_count or 0, len(targets))
    alert.infrastructure = sorted({*(alert.infrastructure or ()), *roles.infrastructure})
    alert.fingerprints = list(dict.fromkeys([*(alert.fingerprints or ()), *roles.fingerprints]))


def _placement(entity: Sequence[str], evidence: Sequence[Event]) -> tuple[str, str, int | None]:
    """Agency, segment and level an alert belongs to.

    The owner of the first entity address inside the city (the camera under attack, the
    camera that misbehaves), else the agency most of the evidence belongs to.
    """
    if not evidence:
        return "unknown", "unknown", None
    for name in entity:
        side = name.removesuffix(".ip")
        if side in ("source", "destination"):
            first = evidence[0]
            agency = first.get(f"citysoc.{side}.agency")
            if agency:
                segment = str(first.get(f"citysoc.{side}.segment", "unknown"))
                return str(agency), segment, _int(first.get(f"citysoc.{side}.level"))
    agency = Counter(str(e.get("organization.id", "unknown")) for e in evidence).most_common(1)[0][
        0
    ]
    for event in evidence:
        if event.get("organization.id", "unknown") == agency:
            level = event.get("citysoc.security_level")
            return agency, str(event.get("citysoc.segment", "unknown")), _int(level)
    return agency, "unknown", None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def risk_score(severity: str, security_level: int | None) -> int:
    """Elastic-style risk by severity, raised for systems of a higher Decree 85 level."""
    base = SEVERITY_RISK.get(severity, 47)
    bump = 4 * ((security_level or 3) - 3)
    return max(1, min(100, base + bump))


def record_hits(
    session: Session,
    hits: Sequence[Hit],
    *,
    evidence: dict[str, Event],
    suppression: timedelta,
) -> tuple[int, int]:
    """Create alerts for new hits, fold repeats into the open alert they repeat.

    Returns (created, updated).
    """
    created = updated = 0
    for hit in hits:
        events = [evidence[i] for i in hit.event_ids if i in evidence]
        times = sorted(str(e["@timestamp"]) for e in events) or [hit.first_seen, hit.last_seen]
        first, last = times[0], times[-1]
        roles = roles_of(hit.rule, hit.group, events)
        agency, segment, level = _placement(hit.rule.entity, events)
        key = dedup_key(hit, roles.attacker, agency)
        open_alert = session.scalars(
            select(Alert)
            .where(Alert.dedup_key == key, Alert.status != AlertStatus.CLOSED.value)
            .order_by(Alert.id.desc())
            .limit(1)
        ).first()
        if (
            open_alert is not None
            and parse_timestamp(first) - parse_timestamp(open_alert.last_seen) <= suppression
        ):
            _fold(open_alert, hit, roles, last)
            updated += 1
            continue
        session.add(
            Alert(
                rule_id=hit.rule.rule_id,
                rule_name=hit.rule.name,
                title=hit.rule.title,
                severity=hit.rule.level,
                risk_score=risk_score(hit.rule.level, level),
                agency=agency,
                segment=segment,
                security_level=level,
                entity=hit.group,
                dedup_key=key,
                event_ids=list(hit.event_ids),
                event_count=len(hit.event_ids),
                first_seen=first,
                last_seen=last,
                runbook=hit.rule.runbook,
                tags=list(hit.rule.tags),
                observables=observables_of(hit.group),
                attacker=roles.attacker,
                targets=list(roles.targets),
                target_count=len(roles.targets),
                infrastructure=list(roles.infrastructure),
                fingerprints=list(roles.fingerprints),
                tactic=roles.tactic,
            )
        )
        session.flush()
        created += 1
    return created, updated
