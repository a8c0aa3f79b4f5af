"""``paramedic anomaly score FILE.csv`` on small CSVs."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from alerting.anomaly import default_detector
from paramedic.cli import app


def _write(path: Path, n: int) -> list[tuple[str, float]]:
    t0 = datetime(2024, 3, 1)
    rows = [
        (
            (t0 + timedelta(minutes=5 * i)).strftime("%Y-%m-%d %H:%M:%S"),
            float(i % 7) + (90 if i == 250 else 0),
        )
        for i in range(n)
    ]
    path.write_text("timestamp,value\n" + "".join(f"{ts},{v}\n" for ts, v in rows))
    return rows


def test_scores_every_row_like_default_detector(tmp_path: Path) -> None:
    rows = _write(tmp_path / "s.csv", 300)
    res = CliRunner().invoke(app, ["anomaly", "score", str(tmp_path / "s.csv")])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0] == "timestamp,value,anomaly_score"
    assert len(lines) == 301
    det = default_detector()
    for (ts, v), line in zip(rows, lines[1:], strict=True):
        got_ts, got_v, got_s = line.split(",")
        assert (got_ts, float(got_v)) == (ts, v)
        assert float(got_s) == round(det.process(v, datetime.fromisoformat(ts)), 6)
    assert float(lines[251].split(",")[2]) > 0.5


def test_bad_value_names_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.csv"
    p.write_text("timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:05:00,oops\n")
    res = CliRunner().invoke(app, ["anomaly", "score", str(p)])
    assert res.exit_code == 1
    assert f"{p}:3: bad value 'oops'" in res.stderr


def test_bad_header_and_timestamp(tmp_path: Path) -> None:
    p = tmp_path / "h.csv"
    p.write_text("time,v\n")
    res = CliRunner().invoke(app, ["anomaly", "score", str(p)])
    assert res.exit_code == 1
    assert f"{p}:1: header" in res.stderr
    p.write_text("timestamp,value\nyesterday,1\n")
    res = CliRunner().invoke(app, ["anomaly", "score", str(p)])
    assert f"{p}:2: bad timestamp 'yesterday'" in res.stderr


def test_missing_file(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["anomaly", "score", str(tmp_path / "nope.csv")])
    assert res.exit_code == 1
    assert "nope.csv" in res.stderr
