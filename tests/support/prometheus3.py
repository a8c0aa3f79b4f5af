"""Prometheus 3, built from its Go module by ``scripts/build_prometheus3.sh`` (pinned, cached under
``~/.cache/paramedic/prometheus-<version>/bin``). When the binary is missing, tests marked ``prometheus3``
are not run and the session ends with one loud line quoting the build's exact error (``BUILD_ERROR.txt``) —
the way ``vmcluster`` and ``reference_data`` report what is missing (tests/conftest.py)."""

from __future__ import annotations

import os
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
BUILD_SCRIPT = REPO / "scripts" / "build_prometheus3.sh"


def pinned_version() -> str:
    """The Go module version ``scripts/build_prometheus3.sh`` pins (one source of truth)."""
    m = re.search(r'PROMETHEUS3_VERSION:-([^}"]+)', BUILD_SCRIPT.read_text())
    if m is None:
        raise RuntimeError(f"{BUILD_SCRIPT}: no pinned PROMETHEUS3_VERSION default")
    return os.environ.get("PROMETHEUS3_VERSION", m.group(1))


def cache_dir() -> Path:
    base = Path(os.environ.get("PARAMEDIC_CACHE", Path.home() / ".cache" / "paramedic"))
    return base / f"prometheus-{pinned_version()}"


def binary() -> Path:
    return cache_dir() / "bin" / "prometheus"


def missing_reason() -> str | None:
    """None when the binary is built; else why not (the build's own error when it kept one)."""
    if os.access(binary(), os.X_OK):
        return None
    error = cache_dir() / "BUILD_ERROR.txt"
    why = error.read_text().strip() if error.exists() else "scripts/build_prometheus3.sh has not run"
    return f"{binary()} missing: {why}"
