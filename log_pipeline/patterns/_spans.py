"""Matching a message against a template whose values may span several tokens (issue 17).

The miner buckets messages by token count, so an event whose value sometimes holds a space
(``user John Smith`` vs ``user root``, a multi-word state) splits into one pattern per length. Before a new
pattern is created, :func:`spans_match` asks whether the message reads as an existing template of another
length in which each run of ``<*>`` stands for one or more whole words: every constant of the template must be
present, in order, and the tokens a ``<*>`` absorbs must not be punctuation (punctuation is the skeleton of a
format string, the same in every line of one event).
"""

from __future__ import annotations

from collections.abc import Sequence

from log_pipeline.patterns._tokens import WILDCARD

__all__ = ["spans_match"]

_PUNCT = frozenset("=:,;()[]{}\"'|")
_NOT_NAME = _PUNCT | {WILDCARD}


def _runs(template: Sequence[str]) -> tuple[str, ...]:
    """The template with each run of consecutive ``<*>`` as one ``<*>``."""
    out: list[str] = []
    for t in template:
        if t == WILDCARD and out and out[-1] == WILDCARD:
            continue
        out.append(t)
    return tuple(out)


def spans_match(template: Sequence[str], message: Sequence[str]) -> bool:
    """Whether ``message`` is ``template`` with each ``<*>`` run standing for one token that is not
    punctuation, or for several words (no punctuation, no value: ``Mary Ann``), and every constant equal,
    in order. A linear pass over the template keeping the set of message positions reached (at most
    len(template) * len(message) steps, no recursion)."""
    tpl = _runs(template)
    m = len(message)
    if len(tpl) > m:
        return False
    name_end = _name_ends(message)
    reached = {0}
    for t in tpl:
        nxt: set[int] = set()
        if t != WILDCARD:
            nxt.update(j + 1 for j in reached if j < m and message[j] == t)
        else:
            for j in reached:
                if j < m and message[j] not in _PUNCT:
                    nxt.add(j + 1)  # one token
                    nxt.update(range(j + 2, name_end[j] + 1))  # several words
        if not nxt:
            return False
        reached = nxt
    return m in reached


def _name_ends(message: Sequence[str]) -> list[int]:
    """For each position, the end of the run of words (not punctuation, not a value) starting there."""
    ends = [0] * (len(message) + 1)
    ends[len(message)] = len(message)
    for j in range(len(message) - 1, -1, -1):
        ends[j] = ends[j + 1] if message[j] not in _NOT_NAME else j
    return ends
