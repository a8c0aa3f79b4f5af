#!/usr/bin/env bash
# Install everything Paramedic needs on a Debian 12 machine: the real platform components (apt), a venv and
# the package with its dev tools. Idempotent: apt runs only for packages that are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
    haproxy supervisor rsyslog rsyslog-relp victoria-metrics influxdb
    prometheus prometheus-alertmanager prometheus-node-exporter chromium
    python3-venv python3-pip bsdutils procps curl ca-certificates openssl etcd-server unzip
    maven openjdk-17-jdk-headless
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "install: apt packages missing: ${missing[*]}"
    $SUDO apt-get update -qq
    # Debian's policy-rc.d keeps these daemons from starting on install; Paramedic starts its own instances.
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'
# The Go toolchain for the engines built from the Go module proxy (this machine's, else fetched and cached).
if GO="$(bash scripts/ensure_go.sh)"; then
    export GO
else
    echo "install: WARNING: no Go toolchain; the engines built from the Go module proxy will report why" >&2
fi
# VictoriaMetrics cluster (vminsert/vmselect/vmstorage) from the Go module proxy, cached by version. A failed
# build does not stop the install: the live cluster tests name its error (see scripts/build_vmcluster.sh).
if ! bash scripts/build_vmcluster.sh; then
    echo "install: WARNING: VictoriaMetrics cluster not built; its live tests will report why" >&2
fi
bash scripts/build_otelcol.sh || echo "install: WARNING: OpenTelemetry Collector not built; its live test will report why" >&2
# OpenSearch 2.19.6 jars from Maven Central + its launcher (scripts/build_opensearch.sh); failure reported by its tests.
bash scripts/build_opensearch.sh || echo "install: WARNING: OpenSearch not built; its live tests will report why" >&2
bash scripts/build_prometheus3.sh || echo "install: WARNING: Prometheus 3 not built; the differential tests report why" >&2
echo "install: OK ($(.venv/bin/paramedic --version 2>/dev/null || echo paramedic installed))"
