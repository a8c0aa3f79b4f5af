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
  atan2``) outside label matchers: each is one level of the tree in the worst case (``1-1-1-...``).

The scan over-counts rather than under-counts (a ``-`` in ``1e-3`` counts as an operator), so a text it
accepts parses into a tree at most ``MAX_NESTING_DEPTH + MAX_OPERATORS`` deep. Stateless, thread-safe.
"""

from __future__ import annotations

import re

from metrics_store.promql.errors import QueryTooLargeError

__all__ = ["MAX_NESTING_DEPTH", "MAX_OPERATORS", "MAX_QUERY_BYTES", "check_query_text"]

MAX_QUERY_BYTES = 65_536
MAX_NESTING_DEPTH = 64
MAX_OPERATORS = 200

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


def check_query_text(query: str) -> None:
    """Raise :class:`QueryTooLargeError` when ``query`` exceeds a limit of the module docstring; linear in
    the length of ``query`` (its byte length is checked first, before anything else is looked at)."""
    size = len(query.encode("utf-8", errors="surrogatepass"))
    if size > MAX_QUERY_BYTES:
        raise QueryTooLargeError(f"query is {size} bytes long, the limit is {MAX_QUERY_BYTES}")
    depth = operators = 0
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
            continue
        elif kind == "op" or (kind == "word" and m.group().lower() in _WORD_OPERATORS):
            operators += 1
            if operators > MAX_OPERATORS:
                raise QueryTooLargeError(f"expression has more than {MAX_OPERATORS} operators")
