"""Tokenisation and masking of obvious variables, the first stage of template mining.

A message is split into *pieces*: runs of non-space characters and single punctuation marks that often
separate a key from its value (``= : , ; ( ) [ ] { } " ' |``), each remembering the whitespace before it so
a template can be rebuilt with the message's own spacing. A piece is masked as ``<*>`` when it is obviously
variable: it contains a digit (numbers, hex ids, IPs, versions, durations, UUIDs, block ids), it is a
path/URL (contains ``/``) or a dotted name with three or more parts (host names, FQDNs, class names).
Consecutive masked pieces (``<*>:<*>`` from ``10.0.0.1:50010``, ``<*> <*>`` from a multi-word duration)
collapse into one ``<*>``, so variables that span several pieces do not change the token count.
"""

from __future__ import annotations

import re

__all__ = ["WILDCARD", "Tokenised", "tokenise"]

WILDCARD = "<*>"

# whitespace is captured separately so templates keep the original spacing
_PIECE = re.compile(r"(\s*)([=:,;()\[\]{}\"'|]|[^\s=:,;()\[\]{}\"'|]+)")
_HAS_DIGIT = re.compile(r"\d")
_DOTTED = re.compile(r"[\w-]+(?:\.[\w-]+){2,}$")  # host names, FQDNs, dotted class names: a.b.c
# punctuation that may sit between two parts of one variable (ip:port, key=value lists are not collapsed)
_JOINERS = frozenset(":,;")

Tokenised = tuple[tuple[str, ...], tuple[str, ...]]  # (masked tokens, whitespace before each token)


def _is_variable(piece: str) -> bool:
    if _HAS_DIGIT.search(piece) is not None:
        return True
    return ("/" in piece and len(piece) > 1) or _DOTTED.match(piece) is not None


class _MaskCache:
    """Bounded memo of piece -> masked piece (the same pieces recur constantly in logs)."""

    __slots__ = ("_cache", "_max")

    def __init__(self, max_entries: int) -> None:
        self._cache: dict[str, str] = {}
        self._max = max_entries

    def mask(self, piece: str) -> str:
        hit = self._cache.get(piece)
        if hit is not None:
            return hit
        masked = WILDCARD if _is_variable(piece) else piece
        if len(self._cache) >= self._max:
            self._cache.clear()
        self._cache[piece] = masked
        return masked


_CACHE = _MaskCache(65536)


def tokenise(message: str) -> Tokenised:
    """Split ``message`` into masked tokens and the whitespace before each (see the module docstring)."""
    tokens: list[str] = []
    spaces: list[str] = []
    mask = _CACHE.mask
    for space, piece in _PIECE.findall(message):
        tok = mask(piece)
        if tok == WILDCARD and tokens:
            last = tokens[-1]
            if last == WILDCARD:
                continue  # <*><*> or <*> <*>: one variable
            if (
                last in _JOINERS
                and not spaces[-1]
                and not space
                and len(tokens) > 1
                and tokens[-2] == WILDCARD
            ):
                tokens.pop()  # <*>:<*> (ip:port, a:b:c): one variable
                spaces.pop()
                continue
        tokens.append(tok)
        spaces.append(space)
    return tuple(tokens), tuple(spaces)
