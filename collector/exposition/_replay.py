"""The steady-state parse: a target's body with the same lines as its last one, only the numbers changed.

Most scrapes of a target return the same series lines in the same order as the scrape before; only the value
(and an optional timestamp) after each series key changes. :class:`ParseMemo` (one per target) keeps, after a
full parse, a *template* of the body: its constant lines (comments, blanks) and, per sample line, the raw key
text before the value and the key the full parser emitted for it. A later body is checked against the
template with C-level string operations over whole lists (``str.removeprefix`` per sample line, one join,
a few counts and one length comparison) and its values converted with ``float()`` in one ``map``; any
difference (a line added, removed, reordered or edited, a value the fast path does not take) returns None
and the caller runs the full parser, whose result then becomes the new template.

Equality with the full parser: a template is kept only after replaying the very body it was learned from
gives exactly the full parser's samples (keys, value bits, timestamps). A replay accepts a body only when
every constant line is byte-identical, every sample line is exactly ``raw_key + " " + value`` (``+ " " + ts``
where the template line had a timestamp), and each value is spelled with digits, ``.``, ``e``, ``E``, ``+``,
``-`` or is an unsigned ``NaN`` (then ``float()`` reads it as the full parser does); anything else, an
infinity, or a negative value on a line that may be a histogram bucket or count goes to the full parser,
which owns those checks and their error messages.
"""

from __future__ import annotations

import math
import re
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat

from collector.exposition._model import Exposition, FamilyMeta, Sample
from collector.exposition._values import parse_int

__all__ = ["ParseMemo"]

_INF = math.inf
_NINF = -math.inf
_ZERO_GT = (0.0).__gt__
_REMOVEPREFIX = str.removeprefix
# the characters of the value tokens the replay takes: float() accepts no other spelling from them than
# Go's ParseFloat (no "_", "p", blanks, non-ASCII; signed NaN and infinities are excluded apart)
_PLAIN_CHARS = re.compile(r"[0-9.eE+\-Na ]*")
_HIST_TYPES = ("histogram", "gaugehistogram")
_LEARN_EVERY = 16  # after this many misses in a row, learn only every _LEARN_EVERY-th body


@dataclass(slots=True)
class _Template:
    nlines: int
    const_idx: list[int]  # indices of the constant lines (comments, blanks, the text after the last newline)
    const_lines: list[str]
    segments: list[tuple[int, int]]  # runs of sample lines, [a, b)
    raw_keys: list[str]  # per sample line, the text before " value"
    keys: list[str]  # per sample line, the key the full parser emitted (== raw_keys unless normalised)
    fixed: int  # len(text) - len("\n".join(rests)) for any body that matches
    ts_idx: list[int]  # sample indices whose line carries a timestamp
    neg_idx: list[int]  # sample indices that may be a histogram bucket or count (no negative value)
    families: dict[str, FamilyMeta]


class ParseMemo:
    """One target's template of its last body (text format). Not thread-safe: one scrape at a time uses
    it, as one scrape loop owns it. ``owner`` is the parser that learned it (another parser's settings
    may emit other keys, so a memo learned by one is not replayed by another)."""

    __slots__ = ("_misses", "_template", "hits", "owner")

    def __init__(self) -> None:
        self._template: _Template | None = None
        self._misses = 0
        self.owner: object | None = None
        self.hits = 0

    def replay(self, text: str, owner: object) -> Exposition | None:
        """``text`` parsed through the template, or None (no template, another parser, or a difference)."""
        t = self._template
        result = _replay(t, text) if t is not None and owner is self.owner else None
        if result is None or t is None:
            self._misses += 1
            return None
        self._misses = 0
        self.hits += 1
        families = {name: FamilyMeta(f.name, f.type, f.help, f.unit) for name, f in t.families.items()}
        samples, floats = result
        if floats is not None:
            return Exposition(None, families, (t.keys, floats))  # the samples built only if asked for
        return Exposition(samples, families)

    def wants(self) -> bool:
        """Whether to learn from the body just fully parsed: always, unless the last bodies kept missing
        (a target whose lines change every scrape), then once every ``_LEARN_EVERY`` misses."""
        return self._misses < 3 or self._misses % _LEARN_EVERY == 0

    def learn(self, text: str, exposition: Exposition, owner: object) -> bool:
        """Make the template of ``text``, whose full parse gave ``exposition``; False (and no template)
        when the body has a shape the replay does not take or the replay would not reproduce it."""
        self._template = None
        self.owner = owner
        t = _learn(text, exposition)
        if t is None:
            return False
        again = _replay(t, text)
        if again is None:
            return False
        samples = again[0] if again[1] is None else list(zip(t.keys, again[1], repeat(None)))
        if samples is None or not _same(samples, exposition.samples):
            return False
        self._template = t
        return True


def _same(a: Sequence[Sample], b: Sequence[Sample]) -> bool:
    """Exactly equal: keys and timestamps equal, values equal bit for bit (NaN payloads and -0.0 too)."""
    if len(a) != len(b):
        return False
    if [s[0] for s in a] != [s[0] for s in b] or [s[2] for s in a] != [s[2] for s in b]:
        return False
    return array("d", [s[1] for s in a]).tobytes() == array("d", [s[1] for s in b]).tobytes()


def _learn(text: str, exposition: Exposition) -> _Template | None:
    lines = text.split("\n")
    samples = exposition.samples
    const_idx: list[int] = []
    segments: list[tuple[int, int]] = []
    raw_keys: list[str] = []
    ts_idx: list[int] = []
    start = -1
    for i, line in enumerate(lines):
        if not line or line[0] in "# \t":
            stripped = line.lstrip(" \t")
            if stripped and stripped[0] != "#":
                return None  # a sample line with leading blanks: the full parser's slow path only
            const_idx.append(i)
            if start >= 0:
                segments.append((start, i))
                start = -1
            continue
        if start < 0:
            start = i
        j = len(raw_keys)
        if j >= len(samples):
            return None
        key, sep, _tok = line.rpartition(" ")
        if samples[j][2] is not None:
            ts_idx.append(j)
            key, sep, _tok = key.rpartition(" ")
        if not sep or not key:
            return None
        raw_keys.append(key)
    if start >= 0:
        segments.append((start, len(lines)))
    if len(raw_keys) != len(samples) or not raw_keys:
        return None
    keys = [s[0] for s in samples]
    const_lines = [lines[i] for i in const_idx]
    n = len(raw_keys)
    fixed = sum(map(len, const_lines)) + len(lines) - 1 + sum(map(len, raw_keys)) - (n - 1)
    hist = any(f.type in _HIST_TYPES for f in exposition.families.values())
    neg_idx = [j for j, k in enumerate(raw_keys) if "_bucket" in k or "_count" in k] if hist else []
    return _Template(
        nlines=len(lines),
        const_idx=const_idx,
        const_lines=const_lines,
        segments=segments,
        raw_keys=raw_keys,
        keys=raw_keys if keys == raw_keys else keys,
        fixed=fixed,
        ts_idx=ts_idx,
        neg_idx=neg_idx,
        families=dict(exposition.families),
    )


def _values(t: _Template, text: str) -> list[str] | None:
    """The value tokens (``value`` or ``value ts``) of the sample lines, or None on any difference."""
    lines = text.split("\n")
    if len(lines) != t.nlines or [lines[i] for i in t.const_idx] != t.const_lines:
        return None
    if len(t.segments) == 1:
        a, b = t.segments[0]
        sample_lines = lines[a:b]
    else:
        sample_lines = []
        for a, b in t.segments:
            sample_lines += lines[a:b]
    joined = "\n".join(map(_REMOVEPREFIX, sample_lines, t.raw_keys))
    n = len(t.raw_keys)
    # every line began with its key (else removeprefix kept the key's characters and the length differs),
    # then " " (n - 1 "\n " pairs plus the first), then one token (or two, where a timestamp was)
    if len(joined) != len(text) - t.fixed or joined[:1] != " ":
        return None
    if joined.count("\n ") != n - 1 or joined.count(" ") != n + len(t.ts_idx):
        return None
    return joined[1:].split("\n ")


def _replay(t: _Template, text: str) -> tuple[list[Sample] | None, list[float] | None] | None:
    """``(samples, None)`` of ``text`` when a line has a timestamp, else ``(None, values)``; or None."""
    toks = _values(t, text)
    if toks is None:
        return None
    stamps: list[int | None] | None = None
    if t.ts_idx:
        stamps = [None] * len(toks)
        for j in t.ts_idx:
            value, sep, stamp = toks[j].partition(" ")
            ts = parse_int(stamp) if sep else None
            if ts is None:
                return None
            toks[j] = value
            stamps[j] = ts
    joined = " ".join(toks)
    if _PLAIN_CHARS.fullmatch(joined) is None or "+N" in joined or "-N" in joined:
        return None  # anything but digits, . e E + - and NaN: the full parser
    try:
        floats = list(map(float, toks))
    except ValueError:
        return None
    if not math.isfinite(sum(floats)) and (_INF in floats or _NINF in floats):
        return None  # an infinity: the full parser tells literal Inf from out-of-range numbers
    if t.neg_idx and any(map(_ZERO_GT, [floats[j] for j in t.neg_idx])):
        return None  # a negative bucket or count: the full parser's error
    if stamps is None:
        return None, floats
    return list(zip(t.keys, floats, stamps, strict=True)), None
