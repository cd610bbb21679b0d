"""Telnet login attempts seen in flows (SSH is read by :mod:`collectors.packets.ssh`).

Telnet: option negotiation (``IAC`` sequences) is stripped; a line the client sends after a
``login:`` prompt is the user name of one attempt, the line after ``Password:`` is discarded
unread, and what the server says next decides the outcome (``Login incorrect`` or a new
prompt: failure; anything else: success). A server that shows a login prompt to a client
that never answers gives one ``telnet_login_prompt`` event. Passwords never leave here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from citysoc.core.ecs import Event
from collectors.packets.protocols import AppRecord

IAC, SB, SE = 0xFF, 0xFA, 0xF0
LOGIN_PROMPT = re.compile(r"(?:login|user ?name|user)\s*:\s*$", re.IGNORECASE)
PASSWORD_PROMPT = re.compile(r"pass(?:word|code)?\s*:\s*$", re.IGNORECASE)
FAILED = re.compile(r"incorrect|fail|denied|invalid|bad password|wrong", re.IGNORECASE)
SCREEN_KEEP = 256
LINE_KEEP = 128
TELNET_DATASET = "network_traffic.telnet"


def strip_telnet(data: bytes, state: list[int]) -> bytes:
    """Text of a Telnet stream without its negotiation; ``state`` carries across calls.

    ``state[0]``: 0 plain text, 1 after IAC, 2 after IAC + WILL/WONT/DO/DONT,
    3 inside a subnegotiation, 4 after IAC inside a subnegotiation.
    """
    out = bytearray()
    mode = state[0]
    for byte in data:
        if mode == 0:
            if byte == IAC:
                mode = 1
            else:
                out.append(byte)
        elif mode == 1:
            mode = 2 if 251 <= byte <= 254 else 3 if byte == SB else 0
            if byte == IAC:
                out.append(IAC)
        elif mode == 2:
            mode = 0
        elif mode == 3:
            mode = 4 if byte == IAC else 3
        else:
            mode = 0 if byte == SE else 3
    state[0] = mode
    return bytes(out)


@dataclass
class _Attempt:
    user: str
    when: float
    password_sent: bool = False


@dataclass
class TelnetSession:
    """Login attempts of one Telnet connection."""

    screen: str = ""  # the last characters the server showed
    line: bytearray = field(default_factory=bytearray)
    expecting: str | None = None  # "user" or "password" once a prompt is on screen
    attempt: _Attempt | None = None
    prompts: int = 0
    attempts: int = 0
    first_prompt_at: float = 0.0
    client_state: list[int] = field(default_factory=lambda: [0])
    server_state: list[int] = field(default_factory=lambda: [0])

    def server_data(self, data: bytes, when: float) -> list[AppRecord]:
        text = strip_telnet(data, self.server_state).decode("latin-1")
        self.screen = (self.screen + text)[-SCREEN_KEEP:]
        records = []
        if self.attempt is not None and self.attempt.password_sent and text.strip():
            failed = FAILED.search(self.screen) or LOGIN_PROMPT.search(self.screen.rstrip(" "))
            records.append(self._record("failure" if failed else "success"))
        if LOGIN_PROMPT.search(self.screen):
            self.expecting = "user"
            if not self.prompts:
                self.first_prompt_at = when
            self.prompts += 1
            self.screen = ""
        elif PASSWORD_PROMPT.search(self.screen):
            self.expecting = "password"
            self.screen = ""
        return records

    def client_data(self, data: bytes, when: float) -> list[AppRecord]:
        for byte in strip_telnet(data, self.client_state):
            if byte in (0x0D, 0x0A, 0x00):
                if self.line or byte == 0x0D:
                    self._line_done(bytes(self.line), when)
                self.line.clear()
            elif len(self.line) < LINE_KEEP and self.expecting == "user":
                self.line.append(byte)
        return []

    def finish(self) -> list[AppRecord]:
        if self.attempt is not None:
            return [self._record("unknown")]
        if self.prompts and not self.attempts:
            self.attempts += 1
            fields = _telnet_fields("telnet_login_prompt", "unknown")
            return [AppRecord(TELNET_DATASET, self.first_prompt_at, fields)]
        return []

    def _line_done(self, line: bytes, when: float) -> None:
        if self.expecting == "user":
            user = line.decode("utf-8", "replace").strip()
            if user:
                self.attempt = _Attempt(user, when)
                self.expecting = None
        elif self.expecting == "password":
            if self.attempt is None:
                self.attempt = _Attempt("", when)
            self.attempt.password_sent = True
            self.expecting = None

    def _record(self, outcome: str) -> AppRecord:
        attempt = self.attempt
        assert attempt is not None
        self.attempt = None
        self.attempts += 1
        fields = _telnet_fields("telnet_login", outcome)
        if attempt.user:
            fields["user.name"] = attempt.user
        return AppRecord(TELNET_DATASET, attempt.when, fields)


def _telnet_fields(action: str, outcome: str) -> Event:
    return {
        "event.category": "authentication",
        "event.type": "start",
        "event.action": action,
        "event.outcome": outcome,
        "network.protocol": "telnet",
    }
