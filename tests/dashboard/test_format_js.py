"""dashboard/static/format.js in Chromium: axis tick labels of small or close values stay distinct and read
their values (the CPU-per-instance chart in cores used to label its axis "0.00, 0.00, ...")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import chromium

FORMAT_JS = Path(__file__).resolve().parents[2] / "dashboard" / "static" / "format.js"


@pytest.fixture(scope="module")
def fmt() -> Iterator[Any]:
    with chromium() as context:
        page = context.new_page()
        page.add_script_tag(path=str(FORMAT_JS))
        yield page


@pytest.mark.parametrize(
    ("ticks", "unit", "labels"),
    [
        ([0.001, 0.002, 0.003], "cores", ["0.0010", "0.0020", "0.0030"]),  # an idle app's CPU
        ([0.045, 0.05, 0.055], "cores", ["0.045", "0.050", "0.055"]),  # a flat series, padded by uPlot
        ([0, 0.5, 1, 1.5], "", ["0.00", "0.50", "1.00", "1.50"]),  # unchanged where they were distinct
        ([0, 2 * 2**20, 4 * 2**20], "B", ["0 B", "2.0 MiB", "4.0 MiB"]),
        ([0.2, 0.4], "%", ["0.20 %", "0.40 %"]),
        ([0.004], "s", ["4.00 ms"]),
    ],
)
def test_tick_labels_read_the_ticks(fmt: Any, ticks: list[float], unit: str, labels: list[str]) -> None:
    assert fmt.evaluate("([t, u]) => window.paramedicFormat.tickLabels(t, u)", [ticks, unit]) == labels


def test_small_values_keep_two_significant_digits(fmt: Any) -> None:
    got = fmt.evaluate(
        "() => [0.0012, -0.0012, 5, 1234].map((v) => window.paramedicFormat.human(v, 'cores'))"
    )
    assert got == ["0.0012", "-0.0012", "5.00", "1.2k"]
