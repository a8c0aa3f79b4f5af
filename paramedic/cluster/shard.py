"""Which replica scrapes a target: rendezvous (highest random weight) hashing over the live membership.

Every replica computes the same owner from the same member list, so no assignment is stored; when a member
joins or leaves, only the targets it wins or held move (about 1/N of them). No maintained PyPI package fits
(``hrw`` and ``clandestined`` have seen no release since 2023), and the algorithm is a few lines.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

__all__ = ["owner", "owns"]


def _weight(member: str, key: str) -> int:
    digest = hashlib.blake2b(f"{member}\0{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def owner(key: str, members: Iterable[str]) -> str | None:
    """The member with the highest weight for ``key`` (ties broken by id); None without members."""
    best: tuple[int, str] | None = None
    for m in members:
        cand = (_weight(m, key), m)
        if best is None or cand > best:
            best = cand
    return best[1] if best is not None else None


def owns(member: str, key: str, members: Iterable[str]) -> bool:
    """True when ``member`` scrapes ``key`` (a member not yet in the list owns nothing)."""
    return owner(key, members) == member
