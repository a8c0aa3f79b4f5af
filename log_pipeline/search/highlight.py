"""Highlighting: where a query matched a record, for UIs that mark the hits.

:func:`highlight` walks the query AST (:mod:`log_pipeline.search.query`) and reports

* ``message``: ``[start, end)`` character spans (Unicode code points, not bytes or UTF-16 units) of the
  message tokens the positive message terms, phrases and wildcards matched, sorted and merged;
* ``fields``: names of the labels and fields the positive field clauses refer to (``status``, ``app``).

Clauses under ``NOT`` are ignored (they matched nothing shown). Tokens are found exactly as the message is
indexed (:func:`~log_pipeline.search.query.message_tokens`: lower-cased alphanumeric runs), so a highlight
is never narrower or wider than what the store matched. Pure functions, safe from any thread.

:class:`Highlighter` prepares a query once for many messages: the positive clauses are de-duplicated and at
most ``max_clauses`` of them (default :data:`MAX_HIGHLIGHT_CLAUSES`, in query order) are used — beyond that
``limited`` is true and the rest mark nothing; at most ``max_spans`` spans are reported per message
(``Highlight.truncated`` past it). Its cost per message is linear in the message for all single-token terms
together (one set lookup per token), plus one pass per phrase or multi-token term (Knuth-Morris-Pratt over
the token list, not a slice comparison at every position) and one RE2 match per distinct token per wildcard
(:mod:`metrics_store.regex`; a wildcard too large for it highlights nothing; only tokens of at most
:data:`MAX_WILDCARD_TOKEN_CHARS` characters, as no store matches a longer token: tantivy drops tokens over
40 bytes, Elasticsearch splits them at 255 characters). The HTTP API runs it in its thread pool, never on
the event loop.
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

__all__ = [
    "MAX_HIGHLIGHT_CLAUSES",
    "MAX_HIGHLIGHT_SPANS",
    "MAX_WILDCARD_TOKEN_CHARS",
    "Highlight",
    "Highlighter",
    "highlight",
]

MAX_WILDCARD_TOKEN_CHARS = 255
MAX_HIGHLIGHT_CLAUSES = 256
MAX_HIGHLIGHT_SPANS = 1024

# The same tokens as query.message_tokens, with their positions.
_TOKEN = re.compile(r"[^\W_]+|_+", re.UNICODE)


def _ascii_words(words: set[str]) -> re.Pattern[str] | None:
    """One regex finding exactly the tokens of a lower-cased ASCII message that are in ``words`` (ASCII
    letters and digits only, else None): in ASCII text a token is a maximal run of ``[a-z0-9]``, so a match
    bounded by neither is a whole token, and ``str.lower`` keeps every offset."""
    if not words or not all(w.isascii() and w.isalnum() for w in words):
        return None
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(sorted(words)) + r")(?![a-z0-9])")


@dataclass(frozen=True, slots=True)
class Highlight:
    message: list[tuple[int, int]] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
    truncated: bool = False  # more message spans matched than max_spans


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


class Highlighter:
    """``node``'s positive clauses prepared for many messages (see the module doc for the limits).

    ``clauses`` is the number of distinct positive clauses of the query, ``used`` how many of them mark
    (``limited`` when fewer than ``clauses``). Immutable after construction; safe from any thread."""

    def __init__(
        self, node: Node, *, max_clauses: int = MAX_HIGHLIGHT_CLAUSES, max_spans: int = MAX_HIGHLIGHT_SPANS
    ) -> None:
        found: list[Term | Phrase | Wildcard | Range] = []
        _positive(node, found)
        distinct = list(dict.fromkeys(found))  # dataclasses are hashable: duplicates marked once
        self.clauses = len(distinct)
        kept = distinct[:max_clauses]
        self.used = len(kept)
        self.limited = self.used < self.clauses
        self._max_spans = max_spans
        self._fields: list[str] = []
        self._words: set[str] = set()  # single-token terms and phrases
        self._runs: list[tuple[str, ...]] = []  # multi-token terms and phrases
        self._wildcards: list[Regex] = []
        runs: dict[tuple[str, ...], None] = {}
        for c in kept:
            if c.field.kind != "message":
                if c.field.kind in ("label", "field") and c.field.name not in self._fields:
                    self._fields.append(c.field.name)
            elif isinstance(c, Wildcard):
                rx = _wildcard(c.pattern.lower())
                if rx is not None:
                    self._wildcards.append(rx)
            elif isinstance(c, Term | Phrase):
                want = message_tokens(c.value if isinstance(c, Term) else c.text)
                if len(want) == 1:
                    self._words.add(want[0])
                elif want:
                    runs[tuple(want)] = None
        self._runs = list(runs)
        # the common case (single words, an ASCII message) without tokenising the whole message in Python
        self._fast = None if self._runs or self._wildcards else _ascii_words(self._words)

    def __call__(self, message: str) -> Highlight:
        if not (self._words or self._runs or self._wildcards):
            return Highlight([], list(self._fields))
        if self._fast is not None and message.isascii():
            return self._limited([m.span() for m in self._fast.finditer(message.lower())])
        found = [(m.start(), m.end(), m.group().lower()) for m in _TOKEN.finditer(message)]
        words = [w for _, _, w in found]
        hit = set(self._words)
        if self._wildcards:
            for w in set(words):
                if (
                    w not in hit
                    and len(w) <= MAX_WILDCARD_TOKEN_CHARS
                    and any(rx.matches(w) for rx in self._wildcards)
                ):
                    hit.add(w)
        spans = [(s, e) for s, e, w in found if w in hit]
        vocabulary = set(words) if self._runs else set()
        for want in self._runs:
            n = len(want)
            if not vocabulary.issuperset(want):  # a token the message lacks: no pass over it
                continue
            spans.extend((found[i][0], found[i + n - 1][1]) for i in occurrences(words, want))
        return self._limited(_merge(spans))

    def _limited(self, merged: list[tuple[int, int]]) -> Highlight:
        if len(merged) > self._max_spans:
            return Highlight(merged[: self._max_spans], list(self._fields), truncated=True)
        return Highlight(merged, list(self._fields))


def highlight(node: Node, message: str) -> Highlight:
    """Spans of ``message`` and names of fields that ``node`` (a parsed query) matched positively
    (default limits; prepare a :class:`Highlighter` once for many messages)."""
    if isinstance(node, MatchAll):
        return Highlight()
    return Highlighter(node)(message)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out
