"""The dashboard's metrics reader over the real engine: a window whose milliseconds overflow a float (the
fuzz run's ``/apps/x/events.json?start=-1.7976931348623157e+308&end=0``) is a ReaderError, not a crash."""

from __future__ import annotations

import math

import pytest

from dashboard.base import ReaderError
from metrics_store.memory import MemoryStore
from metrics_store.model import labels_from
from paramedic.dashboard import PromqlMetricsReader

NOW_S = 1_700_000_000


def _metrics() -> PromqlMetricsReader:
    store = MemoryStore()
    ref = store.series_ref(labels_from({"__name__": "up", "job": "probe"}))
    store.append([ref] * 3, [(NOW_S - 30) * 1000, (NOW_S - 15) * 1000, NOW_S * 1000], [1.0, 1.0, 1.0])
    return PromqlMetricsReader(store, clock=lambda: NOW_S)


@pytest.mark.parametrize(
    ("start_s", "end_s", "step_s"),
    [
        (-1.7976931348623157e308, 0.0, 15.0),  # end - start is finite, its milliseconds are not
        (0.0, 1.7976931348623157e308, 15.0),
        (0.0, 1e300, math.inf),
        (math.nan, NOW_S, 15.0),
        (-1e300, 1e300, 2e297),  # finite milliseconds, beyond what the engine accepts
    ],
)
def test_out_of_bounds_windows_are_reader_errors(start_s: float, end_s: float, step_s: float) -> None:
    with pytest.raises(ReaderError):
        _metrics().range("up", start_s, end_s, step_s)


def test_an_ordinary_window_still_reads() -> None:
    [series] = _metrics().range("up", NOW_S - 30, NOW_S, 15)
    assert series.labels == {"__name__": "up", "job": "probe"}
    assert series.timestamps_s == [NOW_S - 30, NOW_S - 15, NOW_S]
    assert series.values == [1.0, 1.0, 1.0]
