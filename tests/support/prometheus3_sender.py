"""Prometheus 3 as a remote-write 2.0 sender: the binary ``scripts/build_prometheus3.sh`` (issue 19 part 1)
builds from the Go module proxy, cached under ``~/.cache/paramedic/prometheus-<version>/bin``. Tests marked
``prometheus3_push`` are not run when it is missing, and the session ends with one loud line saying why, as
for the VictoriaMetrics cluster and the OpenTelemetry Collector (tests/conftest.py)."""

from __future__ import annotations

import os
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
BUILD_SCRIPT = REPO / "scripts" / "build_prometheus3.sh"
DEFAULT_VERSION = "v0.316.0"  # Prometheus 3.16.0; the build script's pin wins where the script exists


def pinned_version() -> str:
    if "PROMETHEUS3_VERSION" in os.environ:
        return os.environ["PROMETHEUS3_VERSION"]
    if BUILD_SCRIPT.exists():
        m = re.search(r'PROMETHEUS3_VERSION:-([^}"]+)', BUILD_SCRIPT.read_text())
        if m is not None:
            return m.group(1)
    return DEFAULT_VERSION


def binary() -> Path:
    base = Path(os.environ.get("PARAMEDIC_CACHE", Path.home() / ".cache" / "paramedic"))
    return base / f"prometheus-{pinned_version()}" / "bin" / "prometheus"


def missing_reason() -> str | None:
    if os.access(binary(), os.X_OK):
        return None
    error = binary().parent.parent / "BUILD_ERROR.txt"
    why = error.read_text().strip() if error.exists() else "scripts/build_prometheus3.sh has not run"
    return f"{binary()} missing: {why}"
