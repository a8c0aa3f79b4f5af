"""Online template mining: a Drain-style miner with masking, stable ids and a bounded pattern table.

Each message is tokenised and its obvious variables masked (:mod:`._tokens`). Messages are bucketed by
token count and their first two tokens (masked tokens read as ``<*>``), as in Drain's fixed-depth tree;
once ``max_children`` distinct second tokens follow the same first token, further ones share a ``<*>``
bucket (that position is evidently variable, e.g. a user name). Within a bucket the message joins the most
similar pattern when the similarity (equal words over the pattern's constant words) reaches
``similarity_threshold``, or when it differs from a pattern of four or more constant words in exactly
one of them (*one-off*); positions that differ become ``<*>`` in the template. Otherwise a new pattern is
created.

Punctuation (``= : , ; ( ) [ ] { } " ' |``) is the skeleton of a format string: every line of one event puts
it in the same places (values that hold punctuation are masked and collapsed by the tokeniser), while the
words say which event it is. So a message joins a pattern only if their punctuation is identical, and the
similarity counts words only: counting shared ``:`` and ``,`` as agreement made short key/value messages of
different events look alike (``symbol <*>, bit <*>`` vs ``symbol <*> over <*> seconds``). Accepted because
it raised the leave-one-system-out mean GA (0.976 -> 0.979).

The one-off rule repairs a template whose variable position was split early: with a fixed threshold, a short
template such as ``Invalid user webmaster from <*>`` (the first line's user name, which has no digit, taken
as text) turns away ``Invalid user test from <*>`` (3 of 4 constants equal, below 0.8) and the event splits
in two for good. A message that agrees with a template everywhere but in one word is, in any log format,
far more often the same event with a digit-free value than a different event; with fewer than four
constants (``Link error`` / ``Link ok``) one word is too large a share of the message to tell, and the
threshold alone decides. Accepted because it raised the leave-one-system-out mean GA of bench/patterns.py
(0.969 -> 0.976).

The one-off rule counts *descriptive* words only, and never treats a field name as a value (issue 17): a
word directly followed by ``:`` or ``=`` names a field (``memory`` in ``Total memory: <*>, used: <*>``), so
a record that differs from a template in its field name is another record (``Total disk: <*>``), and a
template whose only descriptive word is the differing one (``"GET <*>" status: <*> len: <*> time: <*>``,
where ``status len time`` are field names) says nothing else about what happened, so ``POST`` is another
event. Neutral on leave-one-system-out (0.980); on the 8 unseen Loghub systems 0.715 -> 0.729 (OpenStack
0.351 -> 0.438, Mac 0.866 -> 0.886; bench/README.md).

Tried and rejected because they lowered the leave-one-system-out mean: letting a message join a pattern
under another first token (``Accepted password ...`` joined ``Failed password ...``; 0.969 -> 0.929) or
under another second token when all else agrees (``Failed none`` joined ``Failed password``; 0.980 -> 0.971),
and masking two-part dotted names (``java.vendor``) as values (0.979 -> 0.979, one system lower).
Tried and rejected in issue 17's unseen-systems work (LOSO 0.980): refusing to generalise a pattern that has
already absorbed K messages (a mature pattern's constants are confirmed; OpenSSH 0.996 -> 0.613 at K <= 30:
user names stay one value for a while, then vary), and treating a position as variable in its whole bucket
once it has held K distinct words (Brain-like column statistics; 0.980 -> 0.974/0.978/0.979 at K = 3/4/6).
Masking every digit-free value after ``key=`` and file names with an extension (``chrome.exe``) were
neutral on LOSO but contradict the existing template contract (``tty=ssh`` and ``user.dir`` stay text).
Tried in stop 30 and reverted: a second reading of a message that matched no pattern, with its glued calls
``word(<*>)`` read as one value, allowed only to join an existing pattern it repeats whole (``synchronized to
LOCAL(127.127.1.0), stratum 10`` joining ``synchronized to <*>, stratum <*>``): shared 8 identical,
Thunderbird (whose errors were read) 0.697 -> 0.981, but on the unseen systems not read its only effect was
Android 0.882 -> 0.881 (bench/README.md).

The most similar pattern is found by :class:`._bucket.Bucket`: pattern by pattern in Python in a small
bucket, over a numpy matrix of token hashes once a search compares more than ~1,000 tokens (issue 11: a
line that missed the exact cache cost ~11 ms of CPU in a bucket of 2,200 patterns, and a sender chooses its
lines); both pick the same pattern.

A message whose token sequence was never seen before has its lists collapsed (:func:`._tokens.collapse_lists`)
before matching; the exact-match cache is keyed by the sequence as tokenised, so a known sequence costs one
dictionary lookup.

A pattern's id is decided when the pattern is created and never changes afterwards (templates only get more
general); it is a hash of the first template, so the same log lines yield the same ids across restarts.
The table holds at most ``max_patterns``; the least recently used pattern is evicted when a new one is needed.
Memory is bounded too, not only counts (issue 11: a sender of distinct 4 KB lines made each pattern and
exact-cache key cost ~50 KB, so 10,000 patterns per tenant were ~0.5 GB): each pattern and each exact-cache
key is charged an estimate of its size (:func:`_cost`: ~64 bytes per token and whitespace run, the string
and its reference, plus the text, non-ASCII at 4 bytes a character); past ``max_bytes / 2`` for patterns
the least recently used are evicted (an evicted pattern lets go of its text at once: the exact cache may
still point at it), and past ``max_bytes / 2`` for the exact cache it is cleared, as it is at
``exact_cache_size`` entries. Under the bounds nothing changes: the same lines give the same ids.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from log_pipeline.patterns._bucket import PUNCT as _PUNCT
from log_pipeline.patterns._bucket import Bucket
from log_pipeline.patterns._bucket import Pattern as _Pattern
from log_pipeline.patterns._tokens import WILDCARD, collapse_lists, tokenise

__all__ = ["MinerConfig", "TemplateMiner"]

_ONE_OFF_MIN = 4  # constants a pattern needs before one differing word joins it whatever the threshold


@dataclass(frozen=True, slots=True)
class MinerConfig:
    """Settings of :class:`TemplateMiner` (one configuration for every log format)."""

    # the setting bench/patterns.py chooses on the design systems (every leave-one-system-out fold but
    # BGL's); 0.7 / 4 before issue 17
    similarity_threshold: float = 0.8
    max_children: int = 2  # distinct second tokens per (length, first token) before they share <*>
    max_patterns: int = 10_000
    max_message_chars: int = 4096  # longer messages are mined on their first max_message_chars characters
    exact_cache_size: int = 65_536  # masked token sequence -> pattern memo (the fast path)
    max_bytes: int = 64 * 1024 * 1024  # estimated memory of patterns + exact cache (half each), see _cost

    def __post_init__(self) -> None:
        if not 0.0 < self.similarity_threshold <= 1.0:
            raise ValueError("similarity_threshold must be in (0, 1]")
        if self.max_patterns < 1:
            raise ValueError("max_patterns must be >= 1")
        if self.max_bytes < 1:
            raise ValueError("max_bytes must be >= 1")


_TOKEN_BYTES = 64  # a token's str object (~50 bytes for a short one) and the references to it
_ENTRY_BYTES = 200  # an object's, a dict entry's and a list slot's overhead


def _chars(text: str) -> int:
    """Bytes of a string's characters: 1 each for ASCII, up to 4 otherwise (CPython's widest form)."""
    return len(text) if text.isascii() else 4 * len(text)


def _cost(tokens: tuple[str, ...] | list[str], text: str = "", spaces: tuple[str, ...] = ()) -> int:
    """Estimated bytes held for ``tokens`` (and a rendered ``text``, and the whitespace runs between the
    tokens): what the memory bounds count."""
    pieces = sum(map(_chars, tokens)) + sum(map(_chars, spaces)) + _chars(text)
    return _ENTRY_BYTES + _TOKEN_BYTES * (len(tokens) + len(spaces)) + pieces


def _render(tokens: list[str], spaces: tuple[str, ...]) -> str:
    return "".join(s + t for s, t in zip(spaces, tokens, strict=True)).strip()


def _pattern_id(tokens: tuple[str, ...]) -> str:
    return hashlib.blake2b("\x1f".join(tokens).encode(), digest_size=6).hexdigest()


_KEY_MARKS = frozenset("=:")  # a word directly followed by one of these names a field (key=, key:)


def _is_key(tokens: list[str] | tuple[str, ...], i: int) -> bool:
    return i + 1 < len(tokens) and tokens[i + 1] in _KEY_MARKS


def _one_off(p: _Pattern, tokens: tuple[str, ...]) -> bool:
    """Whether the one word in which ``tokens`` differ from ``p`` may be a value: it is not a field name
    (``memory`` in ``memory: <*>``), and ``p`` has ``_ONE_OFF_MIN`` or more constant words that are not field
    names (``GET`` in ``"GET <*>" status: <*> len: <*>`` is the only word saying what happened)."""
    words = 0
    differs_at_key = False
    for i, (a, b) in enumerate(zip(p.tokens, tokens, strict=True)):
        if a == WILDCARD or a in _PUNCT:
            continue
        key = _is_key(p.tokens, i)
        if not key:
            words += 1
        if a != b and key:
            differs_at_key = True
    return not differs_at_key and words >= _ONE_OFF_MIN


class TemplateMiner:
    """A :class:`log_pipeline.base.PatternMiner`. ``mine`` is serialised by a lock, so sharing one miner
    between threads is safe (the pipeline calls it from one thread; the lock is then uncontended).

    ``on_new``/``on_evict`` are called (under the lock) with the pattern id when a pattern is created/evicted;
    the component's metrics hook in there.
    """

    def __init__(
        self,
        config: MinerConfig | None = None,
        *,
        on_new: Callable[[str], None] | None = None,
        on_evict: Callable[[str], None] | None = None,
    ) -> None:
        self._cfg = config or MinerConfig()
        self._threshold = self._cfg.similarity_threshold
        self._buckets: dict[tuple[int, str], Bucket] = {}
        self._lru: OrderedDict[str, _Pattern] = OrderedDict()
        self._exact: dict[tuple[str, ...], _Pattern] = {}
        self._children: dict[tuple[int, str], set[str]] = {}  # (length, first token) -> second tokens
        self._lock = threading.Lock()
        self._on_new = on_new
        self._on_evict = on_evict
        self._pattern_bytes = 0  # sum of the live patterns' costs
        self._exact_bytes = 0  # sum of the exact cache keys' costs
        self._index_bytes = 0  # sum of the buckets' own bytes and matrices (_bucket.Bucket.charged_bytes)

    def __len__(self) -> int:
        return len(self._lru)

    def memory_bytes(self) -> int:
        """Estimated bytes held by the patterns, their buckets' matrices and the exact cache (what
        ``max_bytes`` bounds)."""
        return self._pattern_bytes + self._index_bytes + self._exact_bytes

    def pattern_ids(self) -> list[str]:
        """The ids of the live patterns, least recently used first."""
        with self._lock:
            return list(self._lru)

    def template(self, pattern_id: str) -> str | None:
        """Current template of a live pattern, or None when unknown or evicted."""
        with self._lock:
            p = self._lru.get(pattern_id)
            return p.template if p is not None else None

    def mine(self, message: str) -> tuple[str, str]:
        """Return ``(pattern_id, template)`` for ``message``, learning from it."""
        if len(message) > self._cfg.max_message_chars:
            message = message[: self._cfg.max_message_chars]
        tokens, spaces = tokenise(message)
        with self._lock:
            p = self._exact.get(tokens)
            if p is None or not p.alive:
                p = self._match_or_create(tokens, spaces)
            self._lru.move_to_end(p.id)
            return p.id, p.template

    def _match_or_create(self, raw: tuple[str, ...], raw_spaces: tuple[str, ...]) -> _Pattern:
        tokens, spaces = collapse_lists((raw, raw_spaces))
        bucket_key = self._bucket_key(tokens)
        bucket = self._buckets.get(bucket_key)
        if bucket is None:
            bucket = self._buckets[bucket_key] = Bucket()
        found = bucket.best(tokens)
        best, best_sim, best_eq = found if found is not None else (None, -1.0, -1)
        if best is not None and (
            best_sim >= self._threshold
            or (best.constants >= _ONE_OFF_MIN and best_eq == best.constants - 1 and _one_off(best, tokens))
        ):
            if best_sim < 1.0:
                self._generalise(best, tokens)
        else:
            best = self._create(tokens, spaces, bucket_key, bucket)
        key_cost = 0 if raw in self._exact else _cost(raw)  # a dead pattern's key is already counted
        if (
            len(self._exact) >= self._cfg.exact_cache_size
            or self._exact_bytes + key_cost > self._cfg.max_bytes // 2
        ):
            self._exact.clear()
            self._exact_bytes = 0
            key_cost = _cost(raw)
        self._exact[raw] = best
        self._exact_bytes += key_cost
        return best

    def _bucket_key(self, tokens: tuple[str, ...]) -> tuple[int, str]:
        if len(tokens) < 2:
            return (len(tokens), tokens[0] if tokens else "")
        node = (len(tokens), tokens[0])
        children = self._children.get(node)
        if children is None:
            children = self._children[node] = set()
        second = tokens[1]
        if second not in children:
            if len(children) >= self._cfg.max_children:
                second = WILDCARD
            children.add(second)
        return (len(tokens), f"{tokens[0]}\x1f{second}")

    def _generalise(self, p: _Pattern, tokens: tuple[str, ...]) -> None:
        p.generalise(tokens)
        self._buckets[p.bucket].update(p)
        p.template = _render(p.tokens, p.spaces)
        cost = _cost(p.tokens, p.template, p.spaces)
        self._pattern_bytes += cost - p.cost
        p.cost = cost

    def _create(
        self,
        tokens: tuple[str, ...],
        spaces: tuple[str, ...],
        bucket_key: tuple[int, str],
        bucket: Bucket,
    ) -> _Pattern:
        if len(self._lru) >= self._cfg.max_patterns:
            self._evict_oldest()
        # the new pattern's cost (its text aside) and what its bucket's matrix may grow by
        room = self._cfg.max_bytes // 2 - _cost(tokens, "", spaces) - bucket.growth(len(tokens))
        while self._lru and self._pattern_bytes + self._index_bytes > room:
            self._evict_oldest()
        if self._buckets.get(bucket_key) is not bucket:  # an eviction emptied and dropped this very bucket
            bucket = self._buckets[bucket_key] = Bucket()
            length, prefix = bucket_key
            first, sep, second = prefix.partition("\x1f")
            if sep:
                self._children.setdefault((length, first), set()).add(second)
        pid = base = _pattern_id(tokens)
        n = 1
        while pid in self._lru:
            n += 1
            pid = f"{base}-{n}"
        p = _Pattern(pid, list(tokens), spaces, bucket_key)
        p.template = _render(p.tokens, spaces)
        p.cost = _cost(p.tokens, p.template, spaces)
        self._index_bytes += bucket.add(p)
        self._lru[pid] = p
        self._pattern_bytes += p.cost
        if self._on_new is not None:
            self._on_new(pid)
        return p

    def _evict_oldest(self) -> None:
        _, old = self._lru.popitem(last=False)
        old.alive = False
        self._pattern_bytes -= old.cost
        # the exact cache may still point at it until it is cleared: only ``alive`` is read from now on, so
        # what it held is let go (else evicted patterns stayed in memory uncounted)
        old.tokens, old.spaces, old.template = [], (), ""
        bucket = self._buckets[old.bucket]
        self._index_bytes += bucket.remove(old)
        if not bucket:
            del self._buckets[old.bucket]
            length, prefix = old.bucket
            first, _, second = prefix.partition("\x1f")
            children = self._children.get((length, first))
            if children is not None:
                children.discard(second)
                if not children:
                    del self._children[(length, first)]
        if self._on_evict is not None:
            self._on_evict(old.id)
