"""A bucket of the miner's patterns and the search for the pattern most similar to a message (issue 11).

Every pattern of a bucket has the message's token count, so the search compares position by position. Done
in Python, one comparison walks a pattern's tokens: a line that misses the exact cache in a full bucket cost
~9 ms of CPU at 2,200 patterns of ~100 tokens (bench/miner_worst.py), holding the GIL, and a syslog sender
chooses its lines. Past :data:`SMALL` patterns the bucket therefore also keeps a matrix of its patterns'
tokens as integers, one row per pattern, and one search is a few numpy passes over it: the same
comparisons, at a few nanoseconds per token instead of ~35 ns. Small buckets (almost all of them on real
logs) keep the Python loop, whose per-call cost is lower than numpy's.

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

__all__ = ["PUNCT", "SMALL", "Bucket", "Match", "Pattern"]

PUNCT = frozenset("=:,;()[]{}\"'|")  # the tokeniser's single-character pieces
SMALL = 24  # patterns searched in Python; a larger bucket is searched over its matrix
_hash = hash  # a token's integer in the matrix (tests collide it on purpose)


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
    """

    __slots__ = ("_consts", "_ids", "_n", "_punct", "_rows", "_seq", "_seqs", "patterns")

    def __init__(self) -> None:
        self.patterns: list[Pattern] = []
        self._seq = 0
        self._n = 0  # columns in use
        self._rows: list[Pattern] = []  # the pattern of each column
        self._ids: npt.NDArray[np.int64] | None = None  # (tokens, capacity): hash of each token
        self._punct: npt.NDArray[np.bool_] | None = None  # (tokens, capacity): the token is punctuation
        self._consts: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)  # constant words per pattern
        self._seqs: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)  # Pattern.seq per column

    def __len__(self) -> int:
        return len(self.patterns)

    def index_bytes(self) -> int:
        """Bytes of the matrix (0 while the bucket is small)."""
        if self._ids is None or self._punct is None:
            return 0
        return self._ids.nbytes + self._punct.nbytes + self._consts.nbytes + self._seqs.nbytes

    def growth(self, width: int) -> int:
        """Bytes by which the matrix grows when one more pattern of ``width`` tokens is added."""
        if self._ids is None and len(self.patterns) < SMALL:
            return 0
        if self._ids is None:
            n = len(self.patterns) + 1
            return _row_bytes(width) * _capacity(n) if n > SMALL else 0
        cap = self._ids.shape[1]
        return _row_bytes(width) * (_capacity(cap + 1) - cap) if self._n == cap else 0

    def add(self, p: Pattern) -> int:
        """Append ``p``; return the bytes by which the matrix grew."""
        p.seq = self._seq
        self._seq += 1
        self.patterns.append(p)
        if self._ids is None and len(self.patterns) <= SMALL:
            return 0
        before = self.index_bytes()
        if self._ids is not None:
            self._append(p)
        else:
            for q in self.patterns:
                self._append(q)
        return self.index_bytes() - before

    def remove(self, p: Pattern) -> None:
        self.patterns.remove(p)
        if self._ids is None or self._punct is None:
            return
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

    def update(self, p: Pattern) -> None:
        """Re-read ``p``'s tokens after :meth:`Pattern.generalise`."""
        if self._ids is not None:
            self._ids[:, p.row] = [_hash(t) for t in p.tokens]
            self._consts[p.row] = p.constants

    def _append(self, p: Pattern) -> None:
        width = len(p.tokens)
        if self._ids is None or self._punct is None or self._n == self._ids.shape[1]:
            cap = _capacity(self._n + 1)
            ids = np.zeros((width, cap), dtype=np.int64)
            punct = np.zeros((width, cap), dtype=np.bool_)
            consts = np.zeros(cap, dtype=np.int64)
            seqs = np.zeros(cap, dtype=np.int64)
            if self._ids is not None and self._punct is not None:
                ids[:, : self._n] = self._ids[:, : self._n]
                punct[:, : self._n] = self._punct[:, : self._n]
                consts[: self._n] = self._consts[: self._n]
                seqs[: self._n] = self._seqs[: self._n]
            self._ids, self._punct, self._consts, self._seqs = ids, punct, consts, seqs
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
        if self._ids is None or self._punct is None:
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
    return max(2 * SMALL, 2 * n, 8)


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
