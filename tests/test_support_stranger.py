"""tests/support/stranger.py: the real-server HTTP cap checks are deselected (loudly) only off CI."""

from __future__ import annotations

import pytest

from tests.support.stranger import deselect_stranger_tests, in_ci


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, False),
        ({"CI": ""}, False),
        ({"CI": "0"}, False),
        ({"CI": "false"}, False),
        ({"CI": "true"}, True),
    ],
)
def test_ci_is_read_from_the_environment(environ: dict[str, str], expected: bool) -> None:
    assert in_ci(environ) is expected


def test_stranger_tests_run_and_fail_in_ci_without_an_address() -> None:
    """Fifth review L2: without a non-loopback address the three real-server checks skipped, so a CI machine
    with loopback only dropped them silently. Off CI they are deselected with one loud line; with CI set
    they run (and fail), and with an address they always run."""
    assert deselect_stranger_tests(None, {}) is True
    assert deselect_stranger_tests(None, {"CI": "true"}) is False
    assert deselect_stranger_tests("10.0.0.5", {}) is False
    assert deselect_stranger_tests("10.0.0.5", {"CI": "true"}) is False
