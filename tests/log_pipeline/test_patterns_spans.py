"""A value that spans several words joins the template of another length (issue 17, ``_spans.py``)."""

from __future__ import annotations

import pytest

from log_pipeline.patterns import TemplateMiner
from log_pipeline.patterns._miner import _SPAN_SCAN
from log_pipeline.patterns._spans import spans_match


def _ids(lines: list[str]) -> list[str]:
    miner = TemplateMiner()
    return [miner.mine(line)[0] for line in lines]


def test_a_name_holding_spaces_joins_the_template_of_its_event() -> None:
    ids = _ids(
        [
            "Session opened for user alice on tty 3",
            "Session opened for user bob on tty 4",
            "Session opened for user Mary Ann on tty 5",
            "Session opened for user Jean Luc Picard on tty 6",
        ]
    )
    assert ids[0] == ids[1] == ids[2] == ids[3]


@pytest.mark.parametrize(
    ("template", "message", "matches"),
    [
        (["user", "<*>", "on", "tty", "<*>"], ["user", "Mary", "Ann", "on", "tty", "<*>"], True),
        (["user", "<*>", "<*>", "on"], ["user", "Mary", "on"], True),  # a run of <*> is one value
        # a word next to a value is a word of the template, not part of the value (fp cr field <*>)
        (["fp", "cr", "<*>"], ["fp", "cr", "field", "<*>"], False),
        (["user", "<*>", "on"], ["user", "a", "=", "b", "on"], False),  # punctuation is the skeleton
        (["user", "<*>", "on"], ["user", "a", "b", "off"], False),  # every constant must be there
        (["user", "<*>", "on"], ["user", "on"], False),  # a value holds at least one token
    ],
)
def test_spans_match(template: list[str], message: list[str], matches: bool) -> None:
    assert spans_match(template, message) is matches


def test_other_events_of_another_length_stay_apart() -> None:
    ids = _ids(
        [
            "Session opened for user alice on tty 3",
            "Session opened for user bob on tty 4",
            "Session opened for user carol quickly on tty 5",  # still one value: words only
            "Session opened for user dave smith on console 7",  # a constant differs: another event
            "program interrupt: fp cr update.............0",
            "program interrupt: fp cr field .............0",  # a word and a value: another event
        ]
    )
    assert ids[0] == ids[1] == ids[2]
    assert ids[3] != ids[0]
    assert ids[5] != ids[4]


def _word(i: int) -> str:
    """A distinct digit-free word per ``i`` (base 26 in letters)."""
    letters = "q"
    while True:
        i, d = divmod(i, 26)
        letters += chr(97 + d)
        if not i:
            return letters


def test_the_spanning_scan_is_bounded() -> None:
    """Only the newest _SPAN_SCAN patterns under a first token are tried: an old one is no longer found."""
    old = "Job done for tenant alpha in 5 ms"
    lines = [old, "Job done for tenant beta in 6 ms"]
    lines += [f"Job {_word(i)} started {i}" for i in range(_SPAN_SCAN * 2)]  # a new pattern each
    miner = TemplateMiner()
    first = miner.mine(old)[0]
    for line in lines[1:]:
        miner.mine(line)
    assert len(miner) > _SPAN_SCAN
    assert miner.mine("Job done for tenant gamma delta in 7 ms")[0] != first
    fresh = TemplateMiner()
    fresh_id = fresh.mine(old)[0]
    fresh.mine(lines[1])
    assert fresh.mine("Job done for tenant gamma delta in 7 ms")[0] == fresh_id
