"""The ASCII fast path of highlighting marks exactly the tokens the general path marks."""

from __future__ import annotations

import random

from log_pipeline.search.highlight import Highlighter
from log_pipeline.search.query import parse_query

_ALPHABET = "abAB01_- .=/é"


def test_ascii_messages_mark_what_the_general_path_marks() -> None:
    rnd = random.Random(7)
    for query in ("a AND b0", "ab OR B OR 1", "a_b", "status:500 AND ab", "A0"):
        mark = Highlighter(parse_query(query))
        for _ in range(400):
            ascii_text = "".join(rnd.choice(_ALPHABET[:-1]) for _ in range(rnd.randint(0, 30)))
            # the same text followed by a non-ASCII token takes the general (tokenising) path
            general = mark(ascii_text + " é").message
            fast = mark(ascii_text)
            assert fast.message == [s for s in general if s[1] <= len(ascii_text)], (query, ascii_text)


def test_ascii_path_keeps_offsets_fields_and_span_limit() -> None:
    mark = Highlighter(parse_query("timeout AND app:web"), max_spans=2)
    got = mark("TIMEOUT x timeout_y timeouts 9timeout timeout")
    assert got.message == [(0, 7), (10, 17)]
    assert got.truncated
    assert got.fields == ["app"]
