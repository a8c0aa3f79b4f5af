"""ScopedQuerier over the real embedded store: each grant's matchers pushed down, results merged."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from metrics_store.config import EmbeddedStoreConfig
from metrics_store.embedded import EmbeddedStore
from metrics_store.model import Matcher, MatchOp, labels_from
from metrics_store.scoped import ScopedQuerier, scoped
from platforms.tenancy import FOUNDATION, Grant, Scope

SERIES = [
    {"__name__": "up", "app": "api", "org": "acme", "space": "prod"},
    {"__name__": "up", "app": "api", "org": "acme", "space": "dev"},
    {"__name__": "up", "app": "api", "org": "globex", "space": "prod"},
    {"__name__": "up", "job": "router"},
]


def _store(tmp_path: Path) -> EmbeddedStore:
    store = EmbeddedStore(
        tmp_path / "db", EmbeddedStoreConfig(path=str(tmp_path / "db")), registry=CollectorRegistry()
    )
    refs = [store.series_ref(labels_from(s)) for s in SERIES]
    store.append(refs, [1000] * len(refs), [1.0] * len(refs))
    return store


def _tenants(found: list[dict[str, str]]) -> list[tuple[str, str]]:
    return sorted((s.get("org", ""), s.get("space", "")) for s in found)


def test_a_space_scope_selects_its_space_only(tmp_path: Path) -> None:
    store = _store(tmp_path)
    try:
        q = ScopedQuerier(store, Scope.of([Grant("acme", "prod", "viewer")]))
        anything = [Matcher("__name__", MatchOp.RE, ".+")]
        assert _tenants([dict(s.labels) for s in q.select(anything, 0, 2000)]) == [("acme", "prod")]
        # a matcher naming another tenant does not widen the scope: it empties the result
        other = [*anything, Matcher("space", MatchOp.RE, "dev|prod"), Matcher("org", MatchOp.NE, "acme")]
        assert q.select(other, 0, 2000) == []
        assert q.series(other, 0, 2000) == []
    finally:
        store.close()


def test_overlapping_grants_return_each_series_once(tmp_path: Path) -> None:
    store = _store(tmp_path)
    try:
        q = scoped(store, Scope.of([Grant("acme", None, "viewer"), Grant("acme", "prod", "operator")]))
        found = q.series([Matcher("__name__", MatchOp.EQ, "up")], 0, 2000)
        assert _tenants([dict(s) for s in found]) == [("acme", "dev"), ("acme", "prod")]
    finally:
        store.close()


def test_the_foundation_and_an_empty_scope(tmp_path: Path) -> None:
    store = _store(tmp_path)
    try:
        assert scoped(store, FOUNDATION) is store
        assert scoped(store, Scope.of([])).select([Matcher("__name__", MatchOp.EQ, "up")], 0, 2000) == []
    finally:
        store.close()
