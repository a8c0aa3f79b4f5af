"""SLOs -> Prometheus recording and alerting rules, in Sloth's shape (multi-window, multi-burn-rate).

For every SLO (see :mod:`alerting.slo.spec`) three rule groups, like Sloth's ``prometheus/v1`` generator:

- ``slo-sli-<key>``: ``slo:sli_error:ratio_rate<w>`` = the error ratio over each burn window ``w`` (5m, 30m,
  1h, 2h, 6h, 1d, 3d) from the raw series, and over the SLO period as the mean of the 5m ratio
  (``sum_over_time / count_over_time``, Sloth's definition);
- ``slo-meta-<key>``: ``slo:objective:ratio``, ``slo:error_budget:ratio``, ``slo:time_period:days``,
  ``slo:current_burn_rate:ratio`` (5m ratio / budget), ``slo:period_burn_rate:ratio`` and
  ``slo:period_error_budget_remaining:ratio``;
- ``slo-alerts-<key>``: the Google SRE workbook's alerts (chapter 5, "Alerting on SLOs", table 5-8):
  **page** when 2 % of the period's budget burns in 1h (checked also over 5m) or 5 % in 6h (and 30m);
  **ticket** when 10 % burns in 1d (and 2h) or in 3d (and 6h). The burn-rate factor is
  ``budget share x period / long window``: 14.4, 6, 3 and 1 for a 30-day period (Sloth's numbers; Sloth's
  28-day windows give 13.44, 5.6, 2.8, 0.93, and so does this).

The groups are evaluated every ``interval`` of the SLO (default 1m, like Sloth's Prometheus): their ranges
reach days, so they do not follow sample arrivals as interval-less groups do.

Every generated series and alert carries the SLO's ``org``, ``space`` (and ``app`` for an app SLO) plus
``slo`` (its name); the recordings also ``slo_window``. Selectors of the raw series always include the
tenant labels, so an SLO only ever reads its own tenant's data. Where Sloth labels with ``sloth_id``,
``sloth_service``, ``sloth_slo`` and ``sloth_window``, these rules use ``org``/``space``/``app``, ``slo``
and ``slo_window``; the PromQL is otherwise the same, except that an availability SLI with requests but no
error series yet records 0 (``or 0 * total``) where Sloth records nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml

from alerting.slo.spec import AvailabilitySli, LatencySli, Slo

__all__ = ["BURN_WINDOWS", "BurnAlert", "burn_alerts", "error_ratio_expr", "rule_groups", "rules_yaml"]

BURN_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
_HOURS = {"5m": 5 / 60, "30m": 0.5, "1h": 1.0, "2h": 2.0, "6h": 6.0, "1d": 24.0, "3d": 72.0}


@dataclass(frozen=True, slots=True)
class BurnAlert:
    """One window pair of the workbook: fires when both windows burn faster than ``factor``."""

    severity: str  # page | ticket
    budget_share: float  # of the whole period's budget, consumed within the long window
    long_window: str
    short_window: str

    def factor(self, days: int) -> float:
        return float(f"{self.budget_share * days * 24 / _HOURS[self.long_window]:.10g}")


_WORKBOOK = (
    BurnAlert("page", 0.02, "1h", "5m"),
    BurnAlert("page", 0.05, "6h", "30m"),
    BurnAlert("ticket", 0.10, "1d", "2h"),
    BurnAlert("ticket", 0.10, "3d", "6h"),
)


def burn_alerts() -> tuple[BurnAlert, ...]:
    """The four window pairs (page quick, page slow, ticket quick, ticket slow)."""
    return _WORKBOOK


def _q(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _selector(labels: dict[str, str], *extra: str) -> str:
    parts = [f"{k}={_q(v)}" for k, v in labels.items()] + [e for e in extra if e]
    return "{" + ", ".join(parts) + "}"


def _le_matcher(threshold_s: float) -> str:
    """``le`` as Go (``1``) and as Python's client (``1.0``) write a bucket boundary."""
    forms = {repr(threshold_s), f"{threshold_s:g}", repr(threshold_s).removesuffix(".0")}
    return "le=~" + _q("|".join(sorted(re.escape(f) for f in forms)))


def _availability(slo: Slo, sli: AvailabilitySli, window: str) -> str:
    tenant = slo.tenant_labels()
    total = f"{sli.metric}{_selector(tenant, sli.matchers)}"
    errors = f"{sli.error_metric or sli.metric}{_selector(tenant, sli.matchers, sli.error_matchers)}"
    fn = "avg_over_time" if sli.per_second else "rate"
    total_rate = f"sum({fn}({total}[{window}]))"
    return f"(sum({fn}({errors}[{window}])) or 0 * {total_rate})\n/\n{total_rate}"


def _latency(slo: Slo, sli: LatencySli, window: str) -> str:
    tenant = slo.tenant_labels()
    count = f"sum(rate({sli.histogram}_count{_selector(tenant, sli.matchers)}[{window}]))"
    bucket = _selector(tenant, sli.matchers, _le_matcher(sli.threshold_s))
    good = f"sum(rate({sli.histogram}_bucket{bucket}[{window}]))"
    return f"({count} - {good})\n/\n{count}"


def error_ratio_expr(slo: Slo, window: str) -> str:
    """PromQL of the SLO's error ratio over ``window`` (a PromQL duration), from the raw series."""
    if isinstance(slo.sli, AvailabilitySli):
        return _availability(slo, slo.sli, window)
    return _latency(slo, slo.sli, window)


def _slo_selector(slo: Slo) -> str:
    return _selector({**slo.tenant_labels(), "slo": slo.name})


def _num(value: float) -> str:
    return f"{value:.12g}"


def _sli_group(slo: Slo, base: dict[str, str]) -> dict[str, Any]:
    rules: list[dict[str, Any]] = [
        {
            "record": f"slo:sli_error:ratio_rate{w}",
            "expr": error_ratio_expr(slo, w),
            "labels": {**base, "slo_window": w},
        }
        for w in BURN_WINDOWS
    ]
    five = f"slo:sli_error:ratio_rate5m{_slo_selector(slo)}"
    rules.append(
        {
            "record": f"slo:sli_error:ratio_rate{slo.window}",
            "expr": f"sum_over_time({five}[{slo.window}])\n/ ignoring (slo_window)\n"
            f"count_over_time({five}[{slo.window}])",
            "labels": {**base, "slo_window": slo.window},
        }
    )
    return {"name": f"slo-sli-{slo.key}", "interval": slo.interval, "rules": rules}


def _meta_group(slo: Slo, base: dict[str, str]) -> dict[str, Any]:
    sel = _slo_selector(slo)
    on = "on (" + ", ".join([*slo.tenant_labels(), "slo"]) + ") group_left"
    budget = f"slo:error_budget:ratio{sel}"
    rules = [
        {"record": "slo:objective:ratio", "expr": f"vector({_num(slo.objective / 100)})"},
        {"record": "slo:error_budget:ratio", "expr": f"vector(1 - {_num(slo.objective / 100)})"},
        {"record": "slo:time_period:days", "expr": f"vector({slo.days})"},
        {
            "record": "slo:current_burn_rate:ratio",
            "expr": f"slo:sli_error:ratio_rate5m{sel}\n/ {on}\n{budget}",
        },
        {
            "record": "slo:period_burn_rate:ratio",
            "expr": f"slo:sli_error:ratio_rate{slo.window}{sel}\n/ {on}\n{budget}",
        },
        {
            "record": "slo:period_error_budget_remaining:ratio",
            "expr": f"1 - slo:period_burn_rate:ratio{sel}",
        },
    ]
    return {
        "name": f"slo-meta-{slo.key}",
        "interval": slo.interval,
        "rules": [{**r, "labels": dict(base)} for r in rules],
    }


def _burn_condition(slo: Slo, alert: BurnAlert) -> str:
    sel = _slo_selector(slo)
    threshold = f"({_num(alert.factor(slo.days))} * {_num(slo.error_budget)})"
    parts = [
        f"max(slo:sli_error:ratio_rate{w}{sel} > {threshold}) without (slo_window)"
        for w in (alert.short_window, alert.long_window)
    ]
    return "(\n    " + "\n    and\n    ".join(parts) + "\n)"


def _alert_group(slo: Slo) -> dict[str, Any]:
    spec = slo.alerting
    # names reach the templates as label values only: a name containing "{{" is never template text
    target = "{{$labels.app}} in " if slo.app else "space "
    rules = []
    for severity, extra in (("page", spec.page_labels), ("ticket", spec.ticket_labels)):
        pairs = [a for a in _WORKBOOK if a.severity == severity]
        rules.append(
            {
                "alert": spec.name,
                "expr": "\nor\n".join(_burn_condition(slo, a) for a in pairs),
                "labels": {**spec.labels, **extra, "slo_severity": severity},
                "annotations": {
                    "summary": f"SLO {{{{$labels.slo}}}} ({target}{{{{$labels.org}}}}/{{{{$labels.space}}}})"
                    " is burning its error budget too fast",
                    "title": f"({severity}) {{{{$labels.slo}}}} SLO error budget burn rate is too fast.",
                    **spec.annotations,
                },
            }
        )
    return {"name": f"slo-alerts-{slo.key}", "interval": slo.interval, "rules": rules}


def rule_groups(slos: Iterable[Slo]) -> list[dict[str, Any]]:
    """The Prometheus rule groups (``{"name", "rules"}`` dicts) of ``slos``, three per SLO."""
    out: list[dict[str, Any]] = []
    for slo in slos:
        base = {**slo.tenant_labels(), "slo": slo.name}
        out.append(_sli_group(slo, base))
        out.append(_meta_group(slo, base))
        if not slo.alerting.disable:
            out.append(_alert_group(slo))
    return out


class _Literal(str):
    """A multi-line string dumped as a YAML block scalar."""


def _literal(dumper: yaml.SafeDumper, data: _Literal) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Literal, _literal)


def _blocks(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _blocks(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_blocks(v) for v in node]
    if isinstance(node, str) and "\n" in node:
        return _Literal(node + "\n")
    return node


def rules_yaml(slos: Iterable[Slo]) -> str:
    """A Prometheus rule file (``groups:``) of ``slos``: what ``paramedic slo check`` prints."""
    head = "# Generated by Paramedic from SLO files. DO NOT EDIT.\n"
    body = yaml.dump({"groups": _blocks(rule_groups(slos))}, Dumper=_Dumper, sort_keys=False, width=1000)
    return head + body
