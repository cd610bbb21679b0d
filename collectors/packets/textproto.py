"""Framing of HTTP/1.x and RTSP/1.0 messages out of a reassembled byte stream.

A :class:`MessageParser` reads one direction (requests or responses). It keeps at most
:data:`BODY_KEEP` bytes of each body but consumes the whole of it (``Content-Length``,
chunked encoding, or read-until-close for HTTP responses without a length), so the next
message starts where it should. A stream that stops looking like the protocol marks the
parser ``broken`` with a reason; nothing raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

BODY_KEEP = 1024
MAX_HEAD = 64 * 1024
MAX_LENGTH_DIGITS = 18  # a Content-Length beyond 10**18 bytes is not a real body
REQUEST_LINE = re.compile(r"^([A-Z][A-Z_-]{0,19}) (\S{1,8192}) (HTTP|RTSP)/(\d\.\d)$")
STATUS_LINE = re.compile(r"^(HTTP|RTSP)/(\d\.\d) (\d{3})(?: (.*))?$")
Kind = Literal["request", "response"]


@dataclass(frozen=True)
class Message:
    """One request or response: its start line parts, headers (lower-case names), body."""

    kind: Kind
    protocol: str  # "http" or "rtsp", from the start line
    version: str
    method: str  # requests only
    target: str  # requests only
    status: int  # responses only
    headers: dict[str, str]
    body: bytes  # the first BODY_KEEP bytes
    body_length: int
    when: float


@dataclass
class _Pending:
    head: Message
    remaining: int  # body bytes still to read; -1 = until close; -2 = chunked
    body: bytearray = field(default_factory=bytearray)
    consumed: int = 0
    chunk_left: int = 0  # data bytes of the current chunk still to read; -1: its CRLF


@dataclass
class MessageParser:
    kind: Kind
    broken: str | None = None
    buf: bytearray = field(default_factory=bytearray)
    current: _Pending | None = None

    def feed(self, data: bytes, when: float) -> list[Message]:
        if self.broken:
            return []
        self.buf += data
        out: list[Message] = []
        while not self.broken:
            if self.current is None:
                if not self._read_head(when):
                    break
            elif not self._read_body():
                break
            else:
                out.append(self._complete())
        return out

    def finish(self) -> list[Message]:
        """End of stream: a body read until close is complete now."""
        if self.current is not None and self.current.remaining == -1 and not self.broken:
            self.current.consumed += len(self.buf)
            self._keep(bytes(self.buf))
            self.buf.clear()
            return [self._complete()]
        return []

    def _read_head(self, when: float) -> bool:
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buf) > MAX_HEAD:
                self.broken = "header-too-large"
            elif self.buf and not self.buf[:1].isalpha():
                self.broken = "not-a-text-protocol"
            return False
        head = bytes(self.buf[:end]).decode("latin-1")
        del self.buf[: end + 4]
        lines = head.split("\r\n")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                continue
            key = name.strip().lower()
            headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
        message = self._start_line(lines[0], headers, when)
        if message is None:
            self.broken = "bad-start-line"
            return False
        remaining = self._body_size(message)
        if remaining is None:
            self.broken = "bad-content-length"
            return False
        self.current = _Pending(message, remaining)
        return True

    def _start_line(self, line: str, headers: dict[str, str], when: float) -> Message | None:
        if self.kind == "request":
            m = REQUEST_LINE.match(line)
            if not m:
                return None
            method, target, proto, version = m.groups()
            return Message(
                "request", proto.lower(), version, method, target, 0, headers, b"", 0, when
            )
        m = STATUS_LINE.match(line)
        if not m:
            return None
        proto, version, status = m.group(1), m.group(2), int(m.group(3))
        return Message("response", proto.lower(), version, "", "", status, headers, b"", 0, when)

    def _body_size(self, message: Message) -> int | None:
        length = message.headers.get("content-length")
        if length is not None:
            digits = length.isascii() and length.isdigit() and len(length) <= MAX_LENGTH_DIGITS
            return int(length) if digits else None
        if (
            message.protocol == "http"
            and "chunked" in message.headers.get("transfer-encoding", "").lower()
        ):
            return -2
        if (
            message.kind == "response"
            and message.protocol == "http"
            and not (100 <= message.status < 200 or message.status in (204, 304))
        ):
            return -1
        return 0

    def _read_body(self) -> bool:
        pending = self.current
        assert pending is not None
        if pending.remaining == -1:
            self._keep(bytes(self.buf))
            pending.consumed += len(self.buf)
            self.buf.clear()
            return False
        if pending.remaining == -2:
            return self._read_chunks(pending)
        take = min(pending.remaining, len(self.buf))
        self._keep(bytes(self.buf[:take]))
        del self.buf[:take]
        pending.remaining -= take
        pending.consumed += take
        return pending.remaining == 0

    def _read_chunks(self, pending: _Pending) -> bool:
        """Chunk data is consumed as it arrives, so a huge chunk size buffers nothing."""
        while True:
            if pending.chunk_left > 0:
                take = min(pending.chunk_left, len(self.buf))
                self._keep(bytes(self.buf[:take]))
                del self.buf[:take]
                pending.consumed += take
                pending.chunk_left -= take
                if pending.chunk_left:
                    return False
                pending.chunk_left = -1
            if pending.chunk_left == -1:  # the CRLF after a chunk's data
                if len(self.buf) < 2:
                    return False
                del self.buf[:2]
                pending.chunk_left = 0
            line_end = self.buf.find(b"\r\n")
            if line_end < 0:
                if len(self.buf) > MAX_HEAD:
                    self.broken = "bad-chunk-size"
                return False
            size_text = bytes(self.buf[:line_end]).split(b";")[0].strip()
            try:
                size = int(size_text, 16) if len(size_text) <= 16 else -1
            except ValueError:
                size = -1
            if size < 0:
                self.broken = "bad-chunk-size"
                return False
            if size == 0:
                trailer_end = self.buf.find(b"\r\n\r\n", line_end)
                if trailer_end < 0:
                    if len(self.buf) > MAX_HEAD:
                        self.broken = "header-too-large"
                    return False
                del self.buf[: trailer_end + 4]
                return True
            del self.buf[: line_end + 2]
            pending.chunk_left = size

    def _keep(self, chunk: bytes) -> None:
        assert self.current is not None
        room = BODY_KEEP - len(self.current.body)
        if room > 0:
            self.current.body += chunk[:room]

    def _complete(self) -> Message:
        pending = self.current
        assert pending is not None
        self.current = None
        head = pending.head
        return Message(
            head.kind,
            head.protocol,
            head.version,
            head.method,
            head.target,
            head.status,
            head.headers,
            bytes(pending.body),
            pending.consumed,
            head.when,
        )
