"""Platform metric names live only in the views modules; the views are picked by the platform type."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from pydantic import TypeAdapter

from dashboard.base import PlatformViews
from dashboard.config import DashboardConfig
from dashboard.views import VIEWS, views_for
from dashboard.views_cf import CloudFoundryViews
from dashboard.views_local import LocalViews
from metrics_store.memory import MemoryStore
from metrics_store.promql import Engine, metric_names
from platforms.config import PlatformConfig

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"
VIEWS_MODULES = {"views_local.py", "views_cf.py", "cf_names.py"}


def _queries(views: PlatformViews) -> list[str]:
    """Every query the views give the pages (an app page's with a sample key)."""
    o, a = views.overview(), views.app("some-app")
    out = [*o.exprs(), o.apps_expr, a.instances, a.instance_expr.replace("$index", "0")]
    out += [q for c in a.charts for q in c.queries("some-app")]
    return out + ([a.identity] if a.identity else [])


def _names() -> set[str]:
    found: set[str] = set()
    for views in (LocalViews(), CloudFoundryViews()):
        for q in _queries(views):
            found |= metric_names(q)
    return found


def _page_files() -> list[Path]:
    files = [p for p in DASHBOARD.glob("*.py") if p.name not in VIEWS_MODULES]
    files += list((DASHBOARD / "templates").rglob("*.j2"))
    files += [p for p in (DASHBOARD / "static").rglob("*.js") if "vendor" not in p.parts]
    return files


def test_no_page_module_template_or_script_names_a_platform_metric() -> None:
    names = _names()
    # the names come from the views' own queries (not a list written here); both platforms contribute
    assert {
        "haproxy_backend_http_responses_total",
        "CapacityRemainingMemory",
        "cf_app_http_requests_per_second",
    } <= names
    offenders = []
    for path in _page_files():
        text = path.read_text()
        for name in sorted(names):
            # a plain word (up, cpu, memory, disk) counts only as a selector: followed by { or [
            pattern = rf"\b{name}\s*[{{\[]" if name.isalpha() and name.islower() else rf"\b{name}\b"
            if re.search(pattern, text):
                offenders.append(f"{path.relative_to(DASHBOARD)}: {name}")
    assert offenders == []


@pytest.mark.parametrize("views", [LocalViews(), CloudFoundryViews()], ids=["local", "cloudfoundry"])
def test_every_views_query_parses_and_runs(views: PlatformViews) -> None:
    engine = Engine(MemoryStore(), registry=CollectorRegistry())
    for q in _queries(views):
        assert engine.instant_query(q, 1_800_000_000_000) is not None, q


def test_views_are_picked_by_platform_type() -> None:
    assert isinstance(views_for(None), LocalViews)
    assert isinstance(views_for("local"), LocalViews)
    cf = views_for("cloudfoundry", memory_chunk_mib=2048)
    assert isinstance(cf, CloudFoundryViews) and cf.memory_chunk_mib == 2048
    with pytest.raises(ValueError, match="no dashboard views for platform type 'nomad'"):
        views_for("nomad")


def test_every_platform_type_has_views() -> None:
    union = TypeAdapter(PlatformConfig).json_schema()
    types = {v["properties"]["type"]["const"] for v in union["$defs"].values() if "type" in v["properties"]}
    assert types and types <= set(VIEWS)


def test_default_chunk_is_one_gib() -> None:
    chunks = next(p for p in CloudFoundryViews().overview().panels if p.key == "capacity").figures[0]
    assert chunks.title == "Free memory chunks (1 GiB)"
    assert DashboardConfig().memory_chunk_mib == 1024
    assert "/ 1024)" in chunks.expr
