"""The remediation summary: actions of the window from the audit trail (the scoped actions reader, so a
tenant sees only actions the remediation engine recorded for its org/space), their outcomes, the success rate
and the time to recovery.

* success rate: ``verified`` among the actions that finished live (verified, failed, escalated, reverted,
  interrupted); dry runs, refusals and rejections are counted but are no outcome;
* time to recovery: from the request to ``verified`` (the action ran and its verification saw the app
  healthy again), median and the slowest.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from typing import Any

from dashboard.reports._fmt import duration, percent, utc
from dashboard.reports.base import Chart, ReportContext, SectionResult, Table

__all__ = ["FAILED", "MAX_ACTIONS", "RemediationSection", "summarise"]

FAILED = frozenset({"failed", "escalated", "reverted", "interrupted"})
MAX_ACTIONS = 5000  # read at most this many actions of the window
_RECENT_ROWS = 20


def summarise(actions: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts by status, success rate (NaN without an outcome) and recovery times (seconds) of ``actions``."""
    statuses = Counter(str(a.get("status", "")) for a in actions)
    verified = statuses.get("verified", 0)
    outcomes = verified + sum(statuses.get(s, 0) for s in FAILED)
    ttr = [float(a["updated_at"]) - float(a["created_at"]) for a in actions if a.get("status") == "verified"]
    return {
        "statuses": statuses,
        "success_rate": 100.0 * verified / outcomes if outcomes else float("nan"),
        "ttr_s": sorted(ttr),
    }


class RemediationSection:
    key = "remediation"
    title = "Remediation"

    def build(self, ctx: ReportContext) -> SectionResult:
        reader = ctx.sources.actions
        if reader is None:
            return SectionResult(self.key, self.title, note="Remediation is not configured.")
        actions = [
            a
            for a in reader.recent(since_s=ctx.start_s, limit=MAX_ACTIONS)
            if float(a.get("created_at", 0)) <= ctx.end_s
        ]
        s = summarise(actions)
        ttr: list[float] = s["ttr_s"]
        per_action: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for a in actions:
            per_action[str(a.get("action", ""))].append(a)
        by_action = []
        for name, items in sorted(per_action.items()):
            sub = summarise(items)
            times: list[float] = sub["ttr_s"]
            by_action.append(
                (
                    name,
                    str(len(items)),
                    str(sub["statuses"].get("verified", 0)),
                    str(sum(sub["statuses"].get(x, 0) for x in FAILED)),
                    percent(sub["success_rate"]),
                    duration(statistics.median(times)) if times else "–",
                )
            )
        recent = [
            (
                utc(float(a["created_at"])),
                str(a.get("action", "")),
                str(a.get("target", "")),
                str(a["status"]),
            )
            for a in actions[:_RECENT_ROWS]
        ]
        statuses: Counter[str] = s["statuses"]
        return SectionResult(
            self.key,
            self.title,
            figures=[
                ("Actions", str(len(actions))),
                ("Success rate", percent(s["success_rate"])),
                ("Median time to recovery", duration(statistics.median(ttr)) if ttr else "–"),
                ("Slowest recovery", duration(ttr[-1]) if ttr else "–"),
            ],
            tables=[
                Table(
                    "By action",
                    ("Action", "Count", "Verified", "Failed", "Success", "Median recovery"),
                    by_action,
                    "No remediation action in this period.",
                ),
                Table("Latest actions", ("Requested", "Action", "Target", "Status"), recent, "None."),
            ],
            charts=(
                [
                    Chart(
                        "actions",
                        "Actions by outcome",
                        "actions",
                        bars=[(k, float(v)) for k, v in sorted(statuses.items())],
                    )
                ]
                if statuses
                else []
            ),
        )
