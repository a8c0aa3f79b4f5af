"""``paramedic policy check|test|schema|backtest|import-autoscaler``: remediation policies as code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
import yaml

from remediation.config import Policy
from remediation.policy.autoscaler import (
    AutoscalerError,
    convert,
    load_autoscaler_policy,
    load_metric_map,
)
from remediation.policy.loader import PolicyError, load_policies
from remediation.policy.schema import policy_schema_json

app = typer.Typer(help="Validate, unit-test, backtest and import remediation policies.", no_args_is_help=True)


def _trigger_text(policy: Policy) -> str:
    parts = []
    if policy.trigger.matchers:
        parts.append("{" + ", ".join(policy.trigger.matchers) + "}")
    s = policy.trigger.schedule
    if s is not None:
        parts.append(f"cron {s.cron!r}" if s.cron is not None else f"at {s.at}")
        parts[-1] += f" ({s.timezone})"
    return " + ".join(parts)


def _action_text(policy: Policy) -> str:
    params = policy.action.model_dump(mode="json", exclude={"type"}, exclude_defaults=True)
    extra = " ".join(f"{k}={v}" for k, v in params.items())
    return f"{policy.action.type}" + (f" {extra}" if extra else "")


@app.command("check")
def check(files: list[Path] = typer.Argument(..., help="policy YAML files, checked together")) -> None:
    """Validate policy FILEs; print name, version, mode, trigger and action of each; exit 1 on errors."""
    try:
        loaded = load_policies(files)
    except PolicyError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(1) from None
    for lp in loaded:
        p = lp.policy
        typer.echo(
            f"{p.name}  version={lp.version}  mode={p.mode}  trigger={_trigger_text(p)}  "
            f"action={_action_text(p)}"
        )
    typer.echo(f"SUCCESS: {len(loaded)} policies in {len(files)} files")


@app.command("test")
def test(files: list[Path] = typer.Argument(..., help="policy unit-test files")) -> None:
    """Run policy unit tests (alerts through the engine in simulation); exit 1 if any fails."""
    from remediation.policy.testing import run_policy_tests  # noqa: PLC0415 -- loads the engine

    failed = False
    for path in files:
        typer.echo(f"Unit Testing:  {path}")
        result = run_policy_tests(path)
        for err in result.errors:
            typer.echo(f"  {err}", err=True)
        for case in result.cases:
            if case.ok:
                typer.echo(f"  PASS  {case.name}")
                continue
            typer.echo(f"  FAIL  {case.name}")
            for err in case.errors:
                typer.echo(f"    {err}")
            typer.echo("    " + case.diff().replace("\n", "\n    "))
        failed = failed or not result.ok
        typer.echo("  SUCCESS" if result.ok else "  FAILED")
    if failed:
        raise typer.Exit(1)


@app.command("schema")
def schema(out: Path | None = typer.Option(None, "--out", "-o", help="write here instead of stdout")) -> None:
    """Print the JSON Schema of a policy file (for editors; also docs/policy.schema.json)."""
    text = policy_schema_json()
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")


def _dump(doc: dict[str, Any]) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=110)


@app.command("import-autoscaler")
def import_autoscaler(
    policy_json: Path = typer.Argument(..., help="App Autoscaler policy.json"),
    app_name: str = typer.Option(..., "--app", help="the app the policy scales"),
    metric_map: Path | None = typer.Option(
        None, "--metric-map", help="YAML {metric_type: PromQL template with $app, $metric}"
    ),
    out_dir: Path | None = typer.Option(
        None, "--out-dir", help="write <app>-autoscaler.rules.yaml and .policies.yaml here (default: stdout)"
    ),
) -> None:
    """Convert a Cloud Foundry App Autoscaler policy into alerting rules + dry-run scale policies."""
    try:
        policy = load_autoscaler_policy(policy_json)
        mapping = load_metric_map(metric_map) if metric_map is not None else None
        result = convert(policy, app_name, mapping)
    except AutoscalerError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    for w in result.warnings:
        typer.echo(f"warning: {w}", err=True)
    header = (
        f"# Imported from {policy_json.name} for app {app_name} by `paramedic policy import-autoscaler`\n"
    )
    rules_text = header + _dump(result.rules)
    policies_text = header + _dump(result.policies)
    if out_dir is None:
        typer.echo("# --- alerting rules ---\n" + rules_text + "---\n# --- policies ---\n" + policies_text)
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in app_name)
    rules_path, policies_path = (
        out_dir / f"{stem}-autoscaler.rules.yaml",
        out_dir / f"{stem}-autoscaler.policies.yaml",
    )
    rules_path.write_text(rules_text, encoding="utf-8")
    policies_path.write_text(policies_text, encoding="utf-8")
    typer.echo(json.dumps({"rules": str(rules_path), "policies": str(policies_path)}))
