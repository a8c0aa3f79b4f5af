"""Recent password verdicts, so a log-in repeated with the same password costs no second argon2 hash.

An entry is keyed by a keyed BLAKE2b digest (a random key made per process, never stored) of the user name,
the user's credential as the file says now (:meth:`UserStore.credential`: a digest of the stored argon2
hash, ``None`` for an unknown name) and the password presented; it holds only whether the verification
succeeded. Neither the password nor an unkeyed hash of it is kept. Because the credential is part of the
key, replacing or deleting the user (a new password, new grants: a new salted hash) makes every entry of
the old record unreachable at once; entries also expire ``ttl_s`` after they were made and at most
``max_entries`` are kept (the least recently used go first), so memory stays bounded under a spray of
guesses. A verdict is only ever what argon2 said for exactly that name, credential and password: a wrong
password is never accepted, it can at most be refused without a second hash. Thread-safe; the clock is
injected.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["VerdictCache"]


class VerdictCache:
    def __init__(
        self,
        *,
        ttl_s: float = 60.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s, self.max_entries = ttl_s, max_entries
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._entries: OrderedDict[bytes, tuple[bool, float]] = OrderedDict()

    def get(self, user: str, credential: str | None, password: str) -> bool | None:
        """What verifying ``password`` for ``user`` (with this ``credential``) said within ``ttl_s``:
        True (it matched), False (it did not), or None (not known: verify it)."""
        digest = self._digest(user, credential, password)
        now = self._clock()
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            ok, expires = entry
            if now >= expires:
                del self._entries[digest]
                return None
            self._entries.move_to_end(digest)
            return ok

    def put(self, user: str, credential: str | None, password: str, *, ok: bool) -> None:
        """Remember what verifying ``password`` for ``user`` (with this ``credential``) said (nothing is
        kept when ``ttl_s`` is 0: remembering is off)."""
        if self.ttl_s <= 0:
            return
        digest = self._digest(user, credential, password)
        expires = self._clock() + self.ttl_s
        with self._lock:
            self._entries[digest] = (ok, expires)
            self._entries.move_to_end(digest)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _digest(self, user: str, credential: str | None, password: str) -> bytes:
        h = hashlib.blake2b(key=self._key, digest_size=32)
        # length-prefixed fields, so no two (user, credential, password) triples share an input
        for part in (user, "\x00" if credential is None else "\x01" + credential, password):
            data = part.encode("utf-8", "surrogatepass")
            h.update(len(data).to_bytes(8, "big"))
            h.update(data)
        return h.digest()
