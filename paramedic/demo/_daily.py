"""The demo's daily load: one app's traffic follows a day in compressed time (a day every 300 s: night
low, morning ramp, midday peak; :func:`platforms.local.loadgen.daily_shape`) and a live hybrid predictive
policy scales it ahead of the rise, so the app's timeline (``/apps/<app>``) shows scale actions before the
load arrives. The other apps keep the steady load."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["DAY_S", "PEAK_RPS", "POLICY_NAME", "DailyLoad", "daily_load"]

DAY_S = 300.0
PEAK_RPS = 30.0
POLICY_NAME = "scale-ahead-daily"


@dataclass(frozen=True, slots=True)
class DailyLoad:
    """``app`` gets the daily pattern; it runs ``instances`` at night and up to three more at the peak."""

    app: str
    instances: int

    def loadgen_args(self) -> list[str]:
        return [
            "--pattern", "daily", "--day-s", f"{DAY_S:g}", "--peak-rps", f"{PEAK_RPS:g}",
            "--pattern-apps", self.app,
        ]  # fmt: skip

    def policy(self, interval_s: float) -> dict[str, Any]:
        """The predictive policy: the router's request rate of the app, 7.5 req/s per instance at 70 %
        (the peak's 30 req/s: 6 instances), forecast 30 s (2.4 compressed hours) ahead."""
        every = max(5.0, interval_s)
        return {
            "name": POLICY_NAME,
            "description": "Scale ahead of the demo's daily load (seasonal forecast, hybrid).",
            "mode": "live",
            "target": {"app": self.app},
            "action": {
                "type": "scale",
                "min_instances": self.instances,
                "max_instances": self.instances + 3,
            },
            "rails": {"cooldown": f"{round(every)}s", "budget": {"max_actions": 500, "window": "1h"}},
            "predictive": {
                "query": 'sum(rate(haproxy_backend_http_requests_total{app="$app"}[30s]))',
                "capacity_per_instance": 7.5,
                "target_utilization": 0.7,
                "startup": "30s",
                "interval": f"{round(every)}s",
                "season": f"{DAY_S:g}s",
                "history": f"{2 * DAY_S:g}s",
                "mode": "hybrid",
                "max_error": 0.3,
                "error_window": 6,
            },
        }


def daily_load(names: Sequence[str], instances: int) -> DailyLoad | None:
    """The demo's daily app: the second app (the first when there is one), or None without apps."""
    if not names:
        return None
    return DailyLoad(names[1] if len(names) > 1 else names[0], instances)
