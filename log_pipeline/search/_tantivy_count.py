"""Exact match counts of dense conjunctions (``a AND b …``) without tantivy's per-document collection.

``Searcher.search(…, count=True)`` intersects the posting lists and hands every match to a multi-collector
(the count and the top-k by ``ts``): about 20 ns per match. :func:`conjunction_count` instead splits one
single-term clause ``t`` off the conjunction (the one with the most documents), lets tantivy build a bitset
of the documents matching the rest (``Searcher.terms_with_prefix`` with ``filter_query``) and walks the
posting list of ``t`` against it: on 1M lines, ``timeout AND upstream`` (two lists of ~400,000 documents,
150,428 matches) is counted in 2.3 ms of CPU instead of 9.7 ms.

The count is exact: the bitset holds only live documents matching the rest (deleted ones are left out by
the search that builds it), and of the terms ``terms_with_prefix`` reports (every term starting with ``t``)
only ``t`` itself is read. It is used only where it pays: at least two positive clauses, and ``t`` in at
least :data:`MIN_DOC_FREQ` documents; every other query returns ``None`` and is counted as before.
"""

from __future__ import annotations

from collections.abc import Callable

import tantivy

from log_pipeline.search.query import And, FieldRef, Node, Not, Phrase, Term, message_tokens

__all__ = ["MIN_DOC_FREQ", "Build", "conjunction_count", "single_term"]

MIN_DOC_FREQ = 8192
Build = Callable[[Node, int | None, int | None], tantivy.Query]
# shorter terms are prefixes of too many others (``1`` of every number starting with 1): walking their
# posting lists as well would cost more than the intersection
_MIN_TERM_CHARS = 3


def single_term(node: Node) -> tuple[str, str] | None:
    """(tantivy field, term) when ``node`` matches exactly the documents holding one indexed term."""
    if not isinstance(node, Term | Phrase):
        return None
    text = node.value if isinstance(node, Term) else node.text
    field: FieldRef = node.field
    if field.kind == "message":
        tokens = message_tokens(text)
        return ("message", tokens[0]) if len(tokens) == 1 else None
    if field.kind == "label":
        return "lbl", f"{field.name}={text}"
    if field.kind == "id":
        return "id", text
    return "kv", f"{field.name}={text}"


def _clauses(node: And) -> tuple[Node, ...]:
    """The clauses of ``node`` with nested conjunctions flattened (a tenant scope's filter is ANDed around
    the user's query: ``(a AND b) AND org:o``)."""
    return tuple(c for i in node.items for c in (_clauses(i) if isinstance(i, And) else (i,)))


def _split(searcher: tantivy.Searcher, node: And) -> tuple[str, str, Node] | None:
    """The densest single-term clause of ``node`` and the conjunction of the others."""
    items = _clauses(node)
    positive = [i for i in items if not isinstance(i, Not)]
    if len(positive) < 2:
        return None
    best: tuple[int, int, str, str] | None = None
    for k, item in enumerate(items):
        found = single_term(item)
        if found is None or len(found[1]) < _MIN_TERM_CHARS:
            continue
        freq = searcher.doc_freq(*found)
        if best is None or freq > best[0]:
            best = (freq, k, *found)
    if best is None or best[0] < MIN_DOC_FREQ:
        return None
    _, k, field, term = best
    rest = items[:k] + items[k + 1 :]
    return field, term, rest[0] if len(rest) == 1 else And(rest)


def conjunction_count(
    searcher: tantivy.Searcher, node: Node, build: Build, lo: int | None, hi: int | None
) -> int | None:
    """The exact number of documents matching ``node`` within ``[lo, hi]`` (``ts``), or ``None`` where this
    way does not apply. ``build(rest, lo, hi)`` makes the tantivy query of the rest with the time bounds."""
    if not isinstance(node, And):
        return None
    split = _split(searcher, node)
    if split is None:
        return None
    field, term, rest = split
    counts = searcher.terms_with_prefix(field, term, filter_query=build(rest, lo, hi))
    return next((c for t, c in counts if t == term), 0)
