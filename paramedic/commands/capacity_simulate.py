"""``paramedic capacity simulate TRACE.csv``: replay a NAB-format load trace through a scaling policy and
print one JSON object (policy, slo_violation_minutes, instance_hours, scale_actions, peak_instances, …).

Bad files and bad options end with one line naming the file (and line) on stderr and exit code 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from remediation.predictive.simulate import simulate_file
from remediation.predictive.trace import TraceFormatError

__all__ = ["simulate"]

_POLICY_HELP = "reactive | reactive-pct (CF App Autoscaler rules) | predictive | hybrid | static (peak)"


def simulate(
    trace: Path = typer.Argument(..., help="NAB-format CSV: 'timestamp,value', value = load in requests/s"),
    policy: str = typer.Option("predictive", "--policy", help=_POLICY_HELP),
    capacity_per_instance: float | None = typer.Option(
        None, "--capacity-per-instance", help="requests/s one instance serves at 100 % (default: median / 4)"
    ),
    startup_s: float = typer.Option(120.0, "--startup-s", help="seconds from scale-out to a ready instance"),
    target_utilization: float = typer.Option(0.7, "--target-utilization", help="predictive sizing target"),
    min_instances: int = typer.Option(1, "--min", help="fewest instances"),
    max_instances: int = typer.Option(100, "--max", help="most instances"),
) -> None:
    """Replay TRACE (interpolated to 1 min) through instances with a start-up delay; print the result."""
    try:
        result = simulate_file(
            trace,
            policy,
            capacity_per_instance=capacity_per_instance,
            startup_s=startup_s,
            target_utilization=target_utilization,
            min_instances=min_instances,
            max_instances=max_instances,
        )
    except TraceFormatError as exc:
        typer.echo(f"paramedic capacity simulate: {exc}", err=True)
        raise typer.Exit(2) from None
    except ValueError as exc:
        typer.echo(f"paramedic capacity simulate: {trace}: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(result.to_json(), sort_keys=False))
