"""Metric metadata (type, help, unit) learned from scrapes, and ``GET /api/v1/metadata`` over it.

Every scrape loop hands its parsed families to :meth:`MetadataRegistry.observe`; the registry keeps, per
metric family name, the distinct ``(type, help, unit)`` triples seen (several exporters may disagree on HELP,
as in Prometheus, which answers a list per metric). It is bounded: at most ``max_metrics`` names (least
recently seen evicted first), at most ``max_variants`` triples per name (the oldest evicted first), and a
triple not seen for ``max_age_s`` is no longer reported (a metric that left every target disappears, like
Prometheus' metadata, which lives only as long as an active target exposes it).

Types are reported as Prometheus does: the text format's ``untyped`` becomes ``unknown``. A family without
any TYPE, HELP or UNIT line has no metadata (as in Prometheus); the parser cannot tell an explicit
``# TYPE x untyped`` without HELP from no line at all, so that rare family is not reported either.

Tenancy: metadata has no org/space of its own, but the target that exposed it has. With the store's querier,
``/api/v1/metadata`` shows a tenant-scoped principal (:func:`platforms.tenancy.scope_of`) only the families
with a series in its scope over the last ``max_age_s`` (read through :func:`metrics_store.scoped.scoped`),
so the names another tenant's apps expose do not leak; without a querier it shows such a principal nothing.
Of those families it shows only the triples that a target of a tenant it sees, or a foundation target (no
``org`` label: the router, node exporters, whose series a relabel may give to tenants), exposed: a family
name is shared by every app that exposes it, its HELP text is not (apps write what they like there), so
each triple remembers which tenants' targets exposed it (:data:`Tenant`; at most
``MAX_TENANTS_PER_VARIANT``, the least recently seen forgotten first). A triple exposed by the targets of
``SHARED_AFTER_ORGS`` orgs or more (a client library's ``process_cpu_seconds_total``, which every app
exposes alike) is no one org's to hide: it is kept as the foundation's, so the common case holds one entry,
not one per space.

Thread safety: ``observe`` and ``snapshot`` may be called from any thread (one lock; observe does a dict
lookup per family, cheap beside parsing the same scrape).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
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
MAX_TENANTS_PER_VARIANT = 4096
SHARED_AFTER_ORGS = 3

_TYPE_NAMES = {"untyped": "unknown"}


@dataclass(frozen=True, slots=True)
class MetricMetadata:
    type: str
    help: str
    unit: str


class _Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.metrics = Gauge(
            "paramedic_collector_metadata_metrics",
            "Metric names with metadata held by the metadata registry.",
            registry=registry,
        )
        self.evicted = Counter(
            "paramedic_collector_metadata_evicted_total",
            "Metadata entries dropped because a bound was reached.",
            ["reason"],
            registry=registry,
        )


class MetadataRegistry:
    def __init__(
        self,
        *,
        max_metrics: int = 50_000,
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
        # name -> (metadata -> (tenant of the exposing target -> last seen)), names least recently seen first
        self._entries: OrderedDict[str, dict[MetricMetadata, dict[Tenant, float]]] = OrderedDict()
        self._m = _Metrics(registry)

    @property
    def max_age_s(self) -> float:
        """How long a triple not seen again is still reported."""
        return self._max_age_s

    def observe(self, families: Mapping[str, FamilyMeta], tenant: Tenant = FOUNDATION_TARGET) -> None:
        """Record one scrape's families (only those with a TYPE, HELP or UNIT line carry metadata), exposed
        by a target of ``tenant``."""
        now = self._clock()
        with self._lock:
            entries = self._entries
            for name, fam in families.items():
                if fam.type == "untyped" and fam.help is None and fam.unit is None:
                    continue  # no TYPE/HELP/UNIT line: Prometheus records no metadata either
                md = MetricMetadata(_TYPE_NAMES.get(fam.type, fam.type), fam.help or "", fam.unit or "")
                variants = entries.get(name)
                if variants is None:
                    variants = entries[name] = {}
                    if len(entries) > self._max_metrics:
                        entries.popitem(last=False)
                        self._m.evicted.labels("max_metrics").inc()
                else:
                    entries.move_to_end(name)
                seen_by = variants.get(md)
                if seen_by is None:
                    if len(variants) >= self._max_variants:
                        del variants[min(variants, key=lambda v: max(variants[v].values()))]
                        self._m.evicted.labels("max_variants").inc()
                    seen_by = variants[md] = {}
                if FOUNDATION_TARGET in seen_by:  # everyone's already: one entry
                    seen_by[FOUNDATION_TARGET] = now
                elif tenant in seen_by:
                    seen_by[tenant] = now
                else:
                    _add_tenant(seen_by, tenant, now, self._m)
            self._m.metrics.set(len(entries))

    def snapshot(
        self, metric: str = "", limit: int = -1, scope: Scope | None = None
    ) -> dict[str, list[MetricMetadata]]:
        """Current metadata, optionally of one ``metric``; ``limit`` >= 0 caps the number of names; with a
        ``scope``, only the triples a target of the foundation or of a tenant it sees exposed."""
        horizon = self._clock() - self._max_age_s
        out: dict[str, list[MetricMetadata]] = {}
        with self._lock:
            names = [metric] if metric else list(reversed(self._entries))
            for name in names:
                if 0 <= limit <= len(out):
                    break
                fresh = [
                    md
                    for md, seen_by in self._entries.get(name, {}).items()
                    if any(seen >= horizon and _shown(tenant, scope) for tenant, seen in seen_by.items())
                ]
                if fresh:
                    out[name] = fresh
        return out


def _add_tenant(seen_by: dict[Tenant, float], tenant: Tenant, now: float, m: _Metrics) -> None:
    """Record a first sighting by ``tenant``: a foundation target's, or the ``SHARED_AFTER_ORGS``-th org's,
    folds the map into one foundation entry (everyone's); otherwise the least recently seen tenant makes
    room when the map is full."""
    if tenant == FOUNDATION_TARGET or len({org for org, _ in seen_by} | {tenant[0]}) >= SHARED_AFTER_ORGS:
        seen_by.clear()
        tenant = FOUNDATION_TARGET
    elif len(seen_by) >= MAX_TENANTS_PER_VARIANT:
        del seen_by[min(seen_by, key=seen_by.__getitem__)]
        m.evicted.labels("max_tenants").inc()
    seen_by[tenant] = now


def _shown(tenant: Tenant, scope: Scope | None) -> bool:
    if scope is None or tenant == FOUNDATION_TARGET:
        return True
    return scope.sees(tenant[0] or None, tenant[1] or None)


# Series names a family of that name exposes (counters' _total, histograms' and summaries' parts, ...).
_FAMILY_SUFFIXES = ("", "_total", "_created", "_bucket", "_sum", "_count", "_info", "_gsum", "_gcount")


def _names_in_scope(querier: Querier, scope: Scope, start_ms: int, end_ms: int) -> set[str]:
    found = scoped(querier, scope).series([Matcher(METRIC_NAME, MatchOp.RE, ".+")], start_ms, end_ms)
    return {value for labels in found for key, value in labels if key == METRIC_NAME}


def _visible(
    found: dict[str, list[MetricMetadata]], names: set[str], limit: int
) -> dict[str, list[MetricMetadata]]:
    out: dict[str, list[MetricMetadata]] = {}
    for family, variants in found.items():
        if 0 <= limit <= len(out):
            break
        if any(family + suffix in names for suffix in _FAMILY_SUFFIXES):
            out[family] = variants
    return out


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
        if scope.is_foundation:
            found = registry.snapshot(form.get("metric"), limit)
        elif querier is None:
            found = {}
        else:
            end_ms = round(clock() * 1000)
            start_ms = end_ms - round(registry.max_age_s * 1000)
            names = await run_in_threadpool(_names_in_scope, querier, scope, start_ms, end_ms)
            found = _visible(registry.snapshot(form.get("metric"), scope=scope), names, limit)
        return success(
            {
                name: [{"type": m.type, "help": m.help, "unit": m.unit} for m in variants]
                for name, variants in found.items()
            }
        )

    return router
