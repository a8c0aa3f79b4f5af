"""Metric metadata (type, help, unit) learned from scrapes, and ``GET /api/v1/metadata`` over it.

Every scrape loop hands its parsed families and its target's (org, space) to
:meth:`MetadataRegistry.observe`; the registry keeps, per tenant of the exposing target (``("", "")`` for a
foundation target) and metric family name, the distinct ``(type, help, unit)`` triples seen (several
exporters may disagree on HELP, as in Prometheus, which answers a list per metric). It is bounded: at most
``max_metrics`` names per tenant (its first seen forgotten first), at most ``max_variants`` triples per
(tenant, name) (the least recently seen first: one tenant's many HELP texts cannot push out another's), HELP
cut at ``MAX_HELP`` characters, and at most ``max_triples`` triples held by all tenants but the foundation
(the least recently scraped tenant forgotten whole first; a tenant that fills it alone gets no new triples).
The foundation's triples (targets without an ``org`` label) are outside that budget, so a tenant's junk
names cannot evict the router's or node exporters' metadata; it has ``max_foundation_triples`` of its own
(its first seen name forgotten first).
A tenant whose targets were not scraped for ``max_age_s`` is deleted (swept from the oldest end on every
call, O(1) amortised), a name its live targets stopped exposing within ``max_age_s`` of that (each tenant's
names are pruned once per ``max_age_s``), and a triple not seen for that long is no longer reported to a
space viewer (a foundation-wide or org-wide read, which reads per-name counts of the triples held, shows it
until that prune: up to twice as long). A metric that left every target disappears, like Prometheus'
metadata, which lives only as long as an active target exposes it.
``paramedic_collector_metadata_evicted_total{reason}`` counts what a bound or the age dropped, and
``reason="rejected"`` the scrapes (one each) whose new triples found the budget full;
``paramedic_collector_metadata_metrics`` the distinct names held (as before tenants).

The foundation-wide read answers as before tenants: the most recently seen name first, ``limit`` names of
those, at most ``max_variants`` triples per name (of all tenants': the last ones to appear).

Types are reported as Prometheus does: the text format's ``untyped`` becomes ``unknown``. A family without
any TYPE, HELP or UNIT line has no metadata (as in Prometheus); the parser cannot tell an explicit
``# TYPE x untyped`` without HELP from no line at all, so that rare family is not reported either.

Tenancy: a family name is shared by every app that exposes it, its HELP text is not (apps write what they
like there). With the store's querier, ``/api/v1/metadata`` shows a tenant-scoped principal
(:func:`platforms.tenancy.scope_of`) only the families with a series in its scope over the last ``max_age_s``
(read through :func:`metrics_store.scoped.scoped`), and of those only the triples that its own tenants'
targets or a foundation target (no ``org`` label, whatever its ``space`` label: the router, node exporters,
but also a pushgateway or a federation target with ``honor_labels``, whose HELP any tenant that pushed there
wrote) exposed. The read starts from the viewer's family names and looks each up once per grant (an org
grant: the org's merged counts) and once for the foundation, so its cost does not grow with other tenants'
data (nor tells their names by timing), nor with an org's spaces. Without a querier it shows
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
from platforms.tenancy import ORG_LABEL, SPACE_LABEL, Scope, scope_of

__all__ = [
    "FOUNDATION_TARGET",
    "MetadataRegistry",
    "MetricMetadata",
    "Tenant",
    "metadata_router",
    "tenant_of",
]

Tenant = tuple[str, str]
"""(org, space) of the target that exposed a family's metadata, ``""`` where its labels have none."""
FOUNDATION_TARGET: Tenant = ("", "")


def tenant_of(labels: Iterable[tuple[str, str]]) -> Tenant:
    """The tenant of a target with these labels: its (org, space); without an ``org`` label the foundation's,
    whatever its ``space`` label says (no grant names an org-less space: its HELP would be nobody's)."""
    found = dict(labels)
    org = found.get(ORG_LABEL, "")
    return (org, found.get(SPACE_LABEL, "")) if org else FOUNDATION_TARGET


_TYPE_NAMES = {"untyped": "unknown"}
MAX_HELP = 1024
"""Characters of a HELP text kept (Prometheus keeps any; client libraries' are a line or two): with it a
triple costs at most ~1.5 KB (measured), so ``max_triples`` bounds the registry's memory."""


@dataclass(frozen=True, slots=True)
class MetricMetadata:
    type: str
    help: str
    unit: str


_Triples = dict[MetricMetadata, float]  # triple -> last seen, first seen first (the answer's order)
_Counts = dict[MetricMetadata, int]  # triple -> how many (tenant, name) entries hold it


@dataclass(slots=True)
class _Tenant:
    """One tenant's (an exposing target's org/space) family names and when its targets last scraped."""

    last: float
    pruned: float
    names: dict[str, _Triples] = field(default_factory=dict)  # first seen first
    triples: int = 0  # held in ``names``: what the tenant costs the budget


class _Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.metrics = Gauge(
            "paramedic_collector_metadata_metrics",
            "Metric names with metadata held by the metadata registry.",
            registry=registry,
        )
        self.evicted = Counter(
            "paramedic_collector_metadata_evicted_total",
            "Metadata entries dropped because a bound was reached or they aged out"
            " (rejected: scrapes whose new names found the budget full).",
            ["reason"],
            registry=registry,
        )


def _ref(index: dict[str, _Counts], name: str, md: MetricMetadata) -> None:
    counts = index.get(name)
    if counts is None:
        counts = index[name] = {}
    counts[md] = counts.get(md, 0) + 1


def _unref(index: dict[str, _Counts], name: str, md: MetricMetadata) -> None:
    counts = index[name]
    if counts[md] > 1:
        counts[md] -= 1
    else:
        del counts[md]
        if not counts:
            del index[name]


class MetadataRegistry:
    def __init__(
        self,
        *,
        max_metrics: int = 50_000,
        max_triples: int = 200_000,
        max_foundation_triples: int = 100_000,
        max_variants: int = 8,
        max_help: int = MAX_HELP,
        max_age_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        registry: CollectorRegistry = prometheus_client.REGISTRY,
    ) -> None:
        """``max_metrics``: names per tenant (its first seen forgotten first); ``max_triples``: the triples
        all tenants but the foundation hold (the least recently scraped tenant forgotten first);
        ``max_foundation_triples``: the foundation's, apart (its first seen name forgotten first: tenants
        cannot evict them); ``max_variants``: triples per (tenant, name) (the least recently seen first);
        ``max_help``: the
        characters of a HELP text kept (the rest cut: bounds a triple's size, hence the memory)."""
        self._max_metrics = max_metrics
        self._max_triples = max_triples
        self._max_foundation = max_foundation_triples
        self._max_variants = max_variants
        self._max_help = max_help
        self._max_age_s = max_age_s
        self._clock = clock
        self._lock = threading.Lock()
        # tenant -> its names, the least recently scraped tenant first: the budget and the age sweep
        self._tenants: OrderedDict[Tenant, _Tenant] = OrderedDict()
        # org -> space -> the same: a space grant finds its tenant in one lookup
        self._orgs: dict[str, dict[str, _Tenant]] = {}
        self._used = 0  # triples held by tenants other than the foundation (the budget's)
        # name -> triple -> how many entries hold it, the least recently seen name first: the
        # foundation-wide read, in O(names) and in main's order (the most recently seen first)
        self._all: OrderedDict[str, _Counts] = OrderedDict()
        # org -> name -> the same over the org's spaces: an org grant reads one entry per name
        self._by_org: dict[str, dict[str, _Counts]] = {}
        self._m = _Metrics(registry)
        self._evicted = {
            r: self._m.evicted.labels(r)
            for r in ("max_metrics", "max_triples", "max_variants", "max_age", "rejected")
        }

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
            names, all_, rejected = seen.names, self._all, False
            by_org = None if tenant == FOUNDATION_TARGET else self._by_org.setdefault(tenant[0], {})
            for name, fam in families.items():
                if fam.type == "untyped" and fam.help is None and fam.unit is None:
                    continue  # no TYPE/HELP/UNIT line: Prometheus records no metadata either
                text = fam.help or ""
                if len(text) > self._max_help:
                    text = text[: self._max_help]
                md = MetricMetadata(_TYPE_NAMES.get(fam.type, fam.type), text, fam.unit or "")
                triples = names.get(name)
                if triples is not None and md in triples:  # the common case: a repeat scrape
                    triples[md] = now
                    all_.move_to_end(name)  # held: the name is counted there
                elif not self._add(tenant, seen, by_org, name, md, now):
                    rejected = True
                elif name in all_:  # not with max_metrics 0
                    all_.move_to_end(name)
            if rejected:  # once per scrape, not once per name on every scrape of a tenant that fills it
                self._evicted["rejected"].inc()
            if now - seen.pruned >= self._max_age_s:
                self._prune(tenant, seen, now - self._max_age_s)
                seen.pruned = now
            self._m.metrics.set(len(all_))

    def _add(
        self,
        tenant: Tenant,
        seen: _Tenant,
        by_org: dict[str, _Counts] | None,
        name: str,
        md: MetricMetadata,
        now: float,
    ) -> bool:
        """Record a triple ``tenant`` has not got for ``name`` (a new name or HELP): the bounds apply here.
        False: the budget refused it."""
        names = seen.names
        triples = names.get(name)
        if triples is None:
            if self._max_metrics <= 0:
                return True
            if len(names) >= self._max_metrics:
                self._forget_name(tenant, seen, next(iter(names)))
                self._evicted["max_metrics"].inc()
            triples = names[name] = {}
        if len(triples) >= self._max_variants:  # a few: O(max_variants)
            self._remove(tenant, seen, name, min(triples, key=triples.__getitem__))
            self._evicted["max_variants"].inc()
        elif not self._make_room(tenant, name):
            if not triples:
                del names[name]
            return False
        triples[md] = now
        seen.triples += 1
        if by_org is not None:
            self._used += 1
            _ref(by_org, name, md)
        _ref(self._all, name, md)
        return True

    def _make_room(self, tenant: Tenant, name: str) -> bool:
        """Room for one more triple of ``tenant`` under ``max_triples``: the least recently scraped other
        tenants go, never the foundation (the budget does not count its triples: tenants cannot evict the
        router's or node exporters' metadata; it has ``max_foundation_triples`` of its own, past which its
        first seen name goes). False: ``tenant`` alone fills the budget."""
        if tenant == FOUNDATION_TARGET:
            seen = self._tenants[tenant]
            while seen.triples >= self._max_foundation:
                first = next(iter(seen.names))
                if first == name:  # its oldest name is this one, or the share is 0
                    return False
                self._evicted["max_triples"].inc(len(seen.names[first]))
                self._forget_name(tenant, seen, first)
            return True
        while self._used >= self._max_triples:
            # the least recently scraped tenant but the foundation: at most one skip
            victim = next(t for t in self._tenants if t != FOUNDATION_TARGET)
            if victim == tenant:
                return False
            other = self._tenants[victim]
            self._evicted["max_triples"].inc(other.triples)
            self._drop(victim, other)
        return True

    def _remove(self, tenant: Tenant, seen: _Tenant, name: str, md: MetricMetadata) -> None:
        """Forget one triple of ``tenant``'s ``name`` (the name stays, maybe empty) and its counts."""
        del seen.names[name][md]
        seen.triples -= 1
        if tenant != FOUNDATION_TARGET:
            self._used -= 1
            _unref(self._by_org[tenant[0]], name, md)
        _unref(self._all, name, md)

    def _forget_name(self, tenant: Tenant, seen: _Tenant, name: str) -> None:
        for md in list(seen.names[name]):
            self._remove(tenant, seen, name, md)
        del seen.names[name]

    def _sweep(self, now: float) -> None:
        """Delete the tenants not scraped for ``max_age_s`` (the oldest first; stops at the first fresh one:
        O(1) amortised per entry ever added), and refresh the names gauge."""
        horizon = now - self._max_age_s
        while self._tenants:
            tenant, seen = next(iter(self._tenants.items()))
            if seen.last >= horizon:
                break
            self._evicted["max_age"].inc(len(seen.names))
            self._drop(tenant, seen)
        self._m.metrics.set(len(self._all))

    def _prune(self, tenant: Tenant, seen: _Tenant, horizon: float) -> None:
        """Delete a live tenant's names and triples that its targets stopped exposing (once per
        ``max_age_s``: the foundation-wide and org-wide reads show such a triple up to twice that long)."""
        stale = []
        for name, triples in seen.names.items():
            for md in [md for md, last in triples.items() if last < horizon]:
                self._remove(tenant, seen, name, md)
            if not triples:
                stale.append(name)
        for name in stale:
            del seen.names[name]
        self._evicted["max_age"].inc(len(stale))

    def _drop(self, tenant: Tenant, seen: _Tenant) -> None:
        """Delete a whole tenant: its counts in the indexes (its own maps go with it)."""
        by_org = None if tenant == FOUNDATION_TARGET else self._by_org[tenant[0]]
        for name, triples in seen.names.items():
            for md in triples:
                _unref(self._all, name, md)
                if by_org is not None:
                    _unref(by_org, name, md)
        if by_org is not None:
            self._used -= seen.triples
        del self._tenants[tenant]
        spaces = self._orgs[tenant[0]]
        del spaces[tenant[1]]
        if not spaces:  # the org's last tenant (its names' counts are empty now)
            del self._orgs[tenant[0]]
            self._by_org.pop(tenant[0], None)

    def snapshot(self, metric: str = "", limit: int = -1) -> dict[str, list[MetricMetadata]]:
        """Current metadata of every tenant (a foundation-wide read), optionally of one ``metric``, the most
        recently seen name first, as before tenants; ``limit`` >= 0 caps the number of names, and each name
        shows at most ``max_variants`` triples (of all its tenants': the last ones to appear). It reads the
        triples that some tenant holds: one not seen for ``max_age_s`` goes with its tenant's next prune (so
        within twice that)."""
        now = self._clock()
        keep = self._max_variants
        with self._lock:
            self._sweep(now)
            if metric:
                counts = self._all.get(metric)
                return {metric: list(counts)[-keep:]} if counts else {}
            out: dict[str, list[MetricMetadata]] = {}
            for name in reversed(self._all):
                if 0 <= limit <= len(out):
                    break
                out[name] = list(self._all[name])[-keep:]
            return out

    def scoped_snapshot(
        self, families: Iterable[str], scope: Scope, limit: int = -1
    ) -> dict[str, list[MetricMetadata]]:
        """The metadata of ``families`` (the viewer's: those with a series in its scope) that the targets of
        a tenant ``scope`` sees or of the foundation exposed; ``limit`` >= 0 caps the number of names (in
        name order). One lookup per (grant, family) and one for the foundation: an org grant reads the org's
        merged counts (a triple not seen for ``max_age_s`` shows until its space's prune, as in a
        foundation-wide read), a space grant its space's triples (checked for age). The cost does not grow
        with other tenants' entries nor, for an org grant, with the org's spaces. The lock is taken per
        name; a tenant swept meanwhile may still answer that read."""
        now = self._clock()
        horizon, keep = now - self._max_age_s, self._max_variants
        out: dict[str, list[MetricMetadata]] = {}
        with self._lock:
            self._sweep(now)
            sources: list[_Tenant] = []
            orgs: list[dict[str, _Counts]] = []
            if (foundation := self._tenants.get(FOUNDATION_TARGET)) is not None:
                sources.append(foundation)
            whole = {g.org for g in scope.grants or () if g.space is None}
            for org in whole:
                if (merged := self._by_org.get(org)) is not None:
                    orgs.append(merged)
            for g in scope.grants or ():
                seen = None if g.space is None or g.org in whole else self._orgs.get(g.org, {}).get(g.space)
                if seen is not None:
                    sources.append(seen)
        for name in sorted(families):
            if 0 <= limit <= len(out):
                break
            found: list[MetricMetadata] = []
            with self._lock:  # per name: a viewer of many names does not hold scrapes up for its whole read
                for seen in sources:
                    if (triples := seen.names.get(name)) is not None:
                        _merge(found, triples, horizon)
                for merged in orgs:
                    for md in list(merged.get(name, ()))[-keep:]:
                        if md not in found:
                            found.append(md)
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
