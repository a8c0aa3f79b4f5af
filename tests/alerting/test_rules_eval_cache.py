"""The per-alert caches of the alerting state machine give the results of expanding everything at every
evaluation: alert keys by activation labels, annotations by (labels, value, why) and expanded when read,
ALERTS series per state. Also the window's in-place ref tables across drops and re-adds."""

from __future__ import annotations

import numpy as np

from alerting.rules import Activation, AlertingRule
from alerting.rules._load import RuleSpec
from alerting.rules._template import QueryResult
from alerting.rules._window import RecentWindow
from metrics_store.model import Matcher, MatchOp, labels_from


def _rule(annotations: dict[str, str], labels: dict[str, str] | None = None, **kw: object) -> AlertingRule:
    spec = RuleSpec("A", False, "x > 1", for_ms=30_000, labels=labels or {}, annotations=annotations)
    return AlertingRule(spec, **kw)  # type: ignore[arg-type]


def _act(value: float, **labels: str) -> Activation:
    return Activation(labels_from(labels), value)


def _only(rule: AlertingRule) -> dict[str, str]:
    (a,) = rule.active.values()
    return a.annotations


def test_annotations_follow_value_labels_and_why() -> None:
    r = _rule(
        {"s": "{{ $labels.__name__ }} {{ $labels.app }} {{ $value }}{{ with $why.w }} {{ . }}{{ end }}"}
    )
    r.eval(0, [_act(2, __name__="x", app="a")])
    assert _only(r) == {"s": "x a 2"}
    r.eval(15_000, [_act(2, __name__="x", app="a")])  # unchanged inputs
    assert _only(r) == {"s": "x a 2"}
    r.eval(30_000, [_act(3, __name__="x", app="a")])
    assert _only(r) == {"s": "x a 3"}
    r.eval(45_000, [_act(3, __name__="y", app="a")])  # same alert (the name is dropped), new template input
    assert _only(r) == {"s": "y a 3"}
    r.eval(60_000, [Activation(labels_from({"__name__": "y", "app": "a"}), 3, {"w": "why"})])
    assert _only(r) == {"s": "y a 3 why", "w": "why"}
    r.eval(75_000, [_act(-0.0, __name__="y", app="a")])
    r.eval(90_000, [_act(0.0, __name__="y", app="a")])  # equal to -0.0, printed differently
    assert _only(r) == {"s": "y a 0"}
    assert [a.state.value for a in r.active.values()] == ["firing"]


def test_annotations_read_before_and_after_send_are_the_same() -> None:
    r = _rule({"summary": "{{ $value | humanize }}"})
    r.restored = True
    r.eval(0, [_act(1234.5, app="a")])
    (a,) = r.active.values()
    assert a.annotations == {"summary": "1.234k"}
    r.eval(30_000, [_act(1234.5, app="a")])
    (sent,) = r.alerts_to_send(30_000, 60_000, 15_000)
    assert sent.annotations == {"summary": "1.234k"} == a.annotations


def test_query_templates_are_expanded_at_every_evaluation() -> None:
    found = [1]

    def query(q: str) -> list[QueryResult]:
        return [QueryResult({}, 0.0)] * found[0]

    r = _rule({"n": '{{ len (query "up") }}'}, template_query=query)
    r.eval(0, [_act(5, app="a")])
    assert _only(r) == {"n": "1"}
    found[0] = 2
    r.eval(15_000, [_act(5, app="a")])  # same inputs, but the store's answer changed
    assert _only(r) == {"n": "2"}


def test_label_templates_with_value_are_expanded_at_every_evaluation() -> None:
    r = _rule({}, labels={"band": "{{ if gt $value 10.0 }}high{{ else }}low{{ end }}"})
    r.eval(0, [_act(5, app="a")])
    r.eval(15_000, [_act(50, app="a")])
    bands = {a.labels["band"]: a.state.value for a in r.active.values()}
    assert bands == {"high": "pending"}  # another alert: the pending "low" one is gone


def test_reloaded_rule_expands_carried_alerts_with_its_own_templates() -> None:
    old = _rule({"s": "old {{ $value }}"})
    old.eval(0, [_act(2, app="a")])
    new = _rule({"s": "new {{ $value }}"})
    new.active = old.active
    new.eval(15_000, [_act(2, app="a")])
    assert _only(new) == {"s": "new 2"}


def test_alerts_series_follow_the_state() -> None:
    r = _rule({})
    r.restored = True
    first = dict(r.eval(0, [_act(2, app="a")]))
    assert first[labels_from({"__name__": "ALERTS", "alertname": "A", "alertstate": "pending", "app": "a"})]
    for_state = labels_from({"__name__": "ALERTS_FOR_STATE", "alertname": "A", "app": "a"})
    assert first[for_state] == 0.0
    later = dict(r.eval(30_000, [_act(2, app="a")]))
    assert set(later) == {
        labels_from({"__name__": "ALERTS", "alertname": "A", "alertstate": "firing", "app": "a"}),
        for_state,
    }
    assert r.eval(45_000, []) == []
    again = dict(r.eval(60_000, [_act(2, app="a")]))  # resolved then active again: pending anew
    assert again[for_state] == 60.0
    assert labels_from({"__name__": "ALERTS", "alertname": "A", "alertstate": "pending", "app": "a"}) in again


def test_window_refs_survive_drops_and_re_adds() -> None:
    w = RecentWindow(retention_ms=60_000, started_ms=0)
    refs = [w.series_ref(labels_from({"__name__": "m", "i": str(i)})) for i in range(3000)]  # > capacity
    w.append(refs, [0] * len(refs), [float(i) for i in range(len(refs))])
    w.append(refs[:2], [120_000] * 2, [7.0, 8.0])  # the others leave the retention and are dropped
    sel = [Matcher("__name__", MatchOp.EQ, "m")]
    p = w.select_packed(sel, 0, 200_000)
    assert p is not None and [dict(lb)["i"] for lb in p.labels] == ["0", "1"]
    w.append([refs[2999], refs[5]], [130_000, 130_000], [1.0, 2.0])  # re-added
    p = w.select_packed(sel, 0, 200_000)
    assert p is not None
    got = {dict(p.labels[s])["i"]: v for s, v in zip(p.sid.tolist(), p.vals.tolist(), strict=True)}
    assert got == {"0": 7.0, "1": 8.0, "5": 2.0, "2999": 1.0}
    assert np.array_equal(p.sid, np.sort(p.sid))
