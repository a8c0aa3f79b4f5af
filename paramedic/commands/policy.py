"""``paramedic policy check|test|schema|backtest|import-autoscaler``: remediation policies as code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
import yaml

from remediation.config import GlobalRails, Policy
from remediation.policy.autoscaler import (
    AutoscalerError,
    convert,
    load_autoscaler_policy,
    load_metric_map,
)
from remediation.policy.loader import PolicyError, load_policies
from remediation.policy.schema import policy_schema_json

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rich.console import Console

    from platforms.base import EventSource
    from platforms.config import PlatformConfig
    from remediation.policy.replay import BacktestRequest

app = typer.Typer(help="Validate, unit-test, backtest and import remediation policies.", no_args_is_help=True)


def _trigger_text(policy: Policy) -> str:
    parts = []
    if policy.trigger.matchers:
        parts.append("{" + ", ".join(policy.trigger.matchers) + "}")
    s = policy.trigger.schedule
    if s is not None:
        parts.append(f"cron {s.cron!r}" if s.cron is not None else f"at {s.at}")
        parts[-1] += f" ({s.timezone})"
    pred = policy.predictive
    if pred is not None:
        parts.append(f"predictive {pred.mode} every {pred.interval:g}s, {pred.startup:g}s ahead")
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


def _parse_since(text: str) -> float:
    from alerting.dispatch.config import parse_duration  # noqa: PLC0415

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


@app.command("backtest")
def backtest(
    since: str = typer.Option("24h", "--since", help="replay this far back from now (e.g. 24h, 90m)"),
    policy_name: str | None = typer.Option(None, "--policy", help="only this policy"),
    config: Path = typer.Option(Path("paramedic.yaml"), "--config", "-c", help="paramedic.yaml"),
    policy_files: list[Path] = typer.Option(
        [], "--policies", help="policy files (default: the config's remediation.policy_files)"
    ),
    url: str | None = typer.Option(
        None,
        "--url",
        help="read history from this server's query API (a running Paramedic, whose store is locked, or a "
        "Prometheus) instead of opening the config's store",
    ),
    token_file: Path | None = typer.Option(None, "--token-file", help="bearer token for --url (viewer)"),
) -> None:
    """Replay stored history through the configured rules and policies; print what would have happened."""
    from rich.console import Console  # noqa: PLC0415
    from rich.progress import Progress  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    from remediation.policy.replay import REPORT_COLUMNS, HistoryReadError, backtest_history  # noqa: PLC0415

    window_s = _parse_since(since)
    request = _backtest_request(config, policy_files, policy_name, window_s, url, token_file)
    console = Console()
    if any(p.predictive is not None for p in request.policies):
        _predictive_backtest(request, console)
        if not request.rule_files and _only_predictive(request.policies):
            return  # no rules configured: there is no alert to replay
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("replaying", total=None)
            report = backtest_history(
                request, on_step=lambda done, total: progress.update(task, completed=done, total=total)
            )
    except HistoryReadError as exc:
        typer.echo(f"paramedic policy backtest: reading history failed: {exc}", err=True)
        raise typer.Exit(1) from None
    table = Table(title=report.title)
    for col in REPORT_COLUMNS:
        table.add_column(col)
    for row in report.rows():
        table.add_row(*row)
    console.print(table)
    console.print(report.summary())
    for line in report.per_policy():
        console.print(f"  {line}", soft_wrap=True)
    for note in report.notes:
        console.print(f"note: {note}", soft_wrap=True)


def _predictive_backtest(request: BacktestRequest, console: Console) -> None:
    """Forecast vs actual of every predictive policy in ``request``, one table per app, then its summary."""
    import time  # noqa: PLC0415
    from datetime import UTC, datetime  # noqa: PLC0415

    from rich.table import Table  # noqa: PLC0415

    from metrics_store.base import StoreError  # noqa: PLC0415
    from remediation.predictive.live_history import StoreLoadHistory  # noqa: PLC0415
    from remediation.predictive.policy_backtest import (  # noqa: PLC0415
        STEP_COLUMNS,
        backtest_predictive,
        open_history,
        step_rows,
    )

    src = request.source
    end = time.time()
    querier, close = open_history(src.store, src.base_dir, src.url, src.token)
    try:
        history = StoreLoadHistory(querier)
        for policy in (p for p in request.policies if p.predictive is not None):
            for result in backtest_predictive(policy, history, end - request.window_s, end):
                table = Table(title=f"Predictive backtest {policy.name}: {result.app} (forecast vs actual)")
                for col in STEP_COLUMNS:
                    table.add_column(col)
                for row in step_rows(result, lambda t: f"{datetime.fromtimestamp(t, UTC):%Y-%m-%d %H:%M:%S}"):
                    table.add_row(*row)
                console.print(table)
                console.print(result.summary(), soft_wrap=True)
    except (StoreError, ValueError) as exc:
        typer.echo(f"paramedic policy backtest: predictive replay failed: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        close()


def _backtest_request(
    config: Path,
    policy_files: list[Path],
    policy_name: str | None,
    window_s: float,
    url: str | None,
    token_file: Path | None,
) -> BacktestRequest:
    """The backtest the options and ``config`` describe; prints the problem and exits 1 when there is none."""
    from paramedic.alerting import rule_files  # noqa: PLC0415
    from paramedic.config import ConfigError, load_config  # noqa: PLC0415
    from remediation.policy.replay import BacktestError, BacktestRequest, HistorySource, select_policies  # noqa: PLC0415

    try:
        cfg = load_config(config)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    base = config.resolve().parent
    rem = getattr(cfg, "remediation", None)
    files = list(policy_files) or [base / f for f in (rem.policy_files if rem is not None else [])]
    if not files:
        typer.echo("no policy files: pass --policies or set remediation.policy_files", err=True)
        raise typer.Exit(1)
    try:
        policies = select_policies(files, policy_name)
    except BacktestError as exc:
        for problem in exc.problems:
            typer.echo(problem, err=True)
        raise typer.Exit(1) from None
    if cfg.rules is None and not _only_predictive(policies):  # a predictive policy needs no alert
        typer.echo(f"{config}: no rules: section, nothing raises alerts to replay", err=True)
        raise typer.Exit(1)
    token = None
    if url is not None and token_file is not None:
        token = token_file.read_text(encoding="utf-8").strip()
    return BacktestRequest(
        events=_event_source(cfg.platform),
        policies=policies,
        rule_files=rule_files(cfg.rules, base) if cfg.rules is not None else [],
        source=HistorySource(store=cfg.metrics_store, base_dir=base, url=url, token=token),
        window_s=window_s,
        interval_s=cfg.rules.evaluation_interval_s if cfg.rules is not None else 15.0,
        resend_delay_s=cfg.rules.resend_delay_s if cfg.rules is not None else 60.0,
        global_rails=rem.global_rails if rem is not None else GlobalRails(),
    )


def _only_predictive(policies: Sequence[Policy]) -> bool:
    """Every policy is predictive (scales on a forecast: no alert to replay)."""
    return all(p.predictive is not None for p in policies)


def _event_source(platform: PlatformConfig | None) -> EventSource | None:
    """The configured platform when it records app events (shown on the replay timeline), else None."""
    from prometheus_client import CollectorRegistry  # noqa: PLC0415

    from platforms.base import EventSource, PlatformError  # noqa: PLC0415
    from platforms.factory import open_platform  # noqa: PLC0415

    if platform is None:
        return None
    try:
        opened = open_platform(platform, registry=CollectorRegistry())
    except (PlatformError, OSError, ValueError) as exc:
        typer.echo(f"note: platform events unavailable: {exc}", err=True)
        return None
    return opened if isinstance(opened, EventSource) else None


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
