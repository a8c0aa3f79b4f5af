#!/usr/bin/env bash
# Build a minimal OpenTelemetry Collector (otlpreceiver + otlphttpexporter + contrib's
# prometheusremotewriteexporter; scripts/otelcol/main.go) of one pinned release from the Go module proxy —
# nothing is downloaded from anywhere else. Cached: the binary lives under $PARAMEDIC_CACHE/otelcol-<version>/
# and the Go caches under $PARAMEDIC_CACHE/go, so a second run builds nothing. When the build fails, the exact
# error is kept in otelcol-<version>/BUILD_ERROR.txt: the live collector test reports it (loudly) instead.
#
#   scripts/build_otelcol.sh       # build if missing; prints the binary's path
set -uo pipefail

VERSION="${OTELCOL_VERSION:-v0.165.0}"      # go.opentelemetry.io/collector/* modules (v1.x ones: their pair)
CONTRIB="${OTELCOL_CONTRIB_VERSION:-v0.165.1}"
HERE="$(cd "$(dirname "$0")" && pwd)"
GO="${GO:-/usr/local/go/bin/go}"
CACHE="${PARAMEDIC_CACHE:-$HOME/.cache/paramedic}"
OUT="$CACHE/otelcol-$VERSION"
BIN="$OUT/otelcol-paramedic"

if [ -x "$BIN" ]; then
    echo "otelcol: $VERSION cached at $BIN"
    exit 0
fi

fail() {
    mkdir -p "$OUT"
    { echo "building the OpenTelemetry Collector $VERSION (contrib $CONTRIB) from the Go module proxy failed:"
      echo "$1"; } > "$OUT/BUILD_ERROR.txt"
    echo "otelcol: BUILD FAILED — the live collector test will report this:" >&2
    cat "$OUT/BUILD_ERROR.txt" >&2
    exit 1
}

[ -x "$GO" ] || fail "no Go toolchain at $GO"
export GOPATH="$CACHE/go" GOMODCACHE="$CACHE/go/pkg/mod" GOCACHE="$CACHE/go/build-cache"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0
mkdir -p "$OUT" "$GOMODCACHE" "$GOCACHE"
rm -f "$OUT/BUILD_ERROR.txt"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp "$HERE/otelcol/main.go" "$tmp/"
start=$(date +%s)
cd "$tmp" || fail "no temp dir"
"$GO" mod init paramedic.local/otelcol >/dev/null 2>&1 || fail "go mod init failed"
if ! out=$("$GO" get \
    "go.opentelemetry.io/collector/otelcol@$VERSION" \
    "go.opentelemetry.io/collector/receiver/otlpreceiver@$VERSION" \
    "go.opentelemetry.io/collector/exporter/otlphttpexporter@$VERSION" \
    "github.com/open-telemetry/opentelemetry-collector-contrib/exporter/prometheusremotewriteexporter@$CONTRIB" \
    2>&1); then
    fail "$out"
fi
if ! out=$("$GO" mod tidy 2>&1); then
    fail "$out"
fi
if ! out=$("$GO" build -trimpath -o "$BIN" . 2>&1); then
    rm -f "$BIN"
    fail "$out"
fi
echo "$VERSION (contrib $CONTRIB) built in $(($(date +%s) - start)) s" > "$OUT/BUILT.txt"
echo "otelcol: $(cat "$OUT/BUILT.txt") at $BIN"
