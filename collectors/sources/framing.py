"""Split a syslog TCP byte stream into messages (RFC 6587).

Two framings share a connection, chosen per message by its first byte: octet counting
(``<length> <message>``, the length in ASCII digits, when the frame starts with a digit
1-9) and non-transparent framing (messages end with LF; a NUL also ends one, as some
senders use it). A message over ``max_message`` bytes is cut to that size, marked
``truncated``, and the rest of it is skipped; a stream never grows the decoder's memory
beyond about ``max_message`` bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_MESSAGE = 64 * 1024
MAX_LENGTH_DIGITS = 10


@dataclass(frozen=True)
class Frame:
    data: bytes
    truncated: bool = False


NOT_COUNTED = Frame(b"not octet-counted")


class FrameDecoder:
    """Feed it bytes as they arrive; it returns the complete messages in them."""

    def __init__(self, max_message: int = MAX_MESSAGE) -> None:
        self.max_message = max_message
        self._buffer = bytearray()
        self._skip = 0  # bytes of an oversized octet-counted frame still to throw away
        self._skip_line = False  # throwing away an oversized line up to its LF

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while self._buffer:
            if self._skip:
                dropped = min(self._skip, len(self._buffer))
                del self._buffer[:dropped]
                self._skip -= dropped
                continue
            frame = self._next_frame()
            if frame is None:
                break
            if frame.data or frame.truncated:
                frames.append(frame)
        return frames

    def finish(self) -> list[Frame]:
        """The connection closed: what is left is one last (unterminated) message."""
        rest, self._buffer = bytes(self._buffer), bytearray()
        if self._skip or self._skip_line or not rest.strip():
            return []
        return [Frame(rest[: self.max_message], truncated=len(rest) > self.max_message)]

    def _next_frame(self) -> Frame | None:
        if self._skip_line:
            return self._skip_to_line_end()
        if self._buffer[:1].isdigit() and self._buffer[:1] != b"0":
            counted = self._octet_counted()
            if counted is not NOT_COUNTED:
                return counted
        return self._line()

    def _octet_counted(self) -> Frame | None:
        """The next octet-counted frame, ``None`` to wait for more, or :data:`NOT_COUNTED`."""
        space = self._buffer.find(b" ", 0, MAX_LENGTH_DIGITS + 1)
        if space == -1:
            head = bytes(self._buffer[: MAX_LENGTH_DIGITS + 1])
            waiting = len(head) <= MAX_LENGTH_DIGITS and head.isdigit()
            return None if waiting else NOT_COUNTED
        digits = bytes(self._buffer[:space])
        if not digits.isdigit():
            return NOT_COUNTED
        length = int(digits)
        start = space + 1
        if length > self.max_message:
            if len(self._buffer) < start + self.max_message:
                return None
            data = bytes(self._buffer[start : start + self.max_message])
            del self._buffer[: start + self.max_message]
            self._skip = length - self.max_message
            return Frame(data, truncated=True)
        if len(self._buffer) < start + length:
            return None
        data = bytes(self._buffer[start : start + length])
        del self._buffer[: start + length]
        return Frame(data.rstrip(b"\r\n"))

    def _line(self) -> Frame | None:
        end = _line_end(self._buffer, self.max_message + 1)
        if end == -1:
            if len(self._buffer) <= self.max_message:
                return None
            data = bytes(self._buffer[: self.max_message])
            del self._buffer[: self.max_message]
            self._skip_line = True
            return Frame(data, truncated=True)
        data = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return Frame(data.rstrip(b"\r"))

    def _skip_to_line_end(self) -> Frame | None:
        end = _line_end(self._buffer, len(self._buffer))
        if end == -1:
            del self._buffer[:]
            return None
        del self._buffer[: end + 1]
        self._skip_line = False
        return Frame(b"")


def _line_end(buffer: bytearray, limit: int) -> int:
    """Index of the first LF or NUL within ``limit`` bytes, or -1."""
    ends = [i for i in (buffer.find(b"\n", 0, limit), buffer.find(b"\0", 0, limit)) if i != -1]
    return min(ends) if ends else -1
