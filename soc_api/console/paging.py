"""What every paged, searchable console list shares: the pager and a query's error."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from citysoc.core.errors import QueryError
from citysoc.core.query import pointer
from citysoc.core.query.syntax import TOKENS, words
from eventstore.base import MAX_OFFSET

PAGE_SIZES = (25, 50, 100, 200)

__all__ = ["MAX_OFFSET", "PAGE_SIZES", "Pager", "page_size", "pager", "query_error"]


@dataclass(frozen=True)
class Pager:
    """Where a list stands (``first``-``last`` of ``total``) and the links around it, which
    keep the page's query and its other parameters."""

    first: int
    last: int
    total: int
    previous: str | None
    next: str | None


def pager(
    path: str, params: Mapping[str, Any], *, total: int, offset: int, limit: int, name: str
) -> Pager:
    """The pager of a list at ``offset``; ``name`` is the parameter holding the offset."""
    kept = {k: v for k, v in params.items() if v not in (None, "") and k != name}

    def link(at: int) -> str:
        query = urlencode({**kept, name: at} if at else kept)
        return f"{path}?{query}" if query else path

    previous = link(max(0, offset - limit)) if offset > 0 else None
    after = offset + limit
    following = link(after) if after < total and after <= MAX_OFFSET else None
    return Pager(
        first=min(offset + 1, total),
        last=min(offset + limit, total),
        total=total,
        previous=previous,
        next=following,
    )


def page_size(limit: int | None) -> int:
    """One of :data:`PAGE_SIZES` (50 unless another is asked for)."""
    return limit if limit in PAGE_SIZES else PAGE_SIZES[1]


def query_error(q: str, exc: QueryError, say: Callable[..., str]) -> dict[str, str]:
    """A query's error for a page, in its language: the message and the query with a caret
    under the column (the message as the API gives it where the catalogue lacks one)."""
    message = exc.message
    if exc.key:
        values = dict(exc.values)
        if "expected" in values:
            names = {token: say(f"query.token.{token}") for token in TOKENS}
            values["expected"] = words(
                values["expected"], joiner=f" {say('query.or')} ", names=names
            )
        if "view" in values:
            view = f"query.view.{values['view']}"
            values["view"] = said_view if (said_view := say(view)) != view else values["view"]
        column = exc.location.column if exc.location and exc.location.column else 1
        key = f"query.{exc.key}"
        said = say(key, column=column, **values)
        message = said if said != key else message
    return {"message": message, "pointer": pointer(q, exc)}
