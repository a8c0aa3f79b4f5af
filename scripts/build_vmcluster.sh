#!/usr/bin/env bash
# Build the VictoriaMetrics cluster binaries (vminsert, vmselect, vmstorage) of one pinned release from the
# Go module proxy — nothing is downloaded from anywhere else. Cached: the binaries live under
# $PARAMEDIC_CACHE/vmcluster-<version>/bin and the Go module and build caches under $PARAMEDIC_CACHE/go, so a
# second run on the same machine builds nothing. When the build fails, the exact error is kept in
# vmcluster-<version>/BUILD_ERROR.txt: the live cluster tests report it (loudly) instead of running.
#
#   scripts/build_vmcluster.sh            # build if missing; prints the binary folder
#   VMCLUSTER_VERSION=v1.1xx.0-cluster scripts/build_vmcluster.sh
#   VMCLUSTER_VERSION=v1.150.0-cluster VMCLUSTER_SRC=/path/to/checkout scripts/build_vmcluster.sh
#       # where the proxy does not serve the -cluster tag: build from a checkout of that tag you already have
#       # (its dependencies still come from the Go module proxy)
set -uo pipefail

VERSION="${VMCLUSTER_VERSION:-v1.151.0-cluster}"
MODULE="github.com/VictoriaMetrics/VictoriaMetrics"
GO="${GO:-/usr/local/go/bin/go}"
CACHE="${PARAMEDIC_CACHE:-$HOME/.cache/paramedic}"
OUT="$CACHE/vmcluster-$VERSION"
BIN="$OUT/bin"
APPS=(vminsert vmselect vmstorage)

have_all() {
    for app in "${APPS[@]}"; do [ -x "$BIN/$app" ] || return 1; done
}

if have_all; then
    echo "vmcluster: $VERSION cached in $BIN"
    exit 0
fi

fail() {
    mkdir -p "$OUT"
    {
        echo "building $MODULE@$VERSION (vminsert, vmselect, vmstorage) from the Go module proxy failed:"
        echo "$1"
    } > "$OUT/BUILD_ERROR.txt"
    echo "vmcluster: BUILD FAILED — the live VictoriaMetrics cluster tests will report this:" >&2
    cat "$OUT/BUILD_ERROR.txt" >&2
    exit 1
}

[ -x "$GO" ] || fail "no Go toolchain at $GO"
export GOPATH="$CACHE/go" GOMODCACHE="$CACHE/go/pkg/mod" GOCACHE="$CACHE/go/build-cache"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0
mkdir -p "$BIN" "$GOMODCACHE" "$GOCACHE"
rm -f "$OUT/BUILD_ERROR.txt"

# The cluster release's go.mod may carry replace directives, which `go install pkg@version` refuses: build
# from a tiny module of our own that requires it.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
work="$tmp"
start=$(date +%s)
if [ -n "${VMCLUSTER_SRC:-}" ]; then
    [ -f "$VMCLUSTER_SRC/app/vminsert/main.go" ] || fail "VMCLUSTER_SRC=$VMCLUSTER_SRC: no app/vminsert/main.go"
    work="$VMCLUSTER_SRC"
    pkg_prefix="./app"
else
    (cd "$work" && "$GO" mod init paramedic.local/vmcluster >/dev/null 2>&1) || fail "go mod init failed"
    if ! out=$(cd "$work" && "$GO" get "$MODULE@$VERSION" 2>&1); then
        fail "$out"
    fi
    pkg_prefix="$MODULE/app"
fi
for app in "${APPS[@]}"; do
    if ! out=$(cd "$work" && "$GO" build -trimpath -o "$BIN/$app" "$pkg_prefix/$app" 2>&1); then
        rm -f "$BIN/$app"
        fail "$out"
    fi
done
echo "$VERSION built in $(($(date +%s) - start)) s" > "$OUT/BUILT.txt"
echo "vmcluster: $(cat "$OUT/BUILT.txt") into $BIN"
