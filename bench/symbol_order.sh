#!/usr/bin/env bash
# Writes link/symbol-order.txt, the order in which the release binary's
# code is laid out (build.rs; issue 10, "lean"): the functions a server
# runs to start, sign its owner in, answer token verification and
# introspection and show the dashboard (new ones after those the file
# already named, so that regenerating it changes only what must change).
#
#   bench/symbol_order.sh
#
# Run it after upgrading dependencies or the compiler (their symbol names
# change, and names the file no longer matches are skipped: idle memory
# grows back towards 8 MB, nothing else changes), then commit the file and
# check `bench/verify.sh`'s idle RSS.
#
# How: builds the release binary with the linker's map (DOORSTEP_LINK_MAP),
# runs it under valgrind's callgrind through start-up, one password
# sign-in, a few verifications and the dashboard, and names the section of
# every instruction it executed (bench/symbol_order.py). Needs valgrind
# (installed from Debian's packages if missing), curl and python3.
set -euo pipefail

PORT=${PORT:-18095}
PASSWORD="the benchmark's long password"
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}

if ! command -v valgrind >/dev/null 2>&1; then
    echo "valgrind is missing; installing it from Debian's packages" >&2
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get install -y valgrind >/dev/null 2>&1 || {
        $SUDO apt-get update -qq && $SUDO apt-get install -y valgrind >/dev/null
    }
fi

WORK=$(mktemp -d)
SERVER=
cleanup() {
    if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "== building doorstep (release) with the linker's map"
DOORSTEP_LINK_MAP="$WORK/doorstep.map" cargo build --release --locked --quiet --bin doorstep
[ -s "$WORK/doorstep.map" ] || { echo "no linker map was written: is the linker LLD (build.rs)?" >&2; exit 1; }
cp "$TARGET/release/doorstep" "$WORK/doorstep"
cargo build --release --locked --quiet --example bench_seed

"$TARGET/release/examples/bench_seed" "$WORK/seed.db" 20 "$WORK/tokens.txt" 20 >"$WORK/secret"
printf '%s\n' "$PASSWORD" | "$WORK/doorstep" --database "$WORK/seed.db" password --stdin >/dev/null

echo "== profiling start-up, a sign-in, verifications and the dashboard under callgrind"
DOORSTEP_LOG=warn valgrind --tool=callgrind --dump-instr=yes --compress-strings=no \
    --compress-pos=no --callgrind-out-file="$WORK/profile" \
    "$WORK/doorstep" --database "$WORK/seed.db" --listen "127.0.0.1:$PORT" serve \
    >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 600); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/health" 2>/dev/null; then break; fi
    sleep 0.1
done
python3 bench/probe.py sign-in "http://127.0.0.1:$PORT/" "$PASSWORD" 1 "$SERVER" >/dev/null
BASE="http://127.0.0.1:$PORT"
while read -r token; do
    curl -fsS -o /dev/null -H "Authorization: Bearer $token" "$BASE/token"
    curl -fsS -o /dev/null -H "Authorization: Bearer $token" -H "Accept: application/json" "$BASE/token"
    curl -fsS -o /dev/null -H "Authorization: Bearer $(cat "$WORK/secret")" \
        --data-urlencode "token=$token" "$BASE/introspect"
done <"$WORK/tokens.txt"
# Last, so that its code comes after the rest in a new file: what an
# owner's browser opens after signing in.
python3 bench/probe.py dashboard "$BASE/" "$PASSWORD"
kill -TERM "$SERVER"
wait "$SERVER" || true
SERVER=

PREVIOUS=()
if [ -f link/symbol-order.txt ]; then PREVIOUS=(link/symbol-order.txt); fi
python3 bench/symbol_order.py "$WORK/doorstep.map" "$WORK/profile" doorstep "${PREVIOUS[@]}" >"$WORK/order"
mv "$WORK/order" link/symbol-order.txt
echo "== wrote link/symbol-order.txt"
