"""The Elasticsearch sink: bulk ``create`` into a data stream per dataset and agency.

Each event goes to ``logs-<event.dataset>-<organization.id>`` with ``_id`` = ``event.id``
and ``op_type`` ``create``, so sending it again is a no-op that Elasticsearch answers with
409 (counted as a duplicate). Items refused with 429 or 5xx, and whole requests that fail
on the wire, are retried with exponential backoff; when retries run out the sink raises
:class:`StoreError` and the shipper keeps the batch in its disk buffer. The ILM policy and
the ECS index template are installed before the first write.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch

from citysoc.core.ecs import Event
from citysoc.core.errors import StoreError
from collectors.elastic_template import ILM_POLICY, ILM_POLICY_NAME, INDEX_TEMPLATE, TEMPLATE_NAME
from collectors.shipper import Backoff
from eventstore.sqlite import WriteResult

log = logging.getLogger(__name__)

_NOT_IN_NAME = re.compile(r"[^a-z0-9_.]+")
RETRY_STATUS = frozenset({429, 502, 503, 504})
BULK_BACKOFF = Backoff(initial=0.5, maximum=8.0)


def data_stream(event: Event) -> tuple[str, str]:
    """The (dataset, namespace) of an event's data stream, cleaned to Elastic's naming."""
    dataset = _NOT_IN_NAME.sub("_", str(event.get("event.dataset") or "generic").lower())
    namespace = _NOT_IN_NAME.sub("_", str(event.get("organization.id") or "default").lower())
    return dataset.strip("_.")[:100] or "generic", namespace.strip("_.")[:100] or "default"


def open_elastic(url: str, *, api_key: str | None = None, timeout: float = 10.0) -> Elasticsearch:
    """A client that leaves retries to the sink (so backoff and counts are ours)."""
    return Elasticsearch(url, api_key=api_key, request_timeout=timeout, max_retries=0)


class ElasticSink:
    """Bulk-creates events in data streams; re-sent events are counted as duplicates."""

    def __init__(
        self,
        client: Elasticsearch,
        *,
        retries: int = 4,
        backoff: Backoff = BULK_BACKOFF,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self._installed = False

    def install(self) -> None:
        """Put the ILM policy and the index template (idempotent)."""
        try:
            self.client.ilm.put_lifecycle(name=ILM_POLICY_NAME, policy=ILM_POLICY)
            self.client.indices.put_index_template(name=TEMPLATE_NAME, **INDEX_TEMPLATE)
        except (ApiError, TransportError) as exc:
            raise StoreError(f"cannot install the index template: {exc}") from exc
        self._installed = True
        log.info("Elasticsearch: ILM policy and index template %s installed", TEMPLATE_NAME)

    def write(self, events: Sequence[Event]) -> WriteResult:
        if not self._installed:
            self.install()
        pending = [_action(event) for event in events if event.get("event.id")]
        rejected = len(events) - len(pending)
        inserted = duplicates = 0
        for attempt in range(self.retries + 1):
            if attempt:
                self.sleep(self.backoff.delay(attempt))
            items = self._bulk(pending, last=attempt == self.retries)
            if items is None:
                continue
            retry: list[tuple[dict[str, Any], Event]] = []
            for (header, doc), item in zip(pending, items, strict=True):
                status, error = _outcome(item)
                if status in (200, 201):
                    inserted += 1
                elif status == 409:
                    duplicates += 1
                elif status in RETRY_STATUS or status >= 500:
                    retry.append((header, doc))
                else:
                    rejected += 1
                    log.warning(
                        "Elasticsearch refused event %s: %s", header["create"]["_id"], error
                    )
            pending = retry
            if not pending:
                break
        if pending:
            raise StoreError(f"Elasticsearch kept refusing {len(pending)} events; will retry")
        return WriteResult(inserted=inserted, duplicates=duplicates, rejected=rejected)

    def _bulk(
        self, pending: list[tuple[dict[str, Any], Event]], *, last: bool
    ) -> list[dict[str, Any]] | None:
        """The bulk answer's items, or ``None`` to try again; raises on the last attempt."""
        operations: list[dict[str, Any]] = []
        for header, doc in pending:
            operations += (header, doc)
        try:
            answer = self.client.bulk(operations=operations)
        except ApiError as exc:
            if exc.status_code not in RETRY_STATUS or last:
                raise StoreError(f"Elasticsearch bulk failed: {exc}") from exc
            log.warning("Elasticsearch bulk answered %s; retrying", exc.status_code)
            return None
        except TransportError as exc:
            if last:
                raise StoreError(f"Elasticsearch unreachable: {exc}") from exc
            log.warning("Elasticsearch unreachable (%s); retrying", exc)
            return None
        items: list[dict[str, Any]] = answer.body.get("items", [])
        if len(items) != len(pending):
            raise StoreError(f"Elasticsearch answered {len(items)} items for {len(pending)}")
        return items


def _action(event: Event) -> tuple[dict[str, Any], Event]:
    dataset, namespace = data_stream(event)
    doc = {
        **event,
        "data_stream.type": "logs",
        "data_stream.dataset": dataset,
        "data_stream.namespace": namespace,
    }
    header = {"create": {"_index": f"logs-{dataset}-{namespace}", "_id": str(event["event.id"])}}
    return header, doc


def _outcome(item: dict[str, Any]) -> tuple[int, object]:
    result: dict[str, Any] = item.get("create") or next(iter(item.values()), {})
    return int(result.get("status", 500)), result.get("error")
