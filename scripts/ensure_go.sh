#!/usr/bin/env bash
# Print the path of a Go toolchain new enough for the engines scripts/install.sh builds (Prometheus 3, the
# OpenTelemetry Collector, VictoriaMetrics). Uses $GO, /usr/local/go or `go` on PATH when it is at least
# GO_MIN; otherwise fetches the pinned toolchain from the Go module proxy (golang.org/toolchain, the same zip
# `GOTOOLCHAIN=` downloads) into ~/.cache/paramedic/go-<version>. Debian 12's golang-go (1.19) is too old.
set -euo pipefail
GO_VERSION="${GO_VERSION:-1.26.8}"
GO_MIN="${GO_MIN:-1.26}"
CACHE_ROOT="${PARAMEDIC_CACHE:-$HOME/.cache/paramedic}"
PROXY="${GOPROXY_URL:-https://proxy.golang.org}"

new_enough() {  # $1: a go binary
    local v
    v=$("$1" env GOVERSION 2>/dev/null) || return 1
    v=${v#go}
    [ "$(printf '%s\n%s\n' "$GO_MIN" "$v" | sort -V | head -1)" = "$GO_MIN" ]
}

for candidate in "${GO:-}" /usr/local/go/bin/go "$(command -v go || true)"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ] && new_enough "$candidate"; then
        echo "$candidate"
        exit 0
    fi
done

dest="$CACHE_ROOT/go-$GO_VERSION"
if [ ! -x "$dest/bin/go" ]; then
    mod="v0.0.1-go$GO_VERSION.linux-amd64"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    echo "ensure_go: fetching Go $GO_VERSION from $PROXY (golang.org/toolchain@$mod)" >&2
    curl -fsSL --retry 3 -o "$tmp/go.zip" "$PROXY/golang.org/toolchain/@v/$mod.zip"
    unzip -q "$tmp/go.zip" -d "$tmp/x"
    mkdir -p "$CACHE_ROOT"
    rm -rf "$dest"
    mv "$tmp/x/golang.org/toolchain@$mod" "$dest"
fi
new_enough "$dest/bin/go" || { echo "ensure_go: $dest/bin/go is not Go >= $GO_MIN" >&2; exit 1; }
echo "$dest/bin/go"
