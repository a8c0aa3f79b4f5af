"""The default Log Cache queries, DERIVED from what the enabled rule packs select.

Every rule expression of the packs (``log_cache.packs``, default ``cloudfoundry``) is parsed with Paramedic's
PromQL parser (:func:`metrics_store.promql.parse`); each vector selector gives a metric name and its
``source_id`` matcher, and the poller polls exactly those:

* a name the KPI catalogue defines as a NAMED query (e.g. ``gorouter_latency_p95``) is polled as that
  aggregation, evaluated at Log Cache over every point it holds, and stored under the name;
* a name a recording rule of the packs produces is not polled (Paramedic computes it);
* any other name is polled as the plain selector ``name{source_id<op>"value"}`` (other matchers dropped:
  the rules filter on the stored series) - right for counters and periodic gauges;
* a name a per-app query stores, selected without a ``source_id`` (the ``cloudfoundry-apps`` pack's
  ``cpu``, ``cf_app_http_requests_per_second``...), is not polled again as a plain selector;
* then the catalogue's per-app queries (cpu, memory, disk, quotas, request rate, 5xx rate, p95 latency).

::

    queries = derive_queries(config.log_cache.pack_paths())     # list[LogCacheQuery], deterministic order
    selected = pack_selectors(paths)                            # {(name, source_id matcher text)}
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import promql_parser
import yaml

from metrics_store.model import METRIC_NAME, Matcher
from metrics_store.promql import QueryError, UnsupportedError, parse, selector_matchers
from platforms.cloudfoundry.errors import CloudFoundryError
from platforms.cloudfoundry.kpis import Catalogue, load_catalogue
from platforms.config import LogCacheQuery

__all__ = ["Selected", "derive_queries", "pack_selectors"]

Selected = tuple[str, str]
"""(metric name, the ``source_id`` matcher as PromQL text or ``""``) of one selector."""


def _vector_selectors(node: Any) -> Iterator[Any]:
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, promql_parser.VectorSelector):
            yield current
        elif isinstance(current, promql_parser.MatrixSelector):
            stack.append(current.vector_selector)
        elif isinstance(current, promql_parser.Call):
            stack.extend(current.args)
        elif isinstance(current, promql_parser.BinaryExpr):
            stack.extend((current.lhs, current.rhs))
        elif isinstance(current, promql_parser.AggregateExpr):
            stack.extend(n for n in (current.expr, current.param) if n is not None)
        elif isinstance(
            current, promql_parser.ParenExpr | promql_parser.UnaryExpr | promql_parser.SubqueryExpr
        ):
            stack.append(current.expr)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _selected(matchers: list[Matcher]) -> Selected | None:
    name = next((m.value for m in matchers if m.name == METRIC_NAME), "")
    if not name:
        return None
    source = next((m for m in matchers if m.name == "source_id"), None)
    return name, f"source_id{source.op.value}{_quote(source.value)}" if source is not None else ""


def _rules(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise CloudFoundryError("log cache queries", f"{path}: cannot read the rule file: {exc}") from exc
    groups = doc.get("groups") if isinstance(doc, dict) else None
    for g, group in enumerate(groups if isinstance(groups, list) else []):
        rules = group.get("rules") if isinstance(group, dict) else None
        for r, rule in enumerate(rules if isinstance(rules, list) else []):
            if isinstance(rule, dict):
                yield f"{path}: groups[{g}].rules[{r}]", rule


def pack_selectors(paths: Iterable[Path]) -> tuple[set[Selected], set[str]]:
    """The (name, source_id matcher) of every named selector in the rules of ``paths``, and the names the
    recording rules there produce; a rule that does not parse raises :class:`CloudFoundryError` naming it."""
    selected: set[Selected] = set()
    recorded: set[str] = set()
    for path in paths:
        for where, rule in _rules(path):
            if isinstance(rule.get("record"), str):
                recorded.add(rule["record"])
            expr = rule.get("expr")
            if not isinstance(expr, str):
                continue
            try:
                found = [_selected(selector_matchers(vs)) for vs in _vector_selectors(parse(expr))]
            except (QueryError, UnsupportedError) as exc:
                raise CloudFoundryError("log cache queries", f"{where}.expr: {exc}") from exc
            selected.update(s for s in found if s is not None)
    return selected, recorded


def _per_app_names(catalogue: Catalogue) -> set[str]:
    """The names the per-app queries store (their ``name``, else their selector's metric name): app rules
    select them without a ``source_id`` (``cpu``, ``cf_app_http_requests_per_second``), and the per-app
    queries already poll them, app by app."""
    names = {q.name for q in catalogue.app_queries if q.name}
    for q in catalogue.app_queries:
        if not q.name:
            names.update(
                s[0] for vs in _vector_selectors(parse(q.expr)) if (s := _selected(selector_matchers(vs)))
            )
    return names


def derive_queries(paths: Iterable[Path], catalogue: Catalogue | None = None) -> list[LogCacheQuery]:
    """The queries that feed every rule of the packs at ``paths``, then the per-app queries."""
    catalogue = catalogue if catalogue is not None else load_catalogue()
    named = catalogue.named()
    selected, recorded = pack_selectors(paths)
    per_app = _per_app_names(catalogue)
    plain: dict[str, LogCacheQuery] = {}
    aggregated: dict[str, LogCacheQuery] = {}
    for name, source in sorted(selected):
        if name in recorded or (name in per_app and not source):
            continue
        if name in named:
            aggregated[name] = named[name]
        else:
            expr = f"{name}{{{source}}}" if source else name
            plain[expr] = LogCacheQuery(expr=expr)
    return [*plain.values(), *aggregated.values(), *catalogue.app_queries]
