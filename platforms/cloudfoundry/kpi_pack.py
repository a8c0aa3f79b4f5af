"""Generate the ``cloudfoundry`` rule pack and its promtool-format unit tests from the KPI catalogue.

    python -m platforms.cloudfoundry.kpi_pack          # rewrites the pack, its tests and the KPI table
    python -m platforms.cloudfoundry.kpi_pack --check  # exit 1 when a committed file differs

:func:`render_pack` writes one group per component; each alert KPI becomes one rule per documented level
(``severity`` critical/warning, ``pack: cloudfoundry``, ``component``) with annotations ``summary``,
``description``, ``threshold`` and ``runbook`` (the document's recommended response, condensed), each
preceded by a comment citing the document. A KPI without thresholds becomes a recording rule.

:func:`render_tests` writes, per KPI and per test case of the catalogue (``ok``, ``warning``,
``critical``), input series whose PromQL value is the case value, and expects exactly the levels whose
documented condition that value meets (nothing for ``ok``): promtool and Paramedic's harness evaluate the
rule expressions, the expectations come from the catalogue's thresholds.
"""

from __future__ import annotations

import operator
import re
import sys
from collections.abc import Callable
from pathlib import Path

from platforms.cloudfoundry.kpis import CATALOGUE_PATH, KPI, Catalogue, load_catalogue

__all__ = ["PACK_PATH", "TABLE_PATH", "TEST_PATH", "main", "render_pack", "render_table", "render_tests"]

_ROOT = Path(__file__).resolve().parents[2]
PACK_PATH = _ROOT / "alerting" / "rules" / "packs" / "cloudfoundry.yaml"
TEST_PATH = _ROOT / "tests" / "alerting" / "rules_data" / "packs" / "cloudfoundry.test.yml"
TABLE_PATH = _ROOT / "docs" / "cloudfoundry-kpis.md"

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}
_SOURCES = {
    "routing": "routing-release gorouter indicators.yml.erb",
    "diego": "diego-release indicators",
    "pcf_kpi": "PCF Key Performance Indicators",
    "paramedic_default": "documented as Dynamic; Paramedic default",
}
_HEADER = """\
# Cloud Foundry platform KPIs - GENERATED from platforms/cloudfoundry/kpis.yaml by
# `python -m platforms.cloudfoundry.kpi_pack`; edit the catalogue, not this file.
# Plain Prometheus rules (promtool can check and test this file too). Every rule cites its document:
#   routing-release jobs/gorouter/templates/indicators.yml.erb, diego-release
#   jobs/*/templates/indicators.yml.erb (copies in /work/shared/data/cloudfoundry, see SOURCE.txt there)
#   and the PCF KPI page (https://docs.pivotal.io/pivotalcf/2-4/monitoring/kpi.html);
#   "Dynamic" thresholds carry Paramedic defaults.
# Metric names are Log Cache's (envelope name, `.`/`-` -> `_`) with source_id; named series such as
# gorouter_latency_p95 are aggregations Paramedic runs AT Log Cache (see the catalogue's named_queries).
"""


def _sq(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.10g}"


def _summary(kpi: KPI, severity: str, op: str, threshold: float) -> str:
    where = " on {{ $labels.job }}/{{ $labels.index }}" if kpi.per else ""
    value = '{{ printf "%.4g" $value }}'
    return f"{kpi.title}: {value}{kpi.unit}{where} ({severity} {op} {_num(threshold)}{kpi.unit})"


def _alert_rules(kpi: KPI) -> list[str]:
    out = [f"      # {kpi.id}: {kpi.doc} [{_SOURCES[kpi.threshold_source]}]"]
    for severity, op, threshold in kpi.levels():
        out += [
            f"      - alert: {kpi.alert}",
            f"        expr: {_sq(f'{kpi.expr} {op} {_num(threshold)}')}",
        ]
        if kpi.for_:
            out.append(f"        for: {kpi.for_}")
        out += [
            f"        labels: {{severity: {severity}, pack: cloudfoundry, component: {kpi.component}}}",
            "        annotations:",
            f"          summary: {_sq(_summary(kpi, severity, op, threshold))}",
            f"          description: {_sq(kpi.description)}",
            f"          threshold: {_sq(_num(threshold))}",
            f"          runbook: {_sq(kpi.runbook)}",
        ]
    return out


def _record_rule(kpi: KPI) -> list[str]:
    return [
        f"      # {kpi.id}: {kpi.doc} [{_SOURCES[kpi.threshold_source]}] - recorded, not alerted.",
        f"      # Recommended response: {kpi.runbook}",
        f"      - record: {kpi.record}",
        f"        expr: {_sq(kpi.expr)}",
        f"        labels: {{pack: cloudfoundry, component: {kpi.component}}}",
    ]


def render_pack(catalogue: Catalogue) -> str:
    """The rule pack text: one group per component, in catalogue order."""
    groups: dict[str, list[str]] = {}
    for kpi in catalogue.kpis:
        lines = _alert_rules(kpi) if kpi.alert else _record_rule(kpi)
        groups.setdefault(kpi.component, []).extend(lines)
    out = [_HEADER.rstrip("\n"), "groups:"]
    for component, lines in groups.items():
        out += [
            f"  - name: cloudfoundry-{component.replace('_', '-')}",
            "    interval: 1m",
            "    rules:",
            *lines,
        ]
    return "\n".join(out) + "\n"


# -- unit tests -------------------------------------------------------------------------------------------


_DURATION = re.compile(r"(?:\[|offset )(\d+)([mh])")


def _minutes(amount: str, unit: str) -> int:
    return int(amount) * (60 if unit == "h" else 1)


def _eval_minutes(kpi: KPI) -> int:
    """An evaluation time after every window, offset and ``for`` of the KPI's rules are full."""
    windows = sum(_minutes(a, u) for a, u in _DURATION.findall(kpi.expr))
    hold = _minutes(kpi.for_[:-1], kpi.for_[-1]) if kpi.for_ else 0
    return windows + hold + 3


def _samples(kpi: KPI) -> int:
    return _eval_minutes(kpi) + 2


def _inputs(kpi: KPI, case: str, value: float) -> list[tuple[str, dict[str, str], str]]:
    """(metric, labels, promtool values) of the input series giving the case value."""
    t, n = kpi.test, _samples(kpi)
    sources = [s.strip() for s in (t.source_id or kpi.source_id).split(",")]
    metrics = [kpi.query] if kpi.query else kpi.metrics  # a named series is what the rules select
    labels = [
        {
            "source_id": sources[min(i, len(sources) - 1)],
            "deployment": "cf",
            "job": kpi.component,
            "index": case,
        }
        for i in range(len(metrics))
    ]
    v = value * t.scale
    series: dict[str, list[str]] = {
        "gauge": [f"{_num(v)}x{n}"],
        "counter": [f"0+{_num(v)}x{n}"],
        "ratio_gauge": [f"{_num(v * 1000)}x{n}", f"1000x{n}"],
        "ratio_counter": [f"0+{_num(v * 1000)}x{n}", f"0+1000x{n}"],
        "diff_counter": [f"0+{_num(1000 + v)}x{n}", f"0+1000x{n}"],
    }
    return [
        (m, labels[i], values) for i, (m, values) in enumerate(zip(metrics, series[t.kind], strict=False))
    ]


def _label_text(labels: dict[str, str]) -> str:
    return ", ".join(f'{k}="{v}"' for k, v in labels.items())


def _out_labels(kpi: KPI, inputs: list[tuple[str, dict[str, str], str]]) -> dict[str, str]:
    return {} if kpi.test.out == "none" else dict(inputs[kpi.test.out][1])


def _expected_alerts(kpi: KPI, value: float, out: dict[str, str]) -> list[str]:
    lines: list[str] = []
    shown = f"{value:.4g}"
    where = f" on {out.get('job', '')}/{out.get('index', '')}" if kpi.per else ""
    for severity, op, threshold in kpi.levels():
        if not _OPS[op](value, threshold):
            continue
        labels = {"severity": severity, "pack": "cloudfoundry", "component": kpi.component, **out}
        summary = f"{kpi.title}: {shown}{kpi.unit}{where} ({severity} {op} {_num(threshold)}{kpi.unit})"
        lines += [
            f"          - exp_labels: {{{', '.join(f'{k}: {_sq(v)}' for k, v in labels.items())}}}",
            "            exp_annotations:",
            f"              summary: {_sq(summary)}",
            f"              description: {_sq(kpi.description)}",
            f"              threshold: {_sq(_num(threshold))}",
            f"              runbook: {_sq(kpi.runbook)}",
        ]
    return lines


def _cases(kpi: KPI) -> list[tuple[str, float]]:
    return [(c, v) for c in ("ok", "warning", "critical") if (v := getattr(kpi.test, c)) is not None]


def _assertions(kpi: KPI, cases: list[tuple[str, float, dict[str, str]]]) -> list[str]:
    eval_time = f"{_eval_minutes(kpi)}m"
    if kpi.alert:
        expected = [line for _, value, out in cases for line in _expected_alerts(kpi, value, out)]
        lines = ["    alert_rule_test:", f"      - eval_time: {eval_time}", f"        alertname: {kpi.alert}"]
        return lines + (["        exp_alerts:", *expected] if expected else ["        exp_alerts: []"])
    lines = [
        "    promql_expr_test:",
        f"      - expr: {_sq(str(kpi.record))}",
        f"        eval_time: {eval_time}",
    ]
    lines.append("        exp_samples:")
    for _, value, out in cases:
        labels = {**out, "pack": "cloudfoundry", "component": kpi.component}
        lines += [
            f"          - labels: {_sq(f'{kpi.record}{{{_label_text(labels)}}}')}",
            f"            value: {_num(value)}",
        ]
    return lines


def _test_group(kpi: KPI, cases: list[tuple[str, float]]) -> list[str]:
    title = ", ".join(f"{case} {_num(value)}" for case, value in cases)
    lines = [f"  - name: {_sq(f'{kpi.id}: {title}')}", "    interval: 1m", "    input_series:"]
    checked: list[tuple[str, float, dict[str, str]]] = []
    for case, value in cases:
        inputs = _inputs(kpi, case, value)
        for metric, labels, values in inputs:
            lines += [
                f"      - series: {_sq(f'{metric}{{{_label_text(labels)}}}')}",
                f"        values: '{values}'",
            ]
        checked.append((case, value, _out_labels(kpi, inputs)))
    return lines + _assertions(kpi, checked)


def render_tests(catalogue: Catalogue) -> str:
    """The promtool-format unit test file of the pack: for every KPI, every test case of the catalogue
    (one test group per KPI; one per case where the expression aggregates across series)."""
    out = [
        "# GENERATED from platforms/cloudfoundry/kpis.yaml by `python -m platforms.cloudfoundry.kpi_pack`.",
        "# Per KPI: a value below every threshold (no alert) and values at/above each documented level.",
        "rule_files: [../../../../alerting/rules/packs/cloudfoundry.yaml]",
        "evaluation_interval: 1m",
        "tests:",
    ]
    for kpi in catalogue.kpis:
        separate = kpi.test.out == "none" or kpi.test.kind == "diff_counter"
        groups = [[case] for case in _cases(kpi)] if separate else [_cases(kpi)]
        for cases in groups:
            out += _test_group(kpi, cases)
    return "\n".join(out) + "\n"


def _thresholds(kpi: KPI) -> str:
    if kpi.record:
        return "recorded (Dynamic)"
    return "; ".join(f"{sev} {op} {_num(thr)}{kpi.unit}" for sev, op, thr in reversed(kpi.levels()))


def _feed(kpi: KPI, catalogue: Catalogue) -> str:
    if kpi.query is not None:
        return f"named `{kpi.query}` = `{catalogue.named()[kpi.query].expr}` (at Log Cache)"
    sources = [s.strip() for s in kpi.source_id.split(",")]
    shown = []
    for i, metric in enumerate(kpi.metrics):
        source = sources[min(i, len(sources) - 1)]
        op = "=~" if "|" in source else "="
        shown.append(f'`{metric}{{source_id{op}"{source}"}}`'.replace("|", "\\|"))
    return "polled: " + ", ".join(shown)


def render_table(catalogue: Catalogue) -> str:
    """The KPI table (markdown): KPI, rule, document, metrics/source_id, thresholds, Log Cache query."""
    out = [
        "# Cloud Foundry KPIs watched by Paramedic",
        "",
        "GENERATED from `platforms/cloudfoundry/kpis.yaml` by `python -m platforms.cloudfoundry.kpi_pack`.",
        "Thresholds marked Dynamic/default are Paramedic's starting points; tune them to the foundation.",
        "",
        "| KPI | rule | document | metrics | thresholds | for | Log Cache query (source_id) |",
        "|---|---|---|---|---|---|---|",
    ]
    for kpi in catalogue.kpis:
        metrics = ", ".join(f"`{m}`" for m in kpi.metrics)
        source = f"{_SOURCES[kpi.threshold_source]}: {kpi.doc}".replace("|", "\\|")
        rule = kpi.alert or kpi.record
        out.append(
            f"| {kpi.title} | `{rule}` | {source} | {metrics} | {_thresholds(kpi)} | {kpi.for_ or '-'}"
            f" | {_feed(kpi, catalogue)} |"
        )
    out += ["", "Per-app queries (every STARTED app, `{app_guid}` = its GUID):", ""]
    out += [f"- `{q.name or q.expr.split('{')[0]}`: `{q.expr}`" for q in catalogue.app_queries]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` compare) the pack and its tests; returns the exit code."""
    args = sys.argv[1:] if argv is None else argv
    catalogue = load_catalogue()
    stale: list[str] = []
    outputs = (
        (PACK_PATH, render_pack(catalogue)),
        (TEST_PATH, render_tests(catalogue)),
        (TABLE_PATH, render_table(catalogue)),
    )
    for path, text in outputs:
        if "--check" in args:
            if not path.is_file() or path.read_text() != text:
                stale.append(str(path))
        else:
            path.write_text(text)
    for name in stale:
        print(f"{name}: out of date with {CATALOGUE_PATH} (run python -m platforms.cloudfoundry.kpi_pack)")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
