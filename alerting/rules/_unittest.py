"""``paramedic rules test``: promtool's rule unit-test format, run with promtool's semantics.

    rule_files: [rules.yml]          # relative to the test file
    evaluation_interval: 1m
    group_eval_order: [g1, g2]       # optional
    tests:
      - interval: 1m                 # input sample spacing (default: evaluation_interval)
        input_series:
          - series: 'up{job="api"}'
            values: '1 1 0x10 _ stale'
        alert_rule_test:
          - eval_time: 10m
            alertname: InstanceDown
            exp_alerts:
              - exp_labels: {job: api}
                exp_annotations: {summary: "..."}
        promql_expr_test:
          - expr: up == 0
            eval_time: 5m
            exp_samples: [{labels: 'up{job="api"}', value: 0}]

Groups are evaluated at 0, evaluation_interval, ... up to the last eval_time; an alert test at ``eval_time``
sees the firing alerts of the evaluation at the last grid point not after it; labels (plus ``alertname``)
and annotations must match exactly. Expression tests run after all evaluations.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry

from alerting.rules._duration import parse_duration_ms
from alerting.rules._group import RuleGroup, SharedQuery
from alerting.rules._kinds import Detector, query_vector
from alerting.rules._load import GroupSpec, load_files
from alerting.rules._metrics import RuleMetrics
from alerting.rules._series import expand_values, parse_series
from alerting.rules.errors import RuleError, RuleTestError
from metrics_store.memory import MemoryStore
from metrics_store.model import Labels, labels_from
from metrics_store.promql import Engine, QueryError
from metrics_store.promql.semantics import PROMETHEUS_2, Semantics
from metrics_store.yaml_errors import load_yaml

__all__ = ["TestResult", "run_test_file"]

_FILE_KEYS = {"rule_files", "evaluation_interval", "group_eval_order", "tests"}
_TEST_KEYS = {"name", "interval", "input_series", "alert_rule_test", "promql_expr_test", "external_labels",
              "external_url"}  # fmt: skip


@dataclass
class TestResult:
    file: str
    errors: list[str]

    @property
    def ok(self) -> bool:
        return not self.errors


def _ms(v: Any, where: str) -> int:
    try:
        return parse_duration_ms(str(v))
    except ValueError as exc:
        raise RuleTestError(f"{where}: {exc}") from None


def run_test_file(
    path: Path,
    detectors: Mapping[str, Callable[[], Detector]] | None = None,
    *,
    semantics: Semantics = PROMETHEUS_2,
) -> TestResult:
    """Run one promtool unit-test file. PromQL as ``semantics`` has it: by default Prometheus 2.42's, as
    ``promtool test rules`` 2.42 evaluates (the packs' test files are checked against that real promtool)."""
    try:
        doc = load_yaml(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        return TestResult(str(path), [f"{path}: {exc}"])
    if not isinstance(doc, Mapping):
        return TestResult(str(path), [f"{path}: not a mapping"])
    unknown = set(doc) - _FILE_KEYS
    if unknown:
        return TestResult(str(path), [f"{path}: {sorted(unknown)[0]}: field not found in a unit-test file"])
    try:
        interval = _ms(doc.get("evaluation_interval") or "1m", f"{path}: evaluation_interval")
        files = [str(path.parent / f) for f in doc.get("rule_files") or []]
        # read and parsed once per test file, when a test group first needs them (the specs are frozen;
        # each group builds its own RuleGroups from them): promtool's pack file has 62 groups
        load = functools.cache(lambda: tuple(load_files(files)))
        errors: list[str] = []
        for i, tg in enumerate(doc.get("tests") or []):
            errors.extend(
                _run_group(
                    tg,
                    i,
                    specs=load,
                    eval_interval=interval,
                    order=doc.get("group_eval_order") or [],
                    detectors=detectors,
                    semantics=semantics,
                )
            )
    except RuleError as exc:
        return TestResult(str(path), [f"{path}: {exc}"])
    return TestResult(str(path), errors)


def _fmt_alerts(items: list[tuple[Labels, Labels]]) -> str:
    def one(lb: Labels) -> str:
        return "{" + ", ".join(f'{k}="{v}"' for k, v in lb) + "}"

    return "[" + ", ".join(f"{{Labels:{one(a)} Annotations:{one(b)}}}" for a, b in items) + "]"


def _run_group(
    tg: Mapping[str, Any],
    index: int,
    *,
    specs: Callable[[], tuple[GroupSpec, ...]],
    eval_interval: int,
    order: list[str],
    detectors: Mapping[str, Callable[[], Detector]] | None,
    semantics: Semantics,
) -> list[str]:
    name = str(tg.get("name") or f"#{index}")
    where = f"test group {name}"
    unknown = set(tg) - _TEST_KEYS
    if unknown:
        raise RuleTestError(f"{where}: {sorted(unknown)[0]}: field not found in a test group")
    step = _ms(tg["interval"], f"{where}: interval") if tg.get("interval") else eval_interval
    store = _input_series(tg, where, step)
    registry = CollectorRegistry()
    engine = Engine(store, registry=registry, semantics=semantics)
    metrics = RuleMetrics(registry)
    ordered = list(specs())
    if order:
        rank = {n: i for i, n in enumerate(order)}
        ordered.sort(key=lambda g: rank.get(g.name, len(rank)))
    groups = [
        RuleGroup(
            g,
            interval_ms=eval_interval,
            appender=store,
            metrics=metrics,
            external_labels={str(k): str(v) for k, v in (tg.get("external_labels") or {}).items()},
            external_url=str(tg.get("external_url") or ""),
            detectors=detectors,
        )
        for g in ordered
    ]
    for g in groups:
        for ar in g.alerting_rules():
            ar.restored = True
    alert_tests = sorted(tg.get("alert_rule_test") or [], key=lambda t: _ms(t["eval_time"], where))
    expr_tests = tg.get("promql_expr_test") or []
    times = [_ms(t["eval_time"], where) for t in alert_tests] + [
        _ms(t["eval_time"], where) for t in expr_tests
    ]
    errors: list[str] = []
    want_times = sorted({_ms(t["eval_time"], where) for t in alert_tests})
    query = SharedQuery(engine.instant_query)
    got = _evaluate(
        groups, query, eval_interval, max(times, default=0), at=want_times, where=where, errors=errors
    )
    _check_alerts(alert_tests, got, where, errors)
    _check_exprs(expr_tests, engine, where, errors)
    return errors


def _input_series(tg: Mapping[str, Any], where: str, step: int) -> MemoryStore:
    """A store holding the group's ``input_series``, one sample every ``step`` ms from 0."""
    store = MemoryStore()
    for s in tg.get("input_series") or []:
        try:
            labels = parse_series(str(s["series"]))
            values = expand_values(str(s.get("values", "")))
        except (KeyError, ValueError) as exc:
            raise RuleTestError(f"{where}: input_series: {exc}") from None
        ref = store.series_ref(labels)
        pts = [(i * step, v) for i, v in enumerate(values) if v is not None]
        store.append([ref] * len(pts), [t for t, _ in pts], [v for _, v in pts])
    return store


_Firing = dict[str, list[tuple[Labels, Labels]]]  # alertname -> (labels, annotations) of its firing alerts


def _evaluate(
    groups: list[RuleGroup],
    query: SharedQuery,
    eval_interval: int,
    max_t: int,
    *,
    at: list[int],
    where: str,
    errors: list[str],
) -> dict[int, _Firing]:
    """Evaluate every group each ``eval_interval`` from 0 to ``max_t``; firing alerts at the times ``at``."""
    got: dict[int, _Firing] = {}
    ts, cur = 0, 0
    while ts <= max_t:
        query.reset()
        for g in groups:
            g.eval(ts, query)
            for ar in g.alerting_rules():
                if ar.last_error is not None:
                    errors.append(f"    {where}: rule {ar.name} at {ts // 1000}s: {ar.last_error}")
        while cur < len(at) and ts <= at[cur] < ts + eval_interval:
            present: _Firing = {}
            for g in groups:
                for ar in g.alerting_rules():
                    present.setdefault(ar.name, []).extend(
                        (labels_from(a.labels), labels_from(a.annotations)) for a in ar.firing()
                    )
            got[at[cur]] = present
            cur += 1
        ts += eval_interval
    return got


def _check_alerts(alert_tests: list[Any], got: Mapping[int, _Firing], where: str, errors: list[str]) -> None:
    for t in alert_tests:
        at = _ms(t["eval_time"], where)
        alertname = str(t["alertname"])
        exp = sorted(
            (
                labels_from(
                    {
                        **{str(k): str(v) for k, v in (a.get("exp_labels") or {}).items()},
                        "alertname": alertname,
                    }
                ),
                labels_from({str(k): str(v) for k, v in (a.get("exp_annotations") or {}).items()}),
            )
            for a in t.get("exp_alerts") or []
        )
        have = sorted(got.get(at, {}).get(alertname, []))
        if have != exp:
            errors.append(
                f"    alertname: {alertname}, time: {t['eval_time']},\n        exp:{_fmt_alerts(exp)},\n"
                f"        got:{_fmt_alerts(have)}"
            )


def _check_exprs(expr_tests: list[Any], engine: Engine, where: str, errors: list[str]) -> None:
    for t in expr_tests:
        at = _ms(t["eval_time"], where)
        try:
            rows = query_vector(engine.instant_query, str(t["expr"]), at)
        except (QueryError, RuleError) as exc:
            errors.append(f"    expr: {t['expr']!r}, time: {t['eval_time']}, err: {exc}")
            continue
        exp_rows = sorted(
            (parse_series(str(s.get("labels", ""))), float(s["value"])) for s in t.get("exp_samples") or []
        )
        if not _same(sorted(rows), exp_rows):
            errors.append(
                f"    expr: {t['expr']!r}, time: {t['eval_time']},\n        exp: {exp_rows}\n"
                f"        got: {sorted(rows)}"
            )


def _same(a: list[tuple[Labels, float]], b: list[tuple[Labels, float]]) -> bool:
    return len(a) == len(b) and all(
        la == lb and (va == vb or (math.isnan(va) and math.isnan(vb)))
        for (la, va), (lb, vb) in zip(a, b, strict=True)
    )
