"""Shared pytest configuration. Real-server fixtures live next to the tests that use them.

Reference data: small permissive vectors are copied into ``tests/fixtures`` (each folder with its
SOURCE.txt), so a fresh clone tests green on its own. The benchmark data (NAB: AGPL; Loghub: research-only)
cannot ship and is read from ``../shared`` beside the repository, as in CI. Tests that need it carry the
``reference_data`` marker: when ``../shared/data`` is absent they are deselected, and the run ends with one
loud line naming how many checks could not run and why. When it is present they run like any other test,
and a missing file inside it fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# ``PARAMEDIC_SHARED`` points elsewhere (a git worktree does not sit beside ``shared``)
SHARED = Path(os.environ.get("PARAMEDIC_SHARED") or REPO.parent / "shared")
FIXTURES = REPO / "tests" / "fixtures"

_NOT_RUN: list[str] = []


def reference_data_present() -> bool:
    return (SHARED / "data").is_dir()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if reference_data_present():
        return
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        (dropped if item.get_closest_marker("reference_data") else keep).append(item)
    if dropped:
        _NOT_RUN.extend(item.nodeid for item in dropped)
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _NOT_RUN:
        terminalreporter.write_sep(
            "!",
            f"REFERENCE DATA MISSING: {len(_NOT_RUN)} checks NOT RUN — {SHARED / 'data'} is absent "
            "(NAB/Loghub cannot ship with the repo; CI has them)",
            red=True,
            bold=True,
        )


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO
