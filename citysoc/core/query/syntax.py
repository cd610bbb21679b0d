"""Read a search query into its syntax tree, with errors that point at the column.

The language, shared by the alert queue and the event search::

    destination.port:[1 TO 1024] AND NOT source.ip:10.20.0.0/16
    host.name:cam-* OR user.name:"Nguyễn Văn A"
    @timestamp:>=2026-11-20 (rule_name:credential_access_* OR severity:(high critical))
    203.0.113.77

``field:value`` terms, ``AND``/``OR``/``NOT`` (any case; terms side by side are joined by
``AND``) and parentheses; ranges ``[a TO b]`` (``{}`` leaves a bound out, ``*`` is open) and
``>``/``>=``/``<``/``<=``; networks (``10.20.0.0/16``) on address fields; wildcards ``*`` and
``?``; quoted phrases (``\\"`` and ``\\\\`` inside); ``field:(a OR b)``; ``field:*`` (the field
is there). A bare value searches the main entity fields of the view.

Parsed by an LALR parser built with lark from the grammar below.
"""

from __future__ import annotations

from functools import cache

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from citysoc.core.errors import Location, QueryError
from citysoc.core.query.tree import Both, Either, Negation, Node, Span, Term

MAX_LENGTH = 2000
MAX_DEPTH = 24  # nested parentheses
MAX_TERMS = 200

GRAMMAR = r"""
start: expr?

?expr: conj
     | conj (_OR conj)+                 -> either
?conj: unary
     | unary (_AND? unary)+             -> both
?unary: NOT unary                       -> negation
      | atom
?atom: "(" expr ")"
     | FIELD value                      -> field_term
     | WORD                             -> bare_word
     | PHRASE                           -> bare_phrase

?value: VALUE                           -> word
      | PHRASE                          -> phrase
      | CMP VALUE                       -> compare
      | LOW bound _TO bound HIGH        -> span
      | "(" choice (_OR? choice)* ")"   -> choices
choice: VALUE | PHRASE
bound: VALUE | PHRASE

FIELD.4: /[@A-Za-z_][A-Za-z0-9_.@-]*:/
_AND.3: /(?i:and)(?![^\s()])/
_OR.3: /(?i:or)(?![^\s()])/
NOT.3: /(?i:not)(?![^\s()])/
_TO.3: /TO(?![^\s\]}])/
CMP.3: />=|<=|>|</
LOW: "[" | "{"
HIGH: "]" | "}"
PHRASE.2: /"(?:[^"\\]|\\.)*"/
WORD.1: /[^\s()\[\]{}":<>=]+/
VALUE.1: /[^\s()\[\]{}"<>=]+/
%ignore /\s+/
"""

# What lark calls the tokens it expected, as the messages' token keys.
_EXPECTED = {
    "FIELD": "field",
    "WORD": "value",
    "VALUE": "value",
    "PHRASE": "phrase",
    "LPAR": "(",
    "RPAR": ")",
    "LOW": "[",
    "HIGH": "]",
    "_TO": "TO",
    "CMP": ">=",
    "NOT": "NOT",
    "_AND": "AND",
    "_OR": "OR",
    "$END": "end",
}
TOKENS = {"field": "a field:", "value": "a value", "phrase": "a quoted phrase", "end": "the end"}
"""The token keys that read as words (the others read as themselves)."""

MESSAGES = {
    "ends_early": "the query ends too early: expected {expected}",
    "unclosed_quote": "unexpected '\"' (a quote that is never closed?)",
    "unexpected": "unexpected {found}: expected {expected}",
    "unreadable": "unexpected {found}",
    "too_long": "the query is longer than {limit} characters",
    "too_deep": "parentheses nest deeper than {limit}",
    "too_many_terms": "the query has more than {limit} terms",
    "unknown_field": "unknown field {field} for {view}",
    "unknown_field_like": "unknown field {field} for {view}; did you mean {close}?",
    "value_too_long": "a value is longer than {limit} characters",
    "not_boolean": "{field} is true or false, not {value}",
    "not_address": "{field} takes an address or a network such as 10.20.0.0/16, not {value}",
    "not_number": "{field} takes a number, not {value}",
    "out_of_range": "{field}: {value} is out of range",
    "not_time": "{field} takes a time such as 2026-11-20 or 2026-11-20T08:30:00Z, not {value}",
    "no_ranges": "{field} is not a number or a time: ranges do not apply to it",
    "ipv6_network": "{field}: IPv6 networks are searched in events; give a whole address here",
}
"""Every message a query's error can carry, by key (the console translates them)."""


@cache
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", lexer="contextual", propagate_positions=False)


def _unquote(phrase: str) -> str:
    body = phrase[1:-1]
    out: list[str] = []
    escaped = False
    for char in body:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            out.append(char)
    return "".join(out)


def _column(token: Token) -> int:
    return int(token.column or 1)


def _field(token: Token) -> str:
    return str(token)[:-1]


class _Build(Transformer[Token, Node | None]):
    """Lark's tree to the query's syntax tree."""

    def start(self, children: list[Node]) -> Node | None:
        return children[0] if children else None

    def either(self, children: list[Node]) -> Node:
        return Either(tuple(children))

    def both(self, children: list[Node]) -> Node:
        return Both(tuple(children))

    def negation(self, children: list[object]) -> Node:
        keyword, part = children
        assert isinstance(keyword, Token) and isinstance(
            part, Term | Span | Both | Either | Negation
        )
        return Negation(part, _column(keyword))

    def bare_word(self, children: list[Token]) -> Node:
        return Term(None, str(children[0]), False, _column(children[0]))

    def bare_phrase(self, children: list[Token]) -> Node:
        return Term(None, _unquote(str(children[0])), True, _column(children[0]))

    def field_term(self, children: list[object]) -> Node:
        token, build = children
        assert isinstance(token, Token) and callable(build)
        node: Node = build(_field(token), _column(token))
        return node

    # Values come back as builders, given the field's name and column by field_term.
    @v_args(inline=True)
    def word(self, token: Token) -> object:
        return lambda field, column: Term(field, str(token), False, column)

    @v_args(inline=True)
    def phrase(self, token: Token) -> object:
        return lambda field, column: Term(field, _unquote(str(token)), True, column)

    @v_args(inline=True)
    def compare(self, op: Token, token: Token) -> object:
        value = str(token)

        def build(field: str, column: int) -> Node:
            if op in (">", ">="):
                return Span(field, value, None, op == ">=", True, column)
            return Span(field, None, value, True, op == "<=", column)

        return build

    @v_args(inline=True)
    def span(self, low: Token, start: str | None, end: str | None, high: Token) -> object:
        return lambda field, column: Span(field, start, end, low == "[", high == "]", column)

    def bound(self, children: list[Token]) -> str | None:
        token = children[0]
        if token.type == "PHRASE":
            return _unquote(str(token))
        return None if str(token) == "*" else str(token)

    def choice(self, children: list[Token]) -> tuple[str, bool]:
        token = children[0]
        if token.type == "PHRASE":
            return _unquote(str(token)), True
        return str(token), False

    def choices(self, children: list[tuple[str, bool]]) -> object:
        def build(field: str, column: int) -> Node:
            terms = tuple(Term(field, value, quoted, column) for value, quoted in children)
            return terms[0] if len(terms) == 1 else Either(terms)

        return build


def _depth(text: str) -> int:
    depth = deepest = 0
    quoted = escaped = False
    for char in text:
        if quoted:
            escaped = not escaped and char == "\\"
            quoted = escaped or char != '"'
        elif char == '"':
            quoted = True
        elif char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth -= 1
    return deepest


def words(tokens: object, *, joiner: str = " or ", names: dict[str, str] = TOKENS) -> str:
    """Expected tokens as words (``a value or (``)."""
    listed = tokens if isinstance(tokens, list | tuple) else [tokens]
    return joiner.join(names.get(str(t), str(t)) for t in listed)


def error(key: str, column: int, **values: object) -> QueryError:
    """A QueryError whose message and location name the column (1 is the first)."""
    shown = {k: words(v) if k == "expected" else v for k, v in values.items()}
    message = f"column {column}: {MESSAGES[key].format(**shown)}"
    return QueryError(message, location=Location("query", column=column), key=key, values=values)


def _explain(exc: UnexpectedInput, text: str) -> QueryError:
    column = int(getattr(exc, "column", 0) or 0)
    if isinstance(exc, UnexpectedEOF) or (
        isinstance(exc, UnexpectedToken) and exc.token.type == "$END"
    ):
        column = len(text) + 1
        return error("ends_early", column, expected=_wanted(getattr(exc, "expected", ())))
    if isinstance(exc, UnexpectedCharacters):
        at = exc.pos_in_stream or 0
        char = text[at] if at < len(text) else ""
        if char == '"':
            return error("unclosed_quote", column)
        return error("unreadable", column, found=repr(char))
    if isinstance(exc, UnexpectedToken):
        found = repr(str(exc.token))
        return error("unexpected", column, found=found, expected=_wanted(exc.expected))
    return error("unreadable", column, found=repr(str(exc).splitlines()[0][:40]))


def _wanted(expected: object) -> list[str]:
    found = expected if isinstance(expected, set | frozenset | list | tuple) else ()
    return sorted({_EXPECTED.get(str(name), str(name)) for name in found})[:6]


def parse(text: str) -> Node | None:
    """The syntax tree of ``text`` (``None`` when it is empty); :class:`QueryError` with the
    column of the problem otherwise."""
    if len(text) > MAX_LENGTH:
        raise error("too_long", MAX_LENGTH + 1, limit=MAX_LENGTH)
    if _depth(text) > MAX_DEPTH:
        raise error("too_deep", 1, limit=MAX_DEPTH)
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        raise _explain(exc, text) from None
    node = _Build().transform(tree)
    if node is not None and _count(node) > MAX_TERMS:
        raise error("too_many_terms", 1, limit=MAX_TERMS)
    return node


def _count(node: Node) -> int:
    if isinstance(node, Both | Either):
        return sum(_count(part) for part in node.parts)
    if isinstance(node, Negation):
        return _count(node.part)
    return 1


def pointer(text: str, exc: QueryError) -> str:
    """The query with a caret under the column the error names (for the console)."""
    column = exc.location.column if exc.location and exc.location.column else 1
    return f"{text}\n{' ' * (column - 1)}^"
