"""DNP3 (IEEE 1815) over TCP: one event per application request a master sends.

A DNP3 link frame starts with ``05 64``, a length (the octets from the control byte through
the user data, CRCs not counted), the control byte, destination and source addresses (little
endian) and a CRC; the user data follows in blocks of up to 16 octets, each with its CRC.
The first user octet is the transport header; the application header follows (control,
then the function code). Each request gives ``dnp3.function_code`` and
``dnp3.function_name``, the link addresses, and ``event.type: change`` for the functions that
act on the outstation (write, select, operate, direct operate, restarts, stopping
applications, disabling unsolicited reports), so a rule can ask for "control from a host that
is not the SCADA server". CRCs are not checked: a damaged frame still shows what was asked.
A stream that is not DNP3 framing stops the decoding of that connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from citysoc.core.ecs import Event
from collectors.packets.protocols import AppRecord

START = b"\x05\x64"
HEADER = 10  # start, length, control, destination, source, CRC
BLOCK = 16
DNP3_FUNCTIONS = {
    0: "confirm", 1: "read", 2: "write", 3: "select", 4: "operate", 5: "direct_operate",
    6: "direct_operate_nr", 7: "immediate_freeze", 8: "immediate_freeze_nr", 9: "freeze_clear",
    10: "freeze_clear_nr", 11: "freeze_at_time", 12: "freeze_at_time_nr", 13: "cold_restart",
    14: "warm_restart", 15: "initialize_data", 16: "initialize_application",
    17: "start_application", 18: "stop_application", 19: "save_configuration",
    20: "enable_unsolicited", 21: "disable_unsolicited", 22: "assign_class",
    23: "delay_measure", 24: "record_current_time", 25: "open_file", 26: "close_file",
    27: "delete_file", 28: "get_file_info", 29: "authenticate_file", 30: "abort_file",
    31: "activate_config", 32: "authenticate_req", 33: "authenticate_err",
}  # fmt: skip
DNP3_CONTROL = frozenset({2, 3, 4, 5, 6, 13, 14, 15, 16, 18, 21, 31})
MAX_BUFFER = 4096  # a client that sends this much without a whole frame is not speaking DNP3


def frame_length(length_octet: int) -> int:
    """Octets of a whole link frame whose length field is ``length_octet`` (at least 5)."""
    user = length_octet - 5
    return HEADER + user + 2 * ((user + BLOCK - 1) // BLOCK)


def user_data(frame: bytes) -> bytes:
    """The frame's user data without its block CRCs."""
    body, out = frame[HEADER:], bytearray()
    while body:
        out += body[:BLOCK]
        body = body[BLOCK + 2 :]
    return bytes(out)


@dataclass
class Dnp3Session:
    """Requests from the master (the client side); the outstation's responses are not events."""

    client_buf: bytearray = field(default_factory=bytearray)
    broken: bool = False

    def client_data(self, data: bytes, when: float) -> list[AppRecord]:
        if self.broken:
            return []
        self.client_buf += data
        records = []
        while len(self.client_buf) >= HEADER:
            if not self.client_buf.startswith(START) or self.client_buf[2] < 5:
                self.broken = True
                break
            size = frame_length(self.client_buf[2])
            if len(self.client_buf) < size:
                break
            frame = bytes(self.client_buf[:size])
            del self.client_buf[:size]
            record = dnp3_record(frame, when)
            if record is not None:
                records.append(record)
        if len(self.client_buf) > MAX_BUFFER:
            self.broken = True
        return records

    def server_data(self, data: bytes, when: float) -> list[AppRecord]:
        return []

    def finish(self) -> list[AppRecord]:
        return []


def dnp3_record(frame: bytes, when: float) -> AppRecord | None:
    """The event fields of one request frame; None for a link-only frame (no application)."""
    data = user_data(frame)
    if len(data) < 3:
        return None
    code = data[2]  # transport header, application control, function code
    name = DNP3_FUNCTIONS.get(code, f"function_{code}")
    control = code in DNP3_CONTROL
    fields: Event = {
        "event.category": ["network", "configuration"] if control else ["network"],
        "event.type": ["change", "protocol"] if control else ["protocol"],
        "event.action": "dnp3_" + (name if code in DNP3_FUNCTIONS else "request"),
        "event.outcome": "unknown",
        "network.protocol": "dnp3",
        "dnp3.function_code": code,
        "dnp3.function_name": name,
        "dnp3.destination_address": int.from_bytes(frame[4:6], "little"),
        "dnp3.source_address": int.from_bytes(frame[6:8], "little"),
    }
    return AppRecord("network_traffic.dnp3", when, fields)
