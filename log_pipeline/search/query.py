"""The log query language: a small Lucene/Kibana-like syntax parsed to an AST by recursive descent.

Grammar (keywords are upper case; ``&&``, ``||``, ``!`` and a leading ``-`` are accepted too)::

    query    := or_expr?
    or_expr  := and_expr ("OR" and_expr)*
    and_expr := unary (("AND")? unary)*            # juxtaposition is AND
    unary    := ("NOT" | "!" | "-") unary | primary
    primary  := "(" or_expr ")" | FIELD ":" value | value
    value    := PHRASE | WORD | range | ("<" | "<=" | ">" | ">=") WORD | "(" or_expr ")"   # field grouping
    range    := ("[" | "{") (WORD | "*") "TO" (WORD | "*") ("]" | "}")

A bare WORD or PHRASE searches the message; ``*`` and ``?`` in a WORD make a wildcard. Field names are
resolved by :func:`resolve_field`: the labels (``app``, ``org``, ``space``, ``instance``, ``host``, ``level``,
``source``, ``transport`` or ``labels.<name>``), ``message``, ``id``; anything else (or ``fields.<name>``) is
a parsed field.
Backends translate the AST (``search/_tantivy_query.py``, ``search/_es_query.py``).

Limits, so that no query can exhaust the stack or the CPU of the parser, the translations, the highlighter
and live-tail matching (all recursive over the AST, or linear in the wildcard's length per token): at most
:data:`MAX_QUERY_CHARS` characters, :data:`MAX_DEPTH` levels of nesting (parentheses and ``NOT``),
:data:`MAX_CLAUSES` clauses (terms, phrases, wildcards and ranges; ``a OR b OR …`` costs every matcher one
pass per clause), :data:`MAX_WILDCARD_CHARS` characters in one wildcard and :data:`MAX_WILDCARD_STARS` ``*``
in all wildcards together (the embedded store compiles each wildcard into an automaton while holding the
GIL, about 1.3 ms per ``*``: 188 wildcards of 40 ``*`` held it for 19 s in slices of 100 ms); past a limit,
as for anything else that does not parse, :func:`parse_query` raises :class:`QuerySyntaxError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from log_pipeline.base import LogPipelineError

__all__ = [
    "LABEL_NAMES",
    "MAX_CLAUSES",
    "MAX_DEPTH",
    "MAX_QUERY_CHARS",
    "MAX_WILDCARD_CHARS",
    "MAX_WILDCARD_STARS",
    "And",
    "FieldRef",
    "MatchAll",
    "Node",
    "Not",
    "Or",
    "Phrase",
    "QuerySyntaxError",
    "Range",
    "Term",
    "Wildcard",
    "message_tokens",
    "parse_query",
    "resolve_field",
]

LABEL_NAMES = frozenset({"app", "instance", "host", "level", "source", "transport", "org", "space"})
MAX_QUERY_CHARS = 16_384
MAX_DEPTH = 64
MAX_CLAUSES = 1024
MAX_WILDCARD_CHARS = 256
MAX_WILDCARD_STARS = 16
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.@-]*$")
_TOKEN = re.compile(r"[^\W_]+|_+", re.UNICODE)  # alphanumeric runs, like tantivy's SimpleTokenizer


class QuerySyntaxError(LogPipelineError):
    """A query that does not parse; ``column`` is 1-based."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"{message} at column {column}")
        self.message = message
        self.column = column

    def __reduce__(self) -> tuple[type[QuerySyntaxError], tuple[str, int]]:
        return QuerySyntaxError, (self.message, self.column)  # pickled by a search worker process


@dataclass(frozen=True, slots=True)
class FieldRef:
    kind: Literal["message", "label", "field", "id"]
    name: str  # label or field name; "message" / "id" for those kinds


@dataclass(frozen=True, slots=True)
class MatchAll:
    pass


@dataclass(frozen=True, slots=True)
class Term:
    field: FieldRef
    value: str


@dataclass(frozen=True, slots=True)
class Wildcard:
    field: FieldRef
    pattern: str  # ``*`` any run, ``?`` one character


@dataclass(frozen=True, slots=True)
class Phrase:
    field: FieldRef
    text: str


@dataclass(frozen=True, slots=True)
class Range:
    field: FieldRef
    lower: str | None
    upper: str | None
    include_lower: bool = True
    include_upper: bool = True


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Node


Node = MatchAll | Term | Wildcard | Phrase | Range | And | Or | Not

MESSAGE = FieldRef("message", "message")


def resolve_field(name: str) -> FieldRef:
    """Map a field name of the query language to what a backend indexes."""
    if name in ("message", "msg"):
        return MESSAGE
    if name == "id":
        return FieldRef("id", "id")
    if name.startswith("labels.") and len(name) > 7:
        return FieldRef("label", name[7:])
    if name in LABEL_NAMES:
        return FieldRef("label", name)
    if name.startswith("fields.") and len(name) > 7:
        return FieldRef("field", name[7:])
    return FieldRef("field", name)


def message_tokens(text: str) -> list[str]:
    """Lower-cased alphanumeric tokens, as the message field is indexed."""
    return [t.lower() for t in _TOKEN.findall(text)]


# ---- lexer ---------------------------------------------------------------------------------------------

_Kind = Literal[
    "word", "phrase", "lparen", "rparen", "colon", "and", "or", "not", "cmp", "lbrack", "rbrack", "eof"
]
_SPECIAL = set('()":[]{}')


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: _Kind
    text: str
    col: int  # 1-based


_PUNCT: dict[str, _Kind] = {
    "(": "lparen", ")": "rparen", "[": "lbrack", "{": "lbrack", "]": "rbrack", "}": "rbrack", ":": "colon"
}  # fmt: skip
_KEYWORDS: dict[str, _Kind] = {"AND": "and", "OR": "or", "NOT": "not"}


def _lex(q: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(q)
    while i < n:
        c = q[i]
        col = i + 1
        if c.isspace():
            i += 1
        elif c in _PUNCT:
            toks.append(_Tok(_PUNCT[c], c, col))
            i += 1
        elif c == '"':
            text, i = _escaped(q, i + 1, lambda ch: ch == '"')
            if i >= n:
                raise QuerySyntaxError("unterminated phrase (missing '\"')", col)
            i += 1
            toks.append(_Tok("phrase", text, col))
        elif q.startswith(("&&", "||"), i):
            toks.append(_Tok("and" if c == "&" else "or", q[i : i + 2], col))
            i += 2
        elif c in "<>":
            j = i + 2 if i + 1 < n and q[i + 1] == "=" else i + 1
            toks.append(_Tok("cmp", q[i:j], col))
            i = j
        elif c == "!" or (c == "-" and (not toks or toks[-1].kind != "colon")):
            toks.append(_Tok("not", c, col))
            i += 1
        else:
            word, i = _escaped(q, i, lambda ch: ch.isspace() or ch in _SPECIAL)
            toks.append(_Tok(_KEYWORDS.get(word, "word"), word, col))
    toks.append(_Tok("eof", "", n + 1))
    return toks


def _escaped(q: str, i: int, stop: Callable[[str], bool]) -> tuple[str, int]:
    """The text from ``q[i]`` up to the first unescaped character ``stop`` accepts (or the end), with
    backslash escapes resolved; and the index of that character (``len(q)`` at the end)."""
    buf: list[str] = []
    n = len(q)
    while i < n and not stop(q[i]):
        if q[i] == "\\" and i + 1 < n:
            i += 1
        buf.append(q[i])
        i += 1
    return "".join(buf), i


# ---- parser --------------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _lex(text)
        self.pos = 0
        self.depth = 0
        self.clauses = 0
        self.stars = 0

    def clause(self, tok: _Tok) -> None:
        self.clauses += 1
        if self.clauses > MAX_CLAUSES:
            raise QuerySyntaxError(f"query has more than {MAX_CLAUSES} clauses", tok.col)

    def nest(self, tok: _Tok) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QuerySyntaxError(f"query nested deeper than {MAX_DEPTH} levels", tok.col)

    def peek(self) -> _Tok:
        return self.toks[self.pos]

    def take(self) -> _Tok:
        tok = self.toks[self.pos]
        self.pos += 1
        return tok

    def expect(self, kind: _Kind, what: str) -> _Tok:
        tok = self.peek()
        if tok.kind != kind:
            found = "end of query" if tok.kind == "eof" else repr(tok.text)
            raise QuerySyntaxError(f"expected {what}, found {found}", tok.col)
        return self.take()

    def query(self) -> Node:
        if self.peek().kind == "eof":
            return MatchAll()
        node = self.or_expr(MESSAGE)
        tok = self.peek()
        if tok.kind == "rparen":
            raise QuerySyntaxError("unexpected ')'", tok.col)
        if tok.kind != "eof":
            raise QuerySyntaxError(f"unexpected {tok.text!r}", tok.col)
        return node

    def or_expr(self, default: FieldRef) -> Node:
        items = [self.and_expr(default)]
        while self.peek().kind == "or":
            self.take()
            items.append(self.and_expr(default))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self, default: FieldRef) -> Node:
        items = [self.unary(default)]
        while True:
            kind = self.peek().kind
            if kind == "and":
                self.take()
            elif kind not in ("word", "phrase", "lparen", "not", "cmp", "lbrack"):
                break
            items.append(self.unary(default))
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self, default: FieldRef) -> Node:
        if self.peek().kind == "not":
            self.nest(self.take())
            node = Not(self.unary(default))
            self.depth -= 1
            return node
        return self.primary(default)

    def group(self, field: FieldRef) -> Node:
        """``"(" or_expr ")"``, the opening parenthesis being the current token."""
        self.nest(self.take())
        node = self.or_expr(field)
        self.expect("rparen", "')'")
        self.depth -= 1
        return node

    def primary(self, default: FieldRef) -> Node:
        tok = self.peek()
        if tok.kind == "lparen":
            return self.group(default)
        if tok.kind == "word" and self.toks[self.pos + 1].kind == "colon":
            if not _FIELD_NAME.match(tok.text):
                raise QuerySyntaxError(f"invalid field name {tok.text!r}", tok.col)
            self.pos += 2
            return self.value(resolve_field(tok.text), field_given=True)
        return self.value(default, field_given=False)

    def value(self, field: FieldRef, *, field_given: bool) -> Node:
        tok = self.peek()
        if tok.kind in ("phrase", "word", "lbrack", "cmp"):
            self.clause(tok)
        if tok.kind == "phrase":
            self.take()
            return Phrase(field, tok.text)
        if tok.kind == "word":
            self.take()
            if "*" in tok.text or "?" in tok.text:
                if len(tok.text) > MAX_WILDCARD_CHARS:
                    raise QuerySyntaxError(f"wildcard longer than {MAX_WILDCARD_CHARS} characters", tok.col)
                if field_given and tok.text == "*":
                    return MatchAll()
                self.stars += tok.text.count("*")
                if self.stars > MAX_WILDCARD_STARS:
                    raise QuerySyntaxError(
                        f"more than {MAX_WILDCARD_STARS} '*' in the query's wildcards", tok.col
                    )
                return Wildcard(field, tok.text)
            return Term(field, tok.text)
        if tok.kind == "lbrack" and field_given:
            return self.range(field)
        if tok.kind == "cmp" and field_given:
            self.take()
            bound = self.expect("word", "a value after " + repr(tok.text)).text
            op = tok.text
            if op.startswith(">"):
                return Range(field, bound, None, include_lower=op == ">=")
            return Range(field, None, bound, include_upper=op == "<=")
        if tok.kind == "lparen" and field_given:
            return self.group(field)
        found = "end of query" if tok.kind == "eof" else repr(tok.text)
        raise QuerySyntaxError(f"expected a term, phrase or '(', found {found}", tok.col)

    def range(self, field: FieldRef) -> Node:
        open_tok = self.take()
        lower = self.expect("word", "a lower bound").text
        to = self.expect("word", "'TO'")
        if to.text != "TO":
            raise QuerySyntaxError(f"expected 'TO', found {to.text!r}", to.col)
        upper = self.expect("word", "an upper bound").text
        close = self.expect("rbrack", "']' or '}'")
        return Range(
            field,
            None if lower == "*" else lower,
            None if upper == "*" else upper,
            include_lower=open_tok.text == "[",
            include_upper=close.text == "]",
        )


def parse_query(text: str) -> Node:
    """Parse ``text``; an empty query matches everything. Raises :class:`QuerySyntaxError` (only)."""
    if len(text) > MAX_QUERY_CHARS:
        raise QuerySyntaxError(f"query longer than {MAX_QUERY_CHARS} characters", MAX_QUERY_CHARS + 1)
    return _Parser(text).query()
