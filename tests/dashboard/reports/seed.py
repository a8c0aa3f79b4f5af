"""A foundation with two tenants for report tests, written into a real embedded store, a memory audit log and
a pattern miner's listing: ``acme/prod`` (app ``checkout``) and ``globex/prod`` (app ``ledger``), plus the
foundation's router. Every name is unique to its tenant, so a leak shows as a foreign name in a report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CollectorRegistry

from log_pipeline.patterns import PATTERN_COUNT_METRIC, PatternStats
from metrics_store.config import EmbeddedStoreConfig
from metrics_store.embedded import EmbeddedStore
from metrics_store.model import STALE_NAN, labels_from
from remediation.audit.memory import MemoryAuditLog
from remediation.model import ActionRequest, AuditEvent, Target

STEP_S = 15
HISTORY_S = 2 * 3600  # two hours: the report covers the last hour, patterns compare with the hour before


@dataclass(frozen=True)
class Tenant:
    org: str
    space: str
    app: str
    alert: str  # an alert only this tenant has
    pattern_new: str  # template of a pattern born in the last hour
    pattern_surge: str  # template of a pattern that grew tenfold
    error_ratio: float  # share of 5xx
    latency_s: float  # typical request latency

    @property
    def labels(self) -> dict[str, str]:
        return {"org": self.org, "space": self.space, "app": self.app}

    @property
    def names(self) -> tuple[str, ...]:
        """What no other tenant's report may contain."""
        return (self.app, self.alert, self.pattern_new, self.pattern_surge, f"{self.org}/{self.space}")


ACME = Tenant("acme", "prod", "checkout", "CheckoutErrorBurst", "checkout card declined <*>",
              "checkout retry budget exhausted <*>", 0.2, 0.3)  # fmt: skip
GLOBEX = Tenant("globex", "prod", "ledger", "LedgerLatencyHigh", "ledger balance mismatch <*>",
                "ledger journal replay <*>", 0.05, 1.5)  # fmt: skip
TENANTS = (ACME, GLOBEX)
ROUTER_ALERT = "RouterBackendsDown"  # the foundation's own alert (no org/space)
BUCKETS = ("0.1", "0.5", "1", "2.5", "+Inf")


def _with_stale_markers(times: list[float], firing: set[float]) -> list[tuple[float, float]]:
    """1 while firing, and a staleness marker where a run ends (as the rule manager writes ``ALERTS``)."""
    out = []
    for prev, ts in zip([None, *times], times, strict=False):
        if ts in firing:
            out.append((ts, 1.0))
        elif prev in firing:
            out.append((ts, STALE_NAN))
    return out


def _series(t: Tenant, now: float) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
    """(labels, [(ts, value)]) of one tenant over the history."""
    times = [now - HISTORY_S + i * STEP_S for i in range(HISTORY_S // STEP_S + 1)]
    out: list[tuple[dict[str, str], list[tuple[float, float]]]] = []
    rps = 10.0
    for code, share in (("2xx", 1 - t.error_ratio), ("5xx", t.error_ratio)):
        labels = {"__name__": "haproxy_backend_http_responses_total", "code": code, **t.labels}
        out.append((labels, [(ts, rps * share * (ts - times[0])) for ts in times]))
    for le in BUCKETS:
        below = 1.0 if le == "+Inf" else (1.0 if float(le) >= t.latency_s else 0.1)
        labels = {"__name__": "http_request_duration_seconds_bucket", "le": le, **t.labels}
        out.append((labels, [(ts, rps * below * (ts - times[0])) for ts in times]))
    # two incidents in the last hour: 10 minutes (resolved) and the last 5 minutes (ongoing)
    alert = {
        "__name__": "ALERTS",
        "alertname": t.alert,
        "alertstate": "firing",
        "severity": "critical",
        **t.labels,
    }
    firing = [ts for ts in times if now - 50 * 60 <= ts < now - 40 * 60 or ts >= now - 5 * 60]
    out.append((alert, _with_stale_markers(times, set(firing))))
    # patterns: one seen only in the last hour, one that grew from 1/min to 10/min
    tenant = {"org": t.org, "space": t.space, "app": t.app}
    new = {"__name__": PATTERN_COUNT_METRIC, "pattern_id": f"{t.app}-new", **tenant}
    out.append((new, [(ts, (ts - (now - 1800)) / 6) for ts in times if ts >= now - 1800]))
    surge = {"__name__": PATTERN_COUNT_METRIC, "pattern_id": f"{t.app}-surge", **tenant}
    hour_ago = now - 3600

    def grown(ts: float) -> float:
        return (ts - times[0]) / 60 if ts < hour_ago else (hour_ago - times[0]) / 60 + (ts - hour_ago) / 6

    out.append((surge, [(ts, grown(ts)) for ts in times]))
    return out


def _foundation(now: float) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
    alert = {"__name__": "ALERTS", "alertname": ROUTER_ALERT, "alertstate": "firing", "severity": "critical"}
    times = [now - 30 * 60 + i * STEP_S for i in range(40)]
    return [(alert, _with_stale_markers(times, set(times[:20])))]


def seed_store(path: Path, now: float) -> EmbeddedStore:
    store = EmbeddedStore(path, EmbeddedStoreConfig(path=str(path)), registry=CollectorRegistry())
    found = [s for t in TENANTS for s in _series(t, now)] + _foundation(now)
    for labels, points in found:
        ref = store.series_ref(labels_from(labels))
        for ts, value in points:
            store.append([ref], [round(ts * 1000)], [value])
    return store


def seed_patterns() -> PatternStats:
    stats = PatternStats()
    for t in TENANTS:
        for pid, template in ((f"{t.app}-new", t.pattern_new), (f"{t.app}-surge", t.pattern_surge)):
            stats.observe(t.app, pid, template, template.replace("<*>", "42"), org=t.org, space=t.space)
    return stats


def seed_audit(now: float) -> MemoryAuditLog:
    """Per tenant: three restarts in the last hour, two verified (after 60 s and 120 s), one failed; and one
    action on the foundation's router."""
    log = MemoryAuditLog()
    for t in TENANTS:
        for i, (outcome, took_s) in enumerate((("verified", 60), ("verified", 120), ("failed", 30))):
            created = datetime.fromtimestamp(now - 1800 + i * 300, UTC)
            req = ActionRequest(
                f"{t.app}-{i}", f"restart-{t.app}", "v1", "restart_app", Target(t.app), {}, "live", created,
                org=t.org, space=t.space,
            )  # fmt: skip
            log.record(req)
            log.append(AuditEvent(req.id, outcome, datetime.fromtimestamp(created.timestamp() + took_s, UTC)))
    created = datetime.fromtimestamp(now - 600, UTC)
    router = ActionRequest("router-0", "router", "v1", "restart_app", Target("gorouter"), {}, "live", created)
    log.record(router)
    return log
