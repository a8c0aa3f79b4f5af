"""`paramedic rules check|test` against the real promtool on the same files: same pass/fail outcome."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alerting.rules import PACKS_DIR, RuleFileError, load_files, run_test_file
from paramedic.cli import app
from tests.support.servers import load_factor

G = "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n"
DATA = Path(__file__).resolve().parent / "rules_data"
TEST_FILES = sorted(DATA.glob("*.test.yml")) + sorted((DATA / "packs").glob("*.test.yml"))
PROMTOOL = shutil.which("promtool")


def _promtool(*args: str) -> int:
    if PROMTOOL is None:
        pytest.fail("promtool is not installed (apt-get install prometheus)")
    # a hang guard, not a check: promtool needs ~11 s of CPU for the Cloud Foundry pack's tests, so the guard
    # stretches with the machine's load like a server start's (44 s of wall at load average ~13, 60+ at 20)
    timeout_s = 60 * load_factor()
    return subprocess.run([PROMTOOL, *args], check=False, capture_output=True, timeout=timeout_s).returncode


@pytest.mark.parametrize("path", TEST_FILES, ids=lambda p: p.name)
def test_same_outcome_as_promtool(path: Path) -> None:
    expected_ok = _promtool("test", "rules", str(path)) == 0
    result = run_test_file(path)
    assert result.ok == expected_ok, "\n".join(result.errors)
    assert expected_ok == (not path.name.startswith("failing")), "fixture intent: failing*.test.yml must fail"


def test_cli_test_exit_codes() -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["rules", "test", str(DATA / "node.test.yml")])
    assert ok.exit_code == 0, ok.output
    assert "SUCCESS" in ok.output
    bad = runner.invoke(app, ["rules", "test", str(DATA / "failing_expr.test.yml")])
    assert bad.exit_code == 1
    assert "job:up:sum" in bad.output


@pytest.mark.parametrize("pack", ["cloudfoundry", "local"])
def test_prometheus_packs_pass_promtool_check(pack: str) -> None:
    assert _promtool("check", "rules", str(PACKS_DIR / f"{pack}.yaml")) == 0


@pytest.mark.parametrize("pack", sorted(p.stem for p in PACKS_DIR.glob("*.yaml")))
def test_packs_pass_rules_check(pack: str) -> None:
    result = CliRunner().invoke(app, ["rules", "check", pack])
    assert result.exit_code == 0, result.output
    assert load_files([pack])


BAD = [
    (
        "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up ==\n",
        'group "g", rule 1, "A": expr: could not parse',
    ),
    (
        "groups:\n- name: g\n  rules:\n  - record: a-b\n    expr: up\n",
        "record: invalid recording rule name: a-b",
    ),
    (
        "groups:\n- name: g\n  rules:\n  - record: r\n    expr: up\n    for: 5m\n",
        "for: invalid field 'for' in recording",
    ),
    (
        "groups:\n- name: g\n  rules:\n  - alert: A\n    record: B\n    expr: up\n",
        "only one of 'record' and 'alert'",
    ),
    (
        "groups:\n- name: g\n  rules:\n  - expr: up\n",
        "rule 1, \"\": record/alert: one of 'record' or 'alert'",
    ),
    ("groups:\n- name: g\n  rules:\n  - alert: A\n", "expr: field 'expr' must be set"),
    (
        G + "    for: 5x\n",
        'for: not a valid duration string: "5x"',
    ),
    (
        G + "    labels: {1a: x}\n",
        "labels.1a: invalid label name",
    ),
    (
        G + "    annotations: {s: '{{ nope $value }}'}\n",
        'annotations.s: template: function "nope" not defined',
    ),
    (
        G + "    annotations: {s: '{{ if $value }}'}\n",
        "missing {{end}}",
    ),
    ("groups:\n- name: g\n  rules: []\n- name: g\n  rules: []\n", 'group "g": name: groupname is repeated'),
    ("groups:\n- name: g\n  intervall: 1m\n  rules: []\n", 'group "g": intervall: field not found'),
    (
        G + "    kind: threshold\n    params: {fire: 1, resolve: 2}\n",
        "params: Value error, resolve level 2.0 must not be above the fire level 1.0",
    ),
    (
        G + "    kind: threshold\n    params: {fire: 1, x: 2}\n",
        "params.x: Extra inputs are not permitted",
    ),
    (
        G + "    kind: magic\n",
        "kind: unknown kind 'magic'",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD, ids=[m[:30] for _, m in BAD])
def test_bad_rule_files_name_file_group_rule_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(text)
    with pytest.raises(RuleFileError) as info:
        load_files([str(path)])
    assert any(message in p and p.startswith(str(path)) for p in info.value.problems), info.value.problems
    if "kind" not in text and "nope" not in text:  # Paramedic extensions are not Prometheus' to judge
        assert _promtool("check", "rules", str(path)) != 0


def test_keep_firing_for_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "k.yml"
    path.write_text(
        "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n    keep_firing_for: 5m\n"
    )
    (group,) = load_files([str(path)])
    assert group.rules[0].keep_firing_for_ms == 300_000


@pytest.mark.parametrize("path", sorted((DATA / "paramedic_only").glob("*.test.yml")), ids=lambda p: p.name)
def test_paramedic_kind_packs_run_where_promtool_cannot(path: Path) -> None:
    result = run_test_file(path)
    assert result.ok, "\n".join(result.errors)
    assert _promtool("test", "rules", str(path)) != 0  # `kind:` is Paramedic's extension
