"""Send one notification: an HMAC-signed JSON POST, or an e-mail over SMTP (STARTTLS optional).

The webhook body is canonical JSON ``{"id", "event", "agency", "created_at", "data",
"language", "subject", "text"}`` (``data`` the machine fields, the last three the words a
person reads, in the recipient's language); the receiver checks ``X-Citysoc-Signature:
sha256=<hex>``, an HMAC-SHA256 with the target's secret over ``<X-Citysoc-Timestamp>.<body>``,
and refuses stale timestamps. Redirects are not followed. Every failure is raised as
:class:`DeliveryError` with what went wrong.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
import time
from email.message import EmailMessage
from typing import Any

import httpx2 as httpx

from citysoc.core.errors import CitysocError
from citysoc.core.settings import Settings
from soc_api.notifications.models import Notification

SIGNATURE = "X-Citysoc-Signature"
TIMESTAMP = "X-Citysoc-Timestamp"


class DeliveryError(CitysocError):
    """A notification could not be delivered (the message says why); it will be retried."""


def webhook_body(note: Notification) -> bytes:
    body = {
        "id": note.id,
        "event": note.event,
        "agency": note.agency,
        "created_at": note.created_at,
        "data": note.payload,
        "language": note.language,
        "subject": note.subject,
        "text": text(note),
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(secret: str, stamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def send_webhook(client: httpx.Client, note: Notification, secret: str) -> None:
    body = webhook_body(note)
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "citysoc-notifier",
        "X-Citysoc-Event": note.event,
        "X-Citysoc-Delivery": str(note.id),
        TIMESTAMP: stamp,
        SIGNATURE: sign(secret, stamp, body),
    }
    try:
        response = client.post(note.target, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}"[:500]) from exc
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"HTTP {response.status_code}: {response.text[:200]}")


def text(note: Notification) -> str:
    """The words of the notification in its language; a row written before rows kept their
    text is told in English from its payload, as it was then."""
    return note.body or _english(note.payload)


def _english(payload: dict[str, Any]) -> str:
    lines = []
    for section in ("alert", "case", "change"):
        values = payload.get(section)
        if isinstance(values, dict):
            lines.append(f"{section}:")
            lines += [f"  {k}: {v}" for k, v in values.items() if v not in (None, "", [])]
    for key in ("other_agencies", "other_alerts", "link"):
        if payload.get(key):
            lines.append(f"{key.replace('_', ' ')}: {payload[key]}")
    return "\n".join(lines) + "\n"


def send_email(settings: Settings, note: Notification) -> None:
    if not settings.smtp_host:
        raise DeliveryError("no SMTP relay configured (CITYSOC_SMTP_HOST)")
    message = EmailMessage()
    message["From"] = settings.smtp_sender
    message["To"] = note.target
    message["Subject"] = note.subject
    message["X-Citysoc-Event"] = note.event
    # quoted-printable: Vietnamese text stays 7-bit clean through any relay
    message.set_content(text(note), charset="utf-8", cte="quoted-printable")
    timeout = settings.notify_timeout_seconds
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout) as smtp:
            if settings.smtp_starttls:
                cafile = str(settings.smtp_ca_file) if settings.smtp_ca_file else None
                smtp.starttls(context=ssl.create_default_context(cafile=cafile))
            if settings.smtp_username and settings.smtp_password:
                smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}"[:500]) from exc
