"""The OpenTelemetry Collector that ``scripts/build_otelcol.sh`` builds (Go module proxy, cached under
``~/.cache/paramedic/otelcol-<version>/``). When it is missing, tests marked ``otelcol`` are not run and the
session ends with one loud line quoting the build's exact error, as for the VictoriaMetrics cluster."""

from __future__ import annotations

import os
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
BUILD_SCRIPT = REPO / "scripts" / "build_otelcol.sh"


def pinned_version() -> str:
    m = re.search(r'OTELCOL_VERSION:-([^}"]+)', BUILD_SCRIPT.read_text())
    if m is None:
        raise RuntimeError(f"{BUILD_SCRIPT}: no pinned OTELCOL_VERSION default")
    return os.environ.get("OTELCOL_VERSION", m.group(1))


def binary() -> Path:
    base = Path(os.environ.get("PARAMEDIC_CACHE", Path.home() / ".cache" / "paramedic"))
    return base / f"otelcol-{pinned_version()}" / "otelcol-paramedic"


def missing_reason() -> str | None:
    """None when the collector is built; else why not (the build's own error when it kept one)."""
    if os.access(binary(), os.X_OK):
        return None
    error = binary().parent / "BUILD_ERROR.txt"
    why = error.read_text().strip() if error.exists() else "scripts/build_otelcol.sh has not run"
    return f"{binary()} missing: {why}"
