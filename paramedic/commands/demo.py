"""``paramedic demo``: a real local platform watched by a Paramedic server (:mod:`paramedic.demo`);
``paramedic demo fault``: inject a fault into one of its app instances; ``paramedic demo deploy``: deploy a
new revision blue-green; ``paramedic demo mail``: list the mails its SMTP sink received."""

from __future__ import annotations

from pathlib import Path

import typer

from paramedic.demo import (
    APP_NAMES,
    DEFAULT_DATA_DIR,
    PLATFORMS,
    DemoApiError,
    DemoDeploy,
    DemoError,
    DemoOptions,
    demo_config,
    local_app_for,
    read_demo_record,
    run_demo,
    running_demo_record,
)
from paramedic.demo import remediation as demo_remediation
from platforms.local import LocalPlatformError, StateDir
from platforms.local.fault_client import inject_fault
from platforms.local.sample_app.faults import KINDS
from platforms.local.smtp_sink import list_mails

__all__ = ["APP_NAMES", "app", "demo_config", "read_demo_record"]

app = typer.Typer(
    help="Run the demo: a real local platform (or, with --platform cloudfoundry, a simulated Cloud Foundry "
    "foundation) watched by Paramedic."
)


# -- paramedic demo -----------------------------------------------------------------------------------------


@app.callback(invoke_without_command=True)
def demo(  # noqa: PLR0913, PLR0917 - typer: one parameter per option of `paramedic demo`
    ctx: typer.Context,
    http_port: int = typer.Option(9300, "--http-port", help="Port of Paramedic's HTTP API."),
    data_dir: Path = typer.Option(DEFAULT_DATA_DIR, "--data-dir", help="Where the demo keeps its state."),
    apps: int = typer.Option(2, "--apps", min=1, max=len(APP_NAMES), help="Number of apps."),
    instances: int = typer.Option(3, "--instances", min=1, max=16, help="Instances per app."),
    scrape_interval_s: float = typer.Option(5.0, "--scrape-interval-s", min=0.5, help="Scrape interval."),
    relp_port: int = typer.Option(
        2514,
        "--relp-port",
        min=1,
        max=65535,
        help="Paramedic's RELP port (the platform's rsyslog sends here).",
    ),
    syslog_port: int = typer.Option(
        1514, "--syslog-port", min=1, max=65535, help="Paramedic's syslog port (TCP and UDP)."
    ),
    platform: str = typer.Option(
        "local",
        "--platform",
        help="local: the local platform; cloudfoundry: a simulated Cloud Foundry foundation (CC v3, UAA, "
        "Log Cache, gorouter; orgs acme/globex x spaces prod/dev) watched through its APIs.",
    ),
    replicas: int = typer.Option(
        1,
        "--replicas",
        min=1,
        max=5,
        help="Local demo: this many Paramedic replicas joined through etcd (one leads rules, alerts and "
        "remediation; they split the scrape targets), a shared VictoriaMetrics and an HAProxy TCP front for "
        "RELP/syslog on --relp-port/--syslog-port. demo.json lists every replica.",
    ),
    daily: bool = typer.Option(
        False,
        "--daily",
        help="Local demo: the second app's load follows a day compressed into 5 minutes and a live "
        "predictive policy (scale-ahead-daily) scales it ahead of the rise; faults on that app are diluted "
        "by the instances it starts.",
    ),
) -> None:
    """Start the local platform (2 apps x 3 instances, load) and Paramedic watching it, until Ctrl-C;
    ``--platform cloudfoundry``: a simulated Cloud Foundry foundation instead (its 4 apps x --instances)."""
    if ctx.invoked_subcommand is not None:
        return
    if platform not in PLATFORMS:
        raise typer.BadParameter(
            f"must be one of: {', '.join(PLATFORMS)} (got {platform!r})", param_hint="--platform"
        )
    if replicas > 1 and platform != "local":
        raise typer.BadParameter("several replicas run on the local demo only", param_hint="--replicas")
    if daily and platform != "local":
        raise typer.BadParameter("the daily load runs on the local demo only", param_hint="--daily")
    options = DemoOptions(
        http_port, apps, instances, scrape_interval_s, relp_port, syslog_port, platform, daily, replicas
    )
    raise typer.Exit(run_demo(data_dir, options, typer.echo))


# -- paramedic demo fault -----------------------------------------------------------------------------------


@app.command("fault")
def fault(
    app_name: str = typer.Option(
        ..., "--app", help="App to break: its local name, or org/space/name on the Cloud Foundry demo."
    ),
    kind: str = typer.Option(..., "--kind", help=f"One of: {', '.join(KINDS)}."),
    instance: int | None = typer.Option(None, "--instance", help="Instance index; default: every instance."),
    for_s: float | None = typer.Option(None, "--for-s", min=0.001, help="Recover after this many seconds."),
    rate: float | None = typer.Option(None, "--rate", help="errors: fraction of 5xx; leak: MiB per second."),
    delay_ms: int | None = typer.Option(None, "--delay-ms", min=0, help="latency: added delay."),
    data_dir: Path = typer.Option(DEFAULT_DATA_DIR, "--data-dir", help="Data dir of the running demo."),
) -> None:
    """Inject a fault directly into a running demo's app instance(s)."""
    data_dir = data_dir.resolve()
    record = running_demo_record(data_dir)
    if record is None:
        typer.echo(
            f"paramedic demo fault: no demo is running for {data_dir} (start one: paramedic demo)", err=True
        )
        raise typer.Exit(1)
    if kind not in KINDS:
        typer.echo(
            f"paramedic demo fault: --kind must be one of: {', '.join(KINDS)} (got {kind!r})", err=True
        )
        raise typer.Exit(2)
    paths = StateDir(Path(record["state_dir"]))
    try:
        local_app = local_app_for(record, app_name)
        results = inject_fault(paths, local_app, kind, instance, for_s=for_s, rate=rate, delay_ms=delay_ms)
    except (LocalPlatformError, DemoError) as exc:
        typer.echo(f"paramedic demo fault: {exc}", err=True)
        raise typer.Exit(1) from None
    until = f"for {for_s:g}s" if for_s is not None else "until the instance is restarted"
    for res in results:
        typer.echo(
            f"injected {kind} into {res.app} instance {res.index} ({res.url}) {until}: "
            f"{res.reply['injected']}"
        )


@app.command("deploy")
def deploy(
    app_name: str = typer.Option(..., "--app", help="App to deploy a new revision of."),
    version: str = typer.Option(..., "--version", help="The new revision's app version, e.g. 2.0.0."),
    bad: str | None = typer.Option(None, "--bad", help="Bake a fault into the release: errors or latency."),
    steps: str | None = typer.Option(None, "--steps", help="Traffic steps in percent, e.g. 10,50,100."),
    step_duration_s: float | None = typer.Option(None, "--step-duration-s", min=1, help="Time per step."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Follow the deployment to its end."),
    data_dir: Path = typer.Option(DEFAULT_DATA_DIR, "--data-dir", help="Data dir of the running demo."),
) -> None:
    """Deploy a new revision of an app blue-green, judged on error rate and latency at each traffic step
    and rolled back automatically when it is worse than the live one."""
    data_dir = data_dir.resolve()
    record = running_demo_record(data_dir)
    if record is None:
        typer.echo(
            f"paramedic demo deploy: no demo is running for {data_dir} (start one: paramedic demo)", err=True
        )
        raise typer.Exit(1)
    try:
        step_list = [int(x) for x in steps.split(",")] if steps else None
    except ValueError:
        typer.echo(f"paramedic demo deploy: --steps must be numbers like 10,50,100 (got {steps!r})", err=True)
        raise typer.Exit(2) from None
    req = DemoDeploy(app_name, version, bad=bad, steps=step_list, step_duration_s=step_duration_s, wait=wait)
    try:
        code = demo_remediation.deploy(record, data_dir, req, typer.echo)
    except (DemoApiError, DemoError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    raise typer.Exit(code)


# -- paramedic demo mail ------------------------------------------------------------------------------------


@app.command("mail")
def mail(
    data_dir: Path = typer.Option(DEFAULT_DATA_DIR, "--data-dir", help="Data dir of the demo."),
) -> None:
    """List the mails the demo's SMTP sink received (newest last), with the file to open."""
    mail_dir = data_dir.resolve() / "mail"
    mails = list_mails(mail_dir) if mail_dir.is_dir() else []
    if not mails:
        typer.echo(f"no mail in {mail_dir} yet (try: paramedic demo fault --kind errors --app <app>)")
        return
    for path, msg in mails:
        parts = [p.get_content_type() for p in msg.walk() if not p.is_multipart()]
        typer.echo(f"{msg['Date']}  {msg['To']}  {msg['Subject']}")
        typer.echo(f"    {path}  ({', '.join(parts)})")
