"""Shared pytest configuration. Real-server fixtures live next to the tests that use them.

Reference data: small permissive vectors are copied into ``tests/fixtures`` (each folder with its
SOURCE.txt), so a fresh clone tests green on its own. The benchmark data (NAB: AGPL; Loghub: research-only)
cannot ship and is read from ``../shared`` beside the repository, as in CI. Tests that need it carry the
``reference_data`` marker: when ``../shared/data`` is absent they are deselected, and the run ends with one
loud line naming how many checks could not run and why. When it is present they run like any other test,
and a missing file inside it fails.

The VictoriaMetrics cluster is handled the same way: tests marked ``vmcluster`` need the binaries
``scripts/build_vmcluster.sh`` builds from the Go module proxy; when they are missing those tests are
deselected and the run ends with one loud line quoting the build's exact error. Prometheus 3 likewise:
tests marked ``prometheus3`` need the binary ``scripts/build_prometheus3.sh`` builds.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support import prometheus3
from tests.support.vmcluster import missing_reason

REPO = Path(__file__).resolve().parent.parent
# ``PARAMEDIC_SHARED`` points elsewhere (a git worktree does not sit beside ``shared``)
SHARED = Path(os.environ.get("PARAMEDIC_SHARED") or REPO.parent / "shared")
FIXTURES = REPO / "tests" / "fixtures"

_NOT_RUN: list[str] = []
_VMCLUSTER_NOT_RUN: list[str] = []
_VMCLUSTER_WHY: list[str] = []
_PROM3_NOT_RUN: list[str] = []
_PROM3_WHY: list[str] = []


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
    if any(item.get_closest_marker("vmcluster") for item in items):
        why = missing_reason()
        if why is not None:
            _VMCLUSTER_WHY[:] = [why]
            _deselect(config, items, "vmcluster", _VMCLUSTER_NOT_RUN)
    if any(item.get_closest_marker("prometheus3") for item in items):
        why = prometheus3.missing_reason()
        if why is not None:
            _PROM3_WHY[:] = [why]
            _deselect(config, items, "prometheus3", _PROM3_NOT_RUN)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _NOT_RUN:
        terminalreporter.write_sep(
            "!",
            f"REFERENCE DATA MISSING: {len(_NOT_RUN)} checks NOT RUN — {SHARED / 'data'} is absent "
            "(NAB/Loghub cannot ship with the repo; CI has them)",
            red=True,
            bold=True,
        )
    if _VMCLUSTER_NOT_RUN:
        terminalreporter.write_sep(
            "!",
            f"VICTORIAMETRICS CLUSTER NOT BUILT: {len(_VMCLUSTER_NOT_RUN)} live cluster checks NOT RUN",
            red=True,
            bold=True,
        )
        terminalreporter.write_line(_VMCLUSTER_WHY[0], red=True, bold=True)
    if _PROM3_NOT_RUN:
        terminalreporter.write_sep(
            "!",
            f"PROMETHEUS 3 NOT BUILT: {len(_PROM3_NOT_RUN)} checks against Prometheus 3 NOT RUN",
            red=True,
            bold=True,
        )
        terminalreporter.write_line(_PROM3_WHY[0], red=True, bold=True)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO
