"""Label matchers with Alertmanager's syntax and string forms.

``parse_matcher('severity=~"warn|crit"')``, ``parse_matchers('{a="b", c!="d"}')``. Regexes are RE2 (Go's
syntax, linear time; :mod:`metrics_store.regex`), anchored like Prometheus (``^(?s:re)$``: ``.`` matches a
newline, as it always has here), and compiled when the matcher is built, so a pattern RE2 refuses (lookaround,
backreferences, ``a{1001}``) is a :class:`MatcherError` naming it. Routes, inhibit rules, silences and the
Alertmanager API's ``filter=``/``receiver=`` all build their matchers here. Parsing is linear in the text.
``str(matcher)`` is Go's ``name<op>%q`` form, used in route keys (groupKey).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from alerting.base import AlertingError
from metrics_store.regex import Regex, RegexError, compile_anchored

__all__ = [
    "MatchType",
    "Matcher",
    "MatcherError",
    "go_quote",
    "label_set_string",
    "matchers_match",
    "matchers_string",
    "parse_matcher",
    "parse_matchers",
]

MatchType = Literal["=", "!=", "=~", "!~"]

# Name and operator; the value is the stripped rest. (Alertmanager's single regex ``\s*(.*?)\s*$`` is
# quadratic under Python's backtracking, so the value is not matched by a regex here.)
_NAME_OP = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)")
_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


class MatcherError(AlertingError):
    """A matcher or regex that does not parse."""


def go_quote(value: str) -> str:
    """Go's ``strconv.Quote`` (``%q``) for the strings that occur in labels."""
    out = ['"']
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        elif not ch.isprintable() and ch != " ":
            out.append(f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def label_set_string(labels: Mapping[str, str]) -> str:
    """Prometheus ``model.LabelSet.String()``: ``{a="1", b="2"}`` sorted by name."""
    return "{" + ", ".join(f"{k}={go_quote(labels[k])}" for k in sorted(labels)) + "}"


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    type: MatchType
    value: str
    _regex: Regex | None = field(default=None, compare=False, repr=False, hash=False)

    @classmethod
    def create(cls, name: str, type_: MatchType, value: str) -> Matcher:
        """The matcher, its regex compiled with RE2; :class:`MatcherError` when RE2 refuses the pattern."""
        regex = None
        if type_ in ("=~", "!~"):
            try:
                regex = compile_anchored(value)
            except RegexError as e:
                shown = value if len(value) <= 200 else value[:200] + "..."
                raise MatcherError(f"{name}{type_}{go_quote(shown)}: invalid regex: {e.reason}") from e
        return cls(name, type_, value, regex)

    @property
    def is_regex(self) -> bool:
        return self.type in ("=~", "!~")

    @property
    def is_equal(self) -> bool:
        return self.type in ("=", "=~")

    def matches(self, value: str) -> bool:
        if self.type == "=":
            return value == self.value
        if self.type == "!=":
            return value != self.value
        assert self._regex is not None
        hit = self._regex.matches(value)
        return hit if self.type == "=~" else not hit

    def __str__(self) -> str:
        return f"{self.name}{self.type}{go_quote(self.value)}"

    def sort_key(self) -> tuple[str, str, int]:
        """Alertmanager's ``Matchers.Less``: name, value, then type (=, !=, =~, !~)."""
        return (self.name, self.value, ("=", "!=", "=~", "!~").index(self.type))


def matchers_match(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels.get(m.name, "")) for m in matchers)


def matchers_string(matchers: Sequence[Matcher]) -> str:
    """``labels.Matchers.String()``: ``{a="b",c=~"d"}`` (comma, no space)."""
    return "{" + ",".join(str(m) for m in matchers) + "}"


def _shown(text: str) -> str:
    """``text`` quoted for an error message, cut at 200 characters."""
    return repr(text if len(text) <= 200 else text[:200] + "...")


def _unquote(raw: str) -> str:
    body = raw[1:-1]
    out: list[str] = []
    i = 0
    table = {
        "n": "\n",
        "t": "\t",
        "r": "\r",
        '"': '"',
        "\\": "\\",
        "a": "\a",
        "b": "\b",
        "f": "\f",
        "v": "\v",
    }
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append(table.get(nxt, "\\" + nxt))
            i += 2
            continue
        if ch == '"':
            raise MatcherError(f"{_shown(raw)}: unescaped double quote")
        out.append(ch)
        i += 1
    return "".join(out)


def parse_matcher(text: str) -> Matcher:
    """One matcher: ``name="value"``, ``name=~"re"``, ``name!=value`` (quotes optional).

    Raises :class:`MatcherError` (and nothing else) for any text that is not a matcher.
    """
    stripped = text.strip()
    m = _NAME_OP.match(stripped)
    if m is None:
        raise MatcherError(f"bad matcher format: {_shown(text)}")
    name, op, raw = m.group(1), m.group(2), stripped[m.end() :].lstrip()
    if len(raw) >= 2 and raw.startswith('"') and raw.endswith('"'):
        value = _unquote(raw)
    elif raw.startswith('"') or (raw.endswith('"') and not raw.endswith('\\"')):
        raise MatcherError(f"{_shown(text)}: unbalanced double quotes")
    else:
        value = raw
    return Matcher.create(name, op, value)  # type: ignore[arg-type]


def _split_top_level(text: str) -> list[str]:
    parts: list[str] = []
    buf: list[str] = []
    in_quotes = escaped = False
    for ch in text:
        if escaped:
            escaped = False
        elif ch == "\\" and in_quotes:
            escaped = True
        elif ch == '"':
            in_quotes = not in_quotes
        elif ch == "," and not in_quotes:
            parts.append("".join(buf))
            buf = []
            continue
        buf.append(ch)
    parts.append("".join(buf))
    return [p for p in (s.strip() for s in parts) if p]


def parse_matchers(text: str) -> list[Matcher]:
    """A comma-separated list, optionally in braces: ``{a="b", c=~"d.*"}``."""
    s = text.strip()
    if s.startswith("{") and s.endswith("}"):
        s = s[1:-1]
    return [parse_matcher(p) for p in _split_top_level(s)]
