"""The tokeniser's shape memo (``_tokens._MEMO``) returns exactly what the rules return without it."""

from __future__ import annotations

import pytest

from log_pipeline.patterns import _tokens
from log_pipeline.patterns._tokens import tokenise

# pairs of one shape (or nearly): the second line is tokenised after the first has filled the memo
PAIRS = [
    ("connect db.internal:5432 ok", "connect db.internal:123456 ok"),  # a port only when it is one
    ("connect db.internal:5432 ok", "connect db.internal:5433  ok"),  # its own whitespace
    ("sent 1190 bytes (1.16 KB)", "sent 0 bytes (0 B)"),
    ('tag="View Lock" at 12', 'tag="x y z" at 13'),
    ("service 'Update Agent' started 3", "service 'Other' started 4"),
    (r"loaded C:\Windows\x.dll at 0x1f", r"loaded C:\Program Files\y.dll at 0x2f"),
    ("ruser= rhost=10.0.0.1", "ruser=root rhost=10.0.0.2"),
    ("Jul 01 08:16:53 PDT up", "May I 08:16:53 PDT up"),
    ("slots 3 <x> 7 <x> 9 <x> joined", "slots 3 <x> joined"),
]


def _fresh(line: str) -> _tokens.Tokenised:
    _tokens._MEMO.shapes.clear()
    _tokens._MEMO.bypass = 0
    _tokens._MEMO.hits = 0
    return tokenise(line)


@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_a_memoised_shape_gives_the_rules_answer(first: str, second: str) -> None:
    expected = _fresh(second)
    _fresh(first)
    assert tokenise(second) == expected
    assert tokenise(first) == _fresh(first)


def _unique_shape(i: int) -> str:
    return f"event {'w' * (i % 50)} {'v' * (i // 50)} done 1"


def test_the_memo_is_bounded_and_steps_aside_for_a_stream_of_new_shapes() -> None:
    memo = _tokens._MEMO
    _fresh("x")
    for i in range(_tokens._SHAPES_MAX + 10):
        line = _unique_shape(i)
        assert tokenise(line) == _tokens._tokenise_pieces(*_pieces(line))
    assert 0 < len(memo.shapes) <= _tokens._SHAPES_MAX
    assert memo.bypass > 0  # the generation that filled up never hit
    line = _unique_shape(0)
    assert tokenise(line) == _tokens._tokenise_pieces(*_pieces(line))


def test_a_generation_that_mostly_hits_keeps_the_memo_on() -> None:
    memo = _tokens._MEMO
    _fresh("x")
    for i in range(_tokens._SHAPES_MAX + 10):
        for _ in range(3):  # each shape seen three times: two lookups of three hit
            tokenise(_unique_shape(i))
    assert memo.bypass == 0


def _pieces(line: str) -> tuple[list[tuple[str, str]], list[int | None], bool]:
    pieces: list[tuple[str, str]] = _tokens._PIECE.findall(line)
    return pieces, [_tokens._CACHE[p] for _, p in pieces], "(" in line


def test_a_countdown_raced_below_zero_turns_the_memo_back_on() -> None:
    """Threads tokenising at once may both decrement the last bypass line: -1 must not mean "bypass"."""
    memo = _tokens._MEMO
    _fresh("x")
    memo.bypass = -1
    tokenise("a line of a new shape 1")
    assert len(memo.shapes) == 2  # "x" and this line: the memo is on


def test_long_messages_are_not_memoised() -> None:
    memo = _tokens._MEMO
    _fresh("x")
    line = "payload " + " ".join(["word"] * 200) + " end 1"
    assert len(line) > _tokens._MEMO_MAX_CHARS
    assert tokenise(line) == _tokens._tokenise_pieces(*_pieces(line))
    assert len(memo.shapes) == 1  # "x" only


def test_the_kind_cache_keeps_short_pieces_only() -> None:
    """65,536 memoised pieces of up to 4,096 characters could hold ~300 MB; long pieces are not kept."""
    long_word = "x" * (_tokens._KIND_MAX_CHARS + 1)
    short_word = "y" * _tokens._KIND_MAX_CHARS
    assert tokenise(f"saw {long_word} and {short_word}") == (
        ("saw", long_word, "and", short_word),
        ("", " ", " ", " "),
    )
    assert long_word not in _tokens._CACHE
    assert short_word in _tokens._CACHE
