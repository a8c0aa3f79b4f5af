"""What the wiring builds with and without ``cluster:`` (no etcd needed to build; it is reached at start)."""

from __future__ import annotations

from pathlib import Path

from fastapi.routing import iter_route_contexts
from prometheus_client import CollectorRegistry

from paramedic.assembly import Paramedic
from paramedic.config import parse_config
from remediation.audit import SqliteAuditLog
from remediation.audit.fenced import FencedAuditLog

BASE = """
metrics_store: {type: embedded, path: metrics}
platform: {type: local, state_dir: platform}
rules: {files: []}
alerting: {data_dir: alerting, route: {receiver: nobody}, receivers: [{name: nobody}]}
remediation: {data_dir: remediation}
"""
CLUSTER = 'cluster: {etcd_endpoints: ["http://127.0.0.1:9"], replica_id: r1}\n'


def _paths(server: Paramedic) -> set[str]:
    return {str(r.path) for r in iter_route_contexts(server.app.routes)}


def _build(tmp: Path, text: str) -> Paramedic:
    return Paramedic(parse_config(text), base_dir=tmp, registry=CollectorRegistry())


def test_without_cluster_nothing_changes(tmp_path: Path) -> None:
    server = _build(tmp_path, BASE)
    try:
        assert server.cluster is None
        assert isinstance(server.remediation.audit, SqliteAuditLog)  # type: ignore[union-attr]
        assert server.alerting is not None and server.alerting.window is not None
        assert "/api/v1/status/cluster" not in _paths(server)
    finally:
        server.store.close()


def test_with_cluster_the_journal_is_fenced_and_the_recent_window_off(tmp_path: Path) -> None:
    server = _build(tmp_path, BASE + CLUSTER)
    try:
        assert server.cluster is not None
        assert isinstance(server.remediation.audit, FencedAuditLog)  # type: ignore[union-attr]
        assert server.alerting is not None and server.alerting.window is None
        assert "/api/v1/status/cluster" in _paths(server)
        assert not server.leading  # nothing leader-only runs before the election
    finally:
        server.store.close()
