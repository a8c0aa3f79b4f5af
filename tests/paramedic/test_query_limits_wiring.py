"""``metrics_store.query`` limits reach every engine the server builds, not only the query API's: the rule
engine (and the email charts) refuse what the config refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from metrics_store.promql import TooManySamplesError
from paramedic.assembly import Paramedic
from paramedic.config import parse_config

CONFIG = """
metrics_store: {{type: embedded, path: metrics{query}}}
rules: {{files: [], evaluation_interval_s: 15}}
"""
QUERY = "max_over_time(vector(1)[1h:1s])"  # 3,601 steps in its subquery grid


def _server(tmp: Path, query: str) -> Paramedic:
    return Paramedic(parse_config(CONFIG.format(query=query)), base_dir=tmp, registry=CollectorRegistry())


def test_rule_engine_uses_the_configured_max_samples(tmp_path: Path) -> None:
    small = _server(tmp_path / "small", ", query: {max_samples: 1000}")
    default = _server(tmp_path / "default", "")
    try:
        assert small.alerting is not None and default.alerting is not None
        with pytest.raises(TooManySamplesError):
            small.alerting.engine.instant_query(QUERY, 1_700_000_000_000)
        assert default.alerting.engine.instant_query(QUERY, 1_700_000_000_000) is not None
    finally:
        small.store.close()
        default.store.close()
