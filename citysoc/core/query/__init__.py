"""The search language of the console and the API: parse, bind to a view's fields, compile.

See :mod:`citysoc.core.query.syntax` for the language. The compilers live beside what they
query: the SOC state's SQL in :mod:`soc_api.search`, the event store's in
:mod:`eventstore.query_sqlite` and :mod:`eventstore.engine.query_dsl`.
"""

from citysoc.core.query.schema import Schema, compile_query, event_schema, make_schema
from citysoc.core.query.syntax import parse, pointer
from citysoc.core.query.tree import Condition, Field, Kind

__all__ = [
    "Condition",
    "Field",
    "Kind",
    "Schema",
    "compile_query",
    "event_schema",
    "make_schema",
    "parse",
    "pointer",
]
