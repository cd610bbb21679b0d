"""SMB session starts read from the reassembled TCP streams of a connection (ports 445, 139).

One ``network_traffic.smb`` record per session setup exchange (a client trying several
passwords on one connection gives one record per try), with what the connection negotiated
before it: the dialects the client offered, the one the server chose (SMB1 dialects named as
sent, SMB2/3 as ``2.1``, ``3.1.1``, ...), both GUIDs, whether signing is required, the server
name and ciphers of SMB 3.1.1's negotiate contexts. The NTLMSSP messages of the exchange give
the server's NetBIOS and DNS names and the client's user name, domain and workstation in clear
(:mod:`collectors.packets.ntlm`); a Kerberos AP-REQ gives the ticket's realm and service
principal (:mod:`collectors.packets.kerberos`), not the client's name; the final status gives
``event.outcome`` (``STATUS_LOGON_FAILURE``: failure). A successful session waits for its
first TREE_CONNECT to name the share. A connection that negotiates and sets up no session
gives one ``smb_negotiate`` record; ``smb.version`` is ``SMB1`` when the server chose an
SMB1 dialect.

Work is bounded: the framing (:mod:`collectors.packets.netbios`) passes over long frames
unread and cuts a limited number per side, a connection gives at most :data:`RECORDS_MAX`
records. A malformed message ends the parse of that side and is reported through
:meth:`SmbSession.take_errors`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from citysoc.core.ecs import Event
from collectors.packets import kerberos, ntlm, smbwire
from collectors.packets.kerberos import KerberosError
from collectors.packets.netbios import NetbiosFrames
from collectors.packets.ntlm import NtlmError
from collectors.packets.protocols import AppRecord
from collectors.packets.smbwire import SMB1, SMB2, SmbError

DATASET = "network_traffic.smb"
RECORDS_MAX = 256
PROBLEMS_MAX = 16
MORE_PROCESSING = 0xC0000016
STATUSES = {
    0x00000000: "STATUS_SUCCESS",
    0xC000000D: "STATUS_INVALID_PARAMETER",
    0xC0000022: "STATUS_ACCESS_DENIED",
    0xC0000064: "STATUS_NO_SUCH_USER",
    0xC000006A: "STATUS_WRONG_PASSWORD",
    0xC000006D: "STATUS_LOGON_FAILURE",
    0xC000006E: "STATUS_ACCOUNT_RESTRICTION",
    0xC000006F: "STATUS_INVALID_LOGON_HOURS",
    0xC0000070: "STATUS_INVALID_WORKSTATION",
    0xC0000071: "STATUS_PASSWORD_EXPIRED",
    0xC0000072: "STATUS_ACCOUNT_DISABLED",
    0xC00000BB: "STATUS_NOT_SUPPORTED",
    0xC00000CC: "STATUS_BAD_NETWORK_NAME",
    0xC000015B: "STATUS_LOGON_TYPE_NOT_GRANTED",
    0xC0000193: "STATUS_ACCOUNT_EXPIRED",
    0xC0000224: "STATUS_PASSWORD_MUST_CHANGE",
    0xC0000234: "STATUS_ACCOUNT_LOCKED_OUT",
}
SHARE_TYPES = {1: "disk", 2: "pipe", 3: "print"}


def status_name(value: int) -> str:
    return STATUSES.get(value, f"0x{value:08X}")


@dataclass
class _Attempt:
    """One session setup exchange as far as it went."""

    when: float
    fields: Event = field(default_factory=dict)


@dataclass
class SmbSession:
    """The negotiation and session setups of one SMB connection."""

    sides: tuple[NetbiosFrames, NetbiosFrames] = field(
        default_factory=lambda: (NetbiosFrames(), NetbiosFrames())
    )
    negotiated: Event = field(default_factory=dict)
    client_dialects: list[str] = field(default_factory=list)
    first_seen: float | None = None
    attempt: _Attempt | None = None
    server_names: Event = field(default_factory=dict)
    pending: AppRecord | None = None  # a session set up, waiting for its first tree connect
    records: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)
    done: bool = False

    def client_data(self, data: bytes, when: float) -> list[AppRecord]:
        return self._data(0, data, when)

    def server_data(self, data: bytes, when: float) -> list[AppRecord]:
        return self._data(1, data, when)

    def finish(self) -> list[AppRecord]:
        out = self._flush()
        if self.attempt is not None:
            out.append(self._session_record(self.attempt, None))
            self.attempt = None
        if not self.records and self.first_seen is not None and not self.done:
            out.append(self._negotiate_record())
        self.done = True
        return out

    def take_errors(self) -> list[tuple[str, str]]:
        """``(reason, detail)`` of each malformed message since the last call."""
        found, self.problems = self.problems, []
        return found

    def _data(self, side: int, data: bytes, when: float) -> list[AppRecord]:
        frames = self.sides[side]
        if self.done or frames.closed:
            return []
        if side == 0 and not (frames.consumed or frames.buffer) and not _starts_smb(data):
            self.done = True  # not SMB: nothing to report
            return []
        out: list[AppRecord] = []
        name = "client" if side == 0 else "server"
        for offset, frame in frames.feed(data):
            try:
                out += self._frame(side, frame, when)
            except (SmbError, NtlmError, KerberosError) as exc:
                self._problem("smb-malformed", f"{name} stream byte {offset}: {exc}")
                frames.closed = True
                return out
            if self.records >= RECORDS_MAX:
                self._problem("smb-too-many-sessions", f"over {RECORDS_MAX} session setups")
                self.done = True
                return out
        if frames.error is not None:
            self._problem("smb-malformed", f"{name} {frames.error}")
            frames.error = None
        return out

    def _problem(self, reason: str, detail: str) -> None:
        if len(self.problems) < PROBLEMS_MAX:
            self.problems.append((reason, detail))

    def _frame(self, side: int, frame: bytes, when: float) -> list[AppRecord]:
        if frame[:4] == SMB2:
            out: list[AppRecord] = []
            for msg in smbwire.chain(frame):
                out += self._smb2(side, msg, when)
            return out
        if frame[:4] == SMB1:
            return self._smb1(side, frame, when)
        if frame[:4] in (smbwire.TRANSFORM, smbwire.COMPRESSED):
            return self._flush()  # encrypted or compressed from here on
        raise SmbError(f"frame starts with {frame[:4].hex() or 'nothing'}, not an SMB header")

    def _smb2(self, side: int, msg: bytes, when: float) -> list[AppRecord]:
        head = smbwire.header(msg)
        if head.command == smbwire.NEGOTIATE:
            if side == 0:
                offer = smbwire.negotiate_request(msg)
                self._offered(offer.dialects, when)
                if offer.server_name:
                    self.negotiated["smb.server.requested_name"] = offer.server_name
                if offer.ciphers:
                    self.negotiated["smb.client.ciphers"] = offer.ciphers
                self.negotiated["smb.client.guid"] = offer.client_guid
            elif head.status == 0:
                self._answered(smbwire.negotiate_response(msg))
            return []
        if head.command == smbwire.SESSION_SETUP:
            if side == 0:
                return self._setup_request(smbwire.session_setup_request(msg), when)
            return self._setup_response(msg, head.status, when)
        if head.command == smbwire.TREE_CONNECT and self.pending is not None:
            return self._tree(side, msg, head.status)
        return self._flush() if side == 0 else []

    def _smb1(self, side: int, msg: bytes, when: float) -> list[AppRecord]:
        if len(msg) < 33:
            raise SmbError(f"an SMB1 header needs 33 bytes, message has {len(msg)}")
        command, status = msg[4], smbwire.u32(msg, 5)
        if command == smbwire.SMB1_NEGOTIATE:
            if side == 0:
                self.client_dialects = smbwire.smb1_dialects(msg)
                self._offered(self.client_dialects, when)
            else:
                index = smbwire.smb1_dialect_index(msg)
                if index is not None:
                    known = index < len(self.client_dialects)
                    chosen = self.client_dialects[index] if known else f"index {index}"
                    self.negotiated |= {"smb.version": "SMB1", "smb.dialect": chosen}
            return []
        if command == smbwire.SMB1_SESSION_SETUP_ANDX:
            if side == 0:
                return self._setup_request(msg[32:], when)
            return self._setup_response(None, status, when, blob=msg[32:])
        return self._flush() if side == 0 else []

    def _offered(self, dialects: list[str], when: float) -> None:
        if self.first_seen is None:
            self.first_seen = when
        offered = list(self.negotiated.get("smb.client.dialects", []))
        self.negotiated["smb.client.dialects"] = list(dict.fromkeys(offered + dialects))[:32]

    def _answered(self, answer: smbwire.Answer) -> None:
        major = "SMB3" if answer.dialect.startswith("3.") else "SMB2"
        self.negotiated |= {
            "smb.version": major,
            "smb.dialect": answer.dialect,
            "smb.server.guid": answer.server_guid,
            "smb.signing_required": answer.signing_required,
        }
        if answer.cipher:
            self.negotiated["smb.encryption_cipher"] = answer.cipher
        if answer.signing:
            self.negotiated["smb.signing_algorithm"] = answer.signing

    def _setup_request(self, blob: bytes, when: float) -> list[AppRecord]:
        out = self._flush()
        if self.first_seen is None:
            self.first_seen = when
        if self.attempt is None:
            self.attempt = _Attempt(when)
        mechanism = ntlm.mechanism(blob)
        if mechanism:
            self.attempt.fields.setdefault("smb.auth.mechanism", mechanism)
        ticket = kerberos.ap_req_ticket(blob) if mechanism == "kerberos" else None
        if ticket is not None:
            self.attempt.fields["smb.kerberos.realm"] = ticket.realm
            self.attempt.fields["smb.kerberos.service"] = ticket.service
            if ticket.host:
                self.attempt.fields["destination.domain"] = ticket.host
        found = ntlm.locate(blob)
        if found is not None and found[0] == ntlm.AUTHENTICATE:
            auth = ntlm.parse_authenticate(found[1])
            fields = self.attempt.fields
            fields["smb.ntlm.response"] = auth.response
            if auth.user:
                fields["user.name"] = auth.user
            if auth.domain:
                fields["user.domain"] = auth.domain
            if auth.workstation:
                fields["source.domain"] = auth.workstation
            if auth.version:
                fields["smb.ntlm.client_version"] = auth.version
        return out

    def _setup_response(
        self, msg: bytes | None, status: int, when: float, blob: bytes = b""
    ) -> list[AppRecord]:
        flags = 0
        if msg is not None and status in (0, MORE_PROCESSING):
            flags, blob = smbwire.session_setup_response(msg)
        found = ntlm.locate(blob)
        if found is not None and found[0] == ntlm.CHALLENGE:
            challenge = ntlm.parse_challenge(found[1])
            self.server_names = {f"smb.server.{k}": v for k, v in challenge.names.items()}
            if challenge.version:
                self.server_names["smb.ntlm.server_version"] = challenge.version
        if status == MORE_PROCESSING:
            return []
        attempt, self.attempt = self.attempt or _Attempt(when), None
        record = self._session_record(attempt, status)
        if msg is not None and status == 0:
            record.fields["smb.session.guest"] = bool(flags & 0x1)
            record.fields["smb.session.anonymous"] = bool(flags & 0x2)
            self.pending = record
            return []
        return [record]

    def _tree(self, side: int, msg: bytes, status: int) -> list[AppRecord]:
        pending = self.pending
        assert pending is not None
        if side == 0:
            if "smb.tree.path" in pending.fields:
                return self._flush()
            path = smbwire.tree_connect_request(msg)
            pending.fields["smb.tree.path"] = path
            pending.fields["smb.tree.share"] = path.rpartition("\\")[2]
            return []
        pending.fields["smb.tree.status"] = status_name(status)
        if status == 0:
            kind = msg[smbwire.HEADER + 2] if len(msg) > smbwire.HEADER + 2 else 0
            pending.fields["smb.tree.share_type"] = SHARE_TYPES.get(kind, str(kind))
        return self._flush()

    def _flush(self) -> list[AppRecord]:
        pending, self.pending = self.pending, None
        return [pending] if pending is not None else []

    def _session_record(self, attempt: _Attempt, status: int | None) -> AppRecord:
        self.records += 1
        outcome = "unknown" if status is None else "success" if status == 0 else "failure"
        fields: Event = {
            "event.category": ["network", "authentication"],
            "event.type": ["protocol", "start"],
            "event.action": "smb_session_setup",
            "event.outcome": outcome,
            "network.protocol": "smb",
            **self.negotiated,
            **self.server_names,
            **attempt.fields,
        }
        if status is not None:
            fields["smb.session.status"] = status_name(status)
            if status:
                fields["event.reason"] = status_name(status)
        server = self.server_names.get("smb.server.dns_computer") or self.server_names.get(
            "smb.server.netbios_computer"
        )
        if server:
            fields["destination.domain"] = server
        _related(fields)
        return AppRecord(DATASET, attempt.when, fields)

    def _negotiate_record(self) -> AppRecord:
        self.records += 1
        fields: Event = {
            "event.category": "network",
            "event.type": "protocol",
            "event.action": "smb_negotiate",
            "event.outcome": "success" if "smb.dialect" in self.negotiated else "unknown",
            "network.protocol": "smb",
            **self.negotiated,
        }
        return AppRecord(DATASET, self.first_seen or 0.0, fields)


def _related(fields: Event) -> None:
    if fields.get("user.name"):
        fields["related.user"] = [fields["user.name"]]
    hosts = [fields[k] for k in ("source.domain", "destination.domain") if fields.get(k)]
    if hosts:
        fields["related.hosts"] = list(dict.fromkeys(hosts))


def _starts_smb(data: bytes) -> bool:
    """Whether a client's first bytes are NetBIOS framing of an SMB message (or a NetBIOS
    session request, as on port 139)."""
    if data[:1] in (b"\x81", b"\x85"):
        return True
    head = data[4:8]  # a first segment may end inside the header
    return data[:1] == b"\x00" and (SMB2.startswith(head) or SMB1.startswith(head))
