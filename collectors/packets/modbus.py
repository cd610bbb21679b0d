"""Modbus/TCP: requests paired with their responses, one event per request.

Each event names the function (``modbus.function_code`` and ``modbus.function_name``), the
unit id and transaction id, the register or coil address and quantity, the value written by
the single-write functions (5 and 6), and for an exception response its code and name with
``event.outcome: failure``. Writes (5, 6, 15, 16, 22, 23) are ``event.type: change``, so a
rule can ask for "writes from a host that is not an engineering workstation".
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from citysoc.core.ecs import Event
from collectors.packets.protocols import AppRecord

MODBUS_FUNCTIONS = {
    1: "read_coils",
    2: "read_discrete_inputs",
    3: "read_holding_registers",
    4: "read_input_registers",
    5: "write_single_coil",
    6: "write_single_register",
    7: "read_exception_status",
    8: "diagnostics",
    15: "write_multiple_coils",
    16: "write_multiple_registers",
    17: "report_server_id",
    22: "mask_write_register",
    23: "read_write_multiple_registers",
    43: "encapsulated_interface",
}
MODBUS_WRITES = frozenset({5, 6, 15, 16, 22, 23})
MODBUS_EXCEPTIONS = {
    1: "illegal_function",
    2: "illegal_data_address",
    3: "illegal_data_value",
    4: "server_device_failure",
    5: "acknowledge",
    6: "server_device_busy",
    8: "memory_parity_error",
    10: "gateway_path_unavailable",
    11: "gateway_target_failed_to_respond",
}
ADDRESSED = frozenset({1, 2, 3, 4, 5, 6, 15, 16})
MAX_OPEN = 256  # requests awaiting a response; older ones are reported unanswered
Request = tuple[float, bytes]


@dataclass
class ModbusSession:
    """Modbus/TCP requests (MBAP framing) paired with responses by transaction and unit id."""

    client_buf: bytearray = field(default_factory=bytearray)
    server_buf: bytearray = field(default_factory=bytearray)
    open: dict[tuple[int, int], Request] = field(default_factory=dict)
    broken: bool = False

    def client_data(self, data: bytes, when: float) -> list[AppRecord]:
        records = []
        for tid, unit, pdu in self._frames(self.client_buf, data):
            self.open[(tid, unit)] = (when, pdu)
            if len(self.open) > MAX_OPEN:
                (old_tid, old_unit), request = next(iter(self.open.items()))
                del self.open[(old_tid, old_unit)]
                records.append(modbus_record(old_tid, old_unit, request, None))
        return records

    def server_data(self, data: bytes, when: float) -> list[AppRecord]:
        records = []
        for tid, unit, pdu in self._frames(self.server_buf, data):
            request = self.open.pop((tid, unit), None)
            if request is not None:
                records.append(modbus_record(tid, unit, request, pdu))
        return records

    def finish(self) -> list[AppRecord]:
        records = [modbus_record(t, u, req, None) for (t, u), req in self.open.items()]
        self.open.clear()
        return records

    def _frames(self, buf: bytearray, data: bytes) -> list[tuple[int, int, bytes]]:
        if self.broken:
            return []
        buf += data
        frames = []
        while len(buf) >= 8:
            tid, proto, length, unit = struct.unpack_from("!HHHB", buf, 0)
            if proto != 0 or not 2 <= length <= 254:
                self.broken = True
                break
            if len(buf) < 6 + length:
                break
            frames.append((tid, unit, bytes(buf[7 : 6 + length])))
            del buf[: 6 + length]
        return frames


def modbus_record(tid: int, unit: int, request: Request, response: bytes | None) -> AppRecord:
    """The event fields of one request and its response (``None``: none was seen)."""
    when, pdu = request
    code = pdu[0]
    name = MODBUS_FUNCTIONS.get(code, f"function_{code}")
    fields: Event = {
        # A write changes a controller's settings: ECS files "change" under configuration.
        "event.category": ["network", "configuration"] if code in MODBUS_WRITES else ["network"],
        "event.type": ["change", "protocol"] if code in MODBUS_WRITES else ["protocol"],
        "event.action": "modbus_" + (name if code in MODBUS_FUNCTIONS else "request"),
        "network.protocol": "modbus",
        "modbus.function_code": code,
        "modbus.function_name": name,
        "modbus.unit_id": unit,
        "modbus.transaction_id": tid,
        "event.outcome": "unknown",
    }
    if code in ADDRESSED and len(pdu) >= 5:
        address, value = struct.unpack_from("!HH", pdu, 1)
        fields["modbus.register.address"] = address
        if code in (5, 6):
            fields["modbus.register.value"] = value
        else:
            fields["modbus.register.quantity"] = value
    if response:
        fields["event.outcome"] = "success"
        if response[0] & 0x80:
            exception = response[1] if len(response) > 1 else 0
            fields["event.outcome"] = "failure"
            fields["modbus.exception_code"] = exception
            fields["modbus.exception_name"] = MODBUS_EXCEPTIONS.get(exception, "unknown")
    return AppRecord("network_traffic.modbus", when, fields)
