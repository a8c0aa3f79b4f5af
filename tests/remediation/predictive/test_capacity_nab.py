"""The simulator on the shared NAB traces (``../shared/data/nab``): every file reads, and on a daily trace
the predictive policy beats both reactive policies. Deselected, loudly, when ../shared is absent."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from typer.testing import CliRunner

from paramedic.cli import app
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


@pytest.mark.parametrize(
    "name",
    [
        "artificialNoAnomaly/art_daily_small_noise.csv",  # 5-minute points
        "realAWSCloudwatch/ec2_network_in_5abac7.csv",  # irregular points
        "realAdExchange/exchange-2_cpm_results.csv",  # hourly points, odd seconds
    ],
)
def test_the_cli_simulates_nab_files(name: str) -> None:
    """``paramedic capacity simulate`` on NAB files of three categories: one JSON object with the issue's
    fields; the minutes span the file's first to last timestamp."""
    path = NAB / name
    rows = path.read_text().splitlines()[1:]
    first, last = (datetime.fromisoformat(r.split(",")[0]) for r in (rows[0], rows[-1]))
    res = CliRunner().invoke(app, ["capacity", "simulate", str(path), "--policy", "reactive"])
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    fields = {"policy", "slo_violation_minutes", "instance_hours", "scale_actions", "peak_instances"}
    assert fields <= set(doc)
    assert doc["policy"] == "reactive" and doc["peak_instances"] >= 1
    assert doc["minutes"] == int((last - first).total_seconds() // 60) + 1
