"""Linear-time regular expressions for every user-supplied pattern: RE2, the engine behind Go's ``regexp``.

Python's ``re`` backtracks, so ``(.*.*)*X`` runs for ever while holding the GIL. RE2 matches in time linear
in the text (times the size of the compiled pattern at worst), releases the GIL while it matches, and accepts
the syntax Prometheus and Alertmanager accept (Go's ``regexp``: ``(?P<n>...)`` and ``(?<n>...)``, ``\\z``,
``[[:alpha:]]``, ``\\pL``; no lookaround, no backreferences, repeat counts up to 1000).
Every package compiles user patterns here (PromQL matchers, ``label_replace``, relabel rules, Alertmanager and
silence matchers, search highlighting), so the limits below hold everywhere:

* :data:`MAX_PATTERN_BYTES` (64 KiB of UTF-8): a longer pattern is refused before RE2 sees it.
* :data:`MAX_MEM_BYTES` (2 MiB; RE2's default is 8) per compiled pattern: a program that does not fit in
  two thirds of it is refused ("pattern too large"); the rest bounds the lazy DFA cache (RE2 falls back to
  its NFA, still linear in the text, when the cache is full). A 64 KiB alternation of 2,000 literals fits.
* :data:`CACHE_SIZE` (256) compiled patterns kept in an LRU cache, so cached programs and DFA caches hold at
  most ``CACHE_SIZE * MAX_MEM_BYTES`` (512 MiB) even when built to be hostile; typical patterns use a few KiB.

Patterns are anchored as Go's callers anchor them: ``^(?s:`` + pattern + ``)$`` (Prometheus matchers and
relabeling, and Alertmanager here, where ``.`` has always matched a newline) or ``^(?:`` + pattern + ``)$``
(``label_replace`` in Prometheus 2.42), then searched. String concatenation is Go's too, so an unbalanced
pattern such as ``a)|(b`` means what it means in Prometheus.

Matching a trivial pattern through RE2 costs ~1-2 µs per call (encoding plus the binding), several times
Python's ``re``; :meth:`Regex.matches` therefore answers alternations of literals, ``.*``, ``.+``, ``lit.*``,
``.*lit`` and ``.*lit.*`` (the last four with ``(?s)`` semantics) with string operations, exactly as RE2 would
(Prometheus' ``FastRegexMatcher`` does the same), and refuses a text without the literal prefix RE2 proves
every match has (``instance-`` for ``instance-(1|2).*``) before calling RE2. The pattern is still compiled,
so RE2 decides what is valid.

A compiled :class:`Regex` is immutable and safe to share between threads. RE2's own error logging to stderr is
off; errors are :class:`RegexError` (a ``ValueError``) naming the pattern. Texts are matched as UTF-8; a
lone surrogate (possible from JSON) passes as its raw bytes, which RE2's ``.`` does not match (a fast path
treats it as any other character).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from operator import methodcaller
from typing import Protocol, cast

import re2
from re2 import _re2  # type: ignore[attr-defined]  # the binding: bool matching without the wrapper's generator

__all__ = [
    "CACHE_SIZE",
    "MAX_MEM_BYTES",
    "MAX_PATTERN_BYTES",
    "ExpansionTooLongError",
    "Groups",
    "Regex",
    "RegexError",
    "compile_anchored",
]

MAX_PATTERN_BYTES = 64 * 1024
MAX_MEM_BYTES = 2 << 20
CACHE_SIZE = 256

_UNANCHORED = _re2.RE2.Anchor.UNANCHORED
_NO_MATCH = (-1, -1)
_META = frozenset("\\.+*?()|[]{}^$")


class RegexError(ValueError):
    """A pattern RE2 refuses (bad syntax, lookaround, backreference, too large) or one over the size limit."""

    def __init__(self, pattern: str, reason: str) -> None:
        shown = pattern if len(pattern) <= 200 else pattern[:200] + "..."
        super().__init__(f"invalid regular expression {shown!r}: {reason}")
        self.pattern = pattern
        self.reason = reason


class ExpansionTooLongError(ValueError):
    """:meth:`Groups.expand` would produce more than ``max_chars`` characters."""

    def __init__(self, max_chars: int) -> None:
        super().__init__(f"the expansion is longer than {max_chars} characters")
        self.max_chars = max_chars


class _Binding(Protocol):
    """The part of ``re2._re2.RE2`` used here (the package's stubs cover only the ``re``-like wrapper)."""

    def ok(self) -> bool: ...
    def error(self) -> bytes: ...
    def Match(self, anchor: object, text: bytes, pos: int, endpos: int) -> list[tuple[int, int]]: ...  # noqa: N802
    def NamedCapturingGroups(self) -> list[tuple[bytes, int]]: ...  # noqa: N802
    def PossibleMatchRange(self, maxlen: int) -> tuple[bool, bytes, bytes]: ...  # noqa: N802


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:  # a span that cut invalid input
        return data.decode("utf-8", "replace")


def _unescape_literal(piece: str) -> str | None:
    """``piece`` as the literal it spells (``\\.`` is ``.``), or None when it has any other meta character."""
    out: list[str] = []
    i = 0
    while i < len(piece):
        c = piece[i]
        if c == "\\":
            if i + 1 < len(piece) and piece[i + 1].isascii() and not piece[i + 1].isalnum():
                out.append(piece[i + 1])
                i += 2
                continue
            return None
        if c in _META:
            return None
        out.append(c)
        i += 1
    return "".join(out)


def _split_alternatives(pattern: str) -> list[str]:
    parts: list[str] = []
    start = i = 0
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
            continue
        if pattern[i] == "|":
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    parts.append(pattern[start:])
    return parts


@dataclass(frozen=True, slots=True)
class _Fast:
    """A pattern that is an alternation of literals, ``lit.*``, ``.*lit``, ``.*lit.*``, ``.*`` and ``.+``."""

    exact: frozenset[str]
    prefixes: tuple[str, ...]
    suffixes: tuple[str, ...]
    infixes: tuple[str, ...]
    anything: bool
    nonempty: bool

    def matches(self, text: str) -> bool:
        return (
            text in self.exact
            or self.anything
            or (self.nonempty and text != "")
            or (bool(self.prefixes) and text.startswith(self.prefixes))
            or (bool(self.suffixes) and text.endswith(self.suffixes))
            or any(infix in text for infix in self.infixes)
        )


def _shape(alternative: str, dot_nl: bool) -> tuple[str, str] | None:
    """(kind, literal) of one alternative: exact, prefix, suffix, infix, anything or nonempty; else None."""
    literal = _unescape_literal(alternative)
    if literal is not None:
        return "exact", literal
    if not dot_nl:  # without (?s) ``.`` stops at a newline: only literals are string operations
        return None
    if alternative in (".*", ".+"):
        return ("anything" if alternative == ".*" else "nonempty"), ""
    head = alternative.startswith(".*")
    tail = alternative.endswith(".*") and not alternative.endswith("\\.*")
    middle = alternative[2 if head else 0 : len(alternative) - 2 if tail else len(alternative)]
    literal = _unescape_literal(middle) if (head or tail) and middle else None
    if literal is None:
        return None
    return ("infix" if head and tail else "suffix" if head else "prefix"), literal


def _fast_path(pattern: str, dot_nl: bool) -> Callable[[str], bool] | None:
    """A predicate equal to the anchored pattern when it has a shape the module doc lists: a C-level string
    operation when it has a single kind (the common case in hot loops), else :meth:`_Fast.matches`."""
    shapes = [_shape(alternative, dot_nl) for alternative in _split_alternatives(pattern)]
    by_kind: dict[str, list[str]] = {}
    for shape in shapes:
        if shape is None:
            return None
        by_kind.setdefault(shape[0], []).append(shape[1])
    if len(by_kind) == 1:
        kind, literals = next(iter(by_kind.items()))
        if kind == "exact":
            return frozenset(literals).__contains__
        if kind == "prefix":
            return cast("Callable[[str], bool]", methodcaller("startswith", tuple(literals)))
        if kind == "suffix":
            return cast("Callable[[str], bool]", methodcaller("endswith", tuple(literals)))
        if kind == "infix" and len(literals) == 1:
            return cast("Callable[[str], bool]", methodcaller("__contains__", literals[0]))
        if kind == "nonempty":
            return bool
    return _Fast(
        exact=frozenset(by_kind.get("exact", ())),
        prefixes=tuple(by_kind.get("prefix", ())),
        suffixes=tuple(by_kind.get("suffix", ())),
        infixes=tuple(by_kind.get("infix", ())),
        anything="anything" in by_kind,
        nonempty="nonempty" in by_kind,
    ).matches


class Groups:
    """The submatches of a successful :meth:`Regex.match`; ``group`` takes a number or a name."""

    __slots__ = ("_data", "_names", "_spans")

    def __init__(self, data: bytes, spans: list[tuple[int, int]], names: dict[str, int]) -> None:
        self._data = data
        self._spans = spans
        self._names = names

    @property
    def count(self) -> int:
        """Number of capturing groups of the pattern (group 0, the whole match, not counted)."""
        return len(self._spans) - 1

    def group(self, ref: int | str) -> str | None:
        """Text of group ``ref`` (0: the whole match); None when the group did not take part or is unknown."""
        index = self._names.get(ref) if isinstance(ref, str) else ref
        if index is None or not 0 <= index < len(self._spans):
            return None
        start, end = self._spans[index]
        return None if start < 0 else _decode(self._data[start:end])

    def expand(self, template: str, *, max_chars: int | None = None) -> str:
        """``template`` with ``$1``, ``${1}``, ``$name``, ``${name}`` and ``$$`` expanded exactly as Go's
        ``Regexp.ExpandString``: a name is the longest run of letters, digits and ``_`` (``$1x`` is the group
        named ``1x``), a missing group expands to nothing, a malformed reference leaves the ``$`` as text.
        With ``max_chars``, :class:`ExpansionTooLongError` as soon as the result would be longer (before it
        is built: ``$1$1$1...`` multiplies the group's length)."""
        if "$" not in template:
            if max_chars is not None and len(template) > max_chars:
                raise ExpansionTooLongError(max_chars)
            return template
        out: list[str] = []
        size = 0
        rest = template
        while True:
            before, dollar, rest = rest.partition("$")
            out.append(before)
            size += len(before)
            if max_chars is not None and size > max_chars:
                raise ExpansionTooLongError(max_chars)
            if not dollar:
                return "".join(out)
            if rest.startswith("$"):
                out.append("$")
                size += 1
                rest = rest[1:]
                continue
            reference = _go_reference(rest)
            if reference is None:
                out.append("$")
                size += 1
                continue
            ref, rest = reference
            value = self.group(ref) or ""
            out.append(value)
            size += len(value)


def _is_name_char(c: str) -> bool:
    return c == "_" or c.isalpha() or c.isdecimal()  # Go: unicode.IsLetter, unicode.IsDigit


def _go_reference(text: str) -> tuple[int | str, str] | None:
    """Go's ``regexp.extract`` on the text after a ``$``: (group number or name, rest); None if malformed."""
    brace = text.startswith("{")
    body = text[1:] if brace else text
    i = 0
    while i < len(body) and _is_name_char(body[i]):
        i += 1
    if i == 0 or (brace and (i >= len(body) or body[i] != "}")):
        return None
    name, rest = body[:i], body[i + 1 if brace else i :]
    # A number: ASCII digits, below 1e9 (Go gives up at num >= 1e8 before a digit), no leading zero.
    if name.isascii() and name.isdigit() and len(name) <= 9 and not (len(name) > 1 and name[0] == "0"):
        return int(name), rest
    return name, rest


class Regex:
    """A compiled, anchored pattern; build it with :func:`compile_anchored`.

    ``matches(text)`` is True when the whole of ``text`` matches. It is an attribute chosen at construction
    (a fast-path string operation, or RE2 behind the required-prefix check), so a hot loop pays one call.
    """

    __slots__ = ("_names", "_prefix", "_re", "matches", "pattern")

    matches: Callable[[str], bool]

    def __init__(self, pattern: str, *, dot_nl: bool) -> None:
        self.pattern = pattern
        if len(pattern) > MAX_PATTERN_BYTES or len(encoded := _encode(pattern)) > MAX_PATTERN_BYTES:
            raise RegexError(pattern, f"longer than {MAX_PATTERN_BYTES} bytes")
        options = re2.Options()
        options.log_errors = False
        options.max_mem = MAX_MEM_BYTES
        flag = b"(?s:" if dot_nl else b"(?:"
        compiled: _Binding = _re2.RE2(b"^" + flag + encoded + b")$", options)
        if not compiled.ok():
            raise RegexError(pattern, _decode(compiled.error()))
        self._re = compiled
        self._names = {_decode(k): v for k, v in compiled.NamedCapturingGroups()}
        self._prefix = _required_prefix(compiled, encoded, options)
        self.matches = _fast_path(pattern, dot_nl) or self._matches_re2

    def _matches_re2(self, text: str) -> bool:
        if not text.startswith(self._prefix):
            return False
        data = _encode(text)
        return self._re.Match(_UNANCHORED, data, 0, len(data))[0] != _NO_MATCH

    def match(self, text: str) -> Groups | None:
        """The submatches when the whole of ``text`` matches, else None (for ``$1``/``${name}`` expansion)."""
        data = _encode(text)
        spans = self._re.Match(_UNANCHORED, data, 0, len(data))
        if spans[0] == _NO_MATCH:
            return None
        return Groups(data, spans, self._names)

    def __repr__(self) -> str:
        return f"Regex({self.pattern!r})"


def _required_prefix(compiled: _Binding, pattern: bytes, options: re2.Options) -> str:
    """A prefix every matching text has ("" when none is known), from RE2's own analysis.

    RE2 bounds every match anchored at the start between two strings; their common prefix is shared by every
    match. The wrapped pattern matches only whole texts when the user's pattern is a well-formed regex by
    itself (Go's concatenation makes ``a)|(b`` match ``xxb``), so other patterns get no prefix.
    """
    alone: _Binding = _re2.RE2(pattern, options)
    ok, low, high = compiled.PossibleMatchRange(64)
    if not (alone.ok() and ok):
        return ""
    size = 0
    while size < min(len(low), len(high)) and low[size] == high[size]:
        size += 1
    for cut in range(4):  # drop a code point cut at the end
        try:
            return low[: size - cut].decode()
        except UnicodeDecodeError:
            continue
    return ""


@lru_cache(maxsize=CACHE_SIZE)
def compile_anchored(pattern: str, *, dot_nl: bool = True) -> Regex:
    """The pattern anchored at both ends (see the module doc); cached. Raises :class:`RegexError`."""
    return Regex(pattern, dot_nl=dot_nl)
