"""What a compiled rule's SQL condition needs of an event, read from its text.

pySigma's SQLite backend writes conditions in a small grammar: ``AND``, ``OR``, ``NOT``,
parentheses, ``COALESCE(<condition>, 0)`` and comparisons of a column (or ``CAST``/
``strftime`` of one) with a literal (``=``, ``<``, ``>=``, ``LIKE ... ESCAPE``, ``REGEXP``).
This module parses that grammar and answers two questions used to skip work, never to decide
a match (the rule's own condition still decides):

* :func:`required_values`: the values one field must have for the condition to hold (a rule
  on ``event.action LIKE 'dns\\_query'`` holds only on DNS queries);
* :func:`needed_columns`: columns of which at least one must be non-NULL for it to hold.

Both are conservative: any text outside the grammar gives ``None`` (no shortcut).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(
    r"\s+|(?P<col>`[^`]*`)|(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)"
    r"|(?P<op><=|>=|!=|<>|==|=|<|>)|(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>[(),])"
)
_KEYWORDS = {
    *("AND", "OR", "NOT", "LIKE", "ESCAPE", "COALESCE", "CAST", "AS", "REGEXP", "GLOB", "IS"),
    *("NULL", "IN", "BETWEEN", "EXISTS", "SELECT", "FROM", "WHERE", "CASE", "WHEN", "THEN"),
    *("ELSE", "END", "COLLATE", "MATCH", "ISNULL", "NOTNULL", "TRUE", "FALSE"),
}
_NULL_PRESERVING = {"strftime", "lower", "upper", "length"}
"""Functions that give NULL when a column argument is NULL (no other function is read)."""


class _OutsideGrammarError(Exception):
    """The text is outside the grammar this module reads."""


@dataclass(frozen=True)
class Node:
    kind: str  # "and", "or", "not", "coalesce", "cmp"
    parts: tuple[Node, ...] = ()
    column: str | None = None  # cmp: the bare column compared, if it is one
    columns: frozenset[str] | None = None  # cmp: columns whose NULL makes it NULL
    op: str = ""
    literal: str | None = None  # cmp: a string literal's value, unescaped for LIKE


def _tokens(text: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    pos = 0
    for match in _TOKEN.finditer(text):
        if match.start() != pos:
            raise _OutsideGrammarError(text[pos : match.start()])
        pos = match.end()
        if match.lastgroup:
            found.append((match.lastgroup, match.group()))
    if pos != len(text):
        raise _OutsideGrammarError(text[pos:])
    return found


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.at] if self.at < len(self.tokens) else ("end", "")

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token[0] == "end" or (value is not None and token[1].upper() != value.upper()):
            raise _OutsideGrammarError(f"expected {value!r}, found {token[1]!r}")
        self.at += 1
        return token

    def condition(self) -> Node:
        parts = [self.conjunction()]
        while self.peek()[1].upper() == "OR":
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else Node("or", tuple(parts))

    def conjunction(self) -> Node:
        parts = [self.factor()]
        while self.peek()[1].upper() == "AND":
            self.take()
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else Node("and", tuple(parts))

    def factor(self) -> Node:
        value = self.peek()[1]
        if value.upper() == "NOT":
            self.take()
            return Node("not", (self.factor(),))
        if value == "(":
            self.take()
            inner = self.condition()
            self.take(")")
            return inner
        if value.upper() == "COALESCE":
            self.take()
            self.take("(")
            inner = self.condition()
            self.take(",")
            default = self.take()
            self.take(")")
            return Node("coalesce", (inner,), literal=default[1])
        return self.comparison()

    def operand(self) -> tuple[str | None, frozenset[str] | None]:
        """A value: (its bare column, the columns whose NULL makes it NULL)."""
        kind, value = self.take()
        if kind == "col":
            name = value[1:-1]
            return name, frozenset({name})
        if kind == "word" and value.upper() not in _KEYWORDS and self.peek()[1] != "(":
            return value, frozenset({value})
        if kind == "word" and value.upper() == "CAST":
            self.take("(")
            _, inner = self.operand()
            self.take("AS")
            self.take()
            self.take(")")
            return None, inner
        if kind == "word" and value in _NULL_PRESERVING and self.peek()[1] == "(":
            self.take("(")
            columns: frozenset[str] = frozenset()
            while True:
                if self.peek()[0] in ("str", "num"):
                    self.take()
                else:
                    _, inner = self.operand()
                    columns |= inner or frozenset()
                separator = self.take()[1]
                if separator == ")":
                    break
                if separator != ",":
                    raise _OutsideGrammarError(separator)
            return None, columns or None
        raise _OutsideGrammarError(value)

    def comparison(self) -> Node:
        column, columns = self.operand()
        kind, op = self.take()
        op = op.upper()
        if kind != "op" and op not in ("LIKE", "REGEXP", "GLOB"):
            raise _OutsideGrammarError(op)
        lit_kind, lit = self.take()
        if lit_kind not in ("str", "num"):
            raise _OutsideGrammarError(lit)
        literal = lit[1:-1].replace("''", "'") if lit_kind == "str" else None
        if op == "LIKE":
            escape = None
            if self.peek()[1].upper() == "ESCAPE":
                self.take()
                escape = self.take()[1][1:-1].replace("''", "'")
            literal = _plain_like(literal, escape) if literal is not None else None
        elif op not in ("=", "=="):
            literal = None
        return Node("cmp", column=column, columns=columns, op=op, literal=literal)


def _plain_like(pattern: str, escape: str | None) -> str | None:
    """The text a LIKE pattern without wildcards matches (any ASCII case), else None."""
    out: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if escape and char == escape:
            char = next(chars, "")
            if not char:
                return None
        elif char in "%_":
            return None
        out.append(char)
    return "".join(out)


def parse(condition: str) -> Node | None:
    """The condition's tree, or None when it is outside the grammar."""
    try:
        parser = _Parser(condition)
        node = parser.condition()
        if parser.peek()[0] != "end":
            return None
        return node
    except _OutsideGrammarError:
        return None


def ascii_lower(text: str) -> str:
    """Lower case as SQLite's ``lower()``, ``LIKE`` and ``NOCASE`` fold: ASCII letters only."""
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}
_NUMERIC = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")


def required_values(node: Node, field: str) -> frozenset[str] | None:
    """Lower-cased texts one of which ``field`` must equal, as text and without regard to the
    case of ASCII letters (``CAST(field AS TEXT) COLLATE NOCASE``), for the condition to hold;
    None when the condition does not pin the field down."""
    if node.kind == "cmp":
        literal = node.literal
        if node.column != field or literal is None or node.op not in ("=", "==", "LIKE"):
            return None
        if not literal.isascii():  # only ASCII letters are folded alike everywhere
            return None
        if node.op != "LIKE" and _NUMERIC.match(literal):  # a numeric column would convert it
            return None
        return frozenset({ascii_lower(literal)})
    if node.kind == "and":
        pinned = [v for v in (required_values(p, field) for p in node.parts) if v is not None]
        return min(pinned, key=len) if pinned else None
    if node.kind == "or":
        values: set[str] = set()
        for part in node.parts:
            found = required_values(part, field)
            if found is None:
                return None
            values |= found
        return frozenset(values)
    return None


def needed_columns(node: Node) -> frozenset[str] | None:
    """Columns at least one of which must be non-NULL for the condition to hold."""
    if node.kind == "cmp":
        return node.columns or None
    if node.kind == "coalesce":
        return needed_columns(node.parts[0]) if node.literal in ("0", "NULL") else None
    if node.kind == "and":
        sets = [s for s in (needed_columns(p) for p in node.parts) if s is not None]
        return min(sets, key=len) if sets else None
    if node.kind == "or":
        union: set[str] = set()
        for part in node.parts:
            found = needed_columns(part)
            if found is None:
                return None
            union |= found
        return frozenset(union)
    return None


def node_columns(node: Node) -> set[str]:
    """The bare columns the condition compares."""
    if node.kind == "cmp":
        return {node.column} if node.column else set()
    return set().union(*(node_columns(p) for p in node.parts))
