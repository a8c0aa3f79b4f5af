"""Tokenisation and masking of variables by their shape, the first stage of template mining.

A message is split into *pieces*: runs of non-space characters and single punctuation marks that often
separate a key from its value (``= : , ; ( ) [ ] { } " ' |``), each remembering the whitespace before it so
a template can be rebuilt with the message's own spacing. A piece is masked as ``<*>`` when its *shape* says
it is a value, never by a per-system rule. Each rule holds for any log writer, not for one data set:

* it contains a digit: numbers, numbers with attached units (``35ms``, ``1.2KB``), hex (``0x7f``), IPs,
  versions, dates and times, UUIDs, block/request ids (``blk_-123``, ``node-12``). Message *words* of a
  template almost never carry a digit; values almost always do.
* colon-separated hex pairs, four or more (MAC/EUI-64/WWN addresses, fingerprints ``FF:F2:9F:16:E2:23``):
  one piece however many of its pairs happen to be digit-free.
* ``host:port`` where the host is dotted or ``localhost`` (``db.internal:5432``): an endpoint.
* a path or URL: contains ``/`` (``/var/log``, ``http://h/p``) or ``\\`` (``C:\\Windows\\x.dll``). Templates
  name their files with a variable, and paths differ per call. A path's query string (``/servers?all=True&
  since=2017-05-16``) is part of it, up to a space, a quote or a bracket: its ``= & : ,`` are the query's own,
  not the message's key/value punctuation (issue 17; split at ``=`` the query gave a request line of another
  length than the same request without one. No line of the shared 8 holds a ``?``; OpenStack, whose errors
  were read, 0.438 -> 0.903; the four unseen systems not read unchanged; bench/README.md).
* a dotted name with three or more parts (host names, FQDNs, Java class names ``a.b.c``) or an address with
  ``@`` (``user@host``, ``pid@host``): both identify *which* thing, never *what happened*.
* a month or weekday name, ``AM``/``PM`` or a common time-zone abbreviation next to a masked piece, possibly
  through other such names (``Fri Jul 01 08:16:53 PDT 2005``, ``10:02 PM UTC``): a date printed in words;
  alone (``May I``) the word stays.

Units chosen per value by a human-readable formatter are part of the value, not of the template: after a
masked number, an abbreviated size or time unit (``KB MB GB B KiB ms us ns sec min hr``, case-insensitive)
is absorbed into the ``<*>`` (``1.2 KB``, ``403 B`` and ``<1 sec`` all read ``<*>``), so ``5.2 KB`` and
``14 MB`` give the same tokens. Full words (``bytes``, ``seconds``, ``s``) are left alone: they are fixed by
the template (``over <*> seconds``).
A parenthesised value right after a value, or after a value and one word (its unit), restates that value in
other units and is dropped (issue 17): ``1190 bytes (1.16 KB)`` reads like ``403 bytes``, which its formatter
printed without the restatement. The ``(`` must follow a space (``run(5)`` is a call). Neutral on
leave-one-system-out (0.980); on the unseen Loghub system Proxifier 0.516 -> 0.990 (bench/README.md).

A double-quoted value right after ``=`` (``tag="View Lock"``) is one value however many words it holds, and so
is a single-quoted name opened after a space or ``( [ { = : ,`` (``service 'Update Agent'``); a ``'`` glued
inside a word (``don't``) opens nothing, and a closing ``'`` must end its word.

The *shape* of a value, its number of tokens, must not depend on which of its parts happen to hold a digit or
on how many items it lists (each rule below was neutral or better on leave-one-system-out, and was chosen for
its generality, not for a system):

* a word glued to a value through ``: , ;`` is part of it (``10.0.0.1:http`` reads like ``10.0.0.2:8080``);
* values separated by ``, `` are one value (``3, 7, 9`` reads like ``12``);
* an empty value keeps its slot: ``key=`` followed by a space or the end, ``[]``, ``()``, ``{}`` read like
  ``key=root``, ``[4711]``; an ``=`` after a space (``x = 5``) is not ``key=``;
* a directly repeated unit of 2-4 tokens holding a value (``node-1 0x0e <ok> node-2 0x1e <ok>``) is one
  list of any length: :func:`collapse_lists`, which the miner applies to token sequences it has not seen
  before (the exact-match fast path stays a dictionary lookup).

Consecutive masked pieces (``<*>:<*>`` from ``10.0.0.1:50010``, ``<*> <*>`` from a multi-word duration, a
number and its unit) collapse into one ``<*>``, so variables that span several pieces do not change the
token count.

Cost: the rules above run once per message *shape* (its pieces with every value replaced by a mark, the
whitespace before each, and whether a ``host:`` is followed by a port); lines of one event share a shape,
so most lines cost a split, one dictionary subscript per piece and one memo lookup (``_MEMO``, bounded;
off for a while after it mostly missed).
The memo changes no result (tests/log_pipeline/test_patterns_shape_cache.py; identical tokens, ids and
templates on 52,000 Loghub lines, bench/README.md).
"""

from __future__ import annotations

import re

__all__ = ["WILDCARD", "Tokenised", "collapse_lists", "tokenise"]

WILDCARD = "<*>"

# whitespace is captured separately so templates keep the original spacing; in a message with ``:\`` a
# Windows path ``C:\dir\file`` is one piece (its drive colon is not a key/value separator)
_HEX_PAIRS = r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){3,}(?![\w:])"  # FF:F2:9F:16 (MAC, EUI-64, WWN)
_SPLIT = r"[=:,;()\[\]{}\"'|]|[^\s=:,;()\[\]{}\"'|]+"
_WIN_PATH = r"[A-Za-z]:\\[^\s=,;()\[\]{}\"'|]*"  # C:\dir\file
# a path with a query string (/servers/detail?all_tenants=True&since=...) is one piece up to a space, a
# quote or a bracket (a trailing , ; : . is the message's): its = & : , are the query's own, not the
# message's key/value punctuation (issue 17)
_URL_QUERY = (  # one slash-led segment per repeat: no two ways to split a run, so a miss costs one pass
    r"[^\s=:,;()\[\]{}\"'|?/]*(?:/[^\s=:,;()\[\]{}\"'|?/]*)+\?[^\s()\[\]{}\"'|]*(?<![,;:.])"
)
_PIECE = re.compile(rf"(\s*)({_HEX_PAIRS}|{_SPLIT})")
_PIECE_WINDOWS = re.compile(rf"(\s*)({_WIN_PATH}|{_HEX_PAIRS}|{_SPLIT})")
_PIECE_QUERY = re.compile(rf"(\s*)({_URL_QUERY}|{_HEX_PAIRS}|{_SPLIT})")
_PIECE_WINDOWS_QUERY = re.compile(rf"(\s*)({_WIN_PATH}|{_URL_QUERY}|{_HEX_PAIRS}|{_SPLIT})")
_HAS_DIGIT = re.compile(r"\d")
_DOTTED = re.compile(r"[\w-]+(?:\.[\w-]+){2,}$")  # host names, FQDNs, dotted class names: a.b.c
_HOST = re.compile(r"(?:localhost|[\w-]+(?:\.[\w-]+)+)$")  # the host of host:port (a.b, localhost)
_PORT = re.compile(r"\d{1,5}$")
_ADDRESS = re.compile(r"[\w.+-]+@[\w.-]+$")  # user@host, pid@host
# punctuation that may sit between two parts of one variable (ip:port, key=value lists are not collapsed)
_JOINERS = frozenset(":,;")
_SEPARATORS = frozenset("=:,;()[]{}\"'|")  # the single-character pieces
# abbreviated units a formatter picks per value (absorbed after a masked number); full words are template text
_UNITS = frozenset(
    {"b", "kb", "mb", "gb", "tb", "pb", "kib", "mib", "gib", "tib"}  # sizes
    | {"ns", "us", "µs", "ms", "sec", "secs", "min", "mins", "hr", "hrs"}  # durations
)
_DATE_WORDS = frozenset(
    {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"}
    | {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
    | {"am", "pm", "utc", "gmt", "z", "pst", "pdt", "mst", "mdt", "cst", "cdt", "est", "edt", "cet", "cest"}
)
_MAX_DATE_RUN = 3  # names looked past before a date's number (Sat Jun 18, Mon PM UTC)
_MAX_QUOTED_PIECES = 64  # a quoted value longer than this is tokenised normally

Tokenised = tuple[tuple[str, ...], tuple[str, ...]]  # (masked tokens, whitespace before each token)


def _is_variable(piece: str) -> bool:
    if _HAS_DIGIT.search(piece) is not None:
        return True
    if len(piece) > 1 and ("/" in piece or "\\" in piece or ":" in piece):
        return True  # paths, URLs; a piece holds ':' only as hex pairs (AA:BB:CC:DD) or a drive (C:\\x)
    return _DOTTED.match(piece) is not None or ("@" in piece and _ADDRESS.match(piece) is not None)


# piece kinds, memoised per piece
_WORD, _VALUE, _UNIT, _DATE, _HOSTLIKE = 0, 1, 2, 3, 4
_ABSORBED = -1  # (resolved) part of the value before it


def _kind(piece: str) -> int:
    if _is_variable(piece):
        return _VALUE
    low = piece.lower()
    if low in _UNITS:
        return _UNIT
    if low in _DATE_WORDS:
        return _DATE
    return _HOSTLIKE if _HOST.match(piece) is not None else _WORD


class _KindCache(dict[str, int]):
    """Bounded memo of piece -> kind (the same pieces recur constantly in logs): ``cache[piece]`` is the
    kind, computed on a miss by ``__missing__`` (the hit path stays a C-level dictionary subscript)."""

    __slots__ = ("_max",)

    def __init__(self, max_entries: int) -> None:
        super().__init__()
        self._max = max_entries

    def __missing__(self, piece: str) -> int:
        if _HAS_DIGIT.search(piece) is not None:
            return _VALUE  # _kind's first rule; not memoised: numbers rarely recur and would evict words
        k = _kind(piece)
        if len(piece) > _KIND_MAX_CHARS:
            return k  # not memoised: 65,536 pieces of up to 4,096 characters would hold ~300 MB
        if len(self) >= self._max:
            self.clear()
        self[piece] = k
        return k


_KIND_MAX_CHARS = 64  # longer pieces are classified each time (paths, URLs and dotted names hold digits
# or slashes far more often than not, so few long pieces reach the cache at all)
_CACHE = _KindCache(65536)


def _quoted_end(pieces: list[tuple[str, str]], start: int, quote: str = '"') -> int:
    """Index of the closing ``quote`` of a quoted value opening at ``start``, or -1. A closing ``'`` must
    end its word (``'x'.`` yes, ``'it's`` no)."""
    stop = min(len(pieces), start + _MAX_QUOTED_PIECES)
    for j in range(start + 1, stop):
        if pieces[j][1] == quote and (quote == '"' or _ends_word(pieces, j)):
            return j
    return -1


def _ends_word(pieces: list[tuple[str, str]], j: int) -> bool:
    return j + 1 == len(pieces) or bool(pieces[j + 1][0]) or pieces[j + 1][1] in _SEPARATORS


_QUOTES = frozenset("\"'")
_QUOTE_OPENERS = frozenset("([{=:,")  # a ' right after one of these (or a space) opens a quoted name


def _quoted_value(pieces: list[tuple[str, str]], i: int, last: str) -> int:
    """End index of a quoted value opening at ``i`` (``key="a b"``, ``service 'a b'``), or -1."""
    space, piece = pieces[i]
    if piece == '"':
        return _quoted_end(pieces, i) if last == "=" and not space else -1
    if piece == "'" and (space or not last or last in _QUOTE_OPENERS):
        return _quoted_end(pieces, i, "'")
    return -1


def _endpoint(pieces: list[tuple[str, str]], i: int) -> bool:
    """Whether the host-like piece at ``i`` is followed by ``:port`` with no space (db.internal:5432)."""
    return (
        i + 2 < len(pieces)
        and pieces[i + 1] == ("", ":")
        and not pieces[i + 2][0]
        and _PORT.match(pieces[i + 2][1]) is not None
    )


def _date_before_value(kinds: list[int | None], i: int) -> bool:
    """Whether the month/weekday name at ``i`` precedes a value, maybe through other names (Sat Jun 18)."""
    j = i + 1
    stop = min(len(kinds), i + 1 + _MAX_DATE_RUN)  # bounded: a run of names is not rescanned per name
    while j < stop and kinds[j] == _DATE:
        j += 1
    return j < len(kinds) and kinds[j] == _VALUE


def _contextual(pieces: list[tuple[str, str]], kinds: list[int | None], i: int, last: str) -> int:
    """Resolve a unit, date word or host-like piece by its neighbours to _WORD, _VALUE or _ABSORBED."""
    kind = kinds[i]
    if kind == _HOSTLIKE:
        return _VALUE if _endpoint(pieces, i) else _WORD
    if last == WILDCARD:
        return _ABSORBED  # 1.2 KB, <1 sec, Jul 01 08:16:53 PDT: the unit or date word belongs to the value
    if kind == _DATE and _date_before_value(kinds, i):
        return _VALUE
    return _WORD


def _value_continues(tokens: list[str], spaces: list[str]) -> bool:
    """Whether a word glued to the previous piece is part of a value: after a value and a joiner with no
    space (``<*>:eth0``, ``<*>,abc``): the shape of one value must not depend on which of its parts happen
    to hold a digit."""
    return not spaces[-1] and len(tokens) > 1 and tokens[-2] == WILDCARD


_PAIRS = {"(": ")", "[": "]", "{": "}"}
_SLOT_OPENERS = frozenset("=([{")


def _empty_slot(pieces: list[tuple[str, str]], i: int) -> bool:
    """Whether the ``=`` or bracket at ``i`` holds an empty value: ``key=`` glued to its key and followed by a
    space or the end (``ruser= rhost=x``), or a directly closed bracket (``[]``, like ``[123]``)."""
    space, piece = pieces[i]
    if piece == "=":
        return not space and (i + 1 == len(pieces) or bool(pieces[i + 1][0]))
    return i + 1 < len(pieces) and pieces[i + 1] == ("", _PAIRS[piece])


# A message's tokens are a function of its *shape*: its pieces with every value replaced by a mark, and the
# whitespace before each (a value's text is never read again once its kind is known, except a port after
# ``host:``, which the shape records). Lines of one event share a shape, so the rules run once per shape.
_VALUE_MARK = " "  # a piece never holds whitespace: no piece can be mistaken for the mark
_ENDPOINT_MARK = " :port"
_SHAPES_MAX = 4096  # shapes memoised (cleared when full, like the kind cache)
_BYPASS_LINES = 4 * _SHAPES_MAX  # lines tokenised without the memo after a generation that mostly missed
# longer messages are not memoised: a full memo holds ~30 MB at worst (4,096 shapes of 85 two-letter words,
# tracemalloc), a few MB for ordinary lines
_MEMO_MAX_CHARS = 256


class _ShapeMemo:
    """Bounded memo of shape -> tokens. A generation (the memo from one clear to the next) that mostly
    missed (a stream of new shapes, where the memo only adds its key's cost) turns the memo off for the
    next ``_BYPASS_LINES`` lines, which bounds that cost to a fraction of such a stream."""

    __slots__ = ("bypass", "hits", "shapes")

    def __init__(self) -> None:
        self.shapes: dict[tuple[tuple[str, ...], tuple[str, ...]], Tokenised] = {}
        self.hits = 0
        self.bypass = 0

    def store(self, key: tuple[tuple[str, ...], tuple[str, ...]], value: Tokenised) -> None:
        if len(self.shapes) >= _SHAPES_MAX:
            if self.hits < len(self.shapes):  # fewer hits than shapes: mostly misses
                self.bypass = _BYPASS_LINES
            self.shapes.clear()
            self.hits = 0
        self.shapes[key] = value


_MEMO = _ShapeMemo()


def tokenise(message: str) -> Tokenised:
    """Split ``message`` into masked tokens and the whitespace before each (see the module docstring)."""
    if "?" in message:  # a URL's query string may be in it (the plain regex is one test cheaper per line)
        splitter = _PIECE_WINDOWS_QUERY if ":\\" in message else _PIECE_QUERY
    else:
        splitter = _PIECE_WINDOWS if ":\\" in message else _PIECE
    # trailing whitespace never makes a piece; left in, findall would retry ``\s*`` from each of its
    # characters to the end of the line (quadratic: 4,000 trailing spaces cost ~0.5 s of CPU)
    pieces: list[tuple[str, str]] = splitter.findall(message.rstrip())
    cache = _CACHE
    kinds: list[int | None] = [cache[piece] for _, piece in pieces]
    memo = _MEMO
    if len(message) > _MEMO_MAX_CHARS:
        return _tokenise_pieces(pieces, kinds, "(" in message)
    if memo.bypass > 0:  # > 0: threads may race the countdown below zero, which ends it
        memo.bypass -= 1
        return _tokenise_pieces(pieces, kinds, "(" in message)
    shape = [_VALUE_MARK if k == _VALUE else piece for k, (_, piece) in zip(kinds, pieces, strict=True)]
    if _HOSTLIKE in kinds:
        for i, k in enumerate(kinds):
            if k == _HOSTLIKE and _endpoint(pieces, i):
                shape[i] += _ENDPOINT_MARK
    key = (tuple(shape), tuple([space for space, _ in pieces]))
    hit = memo.shapes.get(key)
    if hit is None:
        hit = _tokenise_pieces(pieces, kinds, "(" in message)
        memo.store(key, hit)
    else:
        memo.hits += 1
    return hit


def _tokenise_pieces(pieces: list[tuple[str, str]], kinds: list[int | None], paren: bool) -> Tokenised:
    """The shape rules over classified pieces (``paren``: the message holds a ``(``)."""
    tokens: list[str] = []
    spaces: list[str] = []
    last = ""  # tokens[-1]
    skip_to = -1
    for i, (space, piece) in enumerate(pieces):
        if i <= skip_to:
            continue
        kind = kinds[i]
        if kind == _WORD:
            end = _quoted_value(pieces, i, last) if piece in _QUOTES else -1
            if end > 0:  # key="several words", 'a name': one value
                tokens.extend((piece, WILDCARD, piece))
                spaces.extend((space, "", ""))
                last = piece
                skip_to = end
                continue
            if (
                last in _JOINERS
                and not space
                and piece not in _SEPARATORS
                and _value_continues(tokens, spaces)
            ):
                kind = _VALUE  # a word glued to a value (node-12:eth, 10.0.0.1:http): part of the value
        elif kind != _VALUE:
            kind = _contextual(pieces, kinds, i, last)
            if kind == _ABSORBED:
                continue
        if kind != _VALUE:
            tokens.append(piece)
            spaces.append(space)
            last = piece
            if piece in _SLOT_OPENERS and _empty_slot(pieces, i):
                tokens.append(
                    WILDCARD
                )  # key= followed by a space, (), []: the value is empty, the slot is there
                spaces.append("")
                last = WILDCARD
        elif last == WILDCARD:
            continue  # <*><*> or <*> <*>: one variable
        elif (
            last in _JOINERS
            and not spaces[-1]
            and (not space or last == ",")
            and len(tokens) > 1
            and tokens[-2] == WILDCARD
        ):
            tokens.pop()  # <*>:<*> (ip:port, a:b:c): one variable
            spaces.pop()
            last = WILDCARD
        else:
            tokens.append(WILDCARD)
            spaces.append(space)
            last = WILDCARD
    if paren:
        tokens, spaces = _drop_restatements(tokens, spaces)
    return tuple(tokens), tuple(spaces)


def _drop_restatements(tokens: list[str], spaces: list[str]) -> tuple[list[str], list[str]]:
    """Drop a parenthesised value that restates the value before it in other units, right after the value
    or after the value and one word (``1190 bytes (1.16 KB)``, ``300 (5 min)``), so a quantity reads the
    same whether or not its formatter added the restatement (``0 bytes`` like ``1190 bytes (1.16 KB)``).
    The ``(`` must follow a space: ``run(5)`` is a call, not a restatement. One linear pass."""
    out_t: list[str] = []
    out_s: list[str] = []
    j, n = 0, len(tokens)
    while j < n:
        if (
            tokens[j] == "("
            and spaces[j]
            and j + 2 < n
            and tokens[j + 1] == WILDCARD
            and tokens[j + 2] == ")"
            and _restates(out_t)
        ):
            j += 3
            if j < n and tokens[j] == WILDCARD and out_t[-1] == WILDCARD:
                j += 1  # <*> (<*>) <*>: still one value
            continue
        out_t.append(tokens[j])
        out_s.append(spaces[j])
        j += 1
    return out_t, out_s


def _restates(before: list[str]) -> bool:
    """Whether a parenthesised value after ``before`` may restate a value: a value, or a value and a word."""
    if not before:
        return False
    return before[-1] == WILDCARD or (
        len(before) > 1 and before[-2] == WILDCARD and before[-1] not in _SEPARATORS
    )


def collapse_lists(tokenised: Tokenised) -> Tokenised:
    """Collapse a directly repeated unit of 2.._MAX_UNIT tokens holding a value (``<*> <ok> <*> <ok>``,
    ``<*> , <*> , <*>``) to its first repeat: a list of values is one list whatever its length. Applied by
    the miner to token sequences it has not seen before (not in :func:`tokenise`, to keep the fast path)."""
    tokens, spaces = tokenised
    n_values = tokens.count(WILDCARD)
    if n_values < 2 or not _has_repeat(tokens, n_values):
        return tokenised
    tok, sp = list(tokens), list(spaces)
    _collapse_repeats(tok, sp)
    return tuple(tok), tuple(sp)


_MAX_UNIT = 4  # longest repeated unit collapsed (<*> <ok>, <*> ( <*> ))


def _has_repeat(tokens: tuple[str, ...], n_values: int) -> bool:
    """Whether some unit of 1.._MAX_UNIT tokens holding a value is directly repeated (a cheap exact test:
    a repeat of size L puts a value at w and w + L, and then starts at most L - 1 tokens before w)."""
    at = []
    w = -1
    for _ in range(n_values):
        w = tokens.index(WILDCARD, w + 1)
        at.append(w)
    values = set(at)
    for w in at:
        for size in range(2, _MAX_UNIT + 1):  # size 1 (<*> <*>) never occurs: the tokeniser collapses it
            if w + size in values:
                for i in range(max(0, w - size + 1), w + 1):
                    if tokens[i : i + size] == tokens[i + size : i + 2 * size]:
                        return True
    return False


def _collapse_repeats(tokens: list[str], spaces: list[str]) -> None:
    """In place: keep the first unit of each run of a repeated unit holding a value."""
    i = 0
    while i < len(tokens):
        for size in range(2, _MAX_UNIT + 1):
            unit = tokens[i : i + size]
            if len(unit) < size or WILDCARD not in unit:
                continue
            j = i + size
            while tokens[j : j + size] == unit:
                j += size
            if j > i + size:
                del tokens[i + size : j]
                del spaces[i + size : j]
                break
        i += 1
