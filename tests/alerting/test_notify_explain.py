"""QueryExplainer over a MemoryStore with real PromQL, real PatternStats and a small event source."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from alerting.model import Alert
from alerting.notify import QueryExplainer
from alerting.notify.explain import _split_comparison
from log_pipeline.patterns import PatternStats
from metrics_store.memory import MemoryStore
from metrics_store.model import labels_from

STARTS = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
NOW = STARTS + timedelta(minutes=20)


def _store() -> MemoryStore:
    store = MemoryStore()
    t0 = int((STARTS - timedelta(hours=1)).timestamp() * 1000)
    for app in ("payments-api", "catalog"):
        total = store.series_ref(labels_from({"__name__": "router_requests_total", "app": app}))
        errors = store.series_ref(labels_from({"__name__": "router_5xx_total", "app": app}))
        req = err = 0.0
        for i in range(0, 90 * 4):  # 15 s scrapes for 90 minutes
            ts = t0 + i * 15_000
            req += 100
            err += 20 if (app == "payments-api" and ts >= STARTS.timestamp() * 1000 - 120_000) else 1
            store.append([total, errors], [ts, ts], [req, err])
    return store


class Events:
    def recent_events(
        self, app: str, start: datetime, end: datetime, limit: int
    ) -> Sequence[Mapping[str, Any]]:
        return [{"kind": "deployment", "time": STARTS - timedelta(minutes=3), "summary": f"{app} v42"}][
            :limit
        ]


async def test_explain_from_generator_url_with_threshold_from_expr() -> None:
    expr = "sum by (app) (rate(router_5xx_total[1m])) / sum by (app) (rate(router_requests_total[1m])) > 0.05"
    patterns = PatternStats(clock_ns=lambda: int(NOW.timestamp() * 1e9))
    old = int((STARTS - timedelta(days=1)).timestamp() * 1e9)
    for _ in range(50):
        patterns.observe("payments-api", "p1", "GET /health <*>", "GET /health 200", old)
    for _ in range(5):
        t = int((STARTS - timedelta(minutes=1)).timestamp() * 1e9)
        patterns.observe(
            "payments-api", "p2", "payment gateway <*> timed out", "gateway 10.0.0.7 timed out", t
        )
    explainer = QueryExplainer(
        _store(), patterns=patterns, events=Events(), dashboard_url="http://dash/", clock=NOW.timestamp
    )
    alert = Alert(
        {"alertname": "Router5xxRatio", "app": "payments-api", "severity": "critical"},
        {"runbook_url": "https://runbooks/x"},
        STARTS,
        generator_url=f"http://prom:9090/graph?g0.expr={quote(expr)}&g0.tab=1",
    )
    ex = await explainer.explain(alert)
    # the chart shows the ratio (the comparison's left side) for this app only, over the window
    [(labels, points)] = ex.series
    assert labels == {"app": "payments-api"}
    assert points[0][0] <= (STARTS - timedelta(minutes=29)).timestamp()
    assert points[-1][0] >= (STARTS + timedelta(minutes=9)).timestamp()
    assert min(v for _, v in points) < 0.02 and max(v for _, v in points) > 0.15
    assert ex.values["threshold"] == 0.05
    assert 0.15 < ex.values["value"] < 0.25  # the ratio at the firing time (20/100)
    assert [p["template"] for p in ex.log_patterns] == ["GET /health <*>", "payment gateway <*> timed out"]
    assert [p["new"] for p in ex.log_patterns] == [False, True]
    assert ex.events[0]["summary"] == "payments-api v42"
    assert ex.links == {
        "Dashboard": "http://dash/apps/payments-api",
        "Source": alert.generator_url,
        "Runbook": "https://runbooks/x",
    }


async def test_annotations_win_and_bad_expr_is_not_fatal() -> None:
    explainer = QueryExplainer(_store(), clock=NOW.timestamp)
    alert = Alert(
        {"alertname": "X", "app": "catalog"},
        {"__expr__": "rate(router_5xx_total[1m]", "value": "7.5", "threshold": "3"},
        STARTS,
    )
    ex = await explainer.explain(alert)
    assert ex.series == []
    assert ex.values == {"value": 7.5, "threshold": 3.0}
    ok = await explainer.explain(
        Alert({"app": "catalog"}, {"__expr__": "rate(router_5xx_total[1m])"}, STARTS)
    )
    assert [labels for labels, _ in ok.series] == [{"app": "catalog"}]


def test_expressions_with_regex_matchers_split_back_to_their_own_text() -> None:
    # parse() hides regex patterns from the native parser (placeholders); the charted side reads as written
    chart, threshold = _split_comparison('rate(http_requests_total{code=~"5..|4\\\\d{2}"}[5m]) > 0.05')
    assert threshold == 0.05
    assert "__pmre" not in chart
    assert 'code=~"5..|4\\\\d{2}"' in chart
    many = "x{" + ",".join(f'a=~"\\\\w{{0,200}}{i}"' for i in range(800)) + "} > 1"
    assert _split_comparison(many) == (many, None)  # over the regex-matcher cap: not charted, not parsed


class TenantEvents:
    """Platform events of any app, and the platform's tenant of each app (as ``PlatformEventFeed``)."""

    def tenant_of(self, app: str) -> tuple[str, str] | None:
        return {"checkout": ("demo", "team-a"), "catalog": ("demo", "team-b")}.get(app)

    def summary(self, app: str, since: float, until: float) -> tuple[list[str], str]:
        return [f"1 restart of {app}"], ""

    def recent_events(
        self, app: str, start: datetime, end: datetime, limit: int
    ) -> Sequence[Mapping[str, Any]]:
        return [{"kind": "restart", "time": STARTS - timedelta(minutes=2), "summary": f"restart of {app}"}]


async def test_a_tenants_alert_is_explained_with_its_own_data_only() -> None:
    """Leak found by the attacker review: a scoped operator posted an alert of its own space whose
    ``__expr__`` (or generatorURL) named the foundation's or another space's series, and whose ``app`` named
    another space's app; the email to its space's receiver charted those series and listed that app's
    platform events (restarts, crashes, deployments)."""
    store = MemoryStore()
    t0 = int((STARTS - timedelta(hours=1)).timestamp() * 1000)
    owners = {
        "node_memory_MemAvailable_bytes": {},  # the foundation's
        "app_mem_b": {"org": "demo", "space": "team-b", "app": "catalog"},
        "app_mem_a": {"org": "demo", "space": "team-a", "app": "checkout"},
    }
    for name, extra in owners.items():
        ref = store.series_ref(labels_from({"__name__": name, **extra}))
        for i in range(0, 90 * 4):
            store.append([ref], [t0 + i * 15_000], [42.0])
    explainer = QueryExplainer(store, platform_events=TenantEvents(), clock=NOW.timestamp)

    def alert(expr: str, app: str, **tenant: str) -> Alert:
        return Alert({"alertname": "X", "app": app, **tenant}, {"__expr__": expr}, STARTS)

    team_a = {"org": "demo", "space": "team-a"}
    leak_expr = 'node_memory_MemAvailable_bytes or {space="team-b"}'
    leak = await explainer.explain(alert(leak_expr, "catalog", **team_a))
    assert leak.series == [] and "value" not in leak.values
    assert leak.events == [] and leak.platform_summary == []
    own = await explainer.explain(alert('{__name__=~"app_mem_.|node_.+"}', "checkout", **team_a))
    assert [labels["__name__"] for labels, _ in own.series] == ["app_mem_a"]
    assert [e["summary"] for e in own.events] == ["restart of checkout"]
    # the foundation's alert (no org) is explained over everything, as before
    everything = await explainer.explain(alert('{__name__=~"app_mem_.|node_.+"}', "catalog"))
    names = sorted(labels["__name__"] for labels, _ in everything.series)  # those agreeing with app=catalog
    assert names == ["app_mem_b", "node_memory_MemAvailable_bytes"]
    assert [e["summary"] for e in everything.events] == ["restart of catalog"]
