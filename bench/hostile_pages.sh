#!/usr/bin/env bash
# Hostile client pages benchmark (issue 11, section 4; CID-10, SEC-7).
#
# Builds examples/hostile_pages.rs in release and prints, for each page
# shape (each just under the 512 KB size cap), the CPU seconds of the
# bounded parse client discovery uses and its outcome. With --before it
# also times the unbounded scraper parse discovery used before: that takes
# minutes in all (about a minute for 100,000 nested divs) and, for some
# shapes, gigabytes of memory, so each shape then runs in its own process
# under BEFORE_TIMEOUT seconds (default 300) and BEFORE_MEMORY KiB of
# address space (default 4 GiB); one stopped there prints "stopped".
#
# CPU time is the parsing thread's own (/proc/thread-self/schedstat), so it
# barely moves with other load on the machine. Target (not asserted): every
# shape under 1 s; an honest page of the same size is read, not refused.
#
# Usage: bench/hostile_pages.sh [--before] [SHAPE...]
set -euo pipefail

cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
BIN="$TARGET/release/examples/hostile_pages"
BEFORE_TIMEOUT=${BEFORE_TIMEOUT:-300}
BEFORE_MEMORY=${BEFORE_MEMORY:-4194304}

before=0
shapes=()
for arg in "$@"; do
    if [ "$arg" = "--before" ]; then before=1; else shapes+=("$arg"); fi
done

echo "== building (release)"
cargo build --release --quiet --example hostile_pages
echo "== parsing ($(nproc) CPUs; CPU seconds of the parsing thread)"
if [ "$before" = 0 ]; then
    exec "$BIN" "${shapes[@]}"
fi
if [ "${#shapes[@]}" = 0 ]; then
    mapfile -t shapes < <("$BIN" --list)
fi
printf '%-28s %8s %11s %11s  %s\n' shape KB "before s" "after s" "outcome (bounded parse)"
for shape in "${shapes[@]}"; do
    if ! { (ulimit -v "$BEFORE_MEMORY"; timeout "$BEFORE_TIMEOUT" "$BIN" --before --no-header "$shape"); } 2>/dev/null; then
        printf '%-28s %8s %11s   (unbounded parse stopped: over %ss or %s KiB)\n' \
            "$shape" "" "stopped" "$BEFORE_TIMEOUT" "$BEFORE_MEMORY"
        "$BIN" --no-header "$shape"
    fi
done
