"""The series labels column's text: ``labels_json`` writes exactly what ``json.dumps`` wrote before (ASCII
escapes, quotes, backslashes, control characters, non-BMP and lone surrogates, empty label sets), so
databases written before and after read the same."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from metrics_store.embedded._db import labels_json

TEXT = st.text(alphabet=st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF), max_size=12)


@given(st.lists(st.tuples(TEXT, TEXT), max_size=8))
def test_labels_json_is_json_dumps_compact(pairs: list[tuple[str, str]]) -> None:
    labels = tuple(pairs)
    text = labels_json(labels)
    assert text == json.dumps(labels, separators=(",", ":"))
    assert [tuple(p) for p in json.loads(text)] == pairs


def test_labels_json_of_usual_and_awkward_labels() -> None:
    for labels in [
        (),
        (("__name__", "up"),),
        (("__name__", "x"), ("path", 'a"b\\c\nd\te\u00e9\U0001f600\ud800'), ("z", "")),
    ]:
        assert labels_json(labels) == json.dumps(labels, separators=(",", ":"))
