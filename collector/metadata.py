"""Metric metadata (type, help, unit) learned from scrapes, and ``GET /api/v1/metadata`` over it.

Every scrape loop hands its parsed families and its target's (org, space) to
:meth:`MetadataRegistry.observe`; the registry keeps, per tenant of the exposing target (``("", "")`` for a
foundation target) and metric family name, the distinct ``(type, help, unit)`` triples seen (several
exporters may disagree on HELP, as in Prometheus, which answers a list per metric). It is bounded: at most
``max_metrics`` names per tenant (its first seen forgotten first), at most ``max_entries`` (tenant, name)
entries in all (the least recently scraped tenant forgotten first), at most ``max_variants`` triples per
(tenant, name) (the least recently seen first: one tenant's many HELP texts cannot push out another's). A
tenant whose targets were not scraped for ``max_age_s`` is deleted (swept from the oldest end on every call,
O(1) amortised), a name its live targets stopped exposing within ``max_age_s`` of that (each tenant's names
are pruned once per ``max_age_s``), and a triple not seen for that long is no longer reported to a tenant
(a foundation-wide read, which reads a per-name count of the triples held, shows it until that prune: up to
twice as long). A metric that left every target disappears, like Prometheus' metadata, which lives only as
long as an active target exposes it. ``paramedic_collector_metadata_evicted_total{reason}`` counts what a
bound or the age dropped.

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
from dataclasses import dataclass, field

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


@dataclass(slots=True)
class _Tenant:
    """One tenant's (an exposing target's org/space) family names and when its targets last scraped."""

    last: float
    pruned: float
    names: dict[str, _Triples] = field(default_factory=dict)  # first seen first


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
        max_metrics: int = 50_000,
        max_entries: int = 200_000,
        max_variants: int = 8,
        max_age_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        registry: CollectorRegistry = prometheus_client.REGISTRY,
    ) -> None:
        """``max_metrics``: names per tenant (its first seen forgotten first); ``max_entries``: (tenant,
        name) entries in all (the least recently scraped tenant forgotten first); ``max_variants``: triples
        per (tenant, name) (the least recently seen first)."""
        self._max_metrics = max_metrics
        self._max_entries = max_entries
        self._max_variants = max_variants
        self._max_age_s = max_age_s
        self._clock = clock
        self._lock = threading.Lock()
        # tenant -> its names, the least recently scraped tenant first: the budget and the age sweep
        self._tenants: OrderedDict[Tenant, _Tenant] = OrderedDict()
        # org -> space -> the same: an org grant finds its spaces in one lookup
        self._orgs: dict[str, dict[str, _Tenant]] = {}
        self._entries = 0
        # name -> triple -> how many tenants hold it: the foundation-wide read, in O(names) as before tenants
        self._all: dict[str, dict[MetricMetadata, int]] = {}
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
        with self._lock:
            self._sweep(now)
            seen = self._tenants.get(tenant)
            if seen is None:
                seen = self._tenants[tenant] = _Tenant(now, now)
                self._orgs.setdefault(tenant[0], {})[tenant[1]] = seen
            else:
                seen.last = now
                self._tenants.move_to_end(tenant)
            names = seen.names
            for name, fam in families.items():
                if fam.type == "untyped" and fam.help is None and fam.unit is None:
                    continue  # no TYPE/HELP/UNIT line: Prometheus records no metadata either
                md = MetricMetadata(_TYPE_NAMES.get(fam.type, fam.type), fam.help or "", fam.unit or "")
                triples = names.get(name)
                if triples is None:
                    if not self._make_room(tenant, seen):
                        continue
                    triples = names[name] = {}
                    self._entries += 1
                if md not in triples:
                    if len(triples) >= self._max_variants:  # a few: O(max_variants)
                        oldest = min(triples, key=triples.__getitem__)
                        del triples[oldest]
                        self._unref(name, oldest)
                        self._evicted["max_variants"].inc()
                    counts = self._all.setdefault(name, {})
                    counts[md] = counts.get(md, 0) + 1
                triples[md] = now
            if now - seen.pruned >= self._max_age_s:
                self._prune(seen, now - self._max_age_s)
                seen.pruned = now
            self._m.metrics.set(self._entries)

    def _make_room(self, tenant: Tenant, seen: _Tenant) -> bool:
        """Room for one more name of ``tenant``: its own first seen name goes past ``max_metrics``, the
        least recently scraped other tenants past ``max_entries`` (False: ``tenant`` alone fills it)."""
        if len(seen.names) >= self._max_metrics > 0:
            first = next(iter(seen.names))
            self._forget(first, seen.names.pop(first))
            self._entries -= 1
            self._evicted["max_metrics"].inc()
        while self._entries >= self._max_entries:
            oldest, other = next(iter(self._tenants.items()))
            if oldest == tenant:
                self._evicted["max_metrics"].inc()
                return False
            self._evicted["max_metrics"].inc(len(other.names))
            self._drop(oldest, other)
        return self._max_metrics > 0

    def _sweep(self, now: float) -> None:
        """Delete the tenants not scraped for ``max_age_s`` (the oldest first; stops at the first fresh one:
        O(1) amortised per entry ever added)."""
        horizon = now - self._max_age_s
        while self._tenants:
            tenant, seen = next(iter(self._tenants.items()))
            if seen.last >= horizon:
                return
            self._evicted["max_age"].inc(len(seen.names))
            self._drop(tenant, seen)

    def _prune(self, seen: _Tenant, horizon: float) -> None:
        """Delete a live tenant's names and triples that its targets stopped exposing (once per
        ``max_age_s``: the foundation-wide read shows such a triple up to twice that long)."""
        stale = []
        for name, triples in seen.names.items():
            old = [md for md, last in triples.items() if last < horizon]
            for md in old:
                del triples[md]
                self._unref(name, md)
            if not triples:
                stale.append(name)
        for name in stale:
            del seen.names[name]
        self._entries -= len(stale)
        self._evicted["max_age"].inc(len(stale))

    def _unref(self, name: str, md: MetricMetadata) -> None:
        counts = self._all[name]
        if counts[md] > 1:
            counts[md] -= 1
        else:
            del counts[md]
            if not counts:
                del self._all[name]

    def _forget(self, name: str, triples: _Triples) -> None:
        for md in triples:
            self._unref(name, md)

    def _drop(self, tenant: Tenant, seen: _Tenant) -> None:
        del self._tenants[tenant]
        spaces = self._orgs[tenant[0]]
        del spaces[tenant[1]]
        if not spaces:
            del self._orgs[tenant[0]]
        self._entries -= len(seen.names)
        for name, triples in seen.names.items():
            self._forget(name, triples)

    def snapshot(self, metric: str = "", limit: int = -1) -> dict[str, list[MetricMetadata]]:
        """Current metadata of every tenant (a foundation-wide read), optionally of one ``metric``;
        ``limit`` >= 0 caps the number of names. It reads the triples that some tenant holds: one not seen
        for ``max_age_s`` goes with its tenant's next prune (so within twice that)."""
        now = self._clock()
        with self._lock:
            self._sweep(now)
            if metric:
                counts = self._all.get(metric)
                return {metric: list(counts)} if counts else {}
            out: dict[str, list[MetricMetadata]] = {}
            for name, counts in self._all.items():
                if 0 <= limit <= len(out):
                    break
                out[name] = list(counts)
            return out

    def scoped_snapshot(
        self, families: Iterable[str], scope: Scope, limit: int = -1
    ) -> dict[str, list[MetricMetadata]]:
        """The metadata of ``families`` (the viewer's: those with a series in its scope) that the targets of
        a tenant ``scope`` sees or of the foundation exposed; ``limit`` >= 0 caps the number of names (in
        name order). One lookup per (grant's space, family) and one for the foundation: the cost does not
        grow with other tenants' entries (an org grant reads each space of its own org). The lock is taken
        per name; a tenant swept meanwhile may still answer that read (its triples are checked for age)."""
        now = self._clock()
        horizon = now - self._max_age_s
        out: dict[str, list[MetricMetadata]] = {}
        with self._lock:
            self._sweep(now)
            sources: list[_Tenant] = []
            if (foundation := self._tenants.get(FOUNDATION_TARGET)) is not None:
                sources.append(foundation)
            for g in scope.grants or ():
                spaces = self._orgs.get(g.org, {})
                if g.space is None:
                    sources.extend(spaces.values())
                elif (seen := spaces.get(g.space)) is not None:
                    sources.append(seen)
        for name in sorted(families):
            if 0 <= limit <= len(out):
                break
            found: list[MetricMetadata] = []
            with self._lock:  # per name: a viewer of a big org does not hold scrapes up for its whole read
                for seen in sources:
                    if (triples := seen.names.get(name)) is not None:
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
