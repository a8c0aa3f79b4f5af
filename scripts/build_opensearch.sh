#!/usr/bin/env bash
# Fetch the jars of one pinned OpenSearch release from Maven Central (mvn, scripts/opensearch/pom.xml) and
# compile the tiny launcher scripts/opensearch/ParamedicNode.java against them — nothing is downloaded from
# anywhere else. Cached: $PARAMEDIC_CACHE/opensearch-<version>/{lib,classes}; a second run does nothing.
# When the build fails, the exact error is kept in opensearch-<version>/BUILD_ERROR.txt: the live OpenSearch
# tests report it (loudly) instead of running.
#
#   scripts/build_opensearch.sh       # build if missing; prints the folder
#
# 2.19.x is the last line that runs on Java 17 (Debian 12's default JDK); 3.x needs Java 21+.
set -uo pipefail
cd "$(dirname "$0")/.."

VERSION="2.19.6"
CACHE="${PARAMEDIC_CACHE:-$HOME/.cache/paramedic}"
OUT="$CACHE/opensearch-$VERSION"
SRC="scripts/opensearch"

if [ -f "$OUT/BUILT.txt" ] && [ -f "$OUT/classes/ParamedicNode.class" ]; then
    echo "opensearch: $VERSION cached in $OUT"
    exit 0
fi

fail() {
    mkdir -p "$OUT"
    {
        echo "fetching OpenSearch $VERSION from Maven Central / compiling its launcher failed:"
        echo "$1"
    } > "$OUT/BUILD_ERROR.txt"
    echo "opensearch: BUILD FAILED — the live OpenSearch tests will report this:" >&2
    cat "$OUT/BUILD_ERROR.txt" >&2
    exit 1
}

command -v mvn >/dev/null || fail "no mvn on PATH (Debian package maven)"
command -v javac >/dev/null || fail "no javac on PATH (Debian package openjdk-17-jdk-headless)"
grep -q "<opensearch.version>$VERSION</opensearch.version>" "$SRC/pom.xml" \
    || fail "$SRC/pom.xml does not pin opensearch.version $VERSION"
mkdir -p "$OUT"
rm -f "$OUT/BUILD_ERROR.txt" "$OUT/BUILT.txt"
rm -rf "$OUT/lib" "$OUT/classes"
start=$(date +%s)
if ! out=$(mvn -q -B -f "$SRC/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
    "-DoutputDirectory=$OUT/lib" 2>&1); then
    fail "$out"
fi
mkdir -p "$OUT/classes"
if ! out=$(javac -cp "$OUT/lib/*" -d "$OUT/classes" "$SRC/ParamedicNode.java" 2>&1); then
    fail "$out"
fi
echo "$VERSION fetched and launcher compiled in $(($(date +%s) - start)) s" > "$OUT/BUILT.txt"
echo "opensearch: $(cat "$OUT/BUILT.txt") into $OUT"
