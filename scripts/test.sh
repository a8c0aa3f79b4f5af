#!/usr/bin/env bash
# README command 2: install everything, then run lint, type checks and the whole test suite.
# Tests start the real servers they need (HAProxy, supervisord, node exporter, VictoriaMetrics, Prometheus)
# on 127.0.0.1 and stop them; a missing server fails the run, it is never skipped.
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
