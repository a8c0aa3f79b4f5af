"""Generated SLO rules, evaluated by the rule engine over synthetic data in the real embedded store.

The workbook's arithmetic (99.9 % over 30 days: page above 14.4x the 0.1 % budget over 1h and 5m, or 6x
over 6h and 30m; ticket above 3x over 1d and 2h, or 1x over 3d and 6h): a fast burn fires the page, a slow
burn only the ticket, a clean run nothing; the recorded ratios equal the error ratios put into the data.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from alerting.rules import RuleManager
from alerting.slo import load_slo_files, rules_yaml
from metrics_store.embedded.store import EmbeddedStore
from metrics_store.promql import Engine
from tests.alerting._slo_support import MIN_S, T0, counters, firing, manager, run, values

DAYS = 3
MINUTES = DAYS * 24 * 60 + 60  # 3 days and an hour: the 3d window is full at the end
END_S = T0 + MINUTES * MIN_S

SLOS = """
slos:
{items}
"""
_ITEM = """  - name: {app}-availability
    org: acme
    space: prod
    app: {app}
    objective: 99.9
    window: 30d
    sli: {{type: availability}}
"""
_SPACE = """  - name: prod-availability
    org: acme
    space: prod
    objective: 99.9
    window: 30d
    sli: {type: availability}
"""
SPACE_SLO = 'slo="prod-availability"'  # no app: every app of acme/prod together
_LATENCY = """  - name: api-latency
    org: acme
    space: dev
    app: api
    objective: 99
    window: 30d
    sli: {type: latency, threshold_s: 0.25}
"""

# error ratio per minute m (0 .. MINUTES)
SCENARIOS = {
    "fast": lambda m: 0.05 if m > MINUTES - 60 else 0.0005,  # 5 % for the last hour: 50x budget
    "slow": lambda m: 0.002,  # 2x budget for 3 days: above 1x (3d, 6h), below 3x (1d, 2h)
    "clean": lambda m: 0.0005,  # half the budget
}


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RuleManager, Engine]]:
    tmp = tmp_path_factory.mktemp("slo")
    slo_file = tmp / "slos.yaml"
    items = "".join(_ITEM.format(app=a) for a in SCENARIOS) + _SPACE + _LATENCY
    slo_file.write_text(SLOS.format(items=items))
    rules = tmp / "rules.yaml"
    rules.write_text(rules_yaml(load_slo_files([slo_file])))
    store = EmbeddedStore(tmp / "store", background=False, registry=CollectorRegistry())
    for app, ratio in SCENARIOS.items():
        base = {"__name__": "haproxy_backend_http_responses_total", "org": "acme", "space": "prod",
                "app": app, "job": "router"}  # fmt: skip
        counters(store, {**base, "code": "2xx"}, {**base, "code": "5xx"}, MINUTES, ratio, good_only=True)
    _latency(store)
    mgr, engine = manager(store, [rules])
    run(mgr, [END_S - 120, END_S - 60, END_S])
    yield mgr, engine
    store.close()


def _latency(store: EmbeddedStore) -> None:
    """api: 20 % of requests slower than 250 ms in the last hour (20x the 1 % budget), 0.1 % before."""
    base = {"__name__": "http_request_duration_seconds_bucket", "org": "acme", "space": "dev", "app": "api"}
    # _count and the le="0.25" bucket are the total and the good requests: "errors" = count - good
    good = {**base, "le": "0.25"}
    count = {**base, "__name__": "http_request_duration_seconds_count"}
    # counters(total, errors, ratio) with ratio = the share of good requests: the bucket counts those
    counters(store, count, good, MINUTES, lambda m: 0.8 if m > MINUTES - 60 else 0.999)


def _alerts(mgr: RuleManager) -> set[tuple[str, str]]:
    return {(a.get("app", ""), a["slo_severity"]) for a in firing(mgr)}


def test_fast_burn_pages_slow_burn_tickets_clean_is_quiet(evaluated: tuple[RuleManager, Engine]) -> None:
    mgr, _ = evaluated
    got = _alerts(mgr)
    assert ("fast", "page") in got
    assert ("slow", "ticket") in got
    assert ("slow", "page") not in got
    assert not {a for a in got if a[0] == "clean"}


def test_latency_slo_pages_on_slow_requests(evaluated: tuple[RuleManager, Engine]) -> None:
    mgr, engine = evaluated
    assert ("api", "page") in _alerts(mgr)
    got = values(engine, 'slo:sli_error:ratio_rate1h{slo="api-latency"}', END_S)
    assert list(got.values()) == [pytest.approx(0.2, rel=0.02)]


def test_alerts_and_recordings_keep_the_tenant_labels(evaluated: tuple[RuleManager, Engine]) -> None:
    mgr, engine = evaluated
    for alert in firing(mgr):
        assert alert["org"] == "acme" and alert["space"] in {"prod", "dev"}
        assert alert.get("app") or alert["slo"] == "prod-availability"  # the space's SLO names no app
        assert alert["severity"] == alert["slo_severity"]
    for labels in values(engine, f"slo:sli_error:ratio_rate5m{{{SPACE_SLO.replace('=', '!=')}}}", END_S):
        assert {k for k, _ in labels} >= {"org", "space", "app", "slo", "slo_window"}


@pytest.mark.parametrize(
    ("window", "minutes"), [("5m", 5), ("1h", 60), ("6h", 360), ("1d", 1440), ("3d", 4320)]
)
def test_recorded_ratios_are_the_error_ratios_in_the_data(
    evaluated: tuple[RuleManager, Engine], window: str, minutes: int
) -> None:
    _, engine = evaluated
    got = values(engine, f'slo:sli_error:ratio_rate{window}{{org="acme", space="prod"}}', END_S)
    by_app = {dict(k).get("app", ""): v for k, v in got.items()}
    wants = {}
    for app, ratio in SCENARIOS.items():
        # rate() sees the samples in (END_S - window, END_S]: the requests of the minutes after the first
        wants[app] = sum(ratio(m) for m in range(MINUTES - minutes + 1, MINUTES)) / (minutes - 1)
        assert by_app[app] == pytest.approx(wants[app], rel=0.02, abs=1e-6), (app, window)
    # the space's SLO: the apps' requests together (equal traffic each: the mean of their ratios)
    want_space = sum(wants.values()) / len(wants)
    assert by_app[""] == pytest.approx(want_space, rel=0.02, abs=1e-6), window


def test_burn_rate_and_budget_recordings(evaluated: tuple[RuleManager, Engine]) -> None:
    _, engine = evaluated
    burn = values(engine, 'slo:current_burn_rate:ratio{app="fast"}', END_S)
    assert list(burn.values()) == [pytest.approx(50.0, rel=0.02)]  # 5 % errors / 0.1 % budget
    budget = values(engine, 'slo:error_budget:ratio{app="slow"}', END_S)
    assert list(budget.values()) == [pytest.approx(0.001)]
    remaining = values(engine, 'slo:period_error_budget_remaining:ratio{app="slow"}', END_S)
    # the period ratio is the mean of the recorded 5m ratios (three evaluations here): 2x the budget
    assert list(remaining.values()) == [pytest.approx(1 - 2.0, rel=0.02)]


def test_a_space_slo_covers_every_app_of_the_space_and_pages(evaluated: tuple[RuleManager, Engine]) -> None:
    """An SLO per space (no ``app``): fast's 5 % beside slow's 0.2 % and clean's 0.05 % make 1.75 % of the
    space's requests in the last hour, 17.5x its 0.1 % budget: above 14.4x, the page fires, without an app."""
    mgr, engine = evaluated
    [(labels, ratio)] = values(engine, f"slo:sli_error:ratio_rate1h{{{SPACE_SLO}}}", END_S).items()
    assert "app" not in dict(labels) and dict(labels)["space"] == "prod"
    assert ratio == pytest.approx((0.05 + 0.002 + 0.0005) / 3, rel=0.05)
    pages = [a for a in firing(mgr) if a["slo"] == "prod-availability" and a["slo_severity"] == "page"]
    assert pages and not any(a.get("app") for a in pages), pages
