#!/usr/bin/env bash
# Build Prometheus 3 (the `prometheus` server) of one pinned release from the Go module proxy — nothing is
# downloaded from anywhere else. Prometheus 3.x is published as Go module versions v0.30x.y/v0.31x.y of
# github.com/prometheus/prometheus (3.<x>.<y> = v0.3<x>.<y>). The module zip has no compiled web UI: the build
# uses the `builtinassets` tag off, so the server answers its HTTP API (all the tests use) and serves no UI.
# Cached: the binary lives under $PARAMEDIC_CACHE/prometheus-<version>/bin and the Go module and build caches
# under $PARAMEDIC_CACHE/go, so a second run on the same machine builds nothing. When the build fails, the
# exact error is kept in prometheus-<version>/BUILD_ERROR.txt: the differential tests against Prometheus 3
# report it (loudly) instead of running.
#
#   scripts/build_prometheus3.sh                          # build if missing; prints the binary folder
#   PROMETHEUS3_VERSION=v0.3xx.y scripts/build_prometheus3.sh
set -uo pipefail

VERSION="${PROMETHEUS3_VERSION:-v0.316.0}"
MODULE="github.com/prometheus/prometheus"
GO="${GO:-/usr/local/go/bin/go}"
CACHE="${PARAMEDIC_CACHE:-$HOME/.cache/paramedic}"
OUT="$CACHE/prometheus-$VERSION"
BIN="$OUT/bin"

if [ -x "$BIN/prometheus" ]; then
    echo "prometheus3: $VERSION cached in $BIN"
    exit 0
fi

fail() {
    mkdir -p "$OUT"
    {
        echo "building $MODULE/cmd/prometheus@$VERSION from the Go module proxy failed:"
        echo "$1"
    } > "$OUT/BUILD_ERROR.txt"
    echo "prometheus3: BUILD FAILED — the differential tests against Prometheus 3 will report this:" >&2
    cat "$OUT/BUILD_ERROR.txt" >&2
    exit 1
}

[ -x "$GO" ] || fail "no Go toolchain at $GO"
export GOPATH="$CACHE/go" GOMODCACHE="$CACHE/go/pkg/mod" GOCACHE="$CACHE/go/build-cache"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0
mkdir -p "$BIN" "$GOMODCACHE" "$GOCACHE"
rm -f "$OUT/BUILD_ERROR.txt"

# Prometheus' go.mod carries replace/exclude directives, which `go install pkg@version` refuses: build from a
# tiny module of our own that requires it.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
(cd "$tmp" && "$GO" mod init paramedic.local/prometheus3 >/dev/null 2>&1) || fail "go mod init failed"
if ! out=$(cd "$tmp" && "$GO" get "$MODULE/cmd/prometheus@$VERSION" 2>&1); then
    fail "$out"
fi
if ! out=$(cd "$tmp" && "$GO" build -trimpath -o "$BIN/prometheus" "$MODULE/cmd/prometheus" 2>&1); then
    rm -f "$BIN/prometheus"
    fail "$out"
fi
echo "$VERSION built in $(($(date +%s) - start)) s" > "$OUT/BUILT.txt"
echo "prometheus3: $(cat "$OUT/BUILT.txt") into $BIN"
