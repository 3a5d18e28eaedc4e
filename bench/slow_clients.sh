#!/usr/bin/env bash
# Slow-client load test (issue 11, "slow clients"; README "Benchmark").
#
# Builds a release doorstep and examples/slow_clients.rs, then for each entry
# of SOURCES starts a fresh doorstep on 127.0.0.1 with a soft open-files
# limit of NOFILE (systemd's default is 1024; the hard limit is left as it
# is, as systemd does) and runs the load generator: CONNECTIONS slow
# connections held for DURATION seconds from that many loopback source
# addresses, half dribbling a request head and half a request body one
# byte every DRIBBLE_MS, each reopened RECONNECT_MS after the server closes
# it, while GET /health is probed every 100 ms from another address.
# It prints the generator's figures (probes sent/answered, p50/p99/max probe
# latency, how the server ended the slow connections) and the server's:
# peak resident memory (VmHWM), most files open at once, and its open-files
# limit after start-up.
#
# Everything stays on loopback and stops by itself. The default SOURCES
# runs two phases: "1", every slow connection from one address (the
# per-address cap turns most away), and "100", 20 connections from each of
# 100 addresses (under the cap: the deadlines and the raised open-files
# limit must carry it).
#
# Knobs (environment): CONNECTIONS=2000 DURATION=30 SOURCES="1 100"
# DRIBBLE_MS=1000 RECONNECT_MS=500 NOFILE=1024 PORT=18090, and BIN=path to
# run another doorstep binary (an older build, for comparison).
# Targets (not asserted): every probe answered in under 1 s, RSS < 64 MiB.
set -euo pipefail

CONNECTIONS=${CONNECTIONS:-2000}
DURATION=${DURATION:-30}
SOURCES=${SOURCES:-"1 100"}
DRIBBLE_MS=${DRIBBLE_MS:-1000}
RECONNECT_MS=${RECONNECT_MS:-500}
NOFILE=${NOFILE:-1024}
PORT=${PORT:-18090}

cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}

echo "== building (release)"
# Apart, so the example's dev-dependencies lend the binary no features.
cargo build --release --quiet --bin doorstep
cargo build --release --quiet --example slow_clients
BIN=${BIN:-$TARGET/release/doorstep}
GEN=$TARGET/release/examples/slow_clients

WORK=$(mktemp -d)
SERVER_PID=""
SAMPLER_PID=""
stop_server() {
    if [ -n "$SAMPLER_PID" ]; then kill "$SAMPLER_PID" 2>/dev/null || true; wait "$SAMPLER_PID" 2>/dev/null || true; SAMPLER_PID=""; fi
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; fi
}
cleanup() {
    stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT

# The generator holds CONNECTIONS sockets itself.
CLIENT_NOFILE=$((CONNECTIONS + 1024))
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$CLIENT_NOFILE" ]; then
    echo "the hard open-files limit ($(ulimit -Hn)) is too low for $CONNECTIONS client connections" >&2
    exit 1
fi

status_kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$SERVER_PID/status"; }

for S in $SOURCES; do
    echo
    echo "== phase: $CONNECTIONS slow connections from $S address(es), $DURATION s"
    rm -f "$WORK/bench.db"*
    # A soft limit of NOFILE, the hard one untouched: as systemd starts a service.
    ( ulimit -Sn "$NOFILE"; exec env -u DOORSTEP_CONFIG DOORSTEP_LOG=warn "$BIN" \
        --database "$WORK/bench.db" --listen "127.0.0.1:$PORT" serve ) >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 100); do
        if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/health" 2>/dev/null; then break; fi
        sleep 0.1
    done
    curl -fsS -o /dev/null "http://127.0.0.1:$PORT/health"
    LIMIT=$(awk '/^Max open files/ { print $4 " soft, " $5 " hard" }' "/proc/$SERVER_PID/limits")
    IDLE_KB=$(status_kb VmRSS)

    # Most files the server holds at once, sampled every 0.2 s.
    ( max=0; while kill -0 "$SERVER_PID" 2>/dev/null; do
        n=$(ls "/proc/$SERVER_PID/fd" 2>/dev/null | wc -l); [ "$n" -gt "$max" ] && max=$n && echo "$max" >"$WORK/fds"
        sleep 0.2; done ) &
    SAMPLER_PID=$!

    ( ulimit -Sn "$CLIENT_NOFILE"; exec "$GEN" "$PORT" "$CONNECTIONS" "$DURATION" "$S" "$DRIBBLE_MS" "$RECONNECT_MS" )

    HWM_KB=$(status_kb VmHWM)
    END_KB=$(status_kb VmRSS)
    echo "server: open-files limit after start-up $LIMIT (started with a soft limit of $NOFILE)"
    echo "  most files open at once: $(cat "$WORK/fds" 2>/dev/null || echo ?)"
    awk -v i="$IDLE_KB" -v h="$HWM_KB" -v e="$END_KB" 'BEGIN {
        printf "  RSS: idle %.1f MiB, peak (VmHWM) %.1f MiB, at the end %.1f MiB\n", i / 1024, h / 1024, e / 1024 }'
    ERRORS=$(grep -ci "error\|panic" "$WORK/server.log" || true)
    if [ "$ERRORS" -gt 0 ]; then
        echo "  server log: $ERRORS error line(s), the last:"
        grep -i "error\|panic" "$WORK/server.log" | tail -n 1 | sed 's/\x1b\[[0-9;]*m//g; s/^/    /'
    fi
    stop_server
done
