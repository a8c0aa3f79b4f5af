"""Highlighting: where a query matched a record, for UIs that mark the hits.

:func:`highlight` walks the query AST (:mod:`log_pipeline.search.query`) and reports

* ``message``: ``[start, end)`` character spans (Unicode code points, not bytes or UTF-16 units) of the
  message tokens the positive message terms, phrases and wildcards matched, sorted and merged;
* ``fields``: names of the labels and fields the positive field clauses refer to (``status``, ``app``).

Clauses under ``NOT`` are ignored (they matched nothing shown). Tokens are found exactly as the message is
indexed (:func:`~log_pipeline.search.query.message_tokens`: lower-cased alphanumeric runs), so a highlight
is never narrower or wider than what the store matched. Pure functions, safe from any thread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from log_pipeline.search.query import (
    And,
    MatchAll,
    Node,
    Or,
    Phrase,
    Range,
    Term,
    Wildcard,
    message_tokens,
)

__all__ = ["Highlight", "highlight"]

# The same tokens as query.message_tokens, with their positions.
_TOKEN = re.compile(r"[^\W_]+|_+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Highlight:
    message: list[tuple[int, int]] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)


def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern))


def _positive(node: Node, out: list[Term | Phrase | Wildcard | Range]) -> None:
    if isinstance(node, And | Or):
        for item in node.items:
            _positive(item, out)
    elif isinstance(node, Term | Phrase | Wildcard | Range):
        out.append(node)
    # NOT clauses and MatchAll contribute nothing


def highlight(node: Node, message: str) -> Highlight:
    """Spans of ``message`` and names of fields that ``node`` (a parsed query) matched positively."""
    if isinstance(node, MatchAll):
        return Highlight()
    clauses: list[Term | Phrase | Wildcard | Range] = []
    _positive(node, clauses)
    found = [(m.start(), m.end(), m.group().lower()) for m in _TOKEN.finditer(message)]
    words = [w for _, _, w in found]
    spans: list[tuple[int, int]] = []
    names: list[str] = []
    for c in clauses:
        if c.field.kind != "message":
            if c.field.kind in ("label", "field") and c.field.name not in names:
                names.append(c.field.name)
            continue
        if isinstance(c, Wildcard):
            rx = _wildcard(c.pattern.lower())
            spans.extend((s, e) for s, e, w in found if rx.fullmatch(w))
        elif isinstance(c, Term | Phrase):
            want = message_tokens(c.value if isinstance(c, Term) else c.text)
            n = len(want)
            if n:
                spans.extend(
                    (found[i][0], found[i + n - 1][1])
                    for i in range(len(words) - n + 1)
                    if words[i : i + n] == want
                )
    return Highlight(_merge(spans), names)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out
