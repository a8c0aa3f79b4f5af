"""Paramedic's rules for Sloth's getting-started SLO evaluate to the same values as Sloth's own rules.

tests/fixtures/sloth holds Sloth's example spec and the rules Sloth generated from it (see SOURCE.txt). The
same SLO in Paramedic's format (availability of ``http_request_duration_seconds_count{job="myservice"}``,
errors ``code=~"(5..|429)"``, 99.9 % over 30 days) runs beside Sloth's rules in one rule manager over the
same data; every recording and the alerts are compared by value, not by text.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from alerting.rules import RuleManager, load_files
from alerting.slo import BURN_WINDOWS, load_slo_files, rules_yaml
from metrics_store.embedded.store import EmbeddedStore
from metrics_store.promql import Engine
from tests.alerting._slo_support import MIN_S, T0, counters, firing, manager, run, values

SLOTH = Path(__file__).parents[1] / "fixtures" / "sloth"
MINUTES = 3 * 24 * 60 + 60
END_S = T0 + MINUTES * MIN_S

OURS = """
slos:
  - name: requests-availability
    org: myorg
    space: myspace
    objective: 99.9
    window: 30d
    sli:
      type: availability
      metric: http_request_duration_seconds_count
      matchers: 'job="myservice"'
      error_matchers: 'code=~"(5..|429)"'
"""


def _errors(m: int) -> float:
    """0.05 % errors, 0.3 % over the last day, 3 % over the last 90 minutes."""
    return 0.03 if m > MINUTES - 90 else 0.003 if m > MINUTES - 1440 else 0.0005


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RuleManager, Engine]]:
    tmp = tmp_path_factory.mktemp("sloth")
    ours = tmp / "ours.yaml"
    ours.write_text(OURS)
    generated = tmp / "ours.rules.yaml"
    generated.write_text(rules_yaml(load_slo_files([ours])))
    store = EmbeddedStore(tmp / "store", background=False, registry=CollectorRegistry())
    base = {"__name__": "http_request_duration_seconds_count", "job": "myservice", "org": "myorg",
            "space": "myspace"}  # fmt: skip
    counters(store, {**base, "code": "200"}, {**base, "code": "503"}, MINUTES, _errors, good_only=True)
    counters(store, {**base, "code": "404"}, {**base, "code": "429"}, MINUTES, lambda m: 0.001, rps=1)
    mgr, engine = manager(store, [SLOTH / "getting-started.rules.yml", generated])
    run(mgr, range(END_S - 10 * MIN_S, END_S + 1, 2 * MIN_S))  # period ratios: mean of 6 recorded 5m ratios
    yield mgr, engine
    store.close()


def _one(engine: Engine, expr: str) -> float:
    got = values(engine, expr, END_S)
    assert len(got) == 1, (expr, got)
    return next(iter(got.values()))


SLOTH_SEL = '{sloth_slo="requests-availability"}'
OUR_SEL = '{slo="requests-availability"}'
RECORDINGS = [f"slo:sli_error:ratio_rate{w}" for w in (*BURN_WINDOWS, "30d")] + [
    "slo:objective:ratio",
    "slo:error_budget:ratio",
    "slo:time_period:days",
    "slo:current_burn_rate:ratio",
    "slo:period_burn_rate:ratio",
    "slo:period_error_budget_remaining:ratio",
]


def test_the_fixture_is_sloths_generation_of_the_spec() -> None:
    groups = load_files([str(SLOTH / "getting-started.rules.yml")])
    assert [g.name for g in groups] == [
        "sloth-slo-sli-recordings-myservice-requests-availability",
        "sloth-slo-meta-recordings-myservice-requests-availability",
        "sloth-slo-alerts-myservice-requests-availability",
    ]
    assert "objective: 99.9" in (SLOTH / "getting-started.yml").read_text()


@pytest.mark.parametrize("name", RECORDINGS)
def test_recordings_equal_sloths(evaluated: tuple[RuleManager, Engine], name: str) -> None:
    _, engine = evaluated
    theirs = _one(engine, name + SLOTH_SEL)
    ours = _one(engine, name + OUR_SEL)
    assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12)


def test_the_data_differs_between_windows(evaluated: tuple[RuleManager, Engine]) -> None:
    """The comparison above means something: the windows see different error ratios."""
    _, engine = evaluated
    ratios = {w: _one(engine, f"slo:sli_error:ratio_rate{w}{OUR_SEL}") for w in BURN_WINDOWS}
    assert len({round(v, 6) for v in ratios.values()}) >= 4
    assert ratios["5m"] > 0.02 > ratios["3d"]


def test_the_same_alerts_fire(evaluated: tuple[RuleManager, Engine]) -> None:
    mgr, _ = evaluated
    theirs = {a["sloth_severity"] for a in firing(mgr) if "sloth_severity" in a}
    ours = {a["slo_severity"] for a in firing(mgr) if "slo_severity" in a}
    assert theirs == ours == {"page", "ticket"}
