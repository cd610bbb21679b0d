"""One small client for both engines: their REST API is the same where the store needs it.

The official clients do the transport (connection pools, TLS, authentication, retries left
to us): ``opensearch-py`` for OpenSearch, ``elasticsearch`` for Elasticsearch, whose client
refuses servers that are not Elasticsearch. :class:`EngineClient` hides which one is used
behind :meth:`~EngineClient.request` and :meth:`~EngineClient.bulk`, and turns their errors
into :class:`EngineUnavailableError` (nothing answered) or :class:`EngineRequestError`
(the engine answered with an error status).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import orjson

from citysoc.core.errors import StoreError
from eventstore.engine.spec import EngineSpec

log = logging.getLogger(__name__)
# The clients log every request, and failed ones as warnings; the store reports what matters.
for _name in ("opensearch", "elastic_transport.transport"):
    logging.getLogger(_name).setLevel(logging.ERROR)


class EngineUnavailableError(StoreError):
    """The engine did not answer (down, unreachable, timed out, TLS failed)."""


class EngineRequestError(StoreError):
    """The engine answered with an error status."""

    def __init__(self, message: str, *, status: int, body: object = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class EngineClient(Protocol):
    flavour: str

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, str] | None = None,
    ) -> Any: ...

    def bulk(self, operations: Sequence[dict[str, Any]], *, refresh: bool = False) -> Any: ...

    def close(self) -> None: ...


BULK_ANSWER = "errors,items.*.status,items.*.error"
"""What a bulk answer is cut to: per item its status and error, in order. The full answer
repeats index, id, version, shards and sequence numbers for every item, which the engine
writes and the collector parses for nothing."""


def ndjson(operations: Sequence[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(op, default=str) + b"\n" for op in operations)


def _explain(exc: Exception, spec: EngineSpec) -> str:
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text:
        return (
            f"{spec.redacted}: TLS failed ({text[:200]}); set CITYSOC_EVENT_STORE_CA_FILE "
            "to the CA that signed the engine's certificate"
        )
    return f"{spec.redacted} unreachable: {text[:300]}"


def _refused(status: int, body: object, spec: EngineSpec, what: str) -> EngineRequestError:
    if status == 401:
        hint = "wrong credentials: check CITYSOC_EVENT_STORE_USERNAME/_PASSWORD or _API_KEY"
    elif status == 403:
        hint = "the credentials lack a privilege this call needs"
    else:
        hint = f"{what} refused"
    return EngineRequestError(
        f"{spec.redacted}: {hint} (HTTP {status}): {str(body)[:300]}", status=status, body=body
    )


class OpenSearchClient:
    """:class:`EngineClient` over ``opensearch-py``."""

    flavour = "opensearch"

    def __init__(self, spec: EngineSpec) -> None:
        from opensearchpy import OpenSearch

        auth = spec.basic_auth()
        self.spec = spec
        self.client = OpenSearch(
            hosts=list(spec.hosts),
            http_auth=auth,
            use_ssl=spec.tls,
            verify_certs=spec.tls,
            ca_certs=str(spec.ca_file) if spec.ca_file else None,
            timeout=spec.timeout,
            # A node that does not answer is marked dead and the request goes to the next;
            # answers with an error status are the store's to retry (and count).
            max_retries=len(spec.hosts) - 1,
            retry_on_status=(),
            retry_on_timeout=False,
            http_compress=False,
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        from opensearchpy.exceptions import ConnectionError as OsConnectionError
        from opensearchpy.exceptions import TransportError

        try:
            return self.client.transport.perform_request(method, path, params=params, body=body)
        except OsConnectionError as exc:
            raise EngineUnavailableError(_explain(exc, self.spec)) from exc
        except TransportError as exc:
            status = exc.status_code if isinstance(exc.status_code, int) else 500
            raise _refused(status, exc.info, self.spec, f"{method} {path}") from exc

    def bulk(self, operations: Sequence[dict[str, Any]], *, refresh: bool = False) -> Any:
        params = {"filter_path": BULK_ANSWER}
        if refresh:
            params["refresh"] = "true"
        return self.request("POST", "/_bulk", body=ndjson(operations), params=params)

    def close(self) -> None:
        self.client.close()


class ElasticsearchClient:
    """:class:`EngineClient` over the official ``elasticsearch`` client."""

    flavour = "elasticsearch"

    def __init__(self, spec: EngineSpec) -> None:
        from elasticsearch import Elasticsearch

        self.spec = spec
        options: dict[str, Any] = {
            "request_timeout": spec.timeout,
            "max_retries": len(spec.hosts) - 1,  # the next node when one does not answer
            "retry_on_status": (),
        }
        if spec.ca_file:
            options["ca_certs"] = str(spec.ca_file)
        self.client = Elasticsearch(
            list(spec.hosts),
            basic_auth=spec.basic_auth(),
            api_key=spec.api_key.get_secret_value() if spec.api_key else None,
            **options,
        )

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        """``call()``'s answer body, its errors as the store's."""
        from elastic_transport import TransportError
        from elasticsearch import ApiError

        try:
            return call().body
        except ApiError as exc:
            raise _refused(exc.meta.status, exc.body, self.spec, what) from exc
        except TransportError as exc:
            raise EngineUnavailableError(_explain(exc, self.spec)) from exc

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        if params:
            path += "?" + "&".join(f"{k}={v}" for k, v in params.items())
        headers = {"accept": "application/json"}
        if body is not None:
            headers["content-type"] = "application/json"
        return self._call(
            f"{method} {path}",
            lambda: self.client.perform_request(method, path, body=body, headers=headers),
        )

    def bulk(self, operations: Sequence[dict[str, Any]], *, refresh: bool = False) -> Any:
        return self._call(
            "bulk",
            lambda: self.client.bulk(
                operations=list(operations), refresh=refresh, filter_path=BULK_ANSWER
            ),
        )

    def close(self) -> None:
        self.client.close()


def open_client(spec: EngineSpec) -> EngineClient:
    """The client for the engine ``spec`` names."""
    if spec.flavour == "elasticsearch":
        return ElasticsearchClient(spec)
    return OpenSearchClient(spec)
