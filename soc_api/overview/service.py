"""The overview's numbers, read in SQL within the caller's agencies.

Alerts are counted by when they were first seen. An agency's analyst sees their agencies in
full and the rest of the city only as totals: one count of other agencies' alerts in the
period, one count of their open alerts, and other agencies' segments by kind alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, literal_column, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from citysoc.core.topology import Topology
from soc_api.alerts.models import SEVERITY_RISK, Alert, AlertStatus
from soc_api.alerts.queries import moment_text
from soc_api.auth.models import Principal
from soc_api.auth.permissions import require_reader
from soc_api.overview.models import (
    SEVERITIES,
    SPANS,
    AgencyCount,
    EntityCount,
    Overview,
    Period,
    RuleCount,
    SegmentState,
    TimeBucket,
)

TOP = 10
MAX_BUCKETS = 60
# Bucket widths, seconds: the narrowest that gives at most MAX_BUCKETS bars is used.
BUCKETS = (60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400)
KIND_ORDER = ("datacentre", "ioc", "camera", "ics", "soc", "management", "unplaced")
_RANK = case(SEVERITY_RISK, value=Alert.severity, else_=0)
_BY_RANK = {rank: name for name, rank in SEVERITY_RISK.items()}
_OPEN = Alert.status != AlertStatus.CLOSED.value


def grouped(column: ColumnElement[Any] | InstrumentedAttribute[Any]) -> ColumnElement[str]:
    """``column`` as an expression to group by: SQLite would otherwise walk an index on the
    column for its order and fetch every row from it (seconds on 200,000 alerts) rather than
    read the period's rows and group them (a tenth of that)."""
    return func.coalesce(column, literal_column("''"))


def bucket_width(span: timedelta) -> int:
    seconds = max(1.0, span.total_seconds())
    return next((size for size in BUCKETS if seconds / size <= MAX_BUCKETS), BUCKETS[-1])


def floor_moment(moment: datetime, width: int) -> datetime:
    """The start of the bucket holding ``moment``: weeks start on Monday, others on the epoch."""
    if width >= 7 * 86400:
        day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        return day - timedelta(days=day.weekday())
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % width, UTC)


def _mine(agencies: Sequence[str] | None) -> list[ColumnElement[bool]]:
    return [] if agencies is None else [Alert.agency.in_(agencies)]


def _others(agencies: Sequence[str]) -> list[ColumnElement[bool]]:
    return [Alert.agency.not_in(agencies)] if agencies else []


def _window(
    session: Session, mine: list[ColumnElement[bool]], period: Period, now: datetime
) -> tuple[datetime | None, datetime, int]:
    """(since, until, bucket width) of the period; ``since`` is None when there is nothing."""
    span = SPANS[period]
    if span is not None:
        width = bucket_width(span)
        return (
            floor_moment(now - span, width),
            floor_moment(now, width) + timedelta(seconds=width),
            width,
        )
    first, last = session.execute(
        select(func.min(Alert.first_seen), func.max(Alert.first_seen)).where(*mine)
    ).one()
    if first is None:
        return None, now, BUCKETS[0]
    start, end = _parse(first), _parse(last)
    width = bucket_width(end - start)
    return floor_moment(start, width), floor_moment(end, width) + timedelta(seconds=width), width


def _parse(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def timeline(
    session: Session, where: list[ColumnElement[bool]], since: datetime, until: datetime, width: int
) -> list[TimeBucket]:
    """Every bucket from ``since`` to ``until``, empty ones included, by severity."""
    chars = 16 if width < 3600 else 13 if width < 86400 else 10  # minute, hour, day
    key = func.substr(Alert.first_seen, literal_column("1"), literal_column(str(chars))).label(
        "key"
    )
    rows = session.execute(
        select(key, Alert.severity, func.count()).where(*where).group_by(key, Alert.severity)
    ).all()
    counts: dict[datetime, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SEVERITIES, 0))
    for text, severity, count in rows:
        start = floor_moment(_parse(str(text)), width)
        bucket = counts[start]
        bucket[severity if severity in bucket else "informational"] += int(count)
    step = timedelta(seconds=width)
    buckets, start = [], since
    while start < until:
        found = counts.get(start, dict.fromkeys(SEVERITIES, 0))
        buckets.append(
            TimeBucket(
                start=moment_text(start),
                end=moment_text(start + step),
                counts=found,
                total=sum(found.values()),
            )
        )
        start += step
    return buckets


def overview(
    session: Session,
    *,
    who: Principal,
    topology: Topology,
    period: Period = Period.MONTH,
    now: datetime | None = None,
) -> Overview:
    """The overview as ``who`` may see it."""
    require_reader(who)
    now = now or datetime.now(UTC)
    agencies = who.agencies
    mine = _mine(agencies)
    since, until, width = _window(session, mine, period, now)
    inside = (
        [Alert.first_seen >= moment_text(since), Alert.first_seen < moment_text(until)]
        if (since is not None)
        else [Alert.id < 0]
    )
    where = [*mine, *inside]
    total, latest = session.execute(
        select(func.count().filter(*inside), func.max(Alert.first_seen)).where(*mine)
    ).one()
    open_total = session.scalar(select(func.count()).where(*mine, _OPEN)) or 0
    agency_key = grouped(Alert.agency).label("agency")
    by_agency = [
        AgencyCount(agency=agency, name=_agency_name(topology, agency), count=int(count))
        for agency, count in session.execute(
            select(agency_key, func.count())
            .where(*where)
            .group_by(agency_key)
            .order_by(func.count().desc(), agency_key)
        ).all()
    ]
    others = open_elsewhere = None
    if agencies is not None:
        whenever = inside if SPANS[period] is not None else []  # "all": not the caller's span
        others = session.scalar(select(func.count()).where(*_others(agencies), *whenever)) or 0
        open_elsewhere = session.scalar(select(func.count()).where(*_others(agencies), _OPEN)) or 0
    return Overview(
        period=period,
        since=None if since is None else moment_text(since),
        until=moment_text(until),
        bucket_seconds=width,
        total=int(total or 0),
        open_total=int(open_total),
        latest=latest,
        timeline=[] if since is None else timeline(session, where, since, until, width),
        by_agency=by_agency,
        other_agencies=others,
        top_rules=top_rules(session, where),
        top_entities=top_entities(session, where),
        segments=segment_states(session, mine, topology, agencies),
        open_elsewhere=open_elsewhere,
    )


def _agency_name(topology: Topology, agency: str) -> str:
    found = topology.agencies.get(agency)
    return found.name if found else agency


def top_rules(session: Session, where: list[ColumnElement[bool]]) -> list[RuleCount]:
    rule = grouped(Alert.rule_name).label("rule")
    rows = session.execute(
        select(rule, func.min(Alert.title), func.max(_RANK), func.count())
        .where(*where)
        .group_by(rule)
        .order_by(func.count().desc(), func.max(_RANK).desc(), rule)
        .limit(TOP)
    ).all()
    return [
        RuleCount(
            rule=rule, title=title, severity=_BY_RANK.get(rank, "informational"), count=int(count)
        )
        for rule, title, rank, count in rows
    ]


def top_entities(session: Session, where: list[ColumnElement[bool]]) -> list[EntityCount]:
    attacker = grouped(Alert.attacker).label("attacker")
    rows = session.execute(
        select(attacker, func.count(), func.count(func.distinct(Alert.agency)))
        .where(*where, Alert.attacker.is_not(None), Alert.attacker != "")
        .group_by(attacker)
        .order_by(func.count().desc(), attacker)
        .limit(TOP)
    ).all()
    return [EntityCount(entity=e, count=int(c), agencies=int(a)) for e, c, a in rows]


def segment_states(
    session: Session,
    mine: list[ColumnElement[bool]],
    topology: Topology,
    agencies: Sequence[str] | None,
) -> list[SegmentState]:
    """Every segment of the topology with its open alerts, in kind order; open alerts placed
    outside the topology come last, as kind ``unplaced``."""
    found: dict[str, dict[str, Any]] = {}
    segment_key, agency_key = grouped(Alert.segment).label("s"), grouped(Alert.agency).label("a")
    for segment, agency, rank, count in session.execute(
        select(segment_key, agency_key, func.max(_RANK), func.count())
        .where(*mine, _OPEN)
        .group_by(segment_key, agency_key)
    ).all():
        seen = found.setdefault(segment, {"count": 0, "rank": 0, "agency": agency})
        seen["count"] += int(count)
        seen["rank"] = max(seen["rank"], int(rank or 0))
    states = []
    for seg in topology.model.segments:
        entry: dict[str, Any] | None = found.pop(seg.id, None)
        if agencies is not None and seg.agency not in agencies and entry is None:
            states.append(
                SegmentState(
                    segment=None,
                    name=None,
                    kind=seg.kind,
                    agency=None,
                    visible=False,
                    open_alerts=None,
                    worst_severity=None,
                )
            )
            continue
        states.append(_state(seg.id, seg.name, seg.kind, seg.agency, entry))
    for segment, entry in sorted(found.items()):
        states.append(_state(segment, None, "unplaced", str(entry["agency"]), entry))
    states.sort(key=lambda s: KIND_ORDER.index(s.kind) if s.kind in KIND_ORDER else 99)
    return states


def _state(
    segment: str, name: str | None, kind: str, agency: str, entry: dict[str, Any] | None
) -> SegmentState:
    count = int(entry["count"]) if entry else 0
    worst = _BY_RANK.get(int(entry["rank"])) if entry else None
    return SegmentState(
        segment=segment,
        name=name,
        kind=kind,
        agency=agency,
        visible=True,
        open_alerts=count,
        worst_severity=worst,
    )
