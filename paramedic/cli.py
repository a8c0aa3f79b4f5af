"""The ``paramedic`` command. Sub-commands live in :mod:`paramedic.commands`, one module per group."""

from __future__ import annotations

import typer

from paramedic import VERSION
from paramedic.commands import (
    anomaly,
    capacity_report,
    capacity_simulate,
    check,
    demo,
    parse,
    patterns,
    policy,
    rules,
    serve,
    token,
    user,
)
from paramedic.commands import report as report_commands
from paramedic.commands import slo as slo_cmd

app = typer.Typer(
    name="paramedic",
    help="Observability and automated remediation for Cloud Foundry-style platforms.",
    no_args_is_help=True,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"paramedic {VERSION}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Observability and automated remediation for Cloud Foundry-style platforms."""


app.add_typer(anomaly.app, name="anomaly")
app.add_typer(check.app, name="check")
app.add_typer(demo.app, name="demo")
app.add_typer(parse.app, name="parse")
app.add_typer(policy.app, name="policy")
app.add_typer(rules.app, name="rules")
app.add_typer(token.app, name="token")
app.add_typer(user.app, name="user")
app.add_typer(slo_cmd.app, name="slo")
app.add_typer(report_commands.app, name="report")
app.command("serve")(serve.serve)
app.command("patterns")(patterns.patterns)

capacity_app = typer.Typer(
    help="Capacity: scaling-policy simulation and capacity planning.", no_args_is_help=True
)
capacity_app.command("report")(capacity_report.report)
capacity_app.command("simulate")(capacity_simulate.simulate)
app.add_typer(capacity_app, name="capacity")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
