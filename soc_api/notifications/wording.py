"""A notification's subject and text in its recipient's language, from the console's
catalogues: the rule's title as the console shows it (the rule's own translation), the
severity, the agency's name and the case's step as the console says them.

The payload stays as it is (machine fields, English values); only the words a person reads
are written here, once per language, when the row goes into the outbox.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from citysoc.core.topology import Agency
from detections.engine.compiler import CompiledRule
from soc_api.console.i18n import DEFAULT_LANGUAGE, LANGUAGES, format_time, translator
from soc_api.console.localized import Localizer


@dataclass(frozen=True)
class Wording:
    language: str
    subject: str
    text: str


class Writer:
    """Writes subjects and texts in each language, with the city's rules and agencies."""

    def __init__(
        self, rules: Sequence[CompiledRule] = (), agencies: Mapping[str, Agency] | None = None
    ) -> None:
        self.rules = {r.rule_id: r for r in rules}
        self.agencies = dict(agencies or {})

    def _localizer(self, language: str) -> Localizer:
        language = language if language in LANGUAGES else DEFAULT_LANGUAGE
        return Localizer(language, translator(language), self.rules, self.agencies)

    def alert(self, language: str, alert: Any, link: str) -> Wording:
        loc = self._localizer(language)
        t = loc.t
        title = loc.alert_title(alert)
        severity = t(f"severity.{alert.severity}")
        agency = loc.agency(alert.agency)
        subject = t(
            "notify.subject_alert", severity=severity, id=alert.id, agency=agency, title=title
        )
        lines = [
            t("notify.text_alert", severity=severity, id=alert.id, title=title),
            _line(t, "col.agency", agency),
            _line(t, "col.segment", alert.segment),
            _line(t, "notify.rule", alert.rule_id),
            _line(t, "detail.attacker", alert.attacker),
            _line(t, "notify.targets", alert.target_count),
            _line(t, "notify.first_seen", format_time(alert.first_seen, loc.lang)),
            _line(t, "col.last_seen", format_time(alert.last_seen, loc.lang)),
            _line(t, "notify.link", link),
        ]
        return Wording(loc.lang, subject, _join(lines))

    def case(
        self,
        language: str,
        case: Mapping[str, Any],
        *,
        action: str,
        actor: str,
        others: tuple[int, int],
        link: str,
    ) -> Wording:
        """``others``: the agencies and alerts of the case this recipient may not see."""
        loc = self._localizer(language)
        t = loc.t
        title = loc.case_title(str(case["title"]))
        step = t(f"case_step.{action}")
        subject = t("notify.subject_case", id=case["id"], actor=actor, step=step, title=title)
        lines = [
            t("notify.text_case", id=case["id"], actor=actor, step=step, title=title),
            _line(t, "col.status", t(f"case_status.{case.get('status')}")),
            _line(t, "col.severity", t(f"severity.{case.get('severity')}")),
            _line(t, "notify.owner", case.get("owner")),
        ]
        if others[0]:
            lines.append(t("notify.others", agencies=others[0], alerts=others[1]))
        lines.append(_line(t, "notify.link", link))
        return Wording(loc.lang, subject, _join(lines))


def _line(t: Callable[..., str], label: str, value: object) -> str:
    return "" if value in (None, "", 0) else f"{t(label)}: {value}"


def _join(lines: Sequence[str]) -> str:
    return "\n".join(line for line in lines if line) + "\n"
