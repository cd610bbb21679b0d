"""The payload format of a disk buffer record: a batch of events as bytes, and back.

Format 3 (written now) is one format byte ``0x03``, the ``marshal`` version byte, then the
batch as ``marshal`` data in columns: ``(groups, order)``. Each group holds the events that
have the same fields, as ``(names, rows)`` with one tuple of values per event; ``order`` gives
each event's group, so the events read back in the order they were written. The embedded store
inserts a group's rows as they are (one ``executemany``), and the field names are written once
per group instead of once per event. A batch with a value ``marshal`` cannot write (an enum, a
path, ...) goes through JSON first, so such values read back as format 1 gave them (their
``str``, or lists).

Format 4 is a batch of lines not yet parsed (:class:`~collectors.delivery.raw_lines.RawLines`): the
format byte ``0x04``, the ``marshal`` version byte, then ``(parser, source, first_line,
lines)`` as ``marshal`` data. Whoever delivers it parses it first. Format 5 is the same for
lines placed by their byte offsets (a followed file): ``(parser, source, starts, lines)``.

Formats 2 (a ``marshal`` list of event dicts) and 1 (a JSON array: its payload starts with
``[``) are still read, so an upgrade delivers what an older collector left behind. Anything
else, or a newer ``marshal`` version, raises :class:`UnknownFormatError`: the record stays on
disk for the version that wrote it. Records are only ever read from our own buffer directory,
after their CRC-32 has matched.
"""

from __future__ import annotations

import json
import marshal
from collections.abc import Iterator, Sequence
from typing import Any, overload

from citysoc.core.ecs import Event, EventGroup
from citysoc.core.errors import CollectorError
from collectors.delivery.raw_lines import RawLines

RAW_FORMAT = 4
PLACED_RAW_FORMAT = 5
GROUPED_FORMAT = 3
DICTS_FORMAT = 2
_GROUPED_PREFIX = bytes((GROUPED_FORMAT, marshal.version))
_RAW_PREFIX = bytes((RAW_FORMAT, marshal.version))
_PLACED_RAW_PREFIX = bytes((PLACED_RAW_FORMAT, marshal.version))
_JSON_START = ord("[")


class UnknownFormatError(CollectorError):
    """A buffer record written in a format this version cannot read."""


class EventGroups(Sequence[Event]):
    """A batch of events held by field set (see the module docstring); a sequence of events.

    Sinks that take rows (the embedded store) read :attr:`groups`; the others iterate events,
    which are made once, on first use, in the order they were written.
    """

    __slots__ = ("_events", "groups", "order")

    def __init__(self, groups: list[EventGroup], order: bytes | list[int]) -> None:
        self.groups = groups
        self.order = order
        self._events: list[Event] | None = None

    @classmethod
    def of(cls, events: Sequence[Event]) -> EventGroups:
        """``events`` grouped by field set (a batch that is grouped already is returned)."""
        if isinstance(events, EventGroups):
            return events
        index: dict[tuple[str, ...], int] = {}
        groups: list[EventGroup] = []
        order: list[int] = []
        for event in events:
            names = tuple(event)
            at = index.get(names)
            if at is None:
                at = index[names] = len(groups)
                groups.append((names, []))
            groups[at][1].append(tuple(event.values()))
            order.append(at)
        return cls(groups, bytes(order) if len(groups) <= 256 else order)

    @classmethod
    def join(cls, batches: Sequence[Sequence[Event]]) -> EventGroups:
        """Several batches as one, in order (their groups are not merged: no need)."""
        groups: list[EventGroup] = []
        order: list[int] = []
        for batch in map(cls.of, batches):
            base = len(groups)
            groups += batch.groups
            order += [base + at for at in batch.order]
        return cls(groups, bytes(order) if len(groups) <= 256 else order)

    def as_json_values(self) -> None:
        """Every value as JSON gives it back (``str`` of other objects), in place."""
        self.groups = [
            (names, [tuple(_as_json(list(row))) for row in rows]) for names, rows in self.groups
        ]
        self._events = None

    def events(self) -> list[Event]:
        """The events as dicts, in the order they were written."""
        if self._events is None:
            names = [group[0] for group in self.groups]
            rows = [iter(group[1]) for group in self.groups]
            self._events = [dict(zip(names[at], next(rows[at]), strict=True)) for at in self.order]
        return self._events

    def __len__(self) -> int:
        return len(self.order)

    @overload
    def __getitem__(self, index: int) -> Event: ...
    @overload
    def __getitem__(self, index: slice) -> list[Event]: ...
    def __getitem__(self, index: int | slice) -> Event | list[Event]:
        return self.events()[index]

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return self.events() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # a batch is compared by its events

    def __repr__(self) -> str:
        return f"EventGroups({len(self)} events in {len(self.groups)} groups)"


def _as_json(values: list[Any]) -> list[Any]:
    decoded: list[Any] = json.loads(json.dumps(values, separators=(",", ":"), default=str))
    return decoded


def encode_batch(events: Sequence[Event]) -> bytes:
    """A batch as a format-3 payload."""
    batch = EventGroups.of(events)
    try:
        return _GROUPED_PREFIX + marshal.dumps((batch.groups, batch.order))
    except ValueError:  # a value marshal cannot write: the batch goes through JSON
        batch.as_json_values()
        return _GROUPED_PREFIX + marshal.dumps((batch.groups, batch.order))


def encode_lines(batch: RawLines) -> bytes:
    """Lines not yet parsed as a format-4 payload (format 5 if placed by byte offsets)."""
    if batch.starts is not None:
        fields = (batch.parser, batch.source, batch.starts, batch.lines)
        return _PLACED_RAW_PREFIX + marshal.dumps(fields)
    return _RAW_PREFIX + marshal.dumps((batch.parser, batch.source, batch.first_line, batch.lines))


def decode_batch(payload: bytes) -> Sequence[Event] | RawLines | None:
    """The events (or lines) of a payload whose CRC matched; ``None`` if it does not decode."""
    if not payload:
        return None
    kind = payload[0]
    try:
        if (
            kind in (PLACED_RAW_FORMAT, RAW_FORMAT, GROUPED_FORMAT, DICTS_FORMAT)
            and len(payload) > 1
        ):
            if payload[1] > marshal.version:
                raise UnknownFormatError(
                    f"record written with marshal version {payload[1]}, "
                    f"this Python reads up to {marshal.version}"
                )
            data = marshal.loads(memoryview(payload)[2:])  # noqa: S302 our own, CRC-checked
            if kind == RAW_FORMAT:
                return _raw_lines(*data)
            if kind == PLACED_RAW_FORMAT:
                return _placed_raw_lines(*data)
            if kind == GROUPED_FORMAT:
                groups, order = data
                return EventGroups(groups, order)
            events = data
        elif kind == _JSON_START:
            events = json.loads(payload)
        else:
            raise UnknownFormatError(f"record in unknown format {kind}")
    except (ValueError, EOFError, TypeError):
        return None
    return events if isinstance(events, list) else None


def _raw_lines(parser: object, source: object, first_line: object, lines: object) -> RawLines:
    if not (
        isinstance(parser, str)
        and isinstance(source, str)
        and isinstance(first_line, int)
        and isinstance(lines, list)
    ):
        raise TypeError("not a batch of lines")
    return RawLines(parser, source, first_line, lines)


def _placed_raw_lines(parser: object, source: object, starts: object, lines: object) -> RawLines:
    batch = _raw_lines(parser, source, 0, lines)
    if not (isinstance(starts, list) and len(starts) == len(batch.lines)):
        raise TypeError("not a batch of placed lines")
    return RawLines(batch.parser, batch.source, 0, batch.lines, starts)
