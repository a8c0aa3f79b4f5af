"""``alerting.dispatch.tenancy`` alone: whatever matchers a scoped operator sends, a silence it may create
mutes only alerts it operates, and a silence listed to a scope mutes only alerts that scope sees (checked
against every label set of a small world, for random scopes and matchers)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from alerting.dispatch import Dispatcher, Matcher, SilenceError, matchers_match, parse_config
from alerting.dispatch._route import build_route
from alerting.dispatch.tenancy import (
    TenantMatcherMissingError,
    TenantRefusedError,
    confine_silence,
    receivers_in_scope,
    silence_in_scope,
)
from platforms.tenancy import FOUNDATION, Grant, Scope
from tests.alerting._dispatch_support import Clock, Recorders, alert

ORGS, SPACES = ["acme", "globex", ""], ["prod", "dev", ""]
WORLD = [
    {k: v for k, v in (("alertname", name), ("org", org), ("space", space)) if v}
    for name, org, space in itertools.product(["A", "B"], ORGS, SPACES)
]
_GRANTS = st.builds(
    Grant,
    st.sampled_from(["acme", "globex"]),
    st.sampled_from(["prod", "dev", None]),
    st.sampled_from(["viewer", "operator"]),
)
_VALUES = st.sampled_from(["acme", "globex", "prod", "dev", "", ".*", ".+", "acme|globex", "prod|dev", "A"])
_MATCHERS = st.lists(
    st.builds(
        Matcher.create,
        st.sampled_from(["org", "space", "alertname"]),
        st.sampled_from(["=", "!=", "=~", "!~"]),
        _VALUES,
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=600, derandomize=True, deadline=None)
@given(st.lists(_GRANTS, min_size=1, max_size=3).map(Scope.of), _MATCHERS)
def test_a_confined_silence_mutes_only_operated_alerts(scope: Scope, matchers: list[Matcher]) -> None:
    try:
        confined = confine_silence(scope, matchers)
    except (TenantRefusedError, TenantMatcherMissingError, SilenceError):
        return
    assert set(matchers) <= set(confined.matchers)
    assert silence_in_scope(scope, confined.matchers, operate=True)
    for labels in WORLD:
        if matchers_match(confined.matchers, labels):
            assert scope.operates_labels(labels), (confined.matchers, labels)


@settings(max_examples=600, derandomize=True, deadline=None)
@given(st.lists(_GRANTS, min_size=1, max_size=3).map(Scope.of), _MATCHERS)
def test_a_silence_listed_to_a_scope_mutes_only_what_it_sees(scope: Scope, matchers: list[Matcher]) -> None:
    if silence_in_scope(scope, matchers):
        for labels in WORLD:
            if matchers_match(matchers, labels):
                assert scope.sees_labels(labels), (matchers, labels)


def test_missing_tenant_matchers_are_added_or_asked_for() -> None:
    one = Scope.of([Grant("acme", "prod", "operator"), Grant("acme", "dev", "viewer")])
    confined = confine_silence(one, [Matcher.create("alertname", "=", "A")])
    assert [str(m) for m in confined.added] == ['org="acme"', 'space="prod"']
    two = Scope.of([Grant("acme", "prod", "operator"), Grant("globex", None, "operator")])
    with pytest.raises(
        TenantMatcherMissingError, match=r'org="\.\.\." and space="\.\.\.".*acme/prod, globex'
    ):
        confine_silence(two, [Matcher.create("alertname", "=", "A")])
    only_org = confine_silence(two, [Matcher.create("org", "=", "globex")])
    assert only_org.added == ()
    with pytest.raises(TenantRefusedError, match="operator of acme/prod, operator of globex"):
        confine_silence(two, [Matcher.create("org", "=", "acme"), Matcher.create("space", "=~", "prod")])
    assert confine_silence(FOUNDATION, [Matcher.create("space", "=~", ".*")]).added == ()


def test_receivers_of_other_tenants_routes_are_hidden() -> None:
    cfg = parse_config(
        """
route:
  receiver: noc
  routes:
    - {matchers: ['org="acme"'], receiver: acme, routes: [{matchers: ['space="prod"'], receiver: acme-prod}]}
    - {matchers: ['org=~"glo.*"'], receiver: globex}
    - {matchers: ['severity="page"'], receiver: pager}
receivers: [{name: noc}, {name: acme}, {name: acme-prod}, {name: globex}, {name: pager}]
"""
    )
    root = build_route(cfg.route)
    names = [r.name for r in cfg.receivers]
    assert receivers_in_scope(FOUNDATION, root, names) == names
    dev = Scope.of([Grant("acme", "dev", "viewer")])
    assert receivers_in_scope(dev, root, names) == ["noc", "acme", "pager"]
    assert receivers_in_scope(Scope.of([Grant("acme", None, "viewer")]), root, names) == [
        "noc",
        "acme",
        "acme-prod",
        "pager",
    ]
    assert receivers_in_scope(Scope.of([Grant("globex", "prod", "operator")]), root, names) == [
        "noc",
        "globex",
        "pager",
    ]


_INHIBIT_BY_APP = """
route: {receiver: team, group_by: [alertname]}
receivers: [{name: team}]
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [app]
"""


def test_a_tenants_alert_never_inhibits_another_tenants() -> None:
    """Leak found by the attacker review: with ``equal: [app]``, a scoped operator of acme/prod posted a
    critical alert labelled ``app="api"`` in its own space and muted globex/dev's warnings of its ``api``
    (and any space's, or the foundation's, alert of that app name)."""
    d = Dispatcher(parse_config(_INHIBIT_BY_APP), Recorders(), clock=Clock(), registry=CollectorRegistry())
    warn = {"alertname": "Slow", "severity": "warning", "app": "api"}
    targets = {
        "other-space": {**warn, "org": "globex", "space": "dev"},
        "same-org": {**warn, "org": "acme", "space": "dev"},
        "foundation": dict(warn),
        "own": {**warn, "org": "acme", "space": "prod"},
        "db-of-a-tenant": {**warn, "app": "db", "org": "globex", "space": "dev"},
    }
    d.put([alert(**labels) for labels in targets.values()])
    d.put([alert(alertname="Evil", severity="critical", app="api", org="acme", space="prod")])
    d.put([alert(alertname="NodeDown", severity="critical", app="db")])  # the foundation's
    state = {v.alert.labels["alertname"] + repr(sorted(v.alert.labels.items())): v for v in d.alerts()}
    by_name = {
        name: next(v for v in state.values() if v.alert.labels == labels) for name, labels in targets.items()
    }
    assert {n: v.status.state for n, v in by_name.items()} == {
        "other-space": "active",
        "same-org": "active",
        "foundation": "active",
        "own": "suppressed",  # a tenant's alert still inhibits its own space's, as configured
        "db-of-a-tenant": "suppressed",  # the foundation's alert inhibits as configured
    }
