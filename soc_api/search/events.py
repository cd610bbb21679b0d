"""Search events with the query language, within the caller's agencies."""

from __future__ import annotations

from citysoc.core.query import compile_query, event_schema
from eventstore.base import EventPage, EventStore
from soc_api.auth.models import Principal
from soc_api.auth.permissions import require_reader


def find_events(
    store: EventStore, *, who: Principal, q: str | None, limit: int, offset: int
) -> EventPage:
    """Events matching ``q`` (every event when it is empty) that ``who`` may read, newest
    first: an agency's analyst reads only their agencies' events. A query that cannot be read
    is a QueryError naming the column."""
    require_reader(who)
    condition = compile_query(q, event_schema())
    return store.find(condition, agencies=who.agencies, limit=limit, offset=offset)
