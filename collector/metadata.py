"""Metric metadata (type, help, unit) learned from scrapes, and ``GET /api/v1/metadata`` over it.

Every scrape loop hands its parsed families and its target's (org, space) to
:meth:`MetadataRegistry.observe`; the registry keeps, per tenant of the exposing target (``("", "")`` for a
foundation target) and metric family name, the distinct ``(type, help, unit)`` triples seen (several
exporters may disagree on HELP, as in Prometheus, which answers a list per metric). It is bounded: at most
``max_metrics`` (tenant, name) entries in all (least recently seen evicted first), at most ``max_variants``
triples per (tenant, name) (the least recently seen evicted first: one tenant's many HELP texts cannot push
out another's), and an entry not seen for ``max_age_s`` is deleted (swept from the oldest end on every call,
O(1) amortised), a triple not seen for that long no longer reported (a metric that left every target
disappears, like Prometheus' metadata, which lives only as long as an active target exposes it).
``paramedic_collector_metadata_evicted_total{reason}`` counts what a bound or the age dropped.

Types are reported as Prometheus does: the text format's ``untyped`` becomes ``unknown``. A family without
any TYPE, HELP or UNIT line has no metadata (as in Prometheus); the parser cannot tell an explicit
``# TYPE x untyped`` without HELP from no line at all, so that rare family is not reported either.

Tenancy: a family name is shared by every app that exposes it, its HELP text is not (apps write what they
like there). With the store's querier, ``/api/v1/metadata`` shows a tenant-scoped principal
(:func:`platforms.tenancy.scope_of`) only the families with a series in its scope over the last ``max_age_s``
(read through :func:`metrics_store.scoped.scoped`), and of those only the triples that its own tenants'
targets or a foundation target (no ``org`` label: the router, node exporters, but also a pushgateway or a
federation target with ``honor_labels``, whose HELP any tenant that pushed there wrote) exposed. The read
starts from the viewer's family names and looks each up once per grant and once for the foundation, so its
cost does not grow with other tenants' data (nor tells their names by timing). Without a querier it shows
such a principal nothing.

Thread safety: ``observe`` and ``snapshot``/``scoped_snapshot`` may be called from any thread (one lock;
observe does a few dict operations per family, cheap beside parsing the same scrape).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import prometheus_client
from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry, Counter, Gauge
from starlette.concurrency import run_in_threadpool

from collector.exposition import FamilyMeta
from metrics_store.api import ApiError, Form, error_response, success
from metrics_store.base import Querier
from metrics_store.model import METRIC_NAME, Matcher, MatchOp
from metrics_store.scoped import scoped
from platforms.tenancy import Scope, scope_of

__all__ = ["FOUNDATION_TARGET", "MetadataRegistry", "MetricMetadata", "Tenant", "metadata_router"]

Tenant = tuple[str, str]
"""(org, space) of the target that exposed a family's metadata, ``""`` where its labels have none."""
FOUNDATION_TARGET: Tenant = ("", "")

_TYPE_NAMES = {"untyped": "unknown"}


@dataclass(frozen=True, slots=True)
class MetricMetadata:
    type: str
    help: str
    unit: str


_Triples = dict[MetricMetadata, float]  # triple -> last seen, first seen first (the answer's order)
_Key = tuple[str, str, str]  # (org, space, family name)


class _Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.metrics = Gauge(
            "paramedic_collector_metadata_metrics",
            "(Tenant, metric name) entries held by the metadata registry.",
            registry=registry,
        )
        self.evicted = Counter(
            "paramedic_collector_metadata_evicted_total",
            "Metadata entries dropped because a bound was reached or they aged out.",
            ["reason"],
            registry=registry,
        )


class MetadataRegistry:
    def __init__(
        self,
        *,
        max_metrics: int = 200_000,
        max_variants: int = 8,
        max_age_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        registry: CollectorRegistry = prometheus_client.REGISTRY,
    ) -> None:
        self._max_metrics = max_metrics
        self._max_variants = max_variants
        self._max_age_s = max_age_s
        self._clock = clock
        self._lock = threading.Lock()
        # org -> family name -> space -> triples: a grant of an org or a space finds a name in one lookup
        self._orgs: dict[str, dict[str, dict[str, _Triples]]] = {}
        # every (org, space, name) -> last seen, least recently seen first: the budget and the age sweep
        self._lru: OrderedDict[_Key, float] = OrderedDict()
        self._m = _Metrics(registry)
        self._evicted = {r: self._m.evicted.labels(r) for r in ("max_metrics", "max_variants", "max_age")}

    @property
    def max_age_s(self) -> float:
        """How long a triple not seen again is still reported."""
        return self._max_age_s

    def observe(self, families: Mapping[str, FamilyMeta], tenant: Tenant = FOUNDATION_TARGET) -> None:
        """Record one scrape's families (only those with a TYPE, HELP or UNIT line carry metadata), exposed
        by a target of ``tenant``. Its cost does not depend on how many tenants the registry holds."""
        now = self._clock()
        org, space = tenant
        lru = self._lru
        with self._lock:
            self._sweep(now)
            names = self._orgs.setdefault(org, {})
            for name, fam in families.items():
                if fam.type == "untyped" and fam.help is None and fam.unit is None:
                    continue  # no TYPE/HELP/UNIT line: Prometheus records no metadata either
                md = MetricMetadata(_TYPE_NAMES.get(fam.type, fam.type), fam.help or "", fam.unit or "")
                key = (org, space, name)
                spaces = names.get(name)
                if spaces is None:
                    spaces = names[name] = {}
                triples = spaces.get(space)
                if triples is None:
                    triples = spaces[space] = {}
                    lru[key] = now
                    if len(lru) > self._max_metrics:
                        self._drop(lru.popitem(last=False)[0])
                        self._evicted["max_metrics"].inc()
                        names = self._orgs.setdefault(org, names)  # in case that emptied this org's map
                else:
                    lru[key] = now
                    lru.move_to_end(key)
                if md not in triples and len(triples) >= self._max_variants:  # a few: O(max_variants)
                    del triples[min(triples, key=triples.__getitem__)]
                    self._evicted["max_variants"].inc()
                triples[md] = now
            self._m.metrics.set(len(lru))

    def _sweep(self, now: float) -> None:
        """Delete the entries not seen for ``max_age_s`` (the oldest first; stops at the first fresh one)."""
        lru, horizon = self._lru, now - self._max_age_s
        while lru:
            key, seen = next(iter(lru.items()))
            if seen >= horizon:
                return
            del lru[key]
            self._drop(key)
            self._evicted["max_age"].inc()

    def _drop(self, key: _Key) -> None:
        org, space, name = key
        names = self._orgs[org]
        spaces = names[name]
        del spaces[space]
        if not spaces:
            del names[name]
            if not names:
                del self._orgs[org]

    def snapshot(self, metric: str = "", limit: int = -1) -> dict[str, list[MetricMetadata]]:
        """Current metadata of every tenant (a foundation-wide read), optionally of one ``metric``;
        ``limit`` >= 0 caps the number of names, the most recently seen first."""
        now = self._clock()
        horizon = now - self._max_age_s
        out: dict[str, list[MetricMetadata]] = {}
        with self._lock:
            self._sweep(now)
            if metric:
                keys: Iterable[_Key] = [
                    (org, space, metric)
                    for org, names in self._orgs.items()
                    for space in names.get(metric, ())
                ]
            else:
                keys = reversed(self._lru)
            for org, space, name in keys:
                found = out.get(name)
                if found is None:
                    if 0 <= limit <= len(out):
                        continue
                    found = out[name] = []
                _merge(found, self._orgs[org][name][space], horizon)
        return {name: found for name, found in out.items() if found}

    def scoped_snapshot(
        self, families: Iterable[str], scope: Scope, limit: int = -1
    ) -> dict[str, list[MetricMetadata]]:
        """The metadata of ``families`` (the viewer's: those with a series in its scope) that the targets of
        a tenant ``scope`` sees or of the foundation exposed; ``limit`` >= 0 caps the number of names (in
        name order). One lookup per (grant, family) and one for the foundation: the cost does not grow with
        other tenants' entries. A space grant reads that space's entry, an org grant every space of its
        org that exposed the family."""
        now = self._clock()
        horizon = now - self._max_age_s
        grants = scope.grants or ()
        out: dict[str, list[MetricMetadata]] = {}
        with self._lock:
            self._sweep(now)
            foundation = self._orgs.get("", {})
            own = [(g.space, self._orgs.get(g.org, {})) for g in grants]
            for name in sorted(families):
                if 0 <= limit <= len(out):
                    break
                found: list[MetricMetadata] = []
                triples = foundation.get(name, {}).get("")
                if triples is not None:
                    _merge(found, triples, horizon)
                for space, names in own:
                    spaces = names.get(name)
                    if spaces is None:
                        continue
                    if space is None:
                        for triples in spaces.values():
                            _merge(found, triples, horizon)
                    elif (triples := spaces.get(space)) is not None:
                        _merge(found, triples, horizon)
                if found:
                    out[name] = found
        return out


def _merge(found: list[MetricMetadata], triples: _Triples, horizon: float) -> None:
    """Add the fresh ``triples`` not in ``found`` yet (few: at most ``max_variants`` each)."""
    for md, seen in triples.items():
        if seen >= horizon and md not in found:
            found.append(md)


# Series names a family of that name exposes (counters' _total, histograms' and summaries' parts, ...).
_FAMILY_SUFFIXES = ("", "_total", "_created", "_bucket", "_sum", "_count", "_info", "_gsum", "_gcount")


def _names_in_scope(querier: Querier, scope: Scope, start_ms: int, end_ms: int) -> set[str]:
    found = scoped(querier, scope).series([Matcher(METRIC_NAME, MatchOp.RE, ".+")], start_ms, end_ms)
    return {value for labels in found for key, value in labels if key == METRIC_NAME}


def _families(series_names: Iterable[str]) -> set[str]:
    """The family names whose series these are: each name itself and its stem before a known suffix."""
    out: set[str] = set()
    for name in series_names:
        out.add(name)
        for suffix in _FAMILY_SUFFIXES[1:]:
            if name.endswith(suffix) and len(name) > len(suffix):
                out.add(name[: -len(suffix)])
    return out


def _scoped_read(
    registry: MetadataRegistry,
    querier: Querier,
    scope: Scope,
    metric: str,
    limit: int,
    window_ms: tuple[int, int],
) -> dict[str, list[MetricMetadata]]:
    """The viewer's family names first (those with a series in its scope), then their metadata."""
    families = _families(_names_in_scope(querier, scope, *window_ms))
    if metric:
        families = {metric} if metric in families else set()
    return registry.scoped_snapshot(families, scope, limit)


def metadata_router(
    registry: MetadataRegistry,
    querier: Querier | None = None,
    *,
    clock: Callable[[], float] = time.time,
) -> APIRouter:
    """``/api/v1/metadata`` (``metric``, ``limit``) in Prometheus' shape: ``{name: [{type, help, unit}]}``;
    ``querier`` (the store) tells which families a tenant scope may see (see the module doc), ``clock``
    gives the wall time of that window."""
    router = APIRouter()

    @router.get("/api/v1/metadata")
    async def metadata(request: Request) -> Response:
        try:
            form = await Form.read(request)
            limit = form.integer("limit", -1)
        except ApiError as exc:
            return error_response(exc)
        scope = scope_of(request)
        metric = form.get("metric")
        if scope.is_foundation:
            found = await run_in_threadpool(registry.snapshot, metric, limit)
        elif querier is None:
            found = {}
        else:
            end_ms = round(clock() * 1000)
            window_ms = (end_ms - round(registry.max_age_s * 1000), end_ms)
            found = await run_in_threadpool(_scoped_read, registry, querier, scope, metric, limit, window_ms)
        return success(
            {
                name: [{"type": m.type, "help": m.help, "unit": m.unit} for m in variants]
                for name, variants in found.items()
            }
        )

    return router
