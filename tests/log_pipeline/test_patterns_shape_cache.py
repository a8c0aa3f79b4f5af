"""The tokeniser's shape memo (``_tokens._SHAPES``) returns exactly what the rules return without it."""

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
    _tokens._SHAPES.clear()
    return tokenise(line)


@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_a_memoised_shape_gives_the_rules_answer(first: str, second: str) -> None:
    expected = _fresh(second)
    _fresh(first)
    assert tokenise(second) == expected
    assert tokenise(first) == _fresh(first)


def test_the_memo_is_bounded() -> None:
    _tokens._SHAPES.clear()
    for i in range(_tokens._SHAPES_MAX + 10):
        tokenise(f"event {'w' * (i % 50)} {'v' * (i // 50)} done 1")
    assert 0 < len(_tokens._SHAPES) <= _tokens._SHAPES_MAX
