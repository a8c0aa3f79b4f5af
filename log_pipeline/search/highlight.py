"""Highlighting: where a query matched a record, for UIs that mark the hits.

:func:`highlight` walks the query AST (:mod:`log_pipeline.search.query`) and reports

* ``message``: ``[start, end)`` character spans (Unicode code points, not bytes or UTF-16 units) of the
  message tokens the positive message terms, phrases and wildcards matched, sorted and merged;
* ``fields``: names of the labels and fields the positive field clauses refer to (``status``, ``app``).

Clauses under ``NOT`` are ignored (they matched nothing shown). Tokens are found exactly as the message is
indexed (:func:`~log_pipeline.search.query.message_tokens`: lower-cased alphanumeric runs), so a highlight
is never narrower or wider than what the store matched. Pure functions, safe from any thread.

This runs on the event loop for every hit, so each clause costs time linear in the message: wildcards
are matched with RE2 (:mod:`metrics_store.regex`; a wildcard too large for it highlights nothing), once per
distinct token and only against tokens of at most :data:`MAX_WILDCARD_TOKEN_CHARS` characters (no store
matches a longer token: tantivy drops tokens over 40 bytes, Elasticsearch splits them at 255 characters);
phrases are found with Knuth-Morris-Pratt over the token list (not by comparing a slice at every position).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from log_pipeline.search._kmp import occurrences
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
from metrics_store.regex import Regex, RegexError, compile_anchored

__all__ = ["MAX_WILDCARD_TOKEN_CHARS", "Highlight", "highlight"]

MAX_WILDCARD_TOKEN_CHARS = 255

# The same tokens as query.message_tokens, with their positions.
_TOKEN = re.compile(r"[^\W_]+|_+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Highlight:
    message: list[tuple[int, int]] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)


_RE2_META = frozenset("\\.+*?()|[]{}^$")


def _wildcard(pattern: str) -> Regex | None:
    """``*`` any run, ``?`` one character, everything else literal; None when RE2 refuses the size."""
    text = "".join(
        ".*" if c == "*" else "." if c == "?" else "\\" + c if c in _RE2_META else c for c in pattern
    )
    try:
        return compile_anchored(text)
    except RegexError:
        return None


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
            if rx is not None:
                hit = {w for w in set(words) if len(w) <= MAX_WILDCARD_TOKEN_CHARS and rx.matches(w)}
                spans.extend((s, e) for s, e, w in found if w in hit)
        elif isinstance(c, Term | Phrase):
            want = message_tokens(c.value if isinstance(c, Term) else c.text)
            n = len(want)
            if n:
                spans.extend((found[i][0], found[i + n - 1][1]) for i in occurrences(words, want))
    return Highlight(_merge(spans), names)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out
