"""Runs every ``promql_cases/*.test`` file (cases ported from Prometheus' promql/testdata + our own)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.metrics_store.promql_cases.promqltest import CASES_DIR, parse_file, run_commands

CASE_FILES = sorted(CASES_DIR.glob("*.test"))


def test_case_files_exist() -> None:
    assert len(CASE_FILES) >= 5


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_case_file(path: Path) -> None:
    checked = run_commands(parse_file(path), path.name)
    assert checked > 0
