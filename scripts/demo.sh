#!/usr/bin/env bash
# README command 1: install everything, then start the demo (a real local platform watched by Paramedic).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/paramedic demo "$@"
