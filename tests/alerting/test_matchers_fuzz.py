"""Fuzzing the Alertmanager matcher parser (issue 11): any text either parses or raises MatcherError — never
another exception, never a hang — and what parses prints back to itself. Crashers and the inputs that were
slow are kept as explicit examples."""

from __future__ import annotations

from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from alerting.dispatch import Matcher, MatcherError, parse_matcher, parse_matchers

FUZZ = settings(
    max_examples=800, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

_PIECES = [
    "a", "job", "__name__", ":", "_", "=", "!=", "=~", "!~", '"', "\\", "\\\\", '\\"', ",", "{", "}", " ",
    "\t", "\n", ".*", "(", ")", "(?<=x)", "\\1", "{1001}", "|", "[", "]", "é", "\x00", "\u2028", "\ud800",
]  # fmt: skip
_TEXTS = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(_PIECES) | st.text(min_size=1, max_size=3), max_size=20).map("".join),
)
_NAMES = st.from_regex(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,8}", fullmatch=True)
_OPS = st.sampled_from(["=", "!=", "=~", "!~"])


def _parse_one(text: str) -> Matcher | None:
    try:
        return parse_matcher(text)
    except MatcherError:
        return None


@FUZZ
@given(_TEXTS)
@example("a=" + " " * 20_000 + "x")  # quadratic under the old value regex (\s*(.*?)\s*$)
@example("a=~(.*.*)*X")
@example('a=~"(?<=x)y"')
@example("a=~x{1001}")
@example('a="\\"')
@example('a="')
@example("a=\ud800")
@example("a=~\ud800")
def test_parse_matcher_raises_only_matcher_error(text: str) -> None:
    m = _parse_one(text)
    if m is not None:
        m.matches("")
        m.matches(text)


@FUZZ
@given(_TEXTS)
@example("{" + 'a="x",' * 5_000 + "}")
@example('{a="b\\",c="d"}')
@example("{,,,}")
def test_parse_matchers_raises_only_matcher_error(text: str) -> None:
    try:
        matchers = parse_matchers(text)
    except MatcherError:
        return
    for m in matchers:
        m.matches("value")


@FUZZ
@given(
    _NAMES, _OPS, st.text(st.characters(min_codepoint=0x20, blacklist_categories=["Cs", "Cc"]), max_size=20)
)
def test_what_parses_prints_back_to_itself(name: str, op: str, value: str) -> None:
    assume(all(c.isprintable() or c in "\t\n" for c in value))  # hypothesis' Unicode tables can be newer
    try:
        m = Matcher.create(name, op, value)  # type: ignore[arg-type]
    except MatcherError:
        return
    assert parse_matcher(str(m)) == m
