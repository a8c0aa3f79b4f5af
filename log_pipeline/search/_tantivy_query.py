"""Translate the query AST to tantivy queries over the embedded store's schema (``tantivy_store._schema``).

Wildcards become tantivy regex queries (Rust's ``regex`` syntax, automata capped at 1,000 states by tantivy);
one tantivy refuses, e.g. ``*a??????????`` whose automaton is exponential, is a :class:`QuerySyntaxError`.
Every error raised here is a :class:`QuerySyntaxError`.
"""

from __future__ import annotations

import math
import re

import tantivy

from log_pipeline.search.query import (
    And,
    FieldRef,
    MatchAll,
    Node,
    Not,
    Or,
    Phrase,
    QuerySyntaxError,
    Range,
    Term,
    Wildcard,
    message_tokens,
)

__all__ = ["to_tantivy", "wildcard_regex"]

_Q = tantivy.Query
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")


def wildcard_regex(pattern: str) -> str:
    """``foo*ba?`` -> ``foo.*ba.`` with everything else escaped."""
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)


def _kv(field: FieldRef, value: str) -> tuple[str, str]:
    """(tantivy field, term) for an exact match on a label, parsed field or id."""
    if field.kind == "label":
        return "lbl", f"{field.name}={value}"
    if field.kind == "id":
        return "id", value
    return "kv", f"{field.name}={value}"


def _message_words(schema: tantivy.Schema, text: str) -> tantivy.Query:
    tokens = message_tokens(text)
    if not tokens:
        return _Q.empty_query()
    if len(tokens) == 1:
        return _Q.term_query(schema, "message", tokens[0])
    words: list[str | tuple[int, str]] = list(tokens)
    return _Q.phrase_query(schema, "message", words)


def _number(text: str) -> int | float | None:
    """A finite number spelled with ASCII digits, else None."""
    if not _NUMBER.fullmatch(text):
        return None
    try:
        return int(text)
    except ValueError:  # a fraction, an exponent, or more digits than int() takes
        number = float(text)
        return number if math.isfinite(number) else None


def _range(index: tantivy.Index, node: Range) -> tantivy.Query:
    if node.field.kind != "field":
        raise QuerySyntaxError(f"ranges apply to numeric fields, not to {node.field.name!r}", 1)
    bounds = [b for b in (node.lower, node.upper) if b is not None]
    numbers = [_number(b) for b in bounds]
    if any(n is None for n in numbers):
        raise QuerySyntaxError(f"range bounds on {node.field.name!r} must be numbers", 1)
    # The JSON "num" field is a fast field; tantivy builds JSON range queries only through its parser.
    lo = "*" if node.lower is None else repr(_number(node.lower))
    hi = "*" if node.upper is None else repr(_number(node.upper))
    name = node.field.name.replace(".", "\\.")
    text = f"num.{name}:{'[' if node.include_lower else '{'}{lo} TO {hi}{']' if node.include_upper else '}'}"
    try:
        return index.parse_query(text, [])
    except ValueError as exc:  # e.g. an integer bound beyond 64 bits
        raise QuerySyntaxError(f"cannot translate range on {node.field.name!r}: {exc}", 1) from exc


def _wildcard(schema: tantivy.Schema, node: Wildcard) -> tantivy.Query:
    if node.field.kind == "message":
        field, regex = "message", wildcard_regex(node.pattern.lower())
    else:
        field, prefix = _kv(node.field, "")
        regex = re.escape(prefix) + wildcard_regex(node.pattern)
    try:
        return _Q.regex_query(schema, field, regex)
    except ValueError as exc:  # tantivy's regex size limit (or syntax it does not take)
        shown = node.pattern if len(node.pattern) <= 100 else node.pattern[:100] + "..."
        raise QuerySyntaxError(f"wildcard {shown!r} is too complex: {exc}", 1) from exc


def to_tantivy(index: tantivy.Index, node: Node) -> tantivy.Query:
    schema = index.schema
    if isinstance(node, MatchAll):
        return _Q.all_query()
    if isinstance(node, Term):
        if node.field.kind == "message":
            return _message_words(schema, node.value)
        field, term = _kv(node.field, node.value)
        return _Q.term_query(schema, field, term)
    if isinstance(node, Phrase):
        if node.field.kind == "message":
            return _message_words(schema, node.text)
        field, term = _kv(node.field, node.text)
        return _Q.term_query(schema, field, term)
    if isinstance(node, Wildcard):
        return _wildcard(schema, node)
    if isinstance(node, Range):
        return _range(index, node)
    if isinstance(node, And):
        musts = [i for i in node.items if not isinstance(i, Not)]
        nots = [i.item for i in node.items if isinstance(i, Not)]
        clauses = [(tantivy.Occur.Must, to_tantivy(index, i)) for i in musts or [MatchAll()]]
        clauses += [(tantivy.Occur.MustNot, to_tantivy(index, i)) for i in nots]
        return _Q.boolean_query(clauses)
    if isinstance(node, Or):
        return _Q.boolean_query([(tantivy.Occur.Should, to_tantivy(index, i)) for i in node.items])
    return _Q.boolean_query(
        [(tantivy.Occur.Must, _Q.all_query()), (tantivy.Occur.MustNot, to_tantivy(index, node.item))]
    )
