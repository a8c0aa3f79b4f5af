"""Translate the query AST to Elasticsearch query DSL over the mapping in ``es_store.INDEX_TEMPLATE``."""

from __future__ import annotations

import math
import re
from typing import Any

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

__all__ = ["to_es"]

_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")


def _path(field: FieldRef) -> str:
    if field.kind == "label":
        return f"labels.{field.name}"
    if field.kind == "field":
        return f"fields.{field.name}"
    return field.name  # "message" or "id"


def _bound(text: str) -> int | float:
    """A finite number (JSON has no Infinity); ASCII digits only."""
    if _NUMBER.fullmatch(text):
        try:
            return int(text)
        except ValueError:  # a fraction, an exponent, or more digits than int() takes
            number = float(text)
            if math.isfinite(number):
                return number
    shown = text if len(text) <= 40 else text[:40] + "..."
    raise QuerySyntaxError(f"range bound {shown!r} must be a finite number", 1)


def _message(text: str) -> dict[str, Any]:
    if len(message_tokens(text)) > 1:
        return {"match_phrase": {"message": text}}
    return {"match": {"message": text}}


def to_es(node: Node) -> dict[str, Any]:
    if isinstance(node, MatchAll):
        return {"match_all": {}}
    if isinstance(node, Term | Phrase):
        value = node.value if isinstance(node, Term) else node.text
        if node.field.kind == "message":
            return _message(value)
        return {"term": {_path(node.field): value}}
    if isinstance(node, Wildcard):
        if node.field.kind == "message":
            return {"wildcard": {"message": {"value": node.pattern.lower()}}}
        return {"wildcard": {_path(node.field): {"value": node.pattern}}}
    if isinstance(node, Range):
        if node.field.kind != "field":
            raise QuerySyntaxError(f"ranges apply to numeric fields, not to {node.field.name!r}", 1)
        spec: dict[str, int | float] = {}
        if node.lower is not None:
            spec["gte" if node.include_lower else "gt"] = _bound(node.lower)
        if node.upper is not None:
            spec["lte" if node.include_upper else "lt"] = _bound(node.upper)
        return {"range": {_path(node.field): spec}}
    if isinstance(node, And):
        musts = [to_es(i) for i in node.items if not isinstance(i, Not)]
        nots = [to_es(i.item) for i in node.items if isinstance(i, Not)]
        body: dict[str, Any] = {"filter": musts}
        if nots:
            body["must_not"] = nots
        return {"bool": body}
    if isinstance(node, Or):
        return {"bool": {"should": [to_es(i) for i in node.items], "minimum_should_match": 1}}
    return {"bool": {"must_not": [to_es(node.item)]}}
