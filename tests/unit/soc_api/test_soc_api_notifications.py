"""Notifications end to end: new alerts and case changes reach each agency's webhooks and
mailboxes (a receiver and an SMTP sink on 127.0.0.1), signed, and only that agency's; a dead
endpoint is counted, logged and retried, and never holds up detection or the others."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import hmac
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr, ValidationError

from citysoc.core.ecs import timestamp
from citysoc.core.errors import ConfigError
from citysoc.core.settings import (
    EmailRecipient,
    NotifyLanguage,
    Settings,
    WebhookTarget,
    explain_settings_error,
)
from soc_api.notifications.delivery import DeliveryError, send_email
from soc_api.notifications.dispatcher import Dispatcher, check_agencies
from soc_api.notifications.models import Notification, NotificationPublic
from tests.unit.soc_api.conftest import rtsp_failure

Soc = Any  # the seeded SOC helper of conftest.py
SECRETS = {
    "city": "city-secret-0123456789",
    "d1": "d1-secret-0123456789ab",
    "tanbinh": "tb-secret-0123456789ab",
    "dead": "dead-secret-0123456789",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Receiver:
    """A webhook endpoint on 127.0.0.1: records each POST; paths under /fail answer 500."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.posts.append((self.path, dict(self.headers), body))
                self.send_response(500 if self.path.startswith("/fail") else 204)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [json.loads(body) for p, _, body in self.posts if p == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Sink:
    """What an SMTP relay on 127.0.0.1 received, and whether the session was under TLS."""

    def __init__(self) -> None:
        self.mail: list[tuple[list[str], str, bool]] = []

    async def handle_DATA(self, _server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        text = envelope.content.decode("utf-8", "replace")
        self.mail.append((list(envelope.rcpt_tos), text, session.ssl is not None))
        return "250 OK"

    def to(self, address: str) -> list[str]:
        return [text for rcpt, text, _ in self.mail if address in rcpt]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    handler, port = Sink(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def hook(url: str, name: str, agency: str | None, language: NotifyLanguage = "vi") -> WebhookTarget:
    return WebhookTarget(
        url=url,
        secret=SecretStr(SECRETS[name]),
        agency=agency,
        language=language,
    )


@pytest.fixture
def settings(tmp_path: Path, receiver: Receiver, sink: tuple[Sink, int]) -> Settings:
    """The seeded SOC (conftest) told of every alert, with a recipient per agency and a dead
    endpoint (a closed port on 127.0.0.1); the city's and Tan Binh's read English, District
    1's Vietnamese (the default)."""
    return Settings(
        data_dir=tmp_path / "var",
        detection_interval_seconds=3600,
        notify_interval_seconds=3600,  # passes are run by the tests, not the thread
        notify_alert_severity="informational",
        notify_attempts=3,
        notify_backoff_seconds=0.001,
        notify_timeout_seconds=2,
        notify_webhooks=(
            hook(receiver.url + "/city", "city", None, "en"),
            hook(receiver.url + "/d1", "d1", "d1"),
            hook(receiver.url + "/tb", "tanbinh", "tanbinh", "en"),
            hook(f"http://127.0.0.1:{free_port()}/dead", "dead", "d1"),
        ),
        notify_emails=(
            EmailRecipient(
                address="soc@city.example", agency=None, events=("alert",), language="en"
            ),
            EmailRecipient(address="soc@d1.example", agency="d1"),
        ),
        smtp_host="127.0.0.1",
        smtp_port=sink[1],
    )


def verified(headers: dict[str, str], body: bytes, secret: str) -> bool:
    stamp = headers["X-Citysoc-Timestamp"]
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["X-Citysoc-Signature"], "sha256=" + mac)


def test_new_alerts_reach_their_agencys_recipients_signed(
    soc: Soc, receiver: Receiver, sink: tuple[Sink, int]
) -> None:
    outcome = soc.client.app.state.notifier.run_once()
    assert outcome == {"delivered": 7, "retry": 1}  # the dead endpoint is District 1's
    city, d1, tb = receiver.bodies("/city"), receiver.bodies("/d1"), receiver.bodies("/tb")
    assert sorted(b["data"]["alert"]["agency"] for b in city) == ["d1", "tanbinh"]
    assert [b["data"]["alert"]["agency"] for b in d1] == ["d1"]
    assert [b["data"]["alert"]["agency"] for b in tb] == ["tanbinh"]
    for path, headers, body in receiver.posts:
        name = {"/city": "city", "/d1": "d1", "/tb": "tanbinh"}[path]
        assert verified(headers, body, SECRETS[name]), path
        assert not verified(headers, body, SECRETS["city" if name != "city" else "d1"])
    mail, _port = sink
    assert len(mail.to("soc@city.example")) == 2
    (d1_mail,) = mail.to("soc@d1.example")
    assert "tanbinh" not in d1_mail and "Tân Bình" not in d1_mail


def read_mail(text: str) -> tuple[str, str]:
    """The decoded subject and text of a mail as the sink received it."""
    message = email.message_from_string(text, policy=email.policy.default)
    body = message.get_body(("plain",))
    assert body is not None
    return str(message["Subject"]), str(body.get_content())


def test_each_recipient_is_told_in_its_language(
    soc: Soc, receiver: Receiver, sink: tuple[Sink, int]
) -> None:
    soc.client.app.state.notifier.run_once()
    rule = next(
        r
        for r in soc.ctx.rules
        if r.rule_id == receiver.bodies("/d1")[0]["data"]["alert"]["rule_id"]
    )
    vi_title = next(title for lang, title, _ in rule.translations if lang == "vi")
    assert vi_title != rule.title
    mail, _port = sink
    subject, text = read_mail(mail.to("soc@d1.example")[0])  # Vietnamese, the default
    assert subject.startswith("[citysoc] Cảnh báo mức cao #") and "tại UBND Quận 1: " in subject
    assert subject.endswith(": " + vi_title)
    assert (
        text.startswith("Cảnh báo mới #")
        and "Đơn vị: UBND Quận 1" in text
        and "Liên kết: /alerts/" in text
    )
    for english in mail.to("soc@city.example"):
        subject, text = read_mail(english)
        assert subject.startswith("[citysoc] high alert #") and subject.endswith(rule.title)
        assert "Agency: " in text and "Link: /alerts/" in text
    (d1_hook,) = receiver.bodies("/d1")
    assert d1_hook["language"] == "vi" and d1_hook["subject"].endswith(vi_title)
    assert "Đơn vị: UBND Quận 1" in d1_hook["text"]
    assert d1_hook["data"]["alert"]["title"] == receiver.bodies("/tb")[0]["data"]["alert"]["title"]
    (tb_hook,) = receiver.bodies("/tb")
    assert tb_hook["language"] == "en" and tb_hook["subject"].endswith(": " + rule.title)
    assert set(d1_hook["data"]) == set(tb_hook["data"]) == {"alert", "link"}  # machine fields
    soc.login("city")
    vi = soc.client.get("/notifications").text
    assert 'data-language="vi">Tiếng Việt<' in vi and 'data-language="en">Tiếng Anh<' in vi
    assert "<th>Ngôn ngữ</th>" in vi
    soc.client.cookies.set("citysoc_lang", "en")
    en = soc.client.get("/notifications").text
    assert 'data-language="vi">Vietnamese<' in en and 'data-language="en">English<' in en
    assert "<th>Language</th>" in en


def test_case_changes_tell_each_agency_only_its_part(soc: Soc, receiver: Receiver) -> None:
    notifier = soc.client.app.state.notifier
    notifier.run_once()
    receiver.posts.clear()
    soc.login("city")
    incident = next(i for i in soc.client.get("/api/v1/incidents").json()["items"])
    case = soc.client.post("/api/v1/cases", json={"incident_id": incident["id"]}).json()["id"]
    soc.login("d1")
    soc.client.post(f"/api/v1/cases/{case}/comments", json={"body": "camera 21 rebooted"})
    notifier.run_once()
    tb = [b["data"] for b in receiver.bodies("/tb")]
    d1 = [b["data"] for b in receiver.bodies("/d1")]
    city = [b["data"] for b in receiver.bodies("/city")]
    assert [c["change"]["action"] for c in tb] == ["opened", "alerts_linked"]
    assert tb[0]["case"]["agencies"] == ["tanbinh"] and tb[0]["other_agencies"] == 1
    assert "camera 21" not in json.dumps(tb)
    assert [c["change"]["action"] for c in d1] == ["opened", "alerts_linked", "comment"]
    assert d1[-1]["change"]["text"] == "camera 21 rebooted" and d1[-1]["change"]["part"] == "d1"
    assert [c["change"]["action"] for c in city] == [
        "opened",
        "alerts_linked",
        "alerts_linked",
        "comment",
    ]
    assert city[0]["case"]["agencies"] == ["d1", "tanbinh"] and city[0]["other_agencies"] == 0
    vi, en = receiver.bodies("/d1")[-1], receiver.bodies("/tb")[0]  # District 1 reads Vietnamese
    assert vi["language"] == "vi" and vi["subject"] == (
        f"[citysoc] Vụ việc #{case}: d1 đã bình luận: 203.0.113.50: Dò mật khẩu RTSP trên camera"
        " (+1 cảnh báo)"
    )
    assert "Trạng thái: mới" in vi["text"] and "1 đơn vị khác, 1 cảnh báo" in vi["text"]
    assert en["language"] == "en" and en["subject"] == (
        f"[citysoc] case #{case}: city opened the case: 203.0.113.50: RTSP brute force against"
        " a camera (+1 alerts)"
    )
    assert "Status: new" in en["text"] and "Severity: high" in en["text"]


def test_a_dead_endpoint_is_counted_logged_retried_then_given_up(
    soc: Soc, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = soc.client.app.state.notifier
    passes = []
    for _ in range(4):
        passes.append(notifier.run_once())
        time.sleep(0.05)  # past the retry's back-off (1, 2, 4 ms), kept to the millisecond
    assert [p.get("retry", 0) for p in passes] == [1, 1, 0, 0]
    assert passes[2] == {"failed": 1} and passes[3] == {}
    assert len(receiver.bodies("/d1")) == 1  # the live endpoint got its alert at once
    dead = [r for r in caplog.records if "/dead" in r.getMessage()]
    assert len(dead) == 3 and "ConnectError" in dead[0].getMessage()
    registry = soc.ctx.metrics.registry
    labels = {"channel": "webhook", "outcome": "failed"}
    assert registry.get_sample_value("citysoc_notifications_total", labels) == 1
    soc.login("d1")
    page = soc.client.get("/api/v1/notifications", params={"status": "failed"}).json()
    assert page["failed"] == 1 and {n["target"].rsplit("/", 1)[1] for n in page["items"]} == {
        "dead"
    }
    assert all(n["agency"] == "d1" and n["attempts"] == 3 for n in page["items"])
    soc.login("tb")
    assert soc.client.get("/api/v1/notifications").json()["failed"] == 0  # not Tan Binh's
    # detection never waits on delivery: a new attack is an alert at once, its notices queued
    soc.ctx.store.write(
        [rtsp_failure(s, "10.31.0.22", "d1", "198.51.100.9") for s in range(0, 12, 2)]
    )
    run = soc.ctx.scheduler.run_once()
    assert run.created == 1
    soc.login("d1")
    queued = soc.client.get("/api/v1/notifications", params={"status": "pending"}).json()
    assert queued["pending"] == 3 and {n["attempts"] for n in queued["items"]} == {0}


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "relay.pem", folder / "relay.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_mail_goes_over_starttls_to_a_relay_that_requires_it(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    handler, port = Sink(), free_port()
    controller = Controller(
        handler, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True
    )
    controller.start()
    try:
        note = Notification(
            id=1,
            event="case.status",
            agency="d1",
            channel="email",
            target="soc@d1.example",
            subject="[citysoc] case #1 status",
            payload={"case": {"id": 1, "status": "contained"}},
            attempts=0,
            created_at="2026-12-01T00:00:00.000Z",
        )
        base = {"smtp_host": "127.0.0.1", "smtp_port": port, "notify_timeout_seconds": 5}
        plain = Settings(data_dir=tmp_path, **base)
        with pytest.raises(DeliveryError, match=r"STARTTLS|530"):
            send_email(plain, note)  # the relay refuses mail before STARTTLS
        send_email(Settings(data_dir=tmp_path, smtp_starttls=True, smtp_ca_file=cert, **base), note)
    finally:
        controller.stop()
    ((rcpt, text, tls),) = handler.mail
    assert rcpt == ["soc@d1.example"] and tls and "status: contained" in text


def test_a_webhook_url_is_listed_without_credentials_or_query() -> None:
    shown = NotificationPublic._shown("https://u:pw@hooks.d1.example:8443/soc?token=abc#x")
    assert shown == "https://hooks.d1.example:8443/soc"
    assert NotificationPublic._shown("soc@d1.example") == "soc@d1.example"


def test_recipients_are_read_from_the_environment_and_bad_ones_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hooks = [{"url": "https://hooks.d1.example/soc", "secret": "s" * 20, "agency": "d1"}]
    monkeypatch.setenv("CITYSOC_NOTIFY_WEBHOOKS", json.dumps(hooks))
    monkeypatch.setenv("CITYSOC_NOTIFY_EMAILS", '[{"address": "soc@d1.example"}]')
    settings = Settings()
    assert settings.notify_webhooks[0].agency == "d1"
    assert "s" * 20 not in repr(settings)  # a secret value, never shown
    assert settings.notify_emails[0].events == ("alert", "case")
    with pytest.raises(ConfigError, match="no agency 'd9'"):
        check_agencies(
            settings.model_copy(
                update={"notify_webhooks": (hook("https://x.example/h", "city", "d9"),)}
            ),
            ["d1", "tanbinh"],
        )
    monkeypatch.setenv(
        "CITYSOC_NOTIFY_WEBHOOKS", '[{"url": "https://x.example", "secret": "short"}]'
    )
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert "CITYSOC_NOTIFY_WEBHOOKS" in explain_settings_error(refused.value)


def test_two_soc_api_processes_never_deliver_one_item_twice(soc: Soc, receiver: Receiver) -> None:
    first = soc.client.app.state.notifier
    second = Dispatcher(soc.ctx.sessions, soc.ctx.settings)
    try:
        now = timestamp(time.time())
        mine, theirs = first._due(now), second._due(now)
        assert len(mine) == 8 and theirs == []  # each due delivery leased to one of them
    finally:
        second.stop()


def test_a_dead_endpoint_costs_one_attempt_a_pass_whatever_its_backlog(
    soc: Soc, receiver: Receiver
) -> None:
    dead = next(t.url for t in soc.ctx.settings.notify_webhooks if t.url.endswith("/dead"))
    with soc.ctx.sessions() as session, session.begin():
        now = timestamp(time.time())
        for n in range(3):
            session.add(
                Notification(
                    event="case.comment",
                    agency="d1",
                    channel="webhook",
                    target=dead,
                    subject=f"backlog {n}",
                    payload={},
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    last_error="",
                    created_at=now,
                )
            )
    outcome = soc.client.app.state.notifier.run_once()
    assert outcome == {"delivered": 7, "retry": 1, "deferred": 3}
