"""One direction of a TCP connection put back in order: retransmissions dropped, segments
that arrive early held until the gap before them fills (or too many pile up)."""

from __future__ import annotations

from dataclasses import dataclass, field

MOD = 2**32
MAX_PENDING = 64


@dataclass
class Stream:
    """Bytes of one direction, in sequence order; :meth:`feed` returns the new in-order bytes."""

    next_seq: int | None = None
    pending: dict[int, bytes] = field(default_factory=dict)
    gaps: int = 0

    def start(self, isn: int) -> None:
        """The SYN's sequence number: data starts one after it."""
        if self.next_seq is None:
            self.next_seq = (isn + 1) % MOD

    def feed(self, seq: int, payload: bytes) -> bytes:
        if not payload:
            return b""
        if self.next_seq is None:  # capture started mid-connection
            self.next_seq = seq
        ahead = (seq - self.next_seq) % MOD
        if ahead >= MOD // 2:  # starts before what we have: keep only the new tail
            overlap = (self.next_seq - seq) % MOD
            if overlap >= len(payload):
                return b""
            payload, ahead = payload[overlap:], 0
        if ahead:
            self.pending[seq] = payload
            if len(self.pending) <= MAX_PENDING:
                return b""
            self.gaps += 1  # give up on the hole: continue from the earliest held segment
            base = self.next_seq
            self.next_seq = min(self.pending, key=lambda s: (s - base) % MOD)
            return self._drain()
        out = bytearray(payload)
        self.next_seq = (self.next_seq + len(payload)) % MOD
        out += self._drain()
        return bytes(out)

    def _drain(self) -> bytes:
        out = bytearray()
        while self.next_seq in self.pending:
            chunk = self.pending.pop(self.next_seq)
            out += chunk
            self.next_seq = (self.next_seq + len(chunk)) % MOD
        return bytes(out)
