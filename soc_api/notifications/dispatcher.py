"""Deliver the outbox in a background thread, with retries and backoff; and put new alerts at
the notified severity into it as they are stored.

A delivery that fails is counted (``citysoc_notifications{channel, outcome}``), logged with its
target, and tried again after ``notify_backoff_seconds``, doubled after each failure, until
``notify_attempts``; then it is marked failed. The network is used outside any database
transaction, and never by the detection schedule: a dead endpoint slows nothing but itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2 as httpx
from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import CursorResult, event, select, update
from sqlalchemy.orm import Session, sessionmaker

from citysoc.core.ecs import timestamp
from citysoc.core.errors import ConfigError
from citysoc.core.settings import Settings
from citysoc.core.topology import Agency
from detections.engine.compiler import CompiledRule
from soc_api.alerts.models import Alert
from soc_api.notifications.delivery import DeliveryError, send_email, send_webhook
from soc_api.notifications.models import Channel, DeliveryStatus, Notification
from soc_api.notifications.outbox import Outbox

log = logging.getLogger(__name__)

BATCH = 50  # deliveries per pass


def check_agencies(settings: Settings, agencies: Sequence[str]) -> None:
    """Refuse a recipient whose agency is not in the city's topology (a typo would silence it)."""
    named = [(t.url, t.agency) for t in settings.notify_webhooks]
    named += [(t.address, t.agency) for t in settings.notify_emails]
    for name, agency in named:
        if agency is not None and agency not in agencies:
            raise ConfigError(f"notification recipient {name}: no agency {agency!r} in the city")


def watch_alerts(sessions: sessionmaker[Session], outbox: Outbox) -> None:
    """Every new alert stored through these sessions goes to the outbox in its own transaction:
    no alert is missed, whichever path created it (rules, IOC sweeps, retro-hunts)."""

    def collect(session: Session, _context: Any) -> None:
        fresh = [o for o in session.new if isinstance(o, Alert)]
        if fresh:
            session.info.setdefault("citysoc_new_alerts", []).extend(fresh)

    def enqueue(session: Session, _context: Any) -> None:
        fresh: list[Alert] = session.info.pop("citysoc_new_alerts", [])
        for alert in fresh:
            outbox.alert_raised(session, alert)

    event.listen(sessions, "after_flush", collect)
    event.listen(sessions, "after_flush_postexec", enqueue)


class Dispatcher:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        *,
        registry: CollectorRegistry | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.secrets = {t.url: t.secret.get_secret_value() for t in settings.notify_webhooks}
        self.addresses = {e.address for e in settings.notify_emails}
        self.client = client or httpx.Client(
            timeout=settings.notify_timeout_seconds, follow_redirects=False
        )
        self.outcomes = Counter(
            "citysoc_notifications",
            "Notification delivery attempts by channel and outcome",
            ["channel", "outcome"],
            registry=registry,
        )
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def _due(self, now: str) -> list[Notification]:
        """The deliveries due now, each leased to this process: its next attempt is moved past
        the time a send may take, so another SOC API process sharing the state skips it, and a
        send cut short by a crash is tried again once the lease ends."""
        lease = timestamp(time.time() + 2 * self.settings.notify_timeout_seconds + 30)
        with self.sessions() as session, session.begin():
            query = (
                select(Notification)
                .where(
                    Notification.status == DeliveryStatus.PENDING.value,
                    Notification.next_attempt_at <= now,
                )
                .order_by(Notification.next_attempt_at, Notification.id)
                .limit(BATCH)
            )
            taken = []
            for note in session.scalars(query).all():
                claim: CursorResult[Any] = session.execute(  # type: ignore[assignment]
                    update(Notification)
                    .where(
                        Notification.id == note.id,
                        Notification.status == DeliveryStatus.PENDING.value,
                        Notification.next_attempt_at == note.next_attempt_at,
                    )
                    .values(next_attempt_at=lease)
                    .execution_options(synchronize_session=False)
                )
                if claim.rowcount == 1:
                    taken.append(note)
            return taken

    def _send(self, note: Notification) -> None:
        if note.channel == Channel.WEBHOOK.value:
            secret = self.secrets.get(note.target)
            if secret is None:
                raise DeliveryError("this URL is no longer configured (CITYSOC_NOTIFY_WEBHOOKS)")
            send_webhook(self.client, note, secret)
        else:
            if note.target not in self.addresses:
                raise DeliveryError("this address is no longer configured (CITYSOC_NOTIFY_EMAILS)")
            send_email(self.settings, note)

    def _record(self, note_id: int, error: str | None) -> str:
        with self.sessions() as session, session.begin():
            note = session.get(Notification, note_id)
            if note is None:
                return "gone"
            note.attempts += 1
            now = datetime.now(UTC)
            if error is None:
                note.status = DeliveryStatus.DELIVERED.value
                note.delivered_at = timestamp(now.timestamp())
                note.last_error = ""
                return "delivered"
            note.last_error = error[:512]
            if note.attempts >= self.settings.notify_attempts:
                note.status = DeliveryStatus.FAILED.value
                return "failed"
            wait = self.settings.notify_backoff_seconds * 2 ** (note.attempts - 1)
            note.next_attempt_at = timestamp((now + timedelta(seconds=wait)).timestamp())
            return "retry"

    def run_once(self) -> dict[str, int]:
        """Try every delivery that is due; return the outcomes of this pass. After a target
        fails, its other deliveries wait for their lease to end (``deferred``, no attempt
        counted), so one dead endpoint costs one timeout a pass, not one per item."""
        counts: dict[str, int] = {}
        broken: set[str] = set()
        for note in self._due(timestamp(time.time())):
            if note.target in broken:
                counts["deferred"] = counts.get("deferred", 0) + 1
                continue
            error = None
            try:
                self._send(note)
            except DeliveryError as exc:
                error = exc.message
            outcome = self._record(note.id, error)
            counts[outcome] = counts.get(outcome, 0) + 1
            self.outcomes.labels(note.channel, outcome).inc()
            if error is not None:
                broken.add(note.target)
                log.warning(
                    "notification %d (%s) to %s %s, attempt %d: %s",
                    note.id,
                    note.event,
                    note.channel,
                    note.target,
                    note.attempts + 1,
                    error,
                )
        return counts

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="notifications", daemon=True)
        self._thread.start()

    def trigger(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.client.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.settings.notify_interval_seconds)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.run_once()
            except Exception:  # the loop must survive a bad pass; the error is logged
                log.exception("notification pass failed")


def start_notifications(
    sessions: sessionmaker[Session],
    settings: Settings,
    *,
    agencies: Mapping[str, Agency],
    rules: Sequence[CompiledRule] = (),
    registry: CollectorRegistry | None = None,
) -> Dispatcher:
    """Check the recipients against the city, watch new alerts, start delivering."""
    watch_notifications(sessions, settings, agencies=agencies, rules=rules)
    dispatcher = Dispatcher(sessions, settings, registry=registry)
    dispatcher.start()
    return dispatcher


def watch_notifications(
    sessions: sessionmaker[Session],
    settings: Settings,
    *,
    agencies: Mapping[str, Agency],
    rules: Sequence[CompiledRule] = (),
) -> None:
    """Check the recipients against the city and put new alerts stored through ``sessions``
    into the outbox, worded with the city's ``rules`` and ``agencies``; an API worker does
    this alone, the delivering is another process's."""
    check_agencies(settings, tuple(agencies))
    outbox = Outbox(settings, rules=rules, agencies=agencies)
    if outbox.configured:
        watch_alerts(sessions, outbox)
