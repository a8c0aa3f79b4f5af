#!/usr/bin/env bash
# Build Alertmanager 0.27.0 (newer than Debian's 0.25: it has msteams_configs) from the Go module proxy, to
# re-record tests/fixtures/alertmanager/recorded_v0.27.0_msteams/ (tests/alerting/record_am_msteams.py).
# The tests replay the recording and do not need this binary, so scripts/install.sh does not call it.
# Cached: $PARAMEDIC_CACHE/alertmanager-<version>/alertmanager; a second run builds nothing.
#
#   scripts/build_alertmanager.sh        # prints the binary's path
set -uo pipefail

VERSION="${ALERTMANAGER_VERSION:-v0.27.0}"
GO="${GO:-/usr/local/go/bin/go}"
CACHE="${PARAMEDIC_CACHE:-$HOME/.cache/paramedic}"
OUT="$CACHE/alertmanager-${VERSION#v}"

if [ -x "$OUT/alertmanager" ]; then
    echo "$OUT/alertmanager"
    exit 0
fi
[ -x "$GO" ] || { echo "alertmanager: no Go toolchain at $GO" >&2; exit 1; }
mkdir -p "$OUT"
if ! log=$(GOBIN="$OUT" GOFLAGS=-mod=mod GOTOOLCHAIN=local nice -n 10 \
        "$GO" install "github.com/prometheus/alertmanager/cmd/alertmanager@$VERSION" 2>&1); then
    echo "alertmanager: building $VERSION from the Go module proxy failed:" >&2
    echo "$log" >&2
    exit 1
fi
echo "$OUT/alertmanager"
