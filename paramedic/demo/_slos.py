"""The demo's SLO file: availability (router 5xx) and latency (the sample app's histogram) for each app."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

__all__ = ["SLO_MIN_INTERVAL_S", "demo_slos"]

SLO_MIN_INTERVAL_S = 15


def demo_slos(data_dir: Path, spaces: Mapping[str, Sequence[str]], interval_s: float) -> Path | None:
    """Write ``data_dir/rules/slos.yaml`` with two SLOs per app of ``spaces`` (``ORG/SPACE -> apps``),
    evaluated every ``interval_s`` (the demo's pace) but at most every 15 s: each evaluation reads every raw
    sample of the windows up to 3 days (a 1 s group cost the demo a CPU core after a quarter hour and made a
    15-minute backtest run past a minute); None without tenancy (an SLO needs its org and space)."""
    every = f"{max(SLO_MIN_INTERVAL_S, round(interval_s))}s"
    slos = []
    for tenant, apps in spaces.items():
        org, _, space = tenant.partition("/")
        for app in apps:
            where = {"org": org, "space": space, "app": app, "interval": every}
            slos.append(
                {
                    "name": f"{app}-availability",
                    **where,
                    "objective": 99.5,
                    "window": "30d",
                    "sli": {"type": "availability"},
                }
            )
            slos.append(
                {
                    "name": f"{app}-latency",
                    **where,
                    "objective": 99.0,
                    "window": "30d",
                    "sli": {"type": "latency", "threshold_s": 0.25, "matchers": 'job="app"'},
                }
            )
    if not slos:
        return None
    path = data_dir / "rules" / "slos.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# Written by `paramedic demo`.\n" + yaml.safe_dump({"slos": slos}, sort_keys=False))
    return path
