"""A bucket of the miner's patterns and the search for the pattern most similar to a message (issue 11).

Every pattern of a bucket has the message's token count, so the search compares position by position. Done
in Python, one comparison walks a pattern's tokens: a line that misses the exact cache in a full bucket cost
~9 ms of CPU at 2,200 patterns of ~100 tokens (bench/miner_worst.py), holding the GIL, and a syslog sender
chooses its lines. Once a search compares more than :data:`MIN_WORK` tokens (patterns x tokens, with more
than :data:`MIN_PATTERNS` patterns) the bucket therefore also keeps a matrix of its patterns' tokens as
integers, one row per pattern, and one search is a few numpy passes over it: the same comparisons, at a few
nanoseconds per token instead of ~32 ns. Small buckets (almost all of them on real logs) keep the Python
loop, whose per-call cost is lower than numpy's. The choice is by work, not by pattern count: 24 patterns of
4,095 tokens cost ~3 ms in Python.

A token's integer is its string's ``hash`` (SipHash with this process's random key: a sender cannot aim
for a collision). Equal tokens have equal hashes, so the matrix never sees fewer equal tokens than there
are, only, on a collision, more: the pattern it picks is then checked token by token, and if the matrix
overrated it the bucket is searched again in Python. Ranked this way, a pattern whose check agrees is the
Python search's answer (no other pattern can be truly better than it seemed, nor it better than it is).
Interning the tokens instead (``sys.intern`` ids, exact) grew CPython's interned-string table past what
``max_bytes`` counts (~4 MB for a 4 MiB miner in test_patterns_bucket.py's bound test).

Both searches return the same pattern: the one with the highest similarity (constant words equal over the
pattern's constant words, 1.0 for a pattern without constants), then the most equal words, then the first
created, among the patterns whose punctuation the message repeats (tests/log_pipeline/
test_patterns_bucket.py compares them on every bucket of the Loghub files and on generated buckets).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from log_pipeline.patterns._tokens import WILDCARD

__all__ = ["BUCKET_BYTES", "MIN_PATTERNS", "MIN_WORK", "PUNCT", "Bucket", "Match", "Pattern"]

PUNCT = frozenset("=:,;()[]{}\"'|")  # the tokeniser's single-character pieces
# A bucket is searched over its matrix when it has more than MIN_PATTERNS patterns and one search compares
# more than MIN_WORK tokens (patterns x tokens per line). Chosen by work, not by pattern count: 24 patterns
# of 4,095 tokens cost ~3 ms in Python. Measured (CPU per search, bench/miner_crossover.py):
# Python ~32 ns per token compared; the matrix ~15 us + ~130 ns per token of the line (hashing it) + ~2 ns
# per token compared, so below ~5 patterns Python wins at any width and below ~1,000 comparisons at any count.
MIN_PATTERNS = 4
MIN_WORK = 1024
# The Bucket object and its pattern list, charged per bucket (~190 bytes traced on CPython 3.11).
BUCKET_BYTES = 200
_hash = hash  # a token's integer in the matrix (tests collide it on purpose)


def _wants_matrix(n: int, width: int) -> bool:
    return n > MIN_PATTERNS and n * width > MIN_WORK


def _keeps_matrix(n: int, width: int) -> bool:
    """A matrix is dropped only at half the thresholds: a bucket at the edge does not rebuild it per line."""
    return 2 * n > MIN_PATTERNS and 2 * n * width > MIN_WORK


class Pattern:
    """A pattern of the miner: its tokens and what the search reads of them."""

    __slots__ = ("alive", "bucket", "constants", "cost", "id", "row", "seq", "spaces", "template", "tokens")

    def __init__(self, pid: str, tokens: list[str], spaces: tuple[str, ...], bucket: tuple[int, str]) -> None:
        self.id = pid
        self.tokens = tokens
        self.spaces = spaces
        self.bucket = bucket
        self.constants = sum(1 for t in tokens if t != WILDCARD and t not in PUNCT)
        self.alive = True
        self.template = ""
        self.cost = 0
        self.row = -1  # its row in the bucket's matrix, -1 while the bucket has none
        self.seq = 0  # its rank of creation in the bucket (ties go to the first created)

    def generalise(self, tokens: tuple[str, ...]) -> None:
        """Make ``<*>`` every position where ``tokens`` differs."""
        self.tokens = [a if a == b else WILDCARD for a, b in zip(self.tokens, tokens, strict=True)]
        self.constants = sum(1 for t in self.tokens if t != WILDCARD and t not in PUNCT)


Match = tuple[Pattern, float, int]  # (best pattern, its similarity, its equal words)


class Bucket:
    """The patterns of one bucket in creation order, searched in Python or over a matrix of token ids.

    The matrix is stored a position per row and a pattern per column, so that reductions over a pattern's
    positions run across rows (vectorised whatever the token count; along short rows numpy is ~5x slower).
    All its arrays are None until the bucket's work calls for it (:data:`MIN_WORK`): most buckets never
    have one, and even empty numpy arrays cost ~100 bytes each.
    """

    __slots__ = ("_consts", "_ids", "_n", "_punct", "_rows", "_seq", "_seqs", "patterns")

    def __init__(self) -> None:
        self.patterns: list[Pattern] = []
        self._seq = 0
        self._n = 0  # columns in use
        self._rows: list[Pattern] | None = None  # the pattern of each column
        self._ids: npt.NDArray[np.int64] | None = None  # (tokens, capacity): hash of each token
        self._punct: npt.NDArray[np.bool_] | None = None  # (tokens, capacity): the token is punctuation
        self._consts: npt.NDArray[np.int64] | None = None  # constant words per pattern
        self._seqs: npt.NDArray[np.int64] | None = None  # Pattern.seq per column

    def __len__(self) -> int:
        return len(self.patterns)

    def index_bytes(self) -> int:
        """Bytes of the matrix (0 while the bucket has none)."""
        if self._ids is None:
            return 0
        return _row_bytes(int(self._ids.shape[0])) * int(self._ids.shape[1])

    def charged_bytes(self) -> int:
        """What the miner charges for this bucket: :data:`BUCKET_BYTES` and the matrix (0 when empty)."""
        return BUCKET_BYTES + self.index_bytes() if self.patterns else 0

    def growth(self, width: int) -> int:
        """Bytes by which :meth:`charged_bytes` grows when one more pattern of ``width`` tokens is added."""
        n = len(self.patterns) + 1
        fixed = BUCKET_BYTES if n == 1 else 0
        if self._ids is None:
            return fixed + (_row_bytes(width) * _capacity(n) if _wants_matrix(n, width) else 0)
        cap = self._ids.shape[1]
        return fixed + (_row_bytes(width) * (_capacity(cap + 1) - cap) if self._n == cap else 0)

    def add(self, p: Pattern) -> int:
        """Append ``p``; return the bytes by which :meth:`charged_bytes` grew."""
        before = self.charged_bytes()
        p.seq = self._seq
        self._seq += 1
        self.patterns.append(p)
        if self._ids is not None:
            self._append(p)
        elif _wants_matrix(len(self.patterns), len(p.tokens)):
            self._build(len(p.tokens), _capacity(len(self.patterns)))
        return self.charged_bytes() - before

    def remove(self, p: Pattern) -> int:
        """Remove ``p``; return the (negative) change of :meth:`charged_bytes`, as :meth:`add` does.

        The matrix is dropped when the bucket falls below half the thresholds and reallocated at a quarter of
        its capacity: else a bucket evicted from thousands of patterns down to one kept (and was charged for)
        thousands of columns, and over rounds of such buckets half the byte bound went to dead capacity.
        """
        before = self.charged_bytes()
        self.patterns.remove(p)
        if self._ids is None:
            return self.charged_bytes() - before
        self._remove_column(p)
        width, cap = self._ids.shape
        if not _keeps_matrix(self._n, width):
            for q in self.patterns:
                q.row = -1
            self._rows = self._ids = self._punct = self._consts = self._seqs = None
            self._n = 0
        elif self._n < cap // 4 and _capacity(self._n) < cap:
            self._resize(_capacity(self._n))
        return self.charged_bytes() - before

    def _remove_column(self, p: Pattern) -> None:
        if self._ids is None or self._punct is None or self._consts is None or self._seqs is None:
            raise RuntimeError("bucket has no matrix")
        if self._rows is None:
            raise RuntimeError("bucket has no matrix")
        last = self._n - 1
        if p.row != last:  # the last column moves into the hole: order lives in ``seq``, not in columns
            moved = self._rows[last]
            self._ids[:, p.row] = self._ids[:, last]
            self._punct[:, p.row] = self._punct[:, last]
            self._consts[p.row] = self._consts[last]
            self._seqs[p.row] = self._seqs[last]
            self._rows[p.row] = moved
            moved.row = p.row
        self._rows.pop()
        self._n = last
        p.row = -1

    def _build(self, width: int, cap: int) -> None:
        """(Re)allocate the matrix at ``cap`` columns and fill it from :attr:`patterns`."""
        self._ids = np.zeros((width, cap), dtype=np.int64)
        self._punct = np.zeros((width, cap), dtype=np.bool_)
        self._consts = np.zeros(cap, dtype=np.int64)
        self._seqs = np.zeros(cap, dtype=np.int64)
        self._rows = []
        self._n = 0
        for q in self.patterns:
            self._append(q)

    def _resize(self, cap: int) -> None:
        """Reallocate the matrix at ``cap`` columns, copying the packed columns (no re-hashing: a rebuild of
        a full bucket re-hashed every token of every pattern, ~20 ms for one line at 95 x 2,049 tokens)."""
        if self._ids is None or self._punct is None or self._consts is None or self._seqs is None:
            raise RuntimeError("bucket has no matrix")
        n = self._n
        ids = np.zeros((self._ids.shape[0], cap), dtype=np.int64)
        punct = np.zeros((self._punct.shape[0], cap), dtype=np.bool_)
        consts = np.zeros(cap, dtype=np.int64)
        seqs = np.zeros(cap, dtype=np.int64)
        ids[:, :n] = self._ids[:, :n]
        punct[:, :n] = self._punct[:, :n]
        consts[:n] = self._consts[:n]
        seqs[:n] = self._seqs[:n]
        self._ids, self._punct, self._consts, self._seqs = ids, punct, consts, seqs

    def update(self, p: Pattern) -> None:
        """Re-read ``p``'s tokens after :meth:`Pattern.generalise`."""
        if self._ids is not None and self._consts is not None:
            self._ids[:, p.row] = [_hash(t) for t in p.tokens]
            self._consts[p.row] = p.constants

    def _append(self, p: Pattern) -> None:
        if self._ids is None or self._punct is None or self._consts is None or self._seqs is None:
            raise RuntimeError("bucket has no matrix")
        if self._rows is None:
            raise RuntimeError("bucket has no matrix")
        if self._n == self._ids.shape[1]:  # full: copy into twice the columns
            self._resize(_capacity(self._n + 1))
        p.row = self._n
        self._ids[:, p.row] = [_hash(t) for t in p.tokens]
        self._punct[:, p.row] = [t in PUNCT for t in p.tokens]
        self._consts[p.row] = p.constants
        self._seqs[p.row] = p.seq
        self._rows.append(p)
        self._n += 1

    def best(self, tokens: tuple[str, ...]) -> Match | None:
        """The most similar pattern whose punctuation ``tokens`` repeats, or None."""
        if self._ids is None:
            return _best_python(self.patterns, tokens)
        return self._best_matrix(tokens)

    def _best_matrix(self, tokens: tuple[str, ...]) -> Match | None:
        if self._ids is None or self._punct is None or self._consts is None or self._seqs is None:
            raise RuntimeError("bucket has no matrix")
        if self._rows is None:
            raise RuntimeError("bucket has no matrix")
        msg = np.fromiter(map(_hash, tokens), dtype=np.int64, count=len(tokens))
        words = np.fromiter(
            (t != WILDCARD and t not in PUNCT for t in tokens), dtype=np.bool_, count=len(tokens)
        )
        n = self._n
        equal = self._ids[:, :n] == msg[:, None]
        bad = np.logical_or.reduce(self._punct[:, :n] > equal, axis=0)  # a punctuation mark differs
        eq = np.add.reduce(equal[words], axis=0, dtype=np.int64)
        consts = self._consts[:n]
        sim = np.where(consts > 0, eq / np.maximum(consts, 1), 1.0)
        sim[bad] = -1.0
        best_sim = float(sim.max())
        if best_sim < 0.0:
            return None
        eq_top = np.where(sim == best_sim, eq, -1)
        best_eq = int(eq_top.max())
        tied = np.flatnonzero(eq_top == best_eq)
        best = self._rows[int(tied[np.argmin(self._seqs[tied])])]
        if _compare(best, tokens) != best_eq:  # a hash collision overrated it: search without hashes
            return _best_python(self.patterns, tokens)
        return best, best_sim, best_eq


def _capacity(n: int) -> int:
    """Columns allocated for ``n`` patterns (doubling: appends cost O(1) each, amortised)."""
    return max(2 * n, 8)


def _row_bytes(width: int) -> int:
    return width * (8 + 1) + 16  # ids (int64), punctuation flags (bool), constants and seq (int64)


def _compare(cand: Pattern, tokens: tuple[str, ...]) -> int:
    """Constant words of ``cand`` equal in ``tokens``, or -1 when a punctuation mark differs."""
    eq = 0
    for a, b in zip(cand.tokens, tokens, strict=True):
        if a in PUNCT:
            if a != b:
                return -1
        elif a == b and a != WILDCARD:
            eq += 1
    return eq


def _best_python(patterns: list[Pattern], tokens: tuple[str, ...]) -> Match | None:
    """The search of the miner before issue 11, one pattern at a time (the reference for the matrix)."""
    best: Pattern | None = None
    best_sim = -1.0
    best_eq = -1
    for cand in patterns:  # _compare inlined: this loop is the miner's hot path on ordinary logs
        eq = 0
        same_punct = True
        for a, b in zip(cand.tokens, tokens, strict=True):
            if a in PUNCT:
                if a != b:
                    same_punct = False
                    break
            elif a == b and a != WILDCARD:
                eq += 1
        if not same_punct:
            continue
        sim = eq / cand.constants if cand.constants else 1.0
        if sim > best_sim or (sim == best_sim and eq > best_eq):
            best, best_sim, best_eq = cand, sim, eq
    return None if best is None else (best, best_sim, best_eq)
