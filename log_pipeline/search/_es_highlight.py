"""Engine-side highlighting of Elasticsearch/OpenSearch: the request clause and the spans it answers.

The engine marks the matched message tokens with :data:`PRE`/:data:`POST` (private-use code points a log
line does not carry; a message that does carry one is left unmarked rather than mis-marked; not control
characters: the engine trims those, with the tag, off the end of a message) in the whole message
(``number_of_fragments: 0``); :func:`spans` turns that back into ``[start, end)`` code-point spans of the
original message, the unit of :mod:`log_pipeline.search.highlight`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["HIGHLIGHT", "POST", "PRE", "spans"]

PRE = "\ue000"
POST = "\ue001"
MAX_SPANS = 1000

HIGHLIGHT: dict[str, Any] = {
    "pre_tags": [PRE],
    "post_tags": [POST],
    "fields": {"message": {"number_of_fragments": 0}},
}


def spans(message: str, marked: str) -> list[tuple[int, int]]:
    """Spans of ``marked`` (the engine's copy of ``message`` with tags), merged when adjacent; [] when the
    marked text does not reduce to ``message`` (the message carried a tag character itself)."""
    if PRE in message or POST in message:
        return []
    out: list[tuple[int, int]] = []
    plain: list[str] = []
    start = -1
    for ch in marked:
        if ch == PRE:
            start = len(plain)
        elif ch == POST and start >= 0:
            if out and out[-1][1] >= start:
                out[-1] = (out[-1][0], len(plain))
            elif len(out) < MAX_SPANS:
                out.append((start, len(plain)))
            start = -1
        else:
            plain.append(ch)
    return out if "".join(plain) == message else []
