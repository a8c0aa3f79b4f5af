"""metrics_store.regex: RE2 with Go/Prometheus semantics, limits, and fast paths identical to RE2."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from metrics_store.model import Matcher, MatchOp
from metrics_store.regex import CACHE_SIZE, MAX_PATTERN_BYTES, Regex, RegexError, compile_anchored

# Patterns that take Python's backtracking ``re`` exponential (or, the last, quadratic) time on these texts.
CATASTROPHIC = [  # (pattern, hostile text: no match, a text that matches)
    ("(.*.*)*X", "a" * 40_000, "a" * 100 + "X"),
    ("(a+)+b", "a" * 40_000, "aaab"),
    ("(a|aa)*c", "a" * 40_000, "aaac"),
    ("(x+x+)+y", "x" * 40_000, "xxy"),
    ("(.*a){12}", "a" * 40_000 + "b", "a" * 12),
    ("(.*=)*x", "x=" * 20_000 + "=", "a=b=x"),
]


def _within(seconds: float, fn: Callable[[], bool]) -> bool:
    """``fn()`` run in a thread; fails when it is still running after ``seconds`` (a freeze, not a timing)."""
    result: list[bool] = []
    worker = threading.Thread(target=lambda: result.append(fn()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), "regex match did not finish: backtracking?"
    return result[0]


def test_anchored_at_both_ends_without_pythons_trailing_newline_quirk() -> None:
    rx = compile_anchored("foo|bar")
    assert rx.matches("foo") and rx.matches("bar")
    assert not rx.matches("xfoo") and not rx.matches("foox")
    assert not compile_anchored("fo.").matches("fo")
    assert not compile_anchored("f.o").matches("f.o\n")  # Python's $ matched before a final newline


def test_dot_matches_newline_only_in_dotall_mode() -> None:
    assert compile_anchored("a.b").matches("a\nb")
    assert not compile_anchored("a.b", dot_nl=False).matches("a\nb")
    assert compile_anchored("(?s)a.b", dot_nl=False).matches("a\nb")


def test_go_concatenation_of_an_unbalanced_pattern() -> None:
    """Prometheus builds ``^(?s:`` + pattern + ``)$``; ``a)|(b`` thus means ``^(?s:a)`` or ``(b)$``."""
    rx = compile_anchored("a)|(b")
    assert rx.matches("axx") and rx.matches("xxb")
    assert not rx.matches("xx")


def test_named_groups_in_both_go_spellings_and_numbers() -> None:
    m = compile_anchored("(?P<first>a+)-(?<second>b+)(c)?").match("aa-bbb")
    assert m is not None
    assert (m.group(0), m.group(1), m.group("first"), m.group("second")) == ("aa-bbb", "aa", "aa", "bbb")
    assert m.group(3) is None  # did not take part
    assert m.group(9) is None and m.group("nope") is None
    assert m.count == 3
    assert compile_anchored("(a)").match("b") is None


def test_group_offsets_are_code_points_not_bytes() -> None:
    m = compile_anchored("(é+)(ü)(.*)").match("ééü→x")
    assert m is not None
    assert (m.group(1), m.group(2), m.group(3)) == ("éé", "ü", "→x")


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("(?<=x)y", "invalid perl operator"),
        ("(?!x)y", "invalid perl operator"),
        (r"(a)\1", "invalid escape sequence"),
        ("a{1001}", "invalid repetition size"),
        (r"\Z", "invalid escape sequence"),
        ("[z-a]", "invalid character class range"),
        ("(a", "missing \\)"),
        ("x" * (MAX_PATTERN_BYTES + 1), f"longer than {MAX_PATTERN_BYTES} bytes"),
        (r"(\pL{100}){10}", "pattern too large"),
    ],
)
def test_what_go_refuses_is_a_regex_error_naming_the_pattern(pattern: str, reason: str) -> None:
    with pytest.raises(RegexError, match=reason) as info:
        compile_anchored(pattern)
    assert info.value.pattern == pattern
    assert repr(pattern[:50])[:-1] in str(info.value)
    assert isinstance(info.value, ValueError)


def test_re2_logs_nothing_to_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    for pattern in ("(?<=quiet)x", "quiet{1001}", r"(\pL{100}){10}quiet"):
        with pytest.raises(RegexError):
            compile_anchored(pattern)
    assert capfd.readouterr().err == ""  # RE2's C++ logging writes straight to fd 2 unless log_errors is off


@pytest.mark.parametrize(("pattern", "hostile", "matching"), CATASTROPHIC)
def test_catastrophic_patterns_answer_correctly(pattern: str, hostile: str, matching: str) -> None:
    rx = compile_anchored(pattern)
    assert _within(10, lambda: rx.matches(hostile)) is False
    assert _within(10, lambda: rx.match(hostile)) is None
    assert rx.matches(matching)


def test_matcher_uses_re2_and_refuses_at_construction() -> None:
    m = Matcher("__name__", MatchOp.RE, "(.*.*)*X")
    assert _within(10, lambda: m.matches("a" * 40_000)) is False
    assert m.matches("aX")
    assert not Matcher("a", MatchOp.NRE, "x|y").matches("y")
    with pytest.raises(RegexError, match="invalid perl operator"):
        Matcher("a", MatchOp.RE, "(?<=x)y")
    Matcher("a", MatchOp.EQ, "(?<=x)y")  # not a regex


def test_compiled_patterns_are_cached_and_bounded() -> None:
    info = compile_anchored.cache_info()
    assert info.maxsize == CACHE_SIZE
    assert compile_anchored("cached-[0-9]+") is compile_anchored("cached-[0-9]+")


# ---- fast paths are exactly RE2 -------------------------------------------------------------------------

_LITERALS = st.text(st.sampled_from("ab.-_é\n\\|*+?()"), max_size=4)
_SIMPLE = st.one_of(
    _LITERALS,
    _LITERALS.map(lambda s: s + ".*"),
    _LITERALS.map(lambda s: ".*" + s),
    _LITERALS.map(lambda s: ".*" + s + ".*"),
    st.sampled_from([".*", ".+"]),
)
_SHAPES = st.one_of(
    _SIMPLE,
    st.lists(_SIMPLE, min_size=2, max_size=4).map("|".join),
    st.sampled_from([".*", ".+", "", "a\\.b", "\\.*", ".*\\.", "a\\|b|c", "\\\\.*", ".*\\\\"]),
    # general patterns, answered by RE2 after the required-prefix check
    st.tuples(
        _LITERALS,
        st.sampled_from(["(a|b)*", "[b.]", "(?i)A", "é?", "(é|\\n)", ")|(", "|b", "{2}"]),
        _LITERALS,
    ).map("".join),
)


def _slow(rx: Regex, text: str) -> bool:
    return rx.match(text) is not None  # RE2 itself: no fast path, no prefix check


@settings(max_examples=500, derandomize=True, deadline=None)
@given(_SHAPES, st.text(st.sampled_from("ab.-_é\n\\|"), max_size=6), st.booleans())
@example("a.*", "a\nb", True)
@example(".+", "\n", True)
@example("a|", "", True)
@example("ab)|(b", "xb", True)  # Go's concatenation: no required prefix
@example("a(?i)B", "ab", False)
def test_fast_paths_answer_exactly_as_re2(pattern: str, text: str, dot_nl: bool) -> None:
    try:
        rx = compile_anchored(pattern, dot_nl=dot_nl)
    except RegexError:
        return
    assert rx.matches(text) == _slow(rx, text), (pattern, text)
