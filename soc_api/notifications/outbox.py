"""Put notifications in the outbox, in the transaction of the change they tell of.

Each item goes to the recipients of the agency it belongs to and to the city SOC's (those
configured without an agency), never to another agency's: a change of one agency's part of a
shared case is told to that agency and the city only; a change of the whole case to every
agency on it, each told only what it may see (counts for the others). Delivery is the
dispatcher's job, in its own thread: nothing here waits on the network.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from citysoc.core.ecs import timestamp
from citysoc.core.settings import EmailRecipient, NotifyKind, Settings, WebhookTarget
from citysoc.core.topology import Agency
from detections.engine.compiler import CompiledRule
from soc_api.alerts.models import SEVERITY_RISK, Alert
from soc_api.notifications.models import Channel, DeliveryStatus, Notification
from soc_api.notifications.wording import Wording, Writer

if TYPE_CHECKING:
    from soc_api.context import SocContext

log = logging.getLogger(__name__)

CITY = ""  # the part of a case that is the city SOC's own (tasks and comments without agency)


@dataclass(frozen=True)
class Recipient:
    channel: Channel
    target: str
    agency: str | None  # None: the city SOC's, told of every agency's items
    language: str = "vi"  # the language it is told in


def recipients(settings: Settings, kind: NotifyKind) -> list[Recipient]:
    found: list[Recipient] = []
    targets: Iterable[WebhookTarget | EmailRecipient] = (
        *settings.notify_webhooks,
        *settings.notify_emails,
    )
    for target in targets:
        if kind not in target.events:
            continue
        if isinstance(target, WebhookTarget):
            found.append(Recipient(Channel.WEBHOOK, target.url, target.agency, target.language))
        else:
            found.append(Recipient(Channel.EMAIL, target.address, target.agency, target.language))
    return found


class Outbox:
    """What the settings say to tell whom; :meth:`alert_raised` and :meth:`case_changed` add
    the rows, each in its recipient's language (rule titles and agency names from ``rules``
    and ``agencies``, as the console shows them)."""

    def __init__(
        self,
        settings: Settings,
        *,
        rules: Sequence[CompiledRule] = (),
        agencies: Mapping[str, Agency] | None = None,
    ) -> None:
        self.settings = settings
        self.writer = Writer(rules, agencies)
        self.threshold = SEVERITY_RISK[settings.notify_alert_severity]

    @property
    def configured(self) -> bool:
        return bool(self.settings.notify_webhooks or self.settings.notify_emails)

    def _add(
        self,
        session: Session,
        recipient: Recipient,
        *,
        event: str,
        wording: Wording,
        payload: Mapping[str, Any],
    ) -> None:
        now = timestamp(time.time())
        session.add(
            Notification(
                event=event[:32],
                agency=recipient.agency,
                channel=recipient.channel.value,
                target=recipient.target,
                subject=wording.subject[:256],
                payload=dict(payload),
                language=wording.language,
                body=wording.text,
                status=DeliveryStatus.PENDING.value,
                attempts=0,
                next_attempt_at=now,
                last_error="",
                created_at=now,
            )
        )

    def alert_raised(self, session: Session, alert: Alert) -> int:
        """A new alert at the notified severity: its agency's recipients and the city's."""
        if SEVERITY_RISK.get(alert.severity, 0) < self.threshold:
            return 0
        payload = {
            "alert": {
                "id": alert.id,
                "rule_id": alert.rule_id,
                "rule_name": alert.rule_name,
                "title": alert.title,
                "severity": alert.severity,
                "agency": alert.agency,
                "segment": alert.segment,
                "attacker": alert.attacker,
                "target_count": alert.target_count or 0,
                "first_seen": alert.first_seen,
                "last_seen": alert.last_seen,
            },
            "link": f"/alerts/{alert.id}",
        }
        words: dict[str, Wording] = {}
        sent = 0
        for recipient in recipients(self.settings, "alert"):
            if recipient.agency in (None, alert.agency):
                language = recipient.language
                if language not in words:
                    words[language] = self.writer.alert(language, alert, str(payload["link"]))
                event = "alert." + alert.severity
                self._add(session, recipient, event=event, wording=words[language], payload=payload)
                sent += 1
        return sent

    def case_changed(
        self,
        session: Session,
        *,
        case: Mapping[str, Any],
        agencies: Mapping[str, int],
        action: str,
        part: str | None,
        actor: str,
        detail: Mapping[str, Any],
    ) -> int:
        """A change of a case. ``case`` holds its id, title, status, severity and owner;
        ``agencies`` its alerts per agency; ``part`` None for the whole case, an agency for
        that agency's part, ``CITY`` for the city SOC's own."""
        sent = 0
        total = sum(agencies.values())
        for recipient in recipients(self.settings, "case"):
            mine = recipient.agency
            if mine is not None and mine not in agencies:
                continue  # an agency not on the case hears nothing of it
            if part is not None and mine is not None and part != mine:
                continue  # another agency's part, or the city's own
            seen = agencies if mine is None else {mine: agencies[mine]}
            payload = {
                "case": {**case, "agencies": sorted(seen)},
                "other_agencies": len(agencies) - len(seen),
                "other_alerts": total - sum(seen.values()),
                "change": {"action": action, "actor": actor, "part": part, **detail},
                "link": f"/cases/{case['id']}",
            }
            wording = self.writer.case(
                recipient.language,
                case,
                action=action,
                actor=actor,
                others=(len(agencies) - len(seen), total - sum(seen.values())),
                link=str(payload["link"]),
            )
            self._add(session, recipient, event="case." + action, wording=wording, payload=payload)
            sent += 1
        return sent


def outbox_for(ctx: SocContext) -> Outbox:
    """The outbox of a running SOC: its settings, rules and agencies."""
    return Outbox(ctx.settings, rules=ctx.rules, agencies=ctx.topology.agencies)
