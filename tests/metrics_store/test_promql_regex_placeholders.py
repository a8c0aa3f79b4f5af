"""Regex matchers never reach the native parser (issue 11, hostile review): it compiled every pattern with
Rust's Unicode regex while holding the GIL. ``parse`` hands it placeholders; the patterns are compiled by RE2
and mean what was written."""

from __future__ import annotations

from typing import Any

import promql_parser
import pytest

from metrics_store.model import MatchOp
from metrics_store.promql import QueryParseError, QueryTooLargeError, format_query, parse, unmask
from metrics_store.promql._ast import selector_matchers
from metrics_store.promql._guard import MAX_REGEX_MATCHERS, check_query_text, regex_literal_spans


def _many(n: int) -> str:
    return "{" + ",".join(f'a=~"\\\\w{{0,200}}{i}"' for i in range(n)) + "}"


@pytest.fixture
def native_texts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text the native parser is given."""
    seen: list[str] = []
    real = promql_parser.parse

    def spy(text: str) -> Any:
        seen.append(text)
        return real(text)

    monkeypatch.setattr(promql_parser, "parse", spy)  # _ast calls it as promql_parser.parse
    return seen


def test_the_native_parser_never_sees_a_pattern(native_texts: list[str]) -> None:
    node = parse(_many(MAX_REGEX_MATCHERS))
    assert not any("\\w" in t and "{a=" in t for t in native_texts), native_texts[-1][:200]
    matchers = selector_matchers(node)
    assert [m.value for m in matchers] == [f"\\w{{0,200}}{i}" for i in range(MAX_REGEX_MATCHERS)]
    assert all(m.op is MatchOp.RE for m in matchers)
    assert matchers[7].matches("abc7") and not matchers[7].matches("abc8")


def test_more_regex_matchers_than_the_cap_are_refused_unparsed(native_texts: list[str]) -> None:
    with pytest.raises(QueryTooLargeError, match=f"more than {MAX_REGEX_MATCHERS} regex matchers"):
        parse(_many(MAX_REGEX_MATCHERS + 1))
    assert native_texts == []
    check_query_text('{a="=~", b="!~"} + x{c=~"y"}')  # operators inside strings do not count


@pytest.mark.parametrize(
    ("query", "name", "op", "value"),
    [
        (r'x{a=~"x\\d\"q"}', "a", MatchOp.RE, 'x\\d"q'),
        ("x{a!~'y|z'}", "a", MatchOp.NRE, "y|z"),
        ("x{a=~`z`}", "a", MatchOp.RE, "z"),
        ('x{a=~ # comment\n "é.*"}', "a", MatchOp.RE, "é.*"),
        ('x{a=~"__pmre_6162"}', "a", MatchOp.RE, "__pmre_6162"),  # a user value is never taken for one
        ('x{a="=~\\"b\\""}', "a", MatchOp.EQ, '=~"b"'),
    ],
)
def test_patterns_mean_what_was_written(query: str, name: str, op: MatchOp, value: str) -> None:
    (_, matcher) = selector_matchers(parse(query))
    assert (matcher.name, matcher.op, matcher.value) == (name, op, value)


def test_spans_are_the_regex_literals_only() -> None:
    query = 'f("=~\\"no\\"", x{a=~"yes", b="no"} # =~ "no"\n, y{c!~ \'yes\'})'
    assert [query[s:e] for s, e in regex_literal_spans(query)] == ['"yes"', "'yes'"]
    assert regex_literal_spans('x{a=~"unterminated\\"') == []


def test_what_the_parser_checked_with_the_regex_is_still_checked() -> None:
    with pytest.raises(QueryParseError, match="at least one non-empty matcher"):
        parse('{a=~".*"}')
    with pytest.raises(QueryParseError, match="invalid regular expression"):
        parse('x{a=~"("}')
    with pytest.raises(QueryParseError, match="invalid regular expression"):
        parse('rate(x{a=~"a{1001}"}[5m])')  # RE2 refuses it; inside a matrix selector too
    parse('x{a=~".*"}')  # a metric name is enough


def test_printed_text_shows_the_patterns() -> None:
    assert format_query('sum(rate(x{a=~"x\\\\d|é", b!~"\\"q"}[5m])) by (a) > 1') == (
        'sum by (a) (rate(x{a=~"x\\\\d|é",b!~"\\"q"}[5m])) > 1'
    )
    node = parse('x{a=~"b.*"} > 1')
    assert unmask(str(node.lhs)) == 'x{a=~"b.*"}'
