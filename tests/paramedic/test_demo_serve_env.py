"""``paramedic serve`` as the demo starts it: at most two malloc arenas unless the operator says otherwise."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import paramedic.demo._launch as launch
from paramedic.demo._launch import serve_env
from platforms.local.processes import ChildProcess
from platforms.local.processes import spawn as real_spawn

PRINT_ARENAS = "import os; print(os.environ.get('MALLOC_ARENA_MAX'))"


def test_two_arenas_by_default_and_the_operators_value_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert serve_env() == {"MALLOC_ARENA_MAX": "2"}
    monkeypatch.setenv("MALLOC_ARENA_MAX", "8")
    assert serve_env() == {"MALLOC_ARENA_MAX": "8"}


def test_the_demos_serve_gets_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``start_paramedic`` starts its child with :func:`serve_env` (a stand-in child prints what it got)."""
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)

    def stand_in(
        name: str, argv: list[str], log_path: Path, env: dict[str, str] | None = None
    ) -> ChildProcess:
        return real_spawn(name, [sys.executable, "-c", PRINT_ARENAS], log_path, env=env)

    monkeypatch.setattr(launch, "spawn", stand_in)
    monkeypatch.setattr(launch, "wait_http", lambda *a, **k: None)
    lc = launch.Launch(tmp_path, lambda message, *, err=False: None)
    lc.start_paramedic(1, tmp_path / "paramedic.yaml")
    assert lc.children[0].popen.wait(10) == 0
    assert (tmp_path / "logs" / "paramedic.log").read_text().strip() == "2"
