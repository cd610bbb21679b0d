"""The query language on alerts: the fields an alert query may name, compiled to SQLAlchemy.

The same expression runs on SQLite and PostgreSQL; every value is a bound parameter. Lists
(``targets``, ``observables``) match when any element does, read with ``json_each`` on SQLite
and ``json_array_elements_text`` on PostgreSQL. Entities are written ``kind:value``
(``ip:203.0.113.77``); a query may give the value alone. Networks on entities are matched as
address prefixes (IPv4: at most 128 prefixes per network); an IPv6 network is refused for
alerts with the reason (search events for it). ``NOT`` keeps alerts that lack the field.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    and_,
    any_,
    cast,
    column,
    exists,
    false,
    func,
    literal_column,
    not_,
    or_,
    select,
    table,
    true,
)

from citysoc.core.errors import Location, QueryError
from citysoc.core.query.schema import Schema, make_schema
from citysoc.core.query.syntax import MESSAGES
from citysoc.core.query.tree import (
    AllOf,
    AnyOf,
    Between,
    Condition,
    Contains,
    Equals,
    Exists,
    Field,
    InNetwork,
    Kind,
    Not,
    OneOf,
    Wildcard,
)
from soc_api.alerts.entity_keys import MAX_KEY, ROLES
from soc_api.alerts.models import Alert, AlertEntity

K = Kind
ALERT_FIELDS = (
    Field("id", K.NUMBER),
    Field("rule_id", K.KEYWORD),
    Field("rule_name", K.KEYWORD),
    Field("title", K.TEXT),
    Field("severity", K.KEYWORD),
    Field("risk_score", K.NUMBER),
    Field("status", K.KEYWORD),
    Field("agency", K.KEYWORD),
    Field("segment", K.KEYWORD),
    Field("security_level", K.NUMBER),
    Field("event_count", K.NUMBER),
    Field("first_seen", K.DATE),
    Field("last_seen", K.DATE),
    Field("assignee", K.KEYWORD),
    Field("close_reason", K.KEYWORD),
    Field("tactic", K.KEYWORD),
    Field("note", K.TEXT),
    Field("attacker", K.ENTITY),
    Field("targets", K.ENTITY, array=True),
    Field("observables", K.ENTITY, array=True),
    Field("infrastructure", K.ENTITY, array=True),
    Field("fingerprints", K.ENTITY, array=True),
    Field("tags", K.KEYWORD, array=True),
)
ALIASES = {
    "rule.name": "rule_name",
    "rule.id": "rule_id",
    "organization.id": "agency",
    "@timestamp": "last_seen",
    "event.severity": "risk_score",
}
BARE = ("title", "rule_name", "attacker", "targets", "observables", "infrastructure")

# SQLite: the titles' trigram table (migration 0014), row id the alert's id. PostgreSQL needs
# no such table: its trigram index of lower(title) answers the LIKE itself.
TITLE_FTS = "alerts_title_fts"
_TITLE_FTS = table(TITLE_FTS, column("rowid", Integer))
TRIGRAM = 3  # shorter texts match no row of a trigram table: they read every title


@cache
def alert_schema() -> Schema:
    return make_schema("alerts", ALERT_FIELDS, bare=BARE, aliases=ALIASES)


def _like(pattern: str) -> str:
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def _literal(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def ipv4_prefixes(network: ipaddress.IPv4Network) -> list[str]:
    """Text prefixes that together match exactly the addresses of ``network``: ``10.20.`` for
    ``10.20.0.0/16``; a whole address (no trailing dot) where the prefix reaches the last
    octet."""
    octets = str(network.network_address).split(".")
    whole, rest = divmod(network.prefixlen, 8)
    if whole == 4:
        return [str(network.network_address)]
    head = octets[:whole]
    if rest == 0:
        return [".".join(head) + "." if head else ""]
    base = int(octets[whole])
    values = range(base, base + 2 ** (8 - rest))
    end = "." if whole < 3 else ""
    return [".".join([*head, str(v)]) + end for v in values]


Test = Callable[[Any], ColumnElement[bool]]


def _leaf(condition: Condition) -> Test:
    """The test of one leaf condition, as a function of the value expression."""
    spec = condition.field  # type: ignore[union-attr]
    if isinstance(condition, Equals):
        value = condition.value
        if spec.kind is K.ENTITY:
            text = str(value).lower()
            return lambda x: or_(
                func.lower(x) == text, func.lower(x).like("%:" + _literal(text), escape="\\")
            )
        if spec.kind in (K.KEYWORD, K.TEXT):
            return lambda x: func.lower(x) == str(value).lower()
        return lambda x: x == value
    if isinstance(condition, Wildcard):
        pattern = _like(condition.pattern)
        if spec.kind is K.ENTITY:
            return lambda x: or_(
                func.lower(x).like(pattern, escape="\\"),
                func.lower(x).like("%:" + pattern, escape="\\"),
            )
        return lambda x: func.lower(x).like(pattern, escape="\\")
    if isinstance(condition, Contains):
        pattern = "%" + _literal(condition.text.lower()) + "%"
        return lambda x: func.lower(x).like(pattern, escape="\\")
    if isinstance(condition, InNetwork):
        network = condition.network
        if not isinstance(network, ipaddress.IPv4Network):
            raise QueryError(
                MESSAGES["ipv6_network"].format(field=spec.name),
                location=Location("query"),
                key="ipv6_network",
                values={"field": spec.name},
            )
        prefixes = ipv4_prefixes(network)  # at most 128: a partial octet's values
        return lambda x: or_(*(_prefixed(func.lower(x), p) for p in prefixes))
    if isinstance(condition, OneOf):
        values = list(condition.values)
        return lambda x: x.in_(values)
    if isinstance(condition, Exists):
        return lambda x: true()
    assert isinstance(condition, Between)
    between = condition

    def test(x: Any) -> ColumnElement[bool]:
        parts: list[ColumnElement[bool]] = []
        if between.low is not None:
            parts.append(x >= between.low if between.include_low else x > between.low)
        if between.high is not None:
            parts.append(x <= between.high if between.include_high else x < between.high)
        return and_(true(), *parts)

    return test


def _prefixed(x: Any, prefix: str) -> ColumnElement[bool]:
    """An ``ip:`` entity whose address starts with ``prefix`` (or is it, when whole)."""
    test: ColumnElement[bool]
    if prefix == "":
        test = x.like("ip:%.%.%.%")
    elif prefix.endswith("."):
        test = x.like("ip:" + _literal(prefix) + "%", escape="\\")
    else:
        test = x == "ip:" + prefix
    return test


def to_sql(
    condition: Condition | None, *, dialect: str, narrow: bool = True
) -> ColumnElement[bool]:
    """The WHERE expression of a condition on the ``alerts`` table. ``narrow=False`` leaves
    the titles' trigram table out (SQLite; the same answers): for the page of a search that
    finds many alerts, read in the queue's order until the page is full, which is sooner
    than fetching and sorting every alert found."""
    if condition is None:
        return true()
    if isinstance(condition, AllOf):
        return and_(true(), *(to_sql(p, dialect=dialect, narrow=narrow) for p in condition.parts))
    if isinstance(condition, AnyOf):
        return _any_of(condition.parts, dialect, narrow)
    if isinstance(condition, Not):
        return not_(to_sql(condition.part, dialect=dialect, narrow=narrow))
    spec = condition.field
    indexed = _entity_lookup(condition)
    if indexed is not None:
        return indexed
    column = getattr(Alert, spec.name)
    test = _leaf(condition)
    if spec.array:
        return _any_element(column, test, dialect)
    candidates = _title_candidates(condition, dialect) if narrow else None
    if candidates is not None:
        return and_(candidates, column.is_not(None), test(column))
    return and_(column.is_not(None), test(column))


def _fts_string(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _title_candidates(condition: Condition, dialect: str) -> ColumnElement[bool] | None:
    """On SQLite, the alerts whose titles hold every run of three characters or more of a
    text or wildcard test on ``title``, from the trigram table; None where there is no such
    run (or not SQLite). The test itself still runs on each candidate, so the answers are
    those of reading every title: the trigram table folds case by Unicode where ``lower()``
    and ``LIKE`` fold ASCII only, so it holds every title the test holds, and more."""
    if dialect != "sqlite" or condition.field.name != "title":  # type: ignore[union-attr]
        return None
    if isinstance(condition, Contains):
        runs = [condition.text.lower()]
    elif isinstance(condition, Wildcard):
        runs = re.split(r"[*?]", condition.pattern)
    else:
        return None
    runs = [run for run in dict.fromkeys(runs) if len(run) >= TRIGRAM and "\x00" not in run]
    if not runs:
        return None
    match = " AND ".join(_fts_string(run) for run in runs)
    found = select(_TITLE_FTS.c.rowid).where(literal_column(TITLE_FTS).op("MATCH")(match))
    return Alert.id.in_(found)


def _any_element(column: Any, test: Test, dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        elements = func.json_array_elements_text(column).table_valued("value").alias("element")
        value: Any = elements.c.value
    else:
        elements = func.json_each(column).table_valued("value").alias("element")
        value = cast(elements.c.value, String)
    return exists(select(literal_column("1")).select_from(elements).where(test(value)))


def _entity_text(condition: Condition) -> str | None:
    """The text an entity equality looks up in ``alert_entities`` (None: not such a test, or
    a text longer than the table's keys)."""
    if not isinstance(condition, Equals) or condition.field.name not in ROLES:
        return None
    text = str(condition.value).lower()
    return text if len(text) < MAX_KEY else None


def _any_of(parts: tuple[Condition, ...], dialect: str, narrow: bool) -> ColumnElement[bool]:
    """Any of the parts; equalities of one text on several entity fields (a bare value, a
    pivot) are one look-up of that text in the entity table."""
    roles: dict[str, list[str]] = {}
    rest: list[ColumnElement[bool]] = []
    for part in parts:
        text = _entity_text(part)
        if text is None:
            rest.append(to_sql(part, dialect=dialect, narrow=narrow))
        else:
            roles.setdefault(text, []).append(part.field.name)  # type: ignore[union-attr]
    looked_up = [
        _one_of_ids(
            select(AlertEntity.alert_id).where(
                AlertEntity.value == text, AlertEntity.role.in_(sorted(set(names)))
            ),
            dialect,
        )
        for text, names in roles.items()
    ]
    return or_(false(), *rest, *looked_up)


def _one_of_ids(found: Any, dialect: str) -> ColumnElement[bool]:
    """``alerts.id`` among the ids ``found`` selects, written so that it reads an index as
    one part of an ``OR``: on PostgreSQL ``= ANY (ARRAY (...))``, the ids selected once and
    then looked up in the primary key (an ``IN (SELECT ...)`` under an ``OR`` is a filter on
    every alert read); SQLite reads ``IN (SELECT ...)`` as a look-up of each id already."""
    if dialect == "postgresql":
        return Alert.id == any_(func.array(found.scalar_subquery()))
    return Alert.id.in_(found)


def _entity_lookup(condition: Condition) -> ColumnElement[bool] | None:
    """An entity equality or IPv4 network as a look-up in ``alert_entities`` (its index), or
    None where the lists must be read: wildcards, ``*``, very long texts, ``/0``.

    Same answers as :func:`_leaf` on the lists: an equality holds where the entity is the
    text or ends with ``:`` and the text (the table keeps both forms); a network's prefix
    ``10.20.`` is the range ``['ip:10.20.', 'ip:10.20/')`` of whole entities (``/`` follows
    ``.``; the keys are lowercase and compared bytewise: ``COLLATE "C"`` on PostgreSQL)."""
    if not isinstance(condition, Equals | InNetwork) or condition.field.name not in ROLES:
        return None
    role = AlertEntity.role == condition.field.name
    if isinstance(condition, Equals):
        text = _entity_text(condition)
        if text is None:
            return None
        found = select(AlertEntity.alert_id).where(AlertEntity.value == text, role)
        return Alert.id.in_(found)
    network = condition.network
    if not isinstance(network, ipaddress.IPv4Network):
        return None  # _leaf gives the reason
    prefixes = ipv4_prefixes(network)
    if "" in prefixes:
        return None
    tests = [
        and_(AlertEntity.value >= "ip:" + p, AlertEntity.value < "ip:" + p[:-1] + "/")
        if p.endswith(".")
        else AlertEntity.value == "ip:" + p
        for p in prefixes
    ]
    found = select(AlertEntity.alert_id).where(role, AlertEntity.whole == true(), or_(*tests))
    return Alert.id.in_(found)
