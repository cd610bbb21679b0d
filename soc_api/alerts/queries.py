"""Read alerts: always within the caller's agencies, with filters, sort and paging."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, Select, func, literal_column, select
from sqlalchemy.orm import Session

from citysoc.core.ecs import Event
from citysoc.core.errors import NotFoundError
from citysoc.core.query import Condition, compile_query
from eventstore.base import EventStore
from soc_api.alerts.models import Alert, AlertFilter, AlertPublic, SortKey, severity_rank_sql
from soc_api.auth.models import Principal
from soc_api.auth.permissions import require_reader
from soc_api.db import CompiledTexts
from soc_api.search.alert_sql import alert_schema, to_sql
from soc_api.state_cache import StateCache

# written as the severity indexes write it (migration 0010), so the sort reads them
_SEVERITY_RANK = literal_column(severity_rank_sql("alerts.severity"), Integer)

PAGES = CompiledTexts(entries=1024)
"""The queue's page statements without a search, compiled once for each caller's agencies,
filters, order and page (:class:`soc_api.db.CompiledTexts`)."""

TOTALS = StateCache(entries=1024, max_age=10.0, one_at_a_time=False, isolate=False)
"""The queue's totals, counted once per state of the alerts (:mod:`soc_api.state_cache`): a
count is a few milliseconds, so an entry lives 10 s at most, and counts of different callers
and filters never wait for each other."""


def moment_text(value: datetime) -> str:
    """A time as alerts store theirs (``2026-11-20T02:10:05.000Z``), so text compares in order;
    beyond the calendar's ends in UTC, its end."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        value = (datetime.min if value.year == 1 else datetime.max).replace(tzinfo=UTC)
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def alert_query(
    *,
    agencies: Sequence[str] | None,
    filters: AlertFilter,
    dialect: str = "sqlite",
    condition: Condition | None = None,
    narrow: bool = True,
) -> Select[Alert]:
    """The alerts one caller may see (``agencies=None`` means all), filtered; ``filters.q``
    is a query in the search language (:mod:`citysoc.core.query`), a QueryError if it
    cannot be read; ``condition`` one already bound to the alert fields (pivots);
    ``narrow=False``: searches of titles without their trigram table (:func:`_page_query`)."""
    query = select(Alert)
    if condition is not None:
        query = query.where(to_sql(condition, dialect=dialect, narrow=narrow))
    if agencies is not None:
        query = query.where(Alert.agency.in_(agencies))
    if filters.status:
        query = query.where(Alert.status == filters.status.value)
    if filters.severity:
        query = query.where(Alert.severity == filters.severity.value)
    if filters.rule:
        query = query.where(Alert.rule_name == filters.rule)
    if filters.agency:
        query = query.where(Alert.agency == filters.agency)
    if filters.assignee:
        query = query.where(Alert.assignee == filters.assignee)
    if filters.segment:
        query = query.where(Alert.segment == filters.segment)
    if filters.attacker:
        query = query.where(Alert.attacker == filters.attacker)
    if filters.since:
        query = query.where(Alert.first_seen >= moment_text(filters.since))
    if filters.until:
        query = query.where(Alert.first_seen < moment_text(filters.until))
    if filters.q:
        condition = compile_query(filters.q, alert_schema())
        if condition is not None:
            query = query.where(to_sql(condition, dialect=dialect, narrow=narrow))
    return query


def _ordered(query: Select[Alert], sort: SortKey) -> Select[Alert]:
    if sort is SortKey.NEWEST:
        return query.order_by(Alert.last_seen.desc(), Alert.id.desc())
    if sort is SortKey.OLDEST:
        return query.order_by(Alert.first_seen.asc(), Alert.id.asc())
    if sort is SortKey.SEVERITY:
        return query.order_by(_SEVERITY_RANK.desc(), Alert.last_seen.desc(), Alert.id.desc())
    return query.order_by(Alert.risk_score.desc(), Alert.last_seen.desc(), Alert.id.desc())


def _total_key(who: Principal, filters: AlertFilter, condition: Condition | None) -> Hashable:
    """Everything a total depends on besides the state: the caller's agencies, every filter
    but the order, the pivot's condition (its ``repr``, which tells ``1`` from ``True``)."""
    agencies = None if who.agencies is None else tuple(sorted(set(who.agencies)))
    given = tuple(filters.model_dump(exclude={"sort"}).items())
    return ("alert total", agencies, given, None if condition is None else repr(condition))


def _total(session: Session, query: Select[Alert], key: Hashable) -> int:
    """How many alerts ``query`` finds, counted once per state of the alerts."""
    count = select(func.count()).select_from(query.order_by(None).subquery())
    return TOTALS.get(session, key, lambda reader: int(reader.scalar(count) or 0))


def _page_query(
    session: Session, query: Select[Alert], total: int, end: int, again: Callable[[], Select[Alert]]
) -> Select[Alert]:
    """The query of a page ending at alert ``end`` of ``total``. On SQLite a search of titles
    takes its candidates from their trigram table, and the page then fetches and sorts every
    alert found: about ``total`` rows, where reading in the queue's order until the page is
    full reads about ``end`` × alerts / ``total``. When that is fewer (a search that finds
    many alerts: 18,744 of 100,000 for ``camera``) the page is read in order, without the
    table (``again``: the same query, ``narrow=False``); the total keeps the table."""
    if session.get_bind().dialect.name != "sqlite" or total <= end:
        return query
    alerts = session.scalar(select(func.max(Alert.id))) or 0
    return query if total * total <= end * alerts else again()


def list_alerts(
    session: Session,
    *,
    who: Principal,
    filters: AlertFilter | None = None,
    limit: int = 50,
    offset: int = 0,
    condition: Condition | None = None,
) -> tuple[int, list[Alert]]:
    require_reader(who)
    filters = filters or AlertFilter()
    dialect = session.get_bind().dialect.name
    query = alert_query(
        agencies=who.agencies, filters=filters, dialect=dialect, condition=condition
    )
    total = _total(session, query, _total_key(who, filters, condition))
    if filters.q or condition is not None:
        query = _page_query(session, query, total, offset + limit, lambda: alert_query(
            agencies=who.agencies, filters=filters, dialect=dialect, condition=condition,
            narrow=False,
        ))  # fmt: skip
    rows = session.scalars(_ordered(query, filters.sort).limit(limit).offset(offset)).all()
    return total, list(rows)


# What the list shows, read as plain columns: not the evidence ids, the dedup key or the times
# of the row itself, and no ORM instances.
_PUBLIC_FIELDS = tuple(AlertPublic.model_fields)
_PUBLIC_COLUMNS = tuple(getattr(Alert, name) for name in _PUBLIC_FIELDS)


def public_alert(values: Sequence[Any]) -> AlertPublic:
    """An alert as the API shows it, from the state's own values in ``AlertPublic``'s field
    order (a row of :data:`_PUBLIC_COLUMNS`): built, not validated, since the state holds
    only what was validated on the way in."""
    return AlertPublic.model_construct(None, **dict(zip(_PUBLIC_FIELDS, values, strict=True)))


def public_of(alert: Alert) -> AlertPublic:
    """:func:`public_alert` of a loaded alert."""
    return public_alert([getattr(alert, name) for name in _PUBLIC_FIELDS])


def list_alert_values(
    session: Session,
    *,
    who: Principal,
    filters: AlertFilter | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[dict[str, Any]]]:
    """:func:`list_alerts` as the API shows it: the same total and page, reading only the
    columns shown, each alert as plain values in ``AlertPublic``'s field order. The page is
    read through the session's connection: rows, not ORM instances."""
    require_reader(who)
    filters = filters or AlertFilter()
    dialect = session.get_bind().dialect.name
    query = alert_query(agencies=who.agencies, filters=filters, dialect=dialect)
    total = _total(session, query, _total_key(who, filters, None))
    if filters.q:
        query = _page_query(session, query, total, offset + limit, lambda: alert_query(
            agencies=who.agencies, filters=filters, dialect=dialect, narrow=False
        ))  # fmt: skip

    def page() -> Select[Any]:
        columns = _ordered(query, filters.sort).with_only_columns(
            *_PUBLIC_COLUMNS, maintain_column_froms=True
        )
        return columns.limit(limit).offset(offset)

    if filters.q:
        rows = list(session.connection().execute(page()))
    else:  # the queue and its filters: the same few statements again and again
        key = (_total_key(who, filters, None), filters.sort, limit, offset)
        rows = PAGES.rows(session, key, page)
    return total, [dict(zip(_PUBLIC_FIELDS, row, strict=True)) for row in rows]


def list_public_alerts(
    session: Session,
    *,
    who: Principal,
    filters: AlertFilter | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[AlertPublic]]:
    """:func:`list_alert_values` as ``AlertPublic`` models."""
    total, values = list_alert_values(session, who=who, filters=filters, limit=limit, offset=offset)
    return total, [AlertPublic.model_construct(None, **v) for v in values]


def get_alert(session: Session, *, alert_id: int, who: Principal) -> Alert:
    """One alert, or NotFoundError when it does not exist or is another agency's."""
    require_reader(who)
    query = select(Alert).where(Alert.id == alert_id)
    if who.agencies is not None:
        query = query.where(Alert.agency.in_(who.agencies))
    alert = session.scalars(query).first()
    if alert is None:
        raise NotFoundError(f"no alert {alert_id}")
    return alert


def visible_evidence(
    store: EventStore, event_ids: Sequence[str], *, who: Principal
) -> tuple[list[Event], int]:
    """The evidence events ``who`` may read, and how many of the alert's others were withheld.

    An alert of one agency may rest on events of another (a scan from one district's camera
    into another's); an agency's analyst sees only the events whose ``organization.id`` is
    one of theirs, and the store is asked for those only (on an engine: only the agency's
    data streams are read). Events without an agency are withheld from them too.
    """
    agencies = who.agencies
    if agencies is None:
        return store.get(event_ids), 0
    shown = store.get(event_ids, agencies=sorted(agencies))
    return shown, len(set(event_ids)) - len(shown)
