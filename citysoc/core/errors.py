"""One error hierarchy for the whole project: a root, and a subclass per stage."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """Where a piece of bad input was found: a file (or stream), and a position in it."""

    source: str
    line: int | None = None
    column: int | None = None
    offset: int | None = None
    record: int | None = None

    def __str__(self) -> str:
        parts = [self.source]
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.column is not None:
            parts.append(f"column {self.column}")
        if self.record is not None:
            parts.append(f"record {self.record}")
        if self.offset is not None:
            parts.append(f"byte {self.offset}")
        return ", ".join(parts)


class CitysocError(Exception):
    """Root of every error citysoc raises on purpose."""

    def __init__(self, message: str, *, location: Location | None = None) -> None:
        self.message = message
        self.location = location
        super().__init__(f"{location}: {message}" if location else message)


class ConfigError(CitysocError):
    """Settings or configuration files are missing, malformed or unsafe."""


class TopologyError(ConfigError):
    """The topology model is inconsistent (overlapping CIDRs, unknown agency, ...)."""


class CollectorError(CitysocError):
    """A source could not be read or parsed."""


class StoreError(CitysocError):
    """The event store or the SOC state store failed."""


class RuleError(CitysocError):
    """A detection rule is invalid or cannot be compiled."""


class NotFoundError(CitysocError):
    """A requested object does not exist (or is not visible to the caller)."""


class PermissionDeniedError(CitysocError):
    """The caller may not do this."""


class AuthenticationError(CitysocError):
    """The caller could not be authenticated."""


class BoxError(CitysocError):
    """The city in a box could not be built, booted, converged or taken down."""


class RangeError(CitysocError):
    """The attack range could not be built, run or scored."""


class QueryError(CitysocError):
    """A search query could not be read: its location's ``column`` points at the problem;
    ``key`` and ``values`` name the message, for pages that show it in their language."""

    def __init__(
        self,
        message: str,
        *,
        location: Location | None = None,
        key: str = "",
        values: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message, location=location)
        self.key = key
        self.values: Mapping[str, object] = dict(values or {})
