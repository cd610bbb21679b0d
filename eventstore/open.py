"""Open the event store the settings name (``CITYSOC_EVENT_STORE``), for any program."""

from __future__ import annotations

from citysoc.core.errors import ConfigError
from citysoc.core.settings import Settings
from eventstore.base import EventStore
from eventstore.engine.spec import EngineSpec, parse_engine_url


def engine_spec(settings: Settings) -> EngineSpec | None:
    """The engine the settings name, or ``None`` for the embedded SQLite store."""
    url = settings.event_store
    if not url or url.startswith("sqlite:"):
        if url and not url.startswith("sqlite:///"):
            raise ConfigError(f"CITYSOC_EVENT_STORE={url!r}: write sqlite:///PATH")
        return None
    return parse_engine_url(
        url,
        username=settings.event_store_username,
        password=settings.event_store_password,
        api_key=settings.event_store_api_key,
        ca_file=settings.event_store_ca_file,
    )


def describe(settings: Settings) -> str:
    """The store for messages: a path or the engine's URL, never a secret."""
    spec = engine_spec(settings)
    return str(settings.event_store_path) if spec is None else spec.redacted


def open_event_store(settings: Settings, *, busy_timeout: float = 30.0) -> EventStore:
    """The event store: SQLite, or an engine (whose templates ``citysoc store init`` put)."""
    spec = engine_spec(settings)
    if spec is None:
        from eventstore.sqlite import SqliteEventStore

        return SqliteEventStore(settings.event_store_path, busy_timeout=busy_timeout)
    from eventstore.engine.client import open_client
    from eventstore.engine.deadletter import DeadLetters
    from eventstore.engine.store import EngineEventStore

    return EngineEventStore(
        open_client(spec),
        dead_letters=DeadLetters(settings.dead_letter_dir),
        settle_seconds=settings.detection_settle_seconds,
    )
