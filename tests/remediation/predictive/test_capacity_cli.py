"""``paramedic capacity simulate`` on good and bad files: one JSON object, or one line naming the file and
line on stderr with exit code 2 (never a traceback)."""

from __future__ import annotations

import itertools
import json
import math
import statistics
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paramedic.cli import app
from remediation.predictive import trace as trace_mod


def write_daily(path: Path, days: int = 2, step_min: int = 5) -> Path:
    rows = ["timestamp,value"]
    for i in range(days * 24 * 60 // step_min):
        h = i * step_min / 60
        v = 50 + 40 * math.sin(2 * math.pi * h / 24)
        rows.append(
            f"2024-01-{1 + i * step_min // 1440:02d} {int(h % 24):02d}:{i * step_min % 60:02d}:00,{v:.3f}"
        )
    path.write_text("\n".join(rows) + "\n")
    return path


def invoke(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(app, ["capacity", "simulate", *args])
    return r.exit_code, r.stdout, r.stderr


@pytest.mark.parametrize("policy", ["reactive", "reactive-pct", "predictive", "hybrid", "static"])
def test_good_file_prints_one_json_object(tmp_path: Path, policy: str) -> None:
    f = write_daily(tmp_path / "daily.csv")
    code, out, err = invoke(str(f), "--policy", policy, "--capacity-per-instance", "10", "--max", "20")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["policy"] == policy
    assert doc["minutes"] == 2 * 24 * 60 - 4  # first to last row, one point a minute
    assert doc["capacity_per_instance"] == 10.0
    assert 1 <= doc["peak_instances"] <= 20
    # 90 req/s peak at 10 per instance: every policy needs at least 9 instances at the peak
    assert doc["peak_instances"] >= 9
    assert doc["instance_hours"] > 0 and doc["scale_actions"] >= 0 and doc["slo_violation_minutes"] >= 0


def test_defaults_capacity_from_the_median(tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_text("timestamp,value\n2024-01-01 00:00:00,8\n2024-01-01 00:10:00,8\n2024-01-01 00:20:00,8\n")
    code, out, _ = invoke(str(f), "--policy", "reactive")
    assert code == 0
    doc = json.loads(out)
    assert doc["capacity_per_instance"] == 2.0
    assert doc["minutes"] == 21


BAD = {
    "empty": ("", ":1: empty file"),
    "header": ("time,load\n2024-01-01 00:00:00,1\n", ":1: header"),
    "missing_column": ("timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:05:00\n", ":3: expected"),
    "non_numeric": ("timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:05:00,lots\n", ":3: bad value"),
    "not_finite": ("timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:05:00,nan\n", ":3: value"),
    "bad_time": ("timestamp,value\n2024-01-01 00:00:00,1\nyesterday,2\n", ":3: bad timestamp"),
    "unsorted": (
        "timestamp,value\n2024-01-01 00:10:00,1\n2024-01-01 00:15:00,1\n2024-01-01 00:05:00,2\n",
        ":4: timestamp",
    ),
    "one_row": ("timestamp,value\n2024-01-01 00:00:00,1\n", "at least two"),
    "binary": (b"timestamp,value\n\xff\xfe\x00\n", ":2: not UTF-8"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_files_name_file_and_line_exit_2(tmp_path: Path, case: str) -> None:
    body, expected = BAD[case]
    f = tmp_path / f"{case}.csv"
    if isinstance(body, bytes):
        f.write_bytes(body)
    else:
        f.write_text(body)
    code, out, err = invoke(str(f))
    assert code == 2
    assert out == ""
    assert str(f) in err and expected in err, err
    assert "Traceback" not in err


def test_huge_file_is_refused_before_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trace_mod, "MAX_FILE_BYTES", 1024)
    f = write_daily(tmp_path / "big.csv")
    code, _, err = invoke(str(f))
    assert code == 2 and str(f) in err and "larger than" in err


def test_span_too_long_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "span.csv"
    f.write_text("timestamp,value\n1990-01-01 00:00:00,1\n2024-01-01 00:00:00,1\n")
    code, _, err = invoke(str(f))
    assert code == 2 and "at most" in err


def test_repeated_timestamps_are_merged(tmp_path: Path) -> None:
    f = tmp_path / "dst.csv"
    f.write_text("timestamp,value\n2024-01-01 00:00:00,4\n2024-01-01 00:02:00,2\n2024-01-01 00:02:00,6\n")
    times, values = trace_mod.parse_rows(f.read_text().splitlines(), str(f))
    assert values == [4.0, 4.0] and len(times) == 2


@pytest.mark.parametrize(
    "args",
    [
        ["--policy", "magic"],
        ["--capacity-per-instance", "0"],
        ["--min", "5", "--max", "2"],
        ["--target-utilization", "2"],
    ],
)
def test_bad_options_exit_2(tmp_path: Path, args: list[str]) -> None:
    f = write_daily(tmp_path / "daily.csv", days=1)
    code, _, err = invoke(str(f), *args)
    assert code == 2 and "Traceback" not in err


def test_missing_file(tmp_path: Path) -> None:
    code, _, err = invoke(str(tmp_path / "nope.csv"))
    assert code == 2 and "nope.csv" in err


def test_the_defaults_are_the_issues(tmp_path: Path) -> None:
    """Issue 15's defaults: capacity = the trace's median / 4, ``--startup-s`` 120, ``--target-utilization``
    0.7, ``--min`` 1, ``--max`` 100; a run without options equals one that names them, and naming another
    value changes the run (the options are used)."""
    f = write_daily(tmp_path / "daily.csv", days=2)
    rows = [float(line.split(",")[1]) for line in f.read_text().splitlines()[1:]]
    # the trace interpolated to one point a minute (rows every 5 minutes), then its median
    minutes = [a + (b - a) * k / 5 for a, b in itertools.pairwise(rows) for k in range(5)] + rows[-1:]
    median = statistics.median(minutes)
    code, out, err = invoke(str(f), "--policy", "hybrid")
    assert code == 0, err
    named = ["--capacity-per-instance", repr(median / 4), "--startup-s", "120"]
    named += ["--target-utilization", "0.7", "--min", "1", "--max", "100"]
    code, out_named, err = invoke(str(f), "--policy", "hybrid", *named)
    assert code == 0, err
    assert json.loads(out) == json.loads(out_named)
    assert json.loads(out)["startup_s"] == 120.0
    for option, other in (("--target-utilization", "0.5"), ("--startup-s", "600"), ("--min", "30")):
        at = named.index(option) + 1
        changed = [*named[:at], other, *named[at + 1 :]]
        code, out_other, err = invoke(str(f), "--policy", "hybrid", *changed)
        assert code == 0, err
        assert json.loads(out_other) != json.loads(out), option
