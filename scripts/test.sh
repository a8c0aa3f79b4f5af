#!/usr/bin/env bash
# README command 2: install everything, then run lint, type checks and the whole test suite.
# Tests start the real servers they need (HAProxy, supervisord, node exporter, VictoriaMetrics, Prometheus)
# on 127.0.0.1 and stop them; a missing Debian-installed server fails the run, it is never skipped. Engines that
# install.sh builds (and the ../shared reference data) are deselected with a loud NOT BUILT / REFERENCE DATA
# MISSING line when absent (tests/conftest.py).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy (strict)"
.venv/bin/mypy
echo "== pytest"
exec .venv/bin/pytest --durations=15 "$@"
