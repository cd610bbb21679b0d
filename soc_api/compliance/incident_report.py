"""The incident report of Circular 20/2017/TT-BTTTT, built from one incident as one agency
sees it.

Article 11 of the Circular has the unit operating an information system notify the
system's owner and the national coordinating authority of an incident within 5 days of
finding it, and send a final report within 5 days of ending the response. This module
fills such a report from what the SOC recorded: the agency's part of the incident (never
another agency's alerts or names: those are counted only), the systems and Decree 85 levels
the topology gives the targets, the timeline in kill-chain order, the attacker and its
observables, and how each alert was handled. The fields follow the Article's list of what
a notification holds; the numbering and layout of the forms in the Circular's appendix were
not checked against the published text, which the report says on its face.

The report is a plain dictionary with a stable schema (:data:`SCHEMA`); its one time is the
``at`` it is given, so the same incident and time give the same bytes.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any, Literal

from citysoc.core.topology import Topology
from soc_api.compliance.frameworks import ComplianceError
from soc_api.incidents.models import IncidentPublic

SCHEMA = "citysoc.compliance.incident/1"
Kind = Literal["notification", "final"]
KINDS: tuple[str, ...] = ("notification", "final")
DEADLINE = timedelta(days=5)  # Circular 20/2017, Article 11: both reports within 5 days
LEGAL_BASIS = {
    "vi": "Điều 11, Thông tư 20/2017/TT-BTTTT quy định về điều phối, ứng cứu sự cố an toàn "
    "thông tin mạng trên toàn quốc",
    "en": "Article 11, Circular 20/2017/TT-BTTTT on coordinating the response to cyber "
    "information security incidents nationwide",
}
CERTAINTY = {
    "vi": "Các mục theo nội dung thông báo sự cố của Điều 11; số hiệu và bố cục mẫu biểu trong "
    "phụ lục của Thông tư chưa được đối chiếu với văn bản gốc.",
    "en": "Fields follow Article 11's list of what a notification holds; the numbering and "
    "layout of the forms in the Circular's appendix were not checked against the published "
    "text.",
}
# What kind of incident each ATT&CK tactic of a rule points to, in the Circular's words
# where it has them (attack on a system, malware, information gathering, intrusion).
KIND_OF_TACTIC = {
    "reconnaissance": ("Dò quét, thu thập thông tin", "Scanning and information gathering"),
    "discovery": ("Dò quét, thu thập thông tin", "Scanning and information gathering"),
    "initial-access": ("Tấn công khai thác lỗ hổng", "Exploitation of a vulnerability"),
    "credential-access": ("Tấn công dò mật khẩu", "Password guessing"),
    "execution": ("Thực thi mã độc", "Malicious code execution"),
    "persistence": ("Duy trì truy cập trái phép", "Unauthorised persistence"),
    "lateral-movement": ("Xâm nhập lây lan trong mạng", "Lateral movement"),
    "command-and-control": ("Mã độc kết nối điều khiển", "Malware command and control"),
    "collection": ("Thu thập dữ liệu trái phép", "Unauthorised data collection"),
    "exfiltration": ("Đánh cắp dữ liệu", "Data exfiltration"),
    "impact": ("Phá hoại, gián đoạn hệ thống", "Disruption of a system"),
    "impair-process-control": (
        "Can thiệp hệ thống điều khiển công nghiệp",
        "Interference with an industrial control system",
    ),
}
OTHER_KIND = ("Sự cố an toàn thông tin mạng khác", "Other cyber information security incident")


def _plus(stamp: str, delta: timedelta) -> str:
    when = datetime.fromisoformat(stamp.replace("Z", "+00:00")) + delta
    return when.isoformat().replace("+00:00", "Z")


def _systems(incident: IncidentPublic, topology: Topology) -> list[dict[str, Any]]:
    """The agency's systems the incident touched: each alert's segment, with its level."""
    seen: dict[str, dict[str, Any]] = {}
    for alert in incident.alerts:
        segment = topology.segments.get(alert.segment) if alert.segment else None
        entry = seen.setdefault(
            alert.segment or "?",
            {
                "segment": alert.segment,
                "kind": segment.kind if segment else None,
                "cidr": str(segment.cidr) if segment else None,
                "security_level": alert.security_level
                if alert.security_level is not None
                else (segment.security_level if segment else None),
                "targets": [],
            },
        )
        entry["targets"] = sorted(set(entry["targets"]) | set(alert.targets))[:50]
    return [seen[name] for name in sorted(seen)]


def build_incident_report(
    incident: IncidentPublic,
    *,
    agency: str,
    topology: Topology,
    kind: Kind = "notification",
    lang: Literal["vi", "en"] = "vi",
    at: str,
) -> dict[str, Any]:
    """The Circular 20 report of ``incident`` (as ``agency`` sees it) at time ``at``."""
    if agency not in topology.agencies:
        known = ", ".join(sorted(topology.agencies))
        raise ComplianceError(f"unknown agency {agency!r}; agencies: {known}")
    if kind not in KINDS:
        raise ComplianceError(f"unknown report kind {kind!r}; kinds: {', '.join(KINDS)}")
    if not incident.alerts:
        raise ComplianceError(f"incident {incident.id} has no alert of {agency}")
    alerts = sorted(incident.alerts, key=lambda a: (a.first_seen, a.id))
    open_alerts = [a for a in alerts if a.status != "closed"]
    closed_at = max((a.closed_at or "" for a in alerts), default="") or None
    if kind == "final" and open_alerts:
        ids = ", ".join(str(a.id) for a in open_alerts[:10])
        raise ComplianceError(
            f"a final report needs the response ended: alerts {ids} of incident "
            f"{incident.id} are still open"
        )
    detected = min(a.last_seen for a in alerts)  # see the module's note on detection time
    due = _plus(detected, DEADLINE) if kind == "notification" else _plus(closed_at or at, DEADLINE)
    tactics = Counter(a.tactic for a in alerts if a.tactic)
    kinds = [
        KIND_OF_TACTIC.get(t.replace("_", "-"), OTHER_KIND) for t, _n in tactics.most_common()
    ] or [OTHER_KIND]
    owner = topology.agencies[agency]
    return {
        "schema": SCHEMA,
        "kind": kind,
        "lang": lang,
        "legal_basis": LEGAL_BASIS,
        "certainty": CERTAINTY,
        "generated_at": at,
        "city": topology.model.city,
        "agency": {"id": owner.id, "name": owner.name, "name_vi": owner.name_vi},
        "recipients": {
            "vi": [
                f"Chủ quản hệ thống thông tin: {owner.name_vi or owner.name}",
                "Cơ quan điều phối quốc gia về ứng cứu sự cố",
            ],
            "en": [
                f"Owner of the information system: {owner.name}",
                "The national incident response coordinating authority",
            ],
        },
        "incident": {
            "id": incident.id,
            "title": incident.title,
            "severity": incident.severity,
            "campaign": incident.campaign,
            "first_activity": incident.first_seen,
            "last_activity": incident.last_seen,
            "detected": detected,
            "due": due,
            "on_time": at <= due,
            "status": "resolved" if not open_alerts else "ongoing",
            "response_ended": closed_at if not open_alerts else None,
            "types": [{"vi": vi, "en": en} for vi, en in dict.fromkeys(kinds)],
            "other_agencies": incident.other_agencies,
            "other_alerts": incident.other_alerts,
        },
        "attacker": {
            "entity": incident.actor,
            "observables": list(incident.shared_observables),
        },
        "systems": _systems(incident, topology),
        "timeline": [entry.model_dump() for entry in incident.timeline],
        "handling": [
            {
                "alert": a.id,
                "rule": a.rule_name,
                "title": a.title,
                "severity": a.severity,
                "first_seen": a.first_seen,
                "last_seen": a.last_seen,
                "events": a.event_count,
                "status": a.status,
                "assignee": a.assignee,
                "close_reason": a.close_reason,
                "closed_at": a.closed_at,
                "note": a.note,
                "runbook": a.runbook,
            }
            for a in alerts
        ],
        "notes": [note.model_dump() for note in incident.notes],
    }


def incident_report_name(report: dict[str, Any]) -> str:
    kind, agency, number = report["kind"], report["agency"]["id"], report["incident"]["id"]
    return f"circular20-{kind}-{agency}-incident-{number}"
