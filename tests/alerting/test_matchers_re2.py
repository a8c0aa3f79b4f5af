"""Alertmanager matchers on RE2: anchoring, dot-all, Go syntax, refusals naming the pattern, no freeze."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest

from alerting.dispatch import Matcher, MatcherError, Silences, parse_matcher, parse_matchers

T = TypeVar("T")
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _within(seconds: float, fn: Callable[[], T]) -> T:
    """``fn()`` in a thread; fails if it is still running after ``seconds`` (a freeze, not a timing)."""
    out: list[T] = []
    worker = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), "did not finish: backtracking?"
    return out[0]


def test_regex_matchers_are_anchored_and_dot_matches_newline() -> None:
    m = parse_matcher('severity=~"warn|crit"')
    assert m.matches("warn") and m.matches("crit")
    assert not m.matches("warning") and not m.matches("xcrit")
    assert parse_matcher('msg=~"a.b"').matches("a\nb")
    assert not parse_matcher('job!~"api-.*"').matches("api-1")


def test_go_syntax_is_accepted() -> None:
    assert parse_matcher('a=~"(?<n>x)[[:digit:]]+\\\\pL"').matches("x12é")
    assert parse_matcher('a=~"(?P<n>x)\\\\z"').matches("x")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('a=~"(?<=x)y"', "invalid perl operator"),
        ('a!~"(x)\\\\1"', "invalid escape sequence"),
        ('a=~"x{1001}"', "invalid repetition size"),
        ('a=~"(x"', "missing \\)"),
    ],
)
def test_pattern_re2_refuses_is_a_matcher_error_naming_it(text: str, reason: str) -> None:
    with pytest.raises(MatcherError, match=reason) as info:
        parse_matcher(text)
    assert str(info.value).startswith(text.split('"', maxsplit=1)[0] + '"')


def test_hostile_regex_matches_without_freezing() -> None:
    matchers = parse_matchers('{job=~"(.*.*)*X", instance=~"(a|aa)*c"}')
    assert _within(10, lambda: [m.matches("a" * 40_000) for m in matchers]) == [False, False]


def test_long_padded_value_parses_in_linear_time() -> None:
    m = _within(10, lambda: parse_matcher("a=" + " " * 200_000 + "x" + " " * 200_000))
    assert (m.name, m.type, m.value) == ("a", "=", "x")


def test_silence_with_hostile_regex_mutes_correctly(tmp_path: Path) -> None:
    sil = Silences(tmp_path, clock=lambda: NOW)
    sid = sil.set(
        [Matcher.create("job", "=~", "(.*.*)*X")],
        starts_at=NOW,
        ends_at=NOW + timedelta(hours=1),
        created_by="t",
        comment="hostile",
    )
    assert _within(10, lambda: sil.mutes({"job": "a" * 40_000})) == []
    assert sil.mutes({"job": "aaX"}) == [sid]


def test_stored_silence_re2_refuses_is_skipped_at_load(tmp_path: Path) -> None:
    sil = Silences(tmp_path, clock=lambda: NOW)
    good = sil.set(
        [Matcher.create("job", "=", "api")],
        starts_at=NOW,
        ends_at=NOW + timedelta(hours=1),
        created_by="t",
        comment="kept",
    )
    stored = json.loads((tmp_path / "silences.json").read_text())
    bad = dict(stored[0], id="old-python-regex", matchers=[{"name": "a", "type": "=~", "value": "(?<=x)y"}])
    (tmp_path / "silences.json").write_text(json.dumps([*stored, bad]))
    assert [s.id for s in Silences(tmp_path, clock=lambda: NOW).all()] == [good]
