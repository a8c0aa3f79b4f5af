"""The simulator on the shared NAB traces (``../shared/data/nab``): every file reads, and on a daily trace
the predictive policy beats both reactive policies. Deselected, loudly, when ../shared is absent."""

from __future__ import annotations

import pytest

from remediation.predictive.simulate import simulate_file
from remediation.predictive.trace import read_trace
from tests.conftest import SHARED

pytestmark = pytest.mark.reference_data

NAB = SHARED / "data" / "nab" / "data"


def test_every_nab_trace_reads_and_interpolates_to_minutes() -> None:
    paths = sorted(NAB.glob("*/*.csv"))
    assert len(paths) == 34
    for p in paths:
        tr = read_trace(p)
        assert len(tr) > 1000, p
        assert (tr.load >= 0).all()
        assert ((tr.times[1:] - tr.times[:-1]) == 60.0).all()


def test_predictive_beats_reactive_on_a_daily_trace() -> None:
    path = NAB / "artificialNoAnomaly" / "art_daily_small_noise.csv"
    res = {p: simulate_file(path, p) for p in ("reactive", "reactive-pct", "predictive")}
    best = min(
        res["reactive"], res["reactive-pct"], key=lambda r: (r.slo_violation_minutes, r.instance_hours)
    )
    pred = res["predictive"]
    assert pred.slo_violation_minutes < best.slo_violation_minutes
    assert pred.instance_hours <= 1.05 * best.instance_hours
    assert pred.extra["forecast_minutes"] > 0.9 * pred.minutes  # forecasting after the first day
