"""A glued call holding a value, read as one value: the miner's second reading of a message (issue 17).

``LOCAL(127.127.1.0)`` in ``synchronized to LOCAL(127.127.1.0), stratum 10`` stands where
``synchronized to 10.100.20.250, stratum 3`` has an address: the same event with a value written as a
call. The tokeniser keeps the call's name as a word (``chdir(<*>)`` in ``LOGIN chdir(<*>) failed`` is
template text), so the two messages differ in length and would never meet. :func:`calls_as_values` gives
the other reading (``word(<*>)`` with no space inside, the name not punctuation, becomes ``<*>``), which the
miner tries only for a message that matched no pattern as tokenised, and only to *join* an existing
pattern: a new pattern is always created from the message as tokenised, so ``chdir(<*>)`` stays text.
"""

from __future__ import annotations

from log_pipeline.patterns._tokens import WILDCARD, Tokenised

__all__ = ["calls_as_values"]

_PUNCT = frozenset("=:,;()[]{}\"'|")


def _glued_call(tokens: tuple[str, ...], spaces: tuple[str, ...], j: int) -> bool:
    """Whether ``tokens[j:j + 4]`` is ``word ( <*> )`` written with no space after the word."""
    return (
        j + 3 < len(tokens)
        and tokens[j + 1] == "("
        and tokens[j + 2] == WILDCARD
        and tokens[j + 3] == ")"
        and not spaces[j + 1]
        and not spaces[j + 2]
        and not spaces[j + 3]
        and tokens[j] != WILDCARD
        and tokens[j] not in _PUNCT
    )


def calls_as_values(tokenised: Tokenised) -> Tokenised | None:
    """``tokenised`` with every glued call ``word(<*>)`` read as one ``<*>``, or None when it has none."""
    tokens, spaces = tokenised
    if "(" not in tokens:
        return None
    out_t: list[str] = []
    out_s: list[str] = []
    j, n = 0, len(tokens)
    while j < n:
        if _glued_call(tokens, spaces, j):
            if not out_t or out_t[-1] != WILDCARD:  # <*> <*>: one value, as the tokeniser reads it
                out_t.append(WILDCARD)
                out_s.append(spaces[j])
            j += 4
            continue
        out_t.append(tokens[j])
        out_s.append(spaces[j])
        j += 1
    if len(out_t) == n:
        return None
    return tuple(out_t), tuple(out_s)
