"""`paramedic rules test --semantics`: the same unit test at a range boundary, as promtool 2.42 (default)
and as Prometheus 3 evaluate it (left-open ranges)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from paramedic.cli import app

RULES = """
groups:
  - name: g
    rules:
      - record: x:count1m
        expr: count_over_time(x[1m])
"""
# samples every minute: at 5m, [4m, 5m] holds two of them (2.42), (4m, 5m] one (3.x)
TEST = """
rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'x{job="a"}'
        values: '1+1x10'
    promql_expr_test:
      - expr: x:count1m
        eval_time: 5m
        exp_samples:
          - labels: 'x:count1m{job="a"}'
            value: {value}
"""


def _run(tmp_path: Path, value: int, *options: str) -> int:
    (tmp_path / "rules.yml").write_text(RULES)
    (tmp_path / "t.yml").write_text(TEST.replace("{value}", str(value)))
    return CliRunner().invoke(app, ["rules", "test", str(tmp_path / "t.yml"), *options]).exit_code


def test_default_is_promtool_2_42(tmp_path: Path) -> None:
    assert _run(tmp_path, 2) == 0
    assert _run(tmp_path, 1) == 1


def test_semantics_3_excludes_the_sample_at_the_range_start(tmp_path: Path) -> None:
    assert _run(tmp_path, 1, "--semantics", "3") == 0
    assert _run(tmp_path, 2, "--semantics", "3") == 1


def test_an_unknown_semantics_is_refused(tmp_path: Path) -> None:
    assert _run(tmp_path, 2, "--semantics", "2.42") == 2
