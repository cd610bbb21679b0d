"""Monitoring continuity: events per segment and source per hour, and the gaps between.

Reads the event store only through its interface: :meth:`EventStore.matching` on
``organization.id`` over slices of positions up to :meth:`EventStore.head`, so one
slice's events are in memory at a time, on SQLite and on a search engine alike.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from soc_api.compliance.evidence import Context, Status, check
from soc_api.compliance.period import iso, parse_time

SLICES = 64
MIN_SLICE = 50_000
MAX_GAPS_LISTED = 20
CONTINUITY_MET = 0.99
HOUR = timedelta(hours=1)


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def hourly_counts(ctx: Context) -> tuple[Counter[tuple[str, str, str]], int]:
    """``(segment, source, hour) → events`` in the period, and events with a bad timestamp."""
    assert ctx.store is not None
    counts: Counter[tuple[str, str, str]] = Counter()
    unreadable = 0
    head = ctx.store.head()
    step = max(MIN_SLICE, -(-head // SLICES))
    after = 0
    while after < head:
        upto = min(head, after + step)
        for event in ctx.store.matching("organization.id", [ctx.agency], after=after, upto=upto):
            moment = parse_time(event.get("@timestamp"))
            if moment is None:
                unreadable += 1
                continue
            if ctx.period.start <= moment < ctx.period.end:
                segment = str(event.get("citysoc.segment") or "(none)")
                source = str(event.get("event.dataset") or event.get("event.module") or "(none)")
                counts[(segment, source, iso(_hour(moment)))] += 1
        after = upto
    return counts, unreadable


def gaps(hours_seen: set[str], start: datetime, end: datetime) -> list[tuple[str, str]]:
    """Runs of hours with no event, as ``(start, end)`` with ``end`` exclusive."""
    found: list[tuple[str, str]] = []
    run: datetime | None = None
    moment = start
    while moment < end:
        if iso(moment) in hours_seen:
            if run is not None:
                found.append((iso(run), iso(moment)))
                run = None
        elif run is None:
            run = moment
        moment += HOUR
    if run is not None:
        found.append((iso(run), iso(end)))
    return found


@check("event_flow")
def event_flow(ctx: Context) -> tuple[Status, list[str], dict[str, Any]]:
    """event store: events of the agency (organization.id) by @timestamp in the period, counted per
    segment, source (event.dataset) and hour; hours without any event are gaps
    """
    if ctx.store is None:
        return Status.NOT_MET, ["no event store was given: continuity cannot be shown"], {}
    counts, unreadable = hourly_counts(ctx)
    total_hours = int((ctx.period.end - ctx.period.start) / HOUR)
    segments: dict[str, Any] = {}
    findings: list[str] = []
    if unreadable:
        findings.append(f"{unreadable} events of the agency have no readable @timestamp")
    worst = 1.0
    for seg in [s.id for s in ctx.segments()]:
        hours = {h for (s, _src, h) in counts if s == seg}
        by_source = Counter[str]()
        for (s, src, _h), n in counts.items():
            if s == seg:
                by_source[src] += n
        runs = gaps(hours, ctx.period.start, ctx.period.end)
        share = len(hours) / total_hours if total_hours else 0.0
        worst = min(worst, share)
        longest = sorted(runs, key=lambda r: (parse_time(r[0]) - parse_time(r[1]), r[0]))  # type: ignore[operator]
        segments[seg] = {
            "events": sum(by_source.values()),
            "by_source": dict(sorted(by_source.items())),
            "hours_with_events": len(hours),
            "hours_in_period": total_hours,
            "continuity": round(share, 4),
            "gaps": len(runs),
            "longest_gaps": [{"start": a, "end": b} for a, b in longest[:MAX_GAPS_LISTED]],
        }
        if not hours:
            findings.append(f"segment {seg}: no event at all in {ctx.period.name}")
        elif share < CONTINUITY_MET:
            findings.append(
                f"segment {seg}: events in {len(hours)} of {total_hours} hours "
                f"({share:.1%}); {len(runs)} gaps, the longest {longest[0][0]} to {longest[0][1]}"
            )
    if not segments:
        return Status.NOT_MET, ["the agency has no segment"], {}
    hourly = [
        {"segment": s, "source": src, "hour": h, "events": n}
        for (s, src, h), n in sorted(counts.items())
    ]
    data = {"segments": segments, "hourly": hourly, "unreadable_timestamps": unreadable}
    if worst >= CONTINUITY_MET and not unreadable:
        return Status.MET, findings, data
    any_events = any(v["events"] for v in segments.values())
    return (Status.PARTLY_MET if any_events else Status.NOT_MET), findings, data
