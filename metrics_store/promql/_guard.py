"""Limits on query text, checked by one linear scan *before* the text reaches ``promql_parser``.

The parser is a native extension that recurses once per nesting level and per binary operator: about 5,000
levels overflow the thread's stack and kill the whole process (SIGSEGV, no Python exception), and the
evaluator recurses over the same tree in Python. The scan bounds what the parser and the evaluator can be
asked to build, with margins of 20x below the measured crash (main thread, ``threading.Thread`` and the
server's threadpool alike):

* :data:`MAX_QUERY_BYTES` — UTF-8 length of the text;
* :data:`MAX_NESTING_DEPTH` — open ``(``, ``[`` and ``{`` at any point (string literals and ``#`` comments
  skipped, escapes honoured);
* :data:`MAX_OPERATORS` — binary/unary operator tokens (``+ - * / % ^ == != < > <= >=``, ``and or unless
  atan2``) outside label matchers: each is one level of the tree in the worst case (``1-1-1-...``);
* :data:`MAX_REGEX_MATCHERS` — ``=~`` and ``!~`` label matchers: each is one RE2 program compiled for the
  query (at most ``metrics_store.regex.MAX_MEM_BYTES`` each, and the regex cache holds 256).

:func:`regex_literal_spans` finds the string literal of every regex matcher with the same scan: ``_ast``
hands the parser a placeholder instead of each (the parser would compile every pattern with Rust's Unicode
regex while holding the GIL: ``\\w{0,200}`` costs ~60 ms and ~10 MB).

The scan over-counts rather than under-counts (a ``-`` in ``1e-3`` counts as an operator), so a text it
accepts parses into a tree at most ``MAX_NESTING_DEPTH + MAX_OPERATORS`` deep. Stateless, thread-safe.
"""

from __future__ import annotations

import re

from metrics_store.promql.errors import QueryTooLargeError

__all__ = [
    "MAX_NESTING_DEPTH",
    "MAX_OPERATORS",
    "MAX_QUERY_BYTES",
    "MAX_REGEX_MATCHERS",
    "check_query_text",
    "quoted_name_spans",
    "regex_literal_spans",
]

MAX_QUERY_BYTES = 65_536
MAX_NESTING_DEPTH = 64
MAX_OPERATORS = 200
MAX_REGEX_MATCHERS = 256

# One token per match; everything between matches (numbers, durations, spaces, stray bytes) is skipped.
# Strings may be unterminated (then they run to the end of the text, as the parser would see them).
_TOKENS = re.compile(
    r"""
      (?P<str>"(?:[^"\\]|\\.)*"?|'(?:[^'\\]|\\.)*'?|`[^`]*`?)
    | (?P<comment>\#[^\n]*)
    | (?P<open>[(\[{])
    | (?P<close>[)\]}])
    | (?P<word>[A-Za-z_:][A-Za-z0-9_:]*)
    | (?P<op>==|!=|<=|>=|=~|!~|[-+*/%^<>=!])
    """,
    re.VERBOSE | re.DOTALL,
)
_WORD_OPERATORS = frozenset({"and", "or", "unless", "atan2"})
_REGEX_OPS = frozenset({"=~", "!~"})


def check_query_text(query: str) -> None:
    """Raise :class:`QueryTooLargeError` when ``query`` exceeds a limit of the module docstring; linear in
    the length of ``query`` (its byte length is checked first, before anything else is looked at)."""
    size = len(query.encode("utf-8", errors="surrogatepass"))
    if size > MAX_QUERY_BYTES:
        raise QueryTooLargeError(f"query is {size} bytes long, the limit is {MAX_QUERY_BYTES}")
    depth = operators = regexes = 0
    braces = 0  # inside {...}: '=', '!=', '=~' are label matchers, not operators
    for m in _TOKENS.finditer(query):
        kind = m.lastgroup
        if kind == "open":
            depth += 1
            braces += m.group() == "{"
            if depth > MAX_NESTING_DEPTH:
                raise QueryTooLargeError(f"expression nested more than {MAX_NESTING_DEPTH} levels deep")
        elif kind == "close":
            depth = max(0, depth - 1)
            braces = max(0, braces - (m.group() == "}"))
        elif braces:
            if kind == "op" and m.group() in _REGEX_OPS:
                regexes += 1
                if regexes > MAX_REGEX_MATCHERS:
                    raise QueryTooLargeError(f"expression has more than {MAX_REGEX_MATCHERS} regex matchers")
            continue
        elif kind == "op" or (kind == "word" and m.group().lower() in _WORD_OPERATORS):
            operators += 1
            if operators > MAX_OPERATORS:
                raise QueryTooLargeError(f"expression has more than {MAX_OPERATORS} operators")


def regex_literal_spans(query: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every terminated string literal that follows ``=~`` or ``!~`` (with only spaces
    and comments between): the patterns of regex matchers, quotes included, as the parser's lexer sees
    them (strings and comments elsewhere are skipped as tokens, so a ``=~`` inside them does not count)."""
    spans: list[tuple[int, int]] = []
    after_regex_op = False
    gap_start = 0
    for m in _TOKENS.finditer(query):
        kind = m.lastgroup
        if after_regex_op and query[gap_start : m.start()].strip() == "":
            if kind == "comment":
                gap_start = m.end()
                continue
            text = m.group()
            if kind == "str" and len(text) >= 2 and text[-1] == text[0] and not _escaped_end(text):
                spans.append((m.start(), m.end()))
        after_regex_op = kind == "op" and m.group() in _REGEX_OPS
        gap_start = m.end()
    return spans


_GROUPING = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})


def quoted_name_spans(query: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every string literal written where Prometheus 3's UTF-8 syntax puts a quoted
    metric or label name: inside ``{...}`` anywhere but after a matcher operator (``{"my.metric",
    "label.x"="v"}``), and in the label lists of ``by``, ``without``, ``on``, ``ignoring``,
    ``group_left`` and ``group_right``. Prometheus 2.42 refuses all of them."""
    spans: list[tuple[int, int]] = []
    stack: list[str] = []
    prev_kind, prev_text = "", ""
    for m in _TOKENS.finditer(query):
        kind, text = m.lastgroup or "", m.group()
        if kind == "comment":
            continue
        if kind == "open":
            grouping = text == "(" and prev_kind == "word" and prev_text.lower() in _GROUPING
            stack.append("sel" if text == "{" else "grp" if grouping else "other")
        elif kind == "close":
            if stack:
                stack.pop()
        elif kind == "str" and stack and (stack[-1] == "grp" or (stack[-1] == "sel" and prev_kind != "op")):
            spans.append((m.start(), m.end()))
        prev_kind, prev_text = kind, text
    return spans


def _escaped_end(text: str) -> bool:
    """Whether the closing quote of ``text`` is escaped (an unterminated ``"...\\"``); backticks have no
    escapes."""
    if text[0] == "`":
        return False
    backslashes = len(text[1:-1]) - len(text[1:-1].rstrip("\\"))
    return backslashes % 2 == 1
