from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from paramedic.cli import app
from remediation.policy.testing import run_policy_tests

FIXTURES = Path(__file__).parent / "fixtures"


def test_example_test_file_passes() -> None:
    result = run_policy_tests(FIXTURES / "policies.test.yaml")
    assert result.errors == []
    assert [c.ok for c in result.cases] == [True] * 7, [c.diff() for c in result.cases if not c.ok]
    first = result.cases[0].got
    assert [(d.decision, d.rail) for d in first] == [("executed", None), ("deferred", "cooldown")]
    assert "next action allowed in" in first[1].reason
    expired = result.cases[5].got[1]
    assert (expired.decision, expired.rail) == ("expired", "cooldown")
    assert expired.reason.startswith(
        "alert resolved at 2024-01-01T00:05:00+00:00 before the action could run"
    )


def test_cli_pass_and_fail_with_diff(tmp_path: Path) -> None:
    ok = CliRunner().invoke(app, ["policy", "test", str(FIXTURES / "policies.test.yaml")])
    assert ok.exit_code == 0, ok.output
    assert "PASS  scale out by half" in ok.output and "SUCCESS" in ok.output
    bad = tmp_path / "bad.test.yaml"
    bad.write_text(
        f"policy_files: [{FIXTURES / 'policies.yaml'}]\n"
        "tests:\n"
        "  - name: wrong expectation\n"
        "    platform: {apps: {checkout: {instances: 4}}}\n"
        "    alerts:\n"
        "      - {at: 0s, labels: {alertname: LocalInstanceDown, app: checkout, app_instance: '1'}}\n"
        "    expect:\n"
        "      - {policy: restart-hung-instance, target: checkout/1, decision: refused, rail: cooldown}\n"
    )
    res = CliRunner().invoke(app, ["policy", "test", str(bad)])
    assert res.exit_code == 1
    assert "FAIL  wrong expectation" in res.output
    assert "-- decision: refused" in res.output and "+  decision: executed" in res.output


def test_invalid_test_file_names_line_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.test.yaml"
    bad.write_text(
        "policy_files: []\ntests:\n  - name: x\n    alerts:\n"
        "      - {at: 0s, labels: {a: b}, status: burning}\n"
    )
    result = run_policy_tests(bad)
    assert not result.ok
    assert any(
        e.startswith(f"{bad}:5: tests[0].alerts[0].status: Input should be 'firing' or 'resolved'")
        for e in result.errors
    )
