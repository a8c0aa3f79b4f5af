"""Shared pytest configuration. Real-server fixtures live next to the tests that use them.

Reference data: small permissive vectors are copied into ``tests/fixtures`` (each folder with its
SOURCE.txt), so a fresh clone tests green on its own. The benchmark data (NAB: AGPL; Loghub: research-only)
cannot ship and is read from ``../shared`` beside the repository, as in CI. Tests that need it carry the
``reference_data`` marker: when ``../shared/data`` is absent they are deselected, and the run ends with one
loud line naming how many checks could not run and why. When it is present they run like any other test,
and a missing file inside it fails.

Tests marked ``stranger_address`` need a non-loopback IPv4 address of this host (tests/support/stranger.py):
without one they are deselected with one loud line, unless ``CI`` is set, where they run and fail.

Engines built by ``scripts/install.sh`` from the Go module proxy or Maven Central are handled the same way
(:data:`BUILT_ENGINES`): tests carrying an engine's marker need what its build script produced; when that is
missing they are deselected and the run ends with one loud line per engine quoting the build's exact error.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from log_pipeline.search.opensearch_cluster import missing_reason as opensearch_missing
from tests.support.otelcol import missing_reason as otelcol_missing
from tests.support.prometheus3 import missing_reason as prom3_missing
from tests.support.stranger import MARKER as STRANGER_MARKER
from tests.support.stranger import NO_ADDRESS, deselect_stranger_tests, non_loopback_address
from tests.support.vmcluster import missing_reason as vmcluster_missing

REPO = Path(__file__).resolve().parent.parent
# ``PARAMEDIC_SHARED`` points elsewhere (a git worktree does not sit beside ``shared``)
SHARED = Path(os.environ.get("PARAMEDIC_SHARED") or REPO.parent / "shared")
FIXTURES = REPO / "tests" / "fixtures"
# every process a test starts (``paramedic serve``, the CLI, workers) imports this checkout's code: the venv's
# editable install points at the checkout that made it, which for a git worktree sharing a venv is another
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)

_NOT_RUN: list[str] = []
_NO_STRANGER: list[str] = []  # stranger_address tests deselected: no non-loopback address, CI not set


@dataclass
class BuiltEngine:
    """Tests marked ``marker`` run only when ``missing`` (the build's check) returns None."""

    marker: str
    title: str  # "<TITLE> NOT BUILT: n <what> NOT RUN"
    what: str
    missing: Callable[[], str | None]
    not_run: list[str] = field(default_factory=list)
    why: str = ""


BUILT_ENGINES = [
    BuiltEngine("vmcluster", "VICTORIAMETRICS CLUSTER", "live cluster checks", vmcluster_missing),
    BuiltEngine("otelcol", "OPENTELEMETRY COLLECTOR", "live collector checks", otelcol_missing),
    BuiltEngine("prometheus3", "PROMETHEUS 3", "Prometheus 3 checks", prom3_missing),
    BuiltEngine("opensearch", "OPENSEARCH", "live OpenSearch checks", opensearch_missing),
]


def reference_data_present() -> bool:
    return (SHARED / "data").is_dir()


def _deselect(config: pytest.Config, items: list[pytest.Item], marker: str, into: list[str]) -> None:
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        (dropped if item.get_closest_marker(marker) else keep).append(item)
    if dropped:
        into.extend(item.nodeid for item in dropped)
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not reference_data_present():
        _deselect(config, items, "reference_data", _NOT_RUN)
    for engine in BUILT_ENGINES:
        if any(item.get_closest_marker(engine.marker) for item in items):
            why = engine.missing()
            if why is not None:
                engine.why = why
                _deselect(config, items, engine.marker, engine.not_run)
    stranger_tests = any(item.get_closest_marker(STRANGER_MARKER) for item in items)
    if stranger_tests and deselect_stranger_tests(non_loopback_address()):
        _deselect(config, items, STRANGER_MARKER, _NO_STRANGER)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _NOT_RUN:
        terminalreporter.write_sep(
            "!",
            f"REFERENCE DATA MISSING: {len(_NOT_RUN)} checks NOT RUN — {SHARED / 'data'} is absent "
            "(NAB/Loghub cannot ship with the repo; CI has them)",
            red=True,
            bold=True,
        )
    for engine in BUILT_ENGINES:
        if engine.not_run:
            terminalreporter.write_sep(
                "!",
                f"{engine.title} NOT BUILT: {len(engine.not_run)} {engine.what} NOT RUN",
                red=True,
                bold=True,
            )
            terminalreporter.write_line(engine.why, red=True, bold=True)
    if _NO_STRANGER:
        terminalreporter.write_sep(
            "!",
            f"NO STRANGER ADDRESS: {len(_NO_STRANGER)} real-server HTTP cap checks NOT RUN — {NO_ADDRESS} "
            "(with CI set they run and fail)",
            red=True,
            bold=True,
        )


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO
