"""Application protocols seen in flows: HTTP and RTSP sessions.

Each session turns reassembled bytes into :class:`AppRecord` s: the application fields
of one event; the flow adds addresses, ports and ids. Credentials never leave here:
``Authorization`` headers give ``user.name`` only, and password-looking parameters in
URLs and bodies are replaced by ``REDACTED``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

from citysoc.core.ecs import Event
from collectors.packets.textproto import Message, MessageParser

SECRET_PARAM = re.compile(
    r"(?i)\b((?:pass(?:word|wd)?|pwd|secret|token|api[_-]?key|credentials?)[\w.-]*=)[^&\s\"']*"
)
SECRET_JSON = re.compile(r"(?i)(\"(?:pass\w*|pwd|secret|token)\"\s*:\s*\")[^\"]*")
SECRET_XML = re.compile(r"(?i)(<(pass\w*|pwd|secret)>)[^<]*")
TRANSPORT_PORTS = re.compile(r"(client_port|server_port)=(\d+)(?:-(\d+))?")
MEDIA_RANGE_MAX = 16  # ports one Transport range may name: RTP and RTCP are two
MEDIA_PORTS_MAX = 64  # media endpoints one RTSP connection may announce


@dataclass(frozen=True)
class AppRecord:
    """The application part of one event; ``dataset`` is its ``event.dataset``."""

    dataset: str
    when: float
    fields: Event


class Session(Protocol):
    """Turns the reassembled bytes of a TCP connection into application records."""

    def client_data(self, data: bytes, when: float) -> list[AppRecord]: ...

    def server_data(self, data: bytes, when: float) -> list[AppRecord]: ...

    def finish(self) -> list[AppRecord]: ...


def redact(text: str) -> str:
    """Replace the values of password-like parameters (query, form, JSON, XML)."""
    text = SECRET_PARAM.sub(r"\1REDACTED", text)
    text = SECRET_JSON.sub(r"\1REDACTED", text)
    return SECRET_XML.sub(r"\1REDACTED", text)


def auth_user(headers: dict[str, str]) -> str | None:
    """The user name of a Basic or Digest ``Authorization`` header; never the secret."""
    scheme, _, credentials = headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True)
        except (binascii.Error, ValueError):
            return None
        return decoded.decode("utf-8", "replace").partition(":")[0] or None
    if scheme.lower() == "digest":
        m = re.search(r'username="([^"]*)"', credentials)
        return m.group(1) if m else None
    return None


UNRESERVED_ESCAPE = re.compile(r"%(2[dDeE]|3[0-9]|[46][1-9a-fA-F]|[57][0-9aA]|5[fF]|7[eE])")


def normalised_path(path: str) -> str:
    """The path with percent-encoded unreserved characters decoded (RFC 3986, 6.2.2.2), as a
    server reads it: ``/SDK/web%4canguage`` is ``/SDK/webLanguage``. Reserved characters
    (``%2F``, ``%3F``, ...) stay encoded, and ``url.original`` keeps the request as sent."""
    if "%" not in path:
        return path
    return UNRESERVED_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), path)


def url_fields(target: str, host: str | None) -> Event:
    """ECS ``url.*`` from a request target, with any password in it removed."""
    fields: Event = {}
    parts = urlsplit(target)
    user = None
    if parts.netloc and "@" in parts.netloc:
        userinfo, _, hostport = parts.netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        target = target.replace(parts.netloc, f"{user}@{hostport}" if user else hostport, 1)
        parts = urlsplit(target)
    fields["url.original"] = redact(target)
    fields["url.path"] = normalised_path(parts.path) or "/"
    if parts.query:
        fields["url.query"] = redact(parts.query)
    if parts.scheme:
        fields["url.scheme"] = parts.scheme
    domain = parts.hostname or (host.rpartition(":")[0] if host and ":" in host else host)
    if domain:
        fields["url.domain"] = domain
    if user:
        fields["user.name"] = user
    return fields


def _common(request: Message) -> Event:
    fields = url_fields(request.target, request.headers.get("host"))
    user = auth_user(request.headers)
    if user:
        fields["user.name"] = user
    if "user-agent" in request.headers:
        fields["user_agent.original"] = request.headers["user-agent"]
    return fields


def http_fields(request: Message, response: Message | None) -> Event:
    fields: Event = {
        "event.category": "web",
        "event.type": "access",
        "event.action": "http_request",
        "network.protocol": "http",
        "http.version": request.version,
        "http.request.method": request.method,
        "http.request.body.bytes": request.body_length,
        **_common(request),
    }
    if request.body:
        fields["http.request.body.content"] = redact(request.body.decode("utf-8", "replace"))
    if "content-type" in request.headers:
        fields["http.request.mime_type"] = request.headers["content-type"]
    if "referer" in request.headers:
        fields["http.request.referrer"] = redact(request.headers["referer"])
    fields["event.outcome"] = "unknown"
    if response is not None:
        fields["http.response.status_code"] = response.status
        fields["http.response.body.bytes"] = response.body_length
        if "content-type" in response.headers:
            fields["http.response.mime_type"] = response.headers["content-type"]
        fields["event.outcome"] = "failure" if response.status >= 400 else "success"
    return fields


def rtsp_fields(request: Message, response: Message | None) -> Event:
    fields: Event = {
        "event.category": "network",
        "event.type": "protocol",
        "event.action": "rtsp_request",
        "network.protocol": "rtsp",
        "rtsp.version": request.version,
        "rtsp.request.method": request.method,
        **_common(request),
    }
    if request.headers.get("cseq", "").isdigit():
        fields["rtsp.request.cseq"] = int(request.headers["cseq"])
    fields["event.outcome"] = "unknown"
    if response is not None:
        fields["rtsp.response.status_code"] = response.status
        fields["event.outcome"] = "failure" if response.status in (401, 403) else "success"
    return fields


@dataclass
class TextSession:
    """HTTP or RTSP requests paired with their responses, in order."""

    requests: MessageParser = field(default_factory=lambda: MessageParser("request"))
    responses: MessageParser = field(default_factory=lambda: MessageParser("response"))
    queue: deque[Message] = field(default_factory=deque)
    media_ports: set[tuple[str, int]] = field(default_factory=set)
    refused: list[tuple[str, str]] = field(default_factory=list)

    def client_data(self, data: bytes, when: float) -> list[AppRecord]:
        self.queue.extend(self.requests.feed(data, when))
        return []

    def server_data(self, data: bytes, when: float) -> list[AppRecord]:
        records = []
        for response in self.responses.feed(data, when):
            if response.protocol == "http" and 100 <= response.status < 200:
                continue
            if self.queue:
                records.append(self._record(self.queue.popleft(), response))
        return records

    def finish(self) -> list[AppRecord]:
        records = []
        for response in self.responses.finish():
            if self.queue:
                records.append(self._record(self.queue.popleft(), response))
        records.extend(self._record(request, None) for request in self.queue)
        self.queue.clear()
        return records

    def _record(self, request: Message, response: Message | None) -> AppRecord:
        if request.protocol == "rtsp":
            if response is not None and request.method == "SETUP":
                self._learn_media(response.headers.get("transport", ""))
            return AppRecord("network_traffic.rtsp", request.when, rtsp_fields(request, response))
        return AppRecord("network_traffic.http", request.when, http_fields(request, response))

    def take_refused(self) -> list[tuple[str, str]]:
        """The ``(reason, detail)`` of each Transport range refused since the last call."""
        refused, self.refused = self.refused, []
        return refused

    def _learn_media(self, transport: str) -> None:
        for side, low, high in TRANSPORT_PORTS.findall(transport):
            ports = _port_range(low, high or low)
            if ports is None:
                self._refuse("rtsp-bad-media-port", f"{side}={low}-{high}"[:80])
            elif len(ports) > MEDIA_RANGE_MAX:
                self._refuse("rtsp-media-range-too-wide", f"{side}={low}-{high}")
            elif len(self.media_ports) + len(ports) > MEDIA_PORTS_MAX:
                self._refuse("rtsp-too-many-media-ports", f"over {MEDIA_PORTS_MAX}")
            else:
                self.media_ports.update((side, port) for port in ports)

    def _refuse(self, reason: str, detail: str) -> None:
        if len(self.refused) < MEDIA_PORTS_MAX:
            self.refused.append((reason, detail))


def _port_range(low: str, high: str) -> range | None:
    """The ports ``low``-``high`` of a Transport header, or None if they are not ports."""
    if len(low) > 5 or len(high) > 5 or int(high) > 65535 or int(low) > int(high):
        return None
    return range(int(low), int(high) + 1)
