"""NetBIOS session service framing (RFC 1002 4.3) as SMB over TCP uses it: on port 445 each
SMB message is preceded by a zero byte and a 24-bit length (MS-SMB2 2.1); on port 139 session
requests, responses and keep-alives come between them.

:class:`NetbiosFrames` cuts one direction's reassembled bytes into SMB frames. Work and memory
are bounded: a frame longer than :data:`FRAME_MAX` is passed over without being buffered
(file data), unless its header says it is a message the SMB decoder reads (then the framing
is given up), and at most :data:`FRAMES_MAX` frames are cut per direction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from collectors.packets import smbwire
from collectors.packets.smbwire import SMB2, SmbError

FRAME_MAX = 128 * 1024  # a session setup with a large Kerberos ticket fits
FRAMES_MAX = 4096
CONTROL = frozenset({0x81, 0x82, 0x83, 0x84, 0x85})  # session request ... keep-alive
CONTROL_MAX = 256  # a session request holds two encoded NetBIOS names


@dataclass
class NetbiosFrames:
    """The SMB frames of one direction, read as they complete."""

    buffer: bytearray = field(default_factory=bytearray)
    skip: int = 0  # bytes of a long frame still to pass over
    consumed: int = 0  # stream offset of ``buffer``'s first byte
    frames: int = 0
    closed: bool = False
    error: str | None = None  # why the framing was given up, once

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """New whole SMB frames ``(stream offset, frame)``; bad framing closes the direction
        and sets :attr:`error` (the frames before it are returned)."""
        if self.closed:
            return []
        if self.skip:
            passed = min(self.skip, len(data))
            self.skip -= passed
            self.consumed += passed
            data = data[passed:]
        self.buffer += data
        frames: list[tuple[int, bytes]] = []
        try:
            self._split(frames)
        except SmbError as exc:
            self.closed = True
            self.error = f"stream byte {self.consumed}: {exc}"
        return frames

    def _split(self, frames: list[tuple[int, bytes]]) -> None:
        while len(self.buffer) >= 4 and not self.closed:
            kind, length = self.buffer[0], int.from_bytes(self.buffer[1:4], "big")
            if kind in CONTROL:
                if length > CONTROL_MAX:
                    raise SmbError(f"NetBIOS control frame 0x{kind:02x} of {length} bytes")
            elif kind != 0:
                raise SmbError(f"NetBIOS frame type 0x{kind:02x}")
            elif length > FRAME_MAX:
                if len(self.buffer) < 4 + smbwire.HEADER:
                    break
                self._pass_over(length)
                continue
            if len(self.buffer) < 4 + length:
                break
            if kind == 0:
                frames.append((self.consumed, bytes(self.buffer[4 : 4 + length])))
            self._drop(4 + length)

    def _pass_over(self, length: int) -> None:
        """Skip a long frame (file data) unless it is a message the SMB decoder reads."""
        command = smbwire.u16(bytes(self.buffer[4 : 4 + smbwire.HEADER]), 12)
        if self.buffer[4:8] == SMB2 and command <= smbwire.TREE_CONNECT:
            raise SmbError(f"an SMB2 command {command} of {length} bytes")
        whole = 4 + length
        if whole <= len(self.buffer):
            self._drop(whole)
            return
        self.skip = whole - len(self.buffer)
        self._drop(len(self.buffer))

    def _drop(self, size: int) -> None:
        del self.buffer[:size]
        self.consumed += size
        self.frames += 1
        if self.frames >= FRAMES_MAX:
            self.closed = True
