"""Drive a followed file through a parser into a shipper, committing offsets safely.

The tailer's position is committed only after the lines before it are stored or durable in
the disk buffer (:meth:`Shipper.put` and :meth:`Shipper.put_lines` return only then), so a
kill -9 at any moment re-reads at most the last uncommitted batch, whose events the sink then
recognises by their ids. ``citysoc collect eve --follow`` ships through a
:class:`~collectors.delivery.process.ProcessShipper`: batches go to the delivery process unparsed
whenever it is about to run out of work, placed by their byte offsets in the file.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from citysoc.core.ecs import Event
from collectors.delivery.raw_lines import RawLines
from collectors.delivery.shipper import Shipper
from collectors.sources.tail import FileTailer, Line

LineParser = Callable[[Line], Event | None]


def follow_into(
    tailer: FileTailer,
    parse: LineParser,
    shipper: Shipper,
    stop: threading.Event,
    *,
    batch_size: int = 2000,
    parser_name: str | None = None,
) -> None:
    """Parse every line the tailer gives until ``stop`` is set; ship in batches.

    Given the name of ``parse``'s batch parser (:data:`collectors.delivery.raw_lines.PARSERS`),
    a batch is handed over unparsed whenever the shipper wants lines (another process parses them).
    """
    lines: list[Line] = []
    for line in tailer.follow(stop):
        if line is not None:
            lines.append(line)
            if len(lines) < batch_size:
                continue
        if lines:
            end = lines[-1].end
            if parser_name is not None and shipper.wants_lines():
                shipper.put_lines(_unparsed(parser_name, str(tailer.path), lines, parse))
            else:
                shipper.put([event for event in map(parse, lines) if event is not None])
            tailer.commit(end)
            lines = []
        else:
            shipper.tick()


def _unparsed(parser: str, source: str, lines: list[Line], parse: LineParser) -> RawLines:
    """The whole lines as a batch to parse elsewhere; a cut line is counted here (``parse``)."""
    whole = [line for line in lines if line.complete]
    for line in lines:
        if not line.complete:
            parse(line)
    return RawLines(
        parser, source, 0, [line.data for line in whole], [line.start for line in whole]
    )
