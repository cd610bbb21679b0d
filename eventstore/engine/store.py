"""The event store on a search engine cluster (OpenSearch or Elasticsearch).

Writes are bulk ``create`` requests with ``_id`` = ``event.id`` into the event's data stream
(:func:`~eventstore.engine.indices.data_stream`): sending an event again is answered 409 and
counted as a duplicate. Items refused with 429 or 5xx, and requests that fail on the wire, are
retried with exponential backoff; when retries run out :class:`StoreError` is raised and the
collector's disk buffer keeps the batch. Items refused for what they are (a mapping conflict,
say) are kept in the dead-letter file with the engine's reason and counted as rejected.

Positions are the engine's ingest clock in whole seconds (``event.ingested``, stamped by the
ingest pipeline): :meth:`head` is the last second that has settled, i.e. whose events are
all searchable; a slice ``(after, upto]`` holds events ingested in ``[after+1, upto+1)`` s.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from citysoc.core.ecs import Event, flatten, timestamp
from citysoc.core.errors import StoreError
from citysoc.core.query.tree import Condition
from eventstore.base import AgencySeen, Backoff, EventPage, Refusal, StoreHealth, WriteResult
from eventstore.engine.client import (
    EngineClient,
    EngineRequestError,
    EngineUnavailableError,
    ndjson,
)
from eventstore.engine.deadletter import DeadLetters
from eventstore.engine.layout import agency_streams, data_stream

log = logging.getLogger(__name__)

ALL = "logs-*"
RETRY_STATUS = frozenset({429, 502, 503, 504})
BULK_BACKOFF = Backoff(initial=0.5, maximum=8.0)
READ_BACKOFF = Backoff(initial=0.1, maximum=2.0)
READ_PATIENCE = 10.0
"""Seconds a read waits out answers of :data:`RETRY_STATUS`: a data stream's first bulk
creates its backing index, and until that index's shards have started a search over
``logs-*`` is answered 503 (``all shards failed``) though nothing is wrong."""
PAGE = 5000
MSEARCH_QUERIES = 16
"""Queries per ``_msearch`` request: a detection run asks one per rule (and one more per
correlation), and each request must answer within the client's timeout on a busy node."""
SORT = [{"event.ingested": "asc"}, {"event.id": "asc"}]
LENIENT = {"ignore_unavailable": "true", "allow_no_indices": "true"}


def _page(
    query: dict[str, Any],
    size: int,
    after: list[Any] | None,
    source: Sequence[str] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"query": query, "size": size, "sort": SORT}
    if after is not None:
        body["search_after"] = after
    if source is not None:
        body["_source"] = list(source)
    return body


def ingest_window(after: int, upto: int) -> dict[str, Any]:
    """The query clause of a slice of positions ``(after, upto]``."""
    return {
        "range": {
            "event.ingested": {
                "gte": (after + 1) * 1000,
                "lt": (upto + 1) * 1000,
                "format": "epoch_millis",
            }
        }
    }


class EngineNotPreparedError(StoreError):
    """The engine lacks what ``citysoc store init`` puts."""


class EngineEventStore:
    """:class:`~eventstore.base.EventStore` on OpenSearch or Elasticsearch."""

    def __init__(
        self,
        client: EngineClient,
        *,
        dead_letters: DeadLetters | None = None,
        settle_seconds: float = 3.0,
        retries: int = 4,
        backoff: Backoff = BULK_BACKOFF,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        refresh: bool = False,
    ) -> None:
        self.client = client
        self.kind = client.flavour
        self.dead_letters = dead_letters
        self.settle_seconds = settle_seconds
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.clock = clock
        self.refresh_writes = refresh
        self._prepared = False

    def _check_prepared(self) -> None:
        """Refuse to write into an engine ``citysoc store init`` has not prepared: events
        would land in plain indices, unmapped and never stamped, and no rule would see them.
        Both this refusal and an engine that does not answer are store errors: the collector
        keeps the events in its disk buffer and tries again."""
        if self._prepared:
            return
        from eventstore.engine.indices import missing  # the installer, only for this check

        lacking = missing(self.client)
        if lacking:
            raise EngineNotPreparedError(
                f"the engine lacks {', '.join(lacking)}: run `citysoc store init` with the "
                "same CITYSOC_EVENT_STORE; events wait in the collector's buffer meanwhile"
            )
        self._prepared = True

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> EngineEventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------

    def write(self, events: Iterable[Event]) -> WriteResult:
        self._check_prepared()
        pending: list[tuple[str, Event]] = []
        refused: list[tuple[str, str, Event]] = []
        for event in events:
            stream = data_stream(event)
            if event.get("event.id") and event.get("@timestamp"):
                pending.append((stream, event))
            else:
                refused.append((stream, "no event.id or @timestamp", event))
        inserted = duplicates = 0
        for attempt in range(self.retries + 1):
            if attempt:
                self.sleep(self.backoff.delay(attempt))
            items = self._bulk(pending, last=attempt == self.retries)
            if items is None:
                continue
            retry: list[tuple[str, Event]] = []
            for (stream, event), item in zip(pending, items, strict=True):
                status, error = _outcome(item)
                if status in (200, 201):
                    inserted += 1
                elif status == 409:
                    duplicates += 1
                elif status in RETRY_STATUS or status >= 500:
                    retry.append((stream, event))
                else:
                    refused.append((stream, _reason(error), event))
            pending = retry
            if not pending:
                break
        self._keep(refused)
        if pending:
            raise StoreError(f"{self.kind} kept refusing {len(pending)} events; will retry")
        return WriteResult(
            inserted=inserted,
            duplicates=duplicates,
            rejected=len(refused),
            refusals=tuple(Refusal(str(e.get("event.id", "")), r) for _, r, e in refused),
        )

    def _keep(self, refused: list[tuple[str, str, Event]]) -> None:
        for stream, reason, event in refused[:20]:
            log.warning(
                "%s refused event %s (%s): %s", self.kind, event.get("event.id"), stream, reason
            )
        if self.dead_letters is not None:
            self.dead_letters.keep(refused)

    def _bulk(self, pending: list[tuple[str, Event]], *, last: bool) -> list[dict[str, Any]] | None:
        """The bulk answer's items, or ``None`` to try again; raises on the last attempt."""
        if not pending:
            return []
        operations: list[dict[str, Any]] = []
        for stream, event in pending:
            operations.append({"create": {"_index": stream, "_id": str(event["event.id"])}})
            operations.append(event)
        try:
            answer = self.client.bulk(operations, refresh=self.refresh_writes)
        except EngineRequestError as exc:
            if exc.status not in RETRY_STATUS or last:
                raise
            log.warning("%s bulk answered %s; retrying", self.kind, exc.status)
            return None
        except EngineUnavailableError as exc:
            if last:
                raise
            log.warning("%s unreachable (%s); retrying", self.kind, exc)
            return None
        items: list[dict[str, Any]] = answer.get("items", [])
        if len(items) != len(pending):
            raise StoreError(f"{self.kind} answered {len(items)} items for {len(pending)}")
        return items

    # -- reading ---------------------------------------------------------------------------

    def _read(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        """One read request; an answer of :data:`RETRY_STATUS` is asked again with backoff
        for up to :data:`READ_PATIENCE` seconds, then raised."""
        waited, failures = 0.0, 0
        while True:
            try:
                return self.client.request(method, path, body=body, params=params)
            except EngineRequestError as exc:
                failures += 1
                pause = READ_BACKOFF.delay(failures)
                if exc.status not in RETRY_STATUS or waited + pause > READ_PATIENCE:
                    raise
                log.info(
                    "%s answered %s to %s %s; asking again", self.kind, exc.status, method, path
                )
                self.sleep(pause)
                waited += pause

    def head(self) -> int:
        """The last whole second of ingest time whose events are all searchable."""
        return math.floor(self.clock() - self.settle_seconds) - 1

    def settle(self) -> None:
        """Refresh, then wait until the current second is older than the settle delay."""
        self.refresh()
        wanted = math.floor(self.clock())
        deadline = time.monotonic() + self.settle_seconds + 2.5
        while self.head() < wanted and time.monotonic() < deadline:
            time.sleep(0.1)

    def refresh(self) -> None:
        """Make everything written so far searchable now (tests, and before a report)."""
        self._read("POST", f"/{ALL}/_refresh", params={"ignore_unavailable": "true"})

    def slice_summary(self, after: int, upto: int) -> tuple[int, str | None]:
        """How many events the slice ``(after, upto]`` holds, and the oldest ``@timestamp``
        among them (``None`` when it is empty)."""
        answer = self._read(
            "POST",
            f"/{ALL}/_search",
            body={
                "query": ingest_window(after, upto),
                "size": 0,
                "track_total_hits": True,
                "aggs": {"oldest": {"min": {"field": "@timestamp"}}},
            },
            params=LENIENT,
        )
        total = int(answer["hits"]["total"]["value"])
        oldest = answer.get("aggregations", {}).get("oldest", {}).get("value")
        return total, None if oldest is None else timestamp(float(oldest) / 1000)

    def count(self) -> int:
        answer = self._read("GET", f"/{ALL}/_count", params={"ignore_unavailable": "true"})
        return int(answer.get("count", 0))

    def search(
        self,
        query: dict[str, Any],
        *,
        index: str = ALL,
        limit: int | None = None,
        source: Sequence[str] | None = None,
    ) -> Iterator[Event]:
        """Every event the query matches, in ingest order, page by page (``search_after``);
        only the ``source`` fields of each when given."""
        yield from self._pages(query, index=index, limit=limit, after=None, seen=0, source=source)

    def _pages(
        self,
        query: dict[str, Any],
        *,
        index: str,
        limit: int | None,
        after: list[Any] | None,
        seen: int,
        source: Sequence[str] | None = None,
    ) -> Iterator[Event]:
        while True:
            size = PAGE if limit is None else min(PAGE, limit - seen)
            if size <= 0:
                return
            answer = self._read(
                "POST", f"/{index}/_search", body=_page(query, size, after, source), params=LENIENT
            )
            hits = answer["hits"]["hits"]
            for hit in hits:
                yield flatten(hit["_source"])
            seen += len(hits)
            if len(hits) < size:
                return
            after = hits[-1]["sort"]

    def search_each(
        self, queries: Sequence[dict[str, Any]], *, limit: int
    ) -> list[list[Event] | StoreError]:
        """Every event each query matches (up to ``limit``), the first pages of all of them
        in ``_msearch`` round trips of :data:`MSEARCH_QUERIES`; a query the engine refuses
        gives its error."""
        if not queries:
            return []
        size = min(PAGE, limit)
        responses: list[dict[str, Any]] = []
        for start in range(0, len(queries), MSEARCH_QUERIES):
            lines: list[dict[str, Any]] = []
            for query in queries[start : start + MSEARCH_QUERIES]:
                lines += [{"index": ALL, **LENIENT}, _page(query, size, None)]
            answer = self._read("POST", "/_msearch", body=ndjson(lines))
            responses += answer["responses"]
        results: list[list[Event] | StoreError] = []
        for query, found in zip(queries, responses, strict=True):
            if "error" in found:
                results.append(
                    StoreError(f"{self.kind} refused a search: {_reason(found['error'])}")
                )
                continue
            hits = found["hits"]["hits"]
            events = [flatten(hit["_source"]) for hit in hits]
            if len(hits) == size:
                more = self._pages(query, index=ALL, limit=limit, after=hits[-1]["sort"], seen=size)
                events += list(more)
            results.append(events)
        return results

    def get(
        self, event_ids: Sequence[str], *, agencies: Sequence[str] | None = None
    ) -> list[Event]:
        if not event_ids or (agencies is not None and not agencies):
            return []
        index = ALL if agencies is None else agency_streams(agencies)
        events = list(self.search({"terms": {"event.id": list(event_ids)}}, index=index))
        return sorted(events, key=lambda e: (str(e.get("@timestamp")), str(e.get("event.id"))))

    def recent(self, *, limit: int = 100, agency: str | None = None) -> list[Event]:
        index = ALL if agency is None else agency_streams([agency])
        answer = self._read(
            "POST",
            f"/{index}/_search",
            body={"query": {"match_all": {}}, "size": limit, "sort": [{"event.ingested": "desc"}]},
            params={"ignore_unavailable": "true", "allow_no_indices": "true"},
        )
        return [flatten(hit["_source"]) for hit in answer["hits"]["hits"]]

    def find(
        self,
        condition: Condition | None,
        *,
        agencies: Sequence[str] | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> EventPage:
        """See :meth:`eventstore.base.EventStore.find` (compiled by
        :mod:`eventstore.engine.query_dsl`); one agency's reads go to its data streams only."""
        from eventstore.engine.query_dsl import find_body

        if agencies is not None and not agencies:
            return EventPage(total=0, events=[])
        index = ALL if agencies is None else agency_streams(agencies)
        body = find_body(condition, limit=limit, offset=offset)
        answer = self._read("POST", f"/{index}/_search", body=body, params=LENIENT)
        hits = answer["hits"]
        return EventPage(
            total=int(hits["total"]["value"]), events=[flatten(h["_source"]) for h in hits["hits"]]
        )

    def seen_by(self, condition: Condition | None) -> list[AgencySeen]:
        from eventstore.engine.query_dsl import seen_body, seen_from

        answer = self._read("POST", f"/{ALL}/_search", body=seen_body(condition), params=LENIENT)
        return seen_from(answer)

    def matching(
        self,
        field_name: str,
        values: Sequence[str],
        *,
        after: int,
        upto: int,
        fields: Sequence[str] | None = None,
    ) -> list[Event]:
        if not values or upto <= after:
            return []
        query = {
            "bool": {"filter": [ingest_window(after, upto), {"terms": {field_name: list(values)}}]}
        }
        source = None if fields is None else list(dict.fromkeys(["event.id", *fields]))
        return list(self.search(query, source=source))

    def health(self) -> StoreHealth:
        try:
            # Health answers at once: a store that cannot count is reported, not waited for.
            answer = self.client.request("GET", "/_cluster/health")
            counted = self.client.request(
                "GET", f"/{ALL}/_count", params={"ignore_unavailable": "true"}
            )
            events = int(counted.get("count", 0))
        except StoreError as exc:
            return StoreHealth(ok=False, kind=self.kind, detail=str(exc))
        status = str(answer.get("status"))
        detail = (
            f"cluster {answer.get('cluster_name')}: {status}, {answer.get('number_of_nodes')} nodes"
        )
        return StoreHealth(
            ok=status in ("green", "yellow"), kind=self.kind, detail=detail, events=events
        )


def _outcome(item: dict[str, Any]) -> tuple[int, object]:
    result: dict[str, Any] = item.get("create") or next(iter(item.values()), {})
    return int(result.get("status", 500)), result.get("error")


def _reason(error: object) -> str:
    if isinstance(error, dict):
        reason = f"{error.get('type')}: {error.get('reason')}"
        cause = error.get("caused_by")
        if isinstance(cause, dict):
            reason += f" ({cause.get('type')}: {cause.get('reason')})"
        return reason[:1000]
    return str(error)[:1000]
