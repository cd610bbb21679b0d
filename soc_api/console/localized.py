"""What the console shows in the reader's language beyond its catalogue: rule titles and
descriptions (from each rule's ``translations``), alert titles, agency names and the titles
of incidents, which are built from their alerts' titles.

Alerts keep the English title they were raised with (the API, the audit log and exports
speak English); the console looks the rule up and shows its title in the page's language.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from citysoc.core.topology import Agency
from detections.engine.compiler import CompiledRule
from detections.engine.translations import translated
from soc_api.runbooks import render_runbook

MAX_STEPS = 4  # steps named in an incident's title, as the incident service names them
_IOC_VALUE = re.compile(r"\((?P<value>.*)\)\s*$")
_SEVERITY_ORDER = ("informational", "low", "medium", "high", "critical")
# The parts of a title the incident service writes (see incident_title)
_HIDDEN = re.compile(r"^(?P<count>\d+) other agenc(?:y|ies)$")
_CASE_MORE = re.compile(r"^(?P<title>.+?)(?: \(\+(?P<more>\d+) alerts\))?$")
_STEP_TAIL = re.compile(
    r"^(?P<more> \(\+\d+\))? in (?P<agency>.+?)(?: \(\+(?P<extra>\d+) agencies\))?$"
)


@dataclass(frozen=True)
class Localizer:
    """The page's language applied to rules, alerts, agencies and incidents."""

    lang: str
    t: Callable[..., str]
    rules: Mapping[str, CompiledRule] = field(default_factory=dict)  # by rule id
    agencies: Mapping[str, Agency] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        lang: str,
        t: Callable[..., str],
        rules: Sequence[CompiledRule],
        agencies: Mapping[str, Agency],
    ) -> Localizer:
        return cls(lang, t, {r.rule_id: r for r in rules}, agencies)

    def _rule_text(self, rule_id: str) -> tuple[str, str] | None:
        rule = self.rules.get(rule_id)
        if rule is None:
            return None
        return translated(rule.translations, self.lang, rule.title, rule.description)

    def rule_title(self, rule_id: str, fallback: str) -> str:
        found = self._rule_text(rule_id)
        return found[0] if found else fallback

    def rule_description(self, rule_id: str, fallback: str = "") -> str:
        found = self._rule_text(rule_id)
        return found[1] if found else fallback

    def alert_title(self, alert: Any) -> str:
        """The title of an alert (an ORM row or its public model) in the page's language."""
        rule_id, rule_name, title = str(alert.rule_id), str(alert.rule_name), str(alert.title)
        if rule_id.startswith("ioc-") and rule_name.startswith("ioc_match_"):
            kind = rule_name.removeprefix("ioc_match_")
            value = _IOC_VALUE.search(title)
            return self.t(
                "ioc.alert_title",
                kind=self.t(f"ioc.kind.{kind}"),
                value=value.group("value") if value else "",
            )
        return self.rule_title(rule_id, title)

    def runbook(self, alert: Any) -> str:
        """The alert's runbook as Markdown, in the page's language where it is translated."""
        return render_runbook(
            str(alert.runbook), alert, language=self.lang, say=self.t, title=self.alert_title(alert)
        )

    def summary_title(self, title: str) -> str:
        """An incident title as the incident service wrote it in English (where only the
        title is at hand, as in a pivot's list), read back step by step and said in the
        page's language; a title it cannot read is shown as it is."""
        if self.lang == "en" or ": " not in title:
            return title
        who, _, rest = title.partition(": ")
        english = sorted(
            ((r.title, r.rule_id) for r in self.rules.values()), key=lambda p: -len(p[0])
        )
        names = {a.name_vi or a.name: a.id for a in self.agencies.values()}
        names.update({a.name: a.id for a in self.agencies.values()})
        steps = []
        for part in rest.split(" → "):
            hidden = _HIDDEN.match(part)
            if hidden:
                count = int(hidden.group("count"))
                key = "incident.hidden_one" if count == 1 else "incident.hidden_many"
                steps.append(self.t(key, count=count))
                continue
            rule = next(((t, i) for t, i in english if part.startswith(t)), None)
            tail = _STEP_TAIL.match(part[len(rule[0]) :]) if rule else None
            if rule is None or tail is None:
                return title
            agency = tail.group("agency")
            step = self.rule_title(rule[1], rule[0]) + (tail.group("more") or "")
            text = self.t("incident.step", step=step, agency=self.agency(names.get(agency, agency)))
            if tail.group("extra"):
                text += " " + self.t("incident.more_agencies", count=int(tail.group("extra")))
            steps.append(text)
        if who == "No attacker named":
            who = self.t("incident.no_attacker")
        return f"{who}: {' → '.join(steps)}"

    def case_title(self, title: str) -> str:
        """A case's title as the case service writes it when nobody named the case
        (``who: <alert title> (+N alerts)``) in the page's language; a title somebody wrote
        is theirs and stays as it is."""
        if self.lang == "en" or ": " not in title:
            return title
        who, _, rest = title.partition(": ")
        parts = _CASE_MORE.match(rest)
        rule = next((r for r in self.rules.values() if parts and r.title == parts["title"]), None)
        if parts is None or rule is None:
            return title
        more = parts["more"]
        said = self.rule_title(rule.rule_id, rule.title)
        if more:
            said += " " + self.t("case.more_alerts", count=int(more))
        return f"{who}: {said}"

    def entry_title(self, incident: Any, entry: Any) -> str:
        """The title of one step of an incident's timeline, from the alert it names."""
        alert = next((a for a in incident.alerts if a.id == entry.alert_id), None)
        return self.alert_title(alert) if alert is not None else str(entry.title)

    def agency(self, agency_id: str | None) -> str:
        if not agency_id:
            return self.t("owner.city")
        agency = self.agencies.get(agency_id)
        if agency is None:
            return agency_id
        return agency.name_vi if self.lang == "vi" and agency.name_vi else agency.name

    def incident_title(self, incident: Any) -> str:
        """``203.0.113.77: <step> in <agency> → ...`` from the alerts the reader may see, as
        the incident service writes it, in the page's language."""
        alerts = list(incident.alerts)
        if not alerts:
            return str(incident.title)
        actors = list(dict.fromkeys(a.attacker for a in alerts if a.attacker))
        per_agency: dict[str, list[Any]] = {}
        for alert in alerts:  # already in kill-chain order
            per_agency.setdefault(alert.agency, []).append(alert)
        steps = []
        for agency, mine in per_agency.items():
            top = max(mine, key=lambda a: _rank(a.severity))
            more = f" (+{len(mine) - 1})" if len(mine) > 1 else ""
            step = f"{self.alert_title(top)}{more}"
            steps.append(self.t("incident.step", step=step, agency=self.agency(agency)))
        text = " → ".join(steps[:MAX_STEPS])
        if len(steps) > MAX_STEPS:
            text += " " + self.t("incident.more_agencies", count=len(steps) - MAX_STEPS)
        hidden = int(incident.other_agencies or 0)
        if hidden:
            key = "incident.hidden_one" if hidden == 1 else "incident.hidden_many"
            text += " → " + self.t(key, count=hidden)
        who = ", ".join(a.partition(":")[2] or a for a in actors[:2])
        return f"{who or self.t('incident.no_attacker')}: {text}"


def _rank(severity: str) -> int:
    return _SEVERITY_ORDER.index(severity) if severity in _SEVERITY_ORDER else -1
