"""SSH connections seen on the wire: identification, key exchange, and a login guess.

Each side sends its identification string in clear (``SSH-2.0-OpenSSH_9.2p1 ...``; a server
may send other lines before it, RFC 4253 section 4.2), then binary packets in clear up to
its ``SSH_MSG_NEWKEYS`` (:mod:`collectors.packets.sshkex`), then encrypted packets whose
sizes are all that can be read (:mod:`collectors.packets.sshauth`). One connection gives:

* one ``ssh_handshake`` event (``event.category`` network) once both sides' KEXINIT are
  read, or at the end of the connection with what was seen: both banners, each side's
  offered algorithms, the negotiated ones, HASSH and HASSHServer, whether both sides
  offered the strict key exchange (the Terrapin countermeasure);
* one ``ssh_authentication`` event (network and authentication) at the end of a connection
  that went past the key exchange: the counts and sizes of its encrypted records, who
  closed it, and ``event.outcome`` guessed from that shape (``citysoc.ssh.*``; the reasoning
  and its limits are in :mod:`collectors.packets.sshauth`).

SSH 1 banners (``SSH-1.5-``) are reported, their packets not read. A capture begun after the
banners gives nothing but the flow. Work is bounded: banner lines of :data:`BANNER_MAX`
bytes, :data:`MAX_PRE_BANNER_LINES` lines before the server's banner, one incomplete packet
per side, name-lists and name counts capped. A fault ends that side's parse (what was read
is kept) and is reported through :meth:`SshSession.take_errors`, which the packet engine
counts and logs with its location.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from citysoc.core.ecs import Event
from collectors.packets.protocols import AppRecord
from collectors.packets.sshauth import CLIENT, SERVER, Shape, guess
from collectors.packets.sshkex import (
    MAX_NAME,
    MAX_NAMES,
    MSG_KEXINIT,
    STRICT_KEX,
    KexInit,
    PacketReader,
    SshParseError,
    hassh,
    hassh_string,
    negotiate,
    parse_kexinit,
)

DATASET = "network_traffic.ssh"
BANNER_MAX = 255  # RFC 4253 section 4.2, the CR LF included
MAX_PRE_BANNER_LINES = 16
SSH2 = ("SSH-2.0-", "SSH-1.99-")  # 1.99: a server that speaks both, RFC 4253 section 5.1
MAX_ERRORS = 8
SIDES = ("client", "server")
LISTS = {  # event field -> KexInit attribute; the client's c->s lists, the server's s->c
    "kex_algorithms": ("kex", "kex"),
    "host_key_algorithms": ("host_key", "host_key"),
    "encryption_algorithms": ("encryption_client_to_server", "encryption_server_to_client"),
    "mac_algorithms": ("mac_client_to_server", "mac_server_to_client"),
    "compression_algorithms": ("compression_client_to_server", "compression_server_to_client"),
}


@dataclass
class _Side:
    banner: str | None = None
    lines: bytearray = field(default_factory=bytearray)
    skipped_lines: int = 0
    reader: PacketReader = field(default_factory=PacketReader)
    kexinit: KexInit | None = None
    stopped: bool = False  # not SSH, or a fault ended the parse


@dataclass
class SshSession:
    """One SSH connection: a handshake record, then an authentication record at its end."""

    sides: tuple[_Side, _Side] = field(default_factory=lambda: (_Side(), _Side()))
    shape: Shape = field(default_factory=Shape)
    errors: list[tuple[str, str]] = field(default_factory=list)
    first_seen: float = 0.0
    closed_by: str = "none"
    ended_at: float = 0.0
    reported: bool = False  # the handshake record is out
    not_ssh: bool = False

    def client_data(self, data: bytes, when: float) -> list[AppRecord]:
        return self._data(CLIENT, data, when)

    def server_data(self, data: bytes, when: float) -> list[AppRecord]:
        return self._data(SERVER, data, when)

    def ended(self, closed_by: int | None, when: float) -> None:
        """The flow's word on how it ended: the side that sent the first FIN or RST."""
        self.closed_by = "none" if closed_by is None else SIDES[closed_by]
        self.ended_at = when

    def take_errors(self) -> list[tuple[str, str]]:
        """``(reason, detail)`` of each fault found since the last call."""
        errors, self.errors = self.errors, []
        return errors

    def finish(self) -> list[AppRecord]:
        if self.not_ssh:
            return []
        for name, side in zip(SIDES, self.sides, strict=True):
            held = side.reader.pending
            if held and not side.stopped and not side.reader.encrypted:
                at = side.reader.offset
                cut = f"{held} bytes of a packet at stream byte {at} never completed"
                self._fault(name, SshParseError("ssh-truncated-packet", cut))
        records = self._handshake() if not self.reported else []
        if self.sides[CLIENT].reader.encrypted and self.shape.records[CLIENT]:
            records.append(self._authentication())
        return records

    def _data(self, index: int, data: bytes, when: float) -> list[AppRecord]:
        side = self.sides[index]
        if self.not_ssh or side.stopped:
            return []
        if side.reader.encrypted:
            self.shape.add(index, len(data), when)
            return []
        if side.banner is None:
            data = self._banner(index, side, data, when)
            if side.banner is not None and not side.banner.startswith(SSH2):
                side.stopped = True  # SSH 1 frames its packets otherwise: banners only
            if side.banner is None or side.stopped or not data:
                return []
        payloads, rest, fault = side.reader.feed(data)
        for payload in payloads:
            if payload[0] == MSG_KEXINIT and side.kexinit is None:
                try:
                    side.kexinit = parse_kexinit(payload)
                except SshParseError as exc:
                    self._fault(SIDES[index], exc)
                    break
        if fault is not None:
            self._fault(SIDES[index], fault)
        if rest:
            self.shape.add(index, len(rest), when)
        if not self.reported and all(s.kexinit is not None or s.stopped for s in self.sides):
            return self._handshake()
        return []

    def _banner(self, index: int, side: _Side, data: bytes, when: float) -> bytes:
        """Read banner lines; returns the bytes after the banner once it is complete."""
        while data and side.banner is None:
            room = BANNER_MAX + 2 - len(side.lines)
            end = data.find(b"\n", 0, room)
            if end < 0 and len(side.lines) + len(data) <= BANNER_MAX:
                side.lines += data
                return b""
            cut = end + 1 if end >= 0 else room - 2
            line = bytes(side.lines + data[:cut]).rstrip(b"\r\n")
            data = data[cut:]
            side.lines.clear()
            if line.startswith(b"SSH-"):
                if all(s.banner is None for s in self.sides):
                    self.first_seen = when
                side.banner = line.decode("utf-8", "replace")
                if end < 0:  # no line end within the limit: what follows cannot be parsed
                    long = f"no line end in {BANNER_MAX} bytes"
                    self._fault(SIDES[index], SshParseError("ssh-banner-too-long", long))
                    return b""
            elif index == CLIENT:
                self.not_ssh = True  # a client that does not speak SSH: the flow says enough
                return b""
            else:
                side.skipped_lines += 1
                if side.skipped_lines <= MAX_PRE_BANNER_LINES:
                    continue
                if self.sides[CLIENT].banner is None:
                    self.not_ssh = True  # no banner either way: a capture begun mid-connection
                else:
                    lines = f"{MAX_PRE_BANNER_LINES} lines and no SSH- banner"
                    self._fault("server", SshParseError("ssh-no-banner", lines))
                return b""
        return data

    def _fault(self, side: str, exc: SshParseError) -> None:
        self.sides[SIDES.index(side)].stopped = True
        if len(self.errors) < MAX_ERRORS:
            self.errors.append((exc.reason, f"{side} side: {exc}"))

    def _handshake(self) -> list[AppRecord]:
        if all(s.banner is None for s in self.sides):
            return []
        self.reported = True
        fields: Event = {
            "event.category": "network",
            "event.type": "protocol",
            "event.action": "ssh_handshake",
            "network.protocol": "ssh",
            "event.outcome": "success" if all(s.banner for s in self.sides) else "unknown",
        }
        for name, side in zip(SIDES, self.sides, strict=True):
            if side.banner is not None:
                fields |= _banner_fields(name, side.banner)
            if side.kexinit is not None:
                fields |= _kexinit_fields(name, side.kexinit)
        client, server = self.sides[CLIENT].kexinit, self.sides[SERVER].kexinit
        if client is not None and server is not None:
            fields |= {f"ssh.chosen.{k}": v for k, v in negotiate(client, server).items()}
            fields["ssh.strict_kex"] = STRICT_KEX[0] in client.kex and STRICT_KEX[1] in server.kex
        return [AppRecord(DATASET, self.first_seen, fields)]

    def _authentication(self) -> AppRecord:
        shape = self.shape
        verdict = guess(shape, self.closed_by)
        start = shape.first_at if shape.first_at is not None else self.first_seen
        end = max(self.ended_at, shape.last_at)
        fields: Event = {
            "event.category": ["network", "authentication"],
            "event.type": ["info"],
            "event.action": "ssh_authentication",
            "network.protocol": "ssh",
            "event.outcome": verdict.outcome,
            "event.duration": round((end - self.first_seen) * 1e9),
            "citysoc.ssh.outcome_reason": verdict.reason,
            "citysoc.ssh.closed_by": self.closed_by,
            "citysoc.ssh.round_trips": shape.round_trips,
            "citysoc.ssh.failure_answers": verdict.failure_answers,
            "citysoc.ssh.answer_bytes": ",".join(str(size) for size in shape.all_answers()),
        }
        for name, index in (("client", CLIENT), ("server", SERVER)):
            fields |= {
                f"citysoc.ssh.{name}.records": shape.records[index],
                f"citysoc.ssh.{name}.bytes": shape.octets[index],
                f"citysoc.ssh.{name}.small_records": shape.small[index],
                f"citysoc.ssh.{name}.largest_record": shape.largest[index],
            }
        banner = self.sides[CLIENT].banner
        if banner is not None:
            fields["ssh.client.software"] = _banner_fields("client", banner)["ssh.client.software"]
        return AppRecord(DATASET, start, fields)


def _banner_fields(name: str, banner: str) -> Event:
    version, _, software = banner[4:].partition("-")
    return {
        f"ssh.{name}.banner": banner,
        f"ssh.{name}.software": software.partition(" ")[0],
        f"ssh.{name}.protocol_version": version,
    }


def _kexinit_fields(name: str, kexinit: KexInit) -> Event:
    fields: Event = {}
    for field_name, attributes in LISTS.items():
        names = getattr(kexinit, attributes[SIDES.index(name)])
        # the name-list as sent (comma-separated), as arrays are kept for ECS's own fields
        fields[f"ssh.{name}.{field_name}"] = ",".join(n[:MAX_NAME] for n in names[:MAX_NAMES])
    server = name == "server"
    fields[f"ssh.{name}.hassh"] = hassh(kexinit, server=server)
    fields[f"ssh.{name}.hassh_string"] = hassh_string(kexinit, server=server)[:4096]
    return fields
