"""Lines a source has read but not parsed, so that another process can parse them.

Parsing EVE costs more than storing it. When ``citysoc collect eve FILE`` delivers from a second
process (:mod:`collectors.delivery.process`) and that process is about to run out of work, the
reading process hands it the next batch of lines as they are (a :class:`RawLines` record in the
disk buffer) instead of parsing them itself: both cores then parse. Whoever delivers the record
parses and enriches it with :class:`RawParsing`, counting bad lines as the reading process would
have, with their file and line number.

A record names its parser; only the parsers in ``PARSERS`` can be named.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from citysoc.core.ecs import Event
from citysoc.core.errors import CollectorError, Location
from collectors.enrich import Enrich
from collectors.stats import CollectorStats

LineParser = Callable[["RawLines", CollectorStats], list[Event]]
PARSERS = {"suricata.eve": "collectors.sources.eve:parse_lines"}


@dataclass(frozen=True)
class RawLines:
    """Whole lines of ``source`` starting at line ``first_line``, each with its newline.

    Lines of a followed file, whose line numbers are not known, are placed by the byte offset
    of each line in ``starts`` instead (``first_line`` is then 0).
    """

    parser: str
    source: str
    first_line: int
    lines: list[bytes]
    starts: list[int] | None = None

    def location(self, index: int) -> Location:
        """Where the line at ``index`` of the batch is in its source."""
        if self.starts is None:
            return Location(self.source, line=self.first_line + index)
        return Location(self.source, offset=self.starts[index])

    def __len__(self) -> int:
        return len(self.lines)


def parser_named(name: str) -> LineParser:
    """The parser a record names; :class:`CollectorError` for a name this version lacks."""
    target = PARSERS.get(name)
    if target is None:
        raise CollectorError(f"no parser named {name!r} for buffered lines")
    module, _, function = target.partition(":")
    parser: LineParser = getattr(importlib.import_module(module), function)
    return parser


class RawParsing:
    """Parses and enriches buffered lines, counting what it finds in ``stats``."""

    def __init__(self, enrich: Enrich, stats: CollectorStats) -> None:
        self.enrich = enrich
        self.stats = stats

    def __call__(self, raw: RawLines) -> list[Event]:
        enrich = self.enrich
        return [enrich(event) for event in parser_named(raw.parser)(raw, self.stats)]
