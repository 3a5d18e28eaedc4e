#!/usr/bin/env bash
# Token verification benchmark (issue 4, item 9; README "Benchmark").
#
# Builds a release doorstep, creates a database with 100,000 valid tokens
# (examples/bench_seed.rs), starts the server on loopback and drives it with
# wrk, in one run, at:
#   GET  /health       the trivial endpoint (the baseline)
#   GET  /token        legacy verification (Authorization: Bearer)
#   POST /introspect   RFC 7662 with a resource-server secret
# Each request picks one of SAMPLE tokens at random. Prints requests/s, p50
# and p99 latency, the ratio verification / trivial, and the server's
# resident memory idle and under load (VmRSS, VmHWM). The endpoints are
# interleaved for ROUNDS rounds and medians reported; the server's own CPU
# time per request (from /proc/PID/stat) is printed too, because wrk shares
# the machine's cores with doorstep and anything else running.
#
# Knobs (environment): TOKENS=100000 SAMPLE=1000 CONNECTIONS=64 THREADS=2
# DURATION=10s WARMUP=3s ROUNDS=3 PORT=18089. Targets (not asserted): ratio >= 0.8,
# p99 < 5 ms at 64 connections, RSS < 20 MB under load.
set -euo pipefail

TOKENS=${TOKENS:-100000}
SAMPLE=${SAMPLE:-1000}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
PORT=${PORT:-18089}
ROUNDS=${ROUNDS:-3}

cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}

if ! command -v wrk >/dev/null 2>&1; then
    echo "wrk is missing; installing it from Debian's packages" >&2
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get install -y wrk >/dev/null 2>&1 || {
        $SUDO apt-get update -qq && $SUDO apt-get install -y wrk >/dev/null
    }
fi

echo "== building (release)"
cargo build --release --quiet --bin doorstep --example bench_seed

WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "== seeding $TOKENS tokens"
SECRET=$("$TARGET/release/examples/bench_seed" "$WORK/bench.db" "$TOKENS" "$WORK/tokens.txt" "$SAMPLE")

echo "== starting doorstep on 127.0.0.1:$PORT"
env -u DOORSTEP_CONFIG DOORSTEP_LOG=warn "$TARGET/release/doorstep" \
    --database "$WORK/bench.db" --listen "127.0.0.1:$PORT" serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
    sleep 0.1
done

rss() { awk -v k="$1:" '$1 == k { print $2 / 1024 }' "/proc/$SERVER_PID/status"; }

cat >"$WORK/health.lua" <<'LUA'
request = function()
  return wrk.format("GET", "/health", { ["Authorization"] = "Bearer none" }, nil)
end
LUA
cat >"$WORK/verify.lua" <<LUA
local tokens = {}
for line in io.lines("$WORK/tokens.txt") do tokens[#tokens + 1] = line end
request = function()
  local t = tokens[math.random(#tokens)]
  return wrk.format("GET", "/token", { ["Authorization"] = "Bearer " .. t }, nil)
end
LUA
cat >"$WORK/introspect.lua" <<LUA
local tokens = {}
for line in io.lines("$WORK/tokens.txt") do tokens[#tokens + 1] = line end
request = function()
  local t = tokens[math.random(#tokens)]
  return wrk.format("POST", "/introspect", {
    ["Authorization"] = "Bearer $SECRET",
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, "token=" .. t)
end
LUA

# Sanity: each endpoint answers 200 before we measure it.
ONE=$(head -n1 "$WORK/tokens.txt")
curl -fsS -o /dev/null "http://127.0.0.1:$PORT/health"
curl -fsS -o /dev/null -H "Authorization: Bearer $ONE" "http://127.0.0.1:$PORT/token"
curl -fsS -o /dev/null -H "Authorization: Bearer $SECRET" --data "token=$ONE" "http://127.0.0.1:$PORT/introspect"

IDLE_RSS=$(rss VmRSS)

to_ms() { awk '{ v = $1; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }; printf "%.3f", v }'; }

# The server's CPU time so far, in clock ticks: robust to other load on the
# machine, unlike requests/s.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat"; }
TICKS=$(getconf CLK_TCK)

# run NAME SCRIPT: appends "rps p50 p99 rss cpu_us_per_request" to $WORK/NAME
run() {
    local name=$1 script=$2 out
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s "$script" "http://127.0.0.1:$PORT" >/dev/null
    local secs=${DURATION%s}
    ( sleep "$(awk -v d="$secs" 'BEGIN { print d / 2 }')"; rss VmRSS >"$WORK/rss.$name" ) &
    local sampler=$!
    local before after
    before=$(cpu_ticks)
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$script" "http://127.0.0.1:$PORT")
    after=$(cpu_ticks)
    wait "$sampler"
    if echo "$out" | grep -q "Non-2xx"; then
        echo "$out" >&2
        echo "!! $name: some answers were not 200" >&2
        exit 1
    fi
    local rps p50 p99 reqs
    rps=$(echo "$out" | awk '/^Requests\/sec:/ { print $2 }')
    p50=$(echo "$out" | awk '$1 == "50%" { print $2 }' | to_ms)
    p99=$(echo "$out" | awk '$1 == "99%" { print $2 }' | to_ms)
    reqs=$(echo "$out" | awk '/requests in/ { print $1 }')
    echo "$rps $p50 $p99 $(cat "$WORK/rss.$name") $(awk -v b="$before" -v a="$after" -v n="$reqs" -v t="$TICKS" 'BEGIN { printf "%.1f", (a - b) / t * 1e6 / n }')" >>"$WORK/$name"
}

# median of column COL of file NAME
median() { awk -v c="$2" '{ print $c }' "$WORK/$1" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "== wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $ROUNDS round(s) interleaved, ${WARMUP} warm-up each"
for round in $(seq 1 "$ROUNDS"); do
    run health "$WORK/health.lua"
    run verify "$WORK/verify.lua"
    run introspect "$WORK/introspect.lua"
    echo "   round $round done"
done

HWM=$(rss VmHWM)
echo
echo "medians over $ROUNDS round(s):"
printf '%-22s %12s %9s %9s %14s %14s\n' endpoint "requests/s" "p50 ms" "p99 ms" "RSS MB (load)" "server CPU/req"
row() {
    printf '%-22s %12s %9s %9s %14.1f %11s us\n' "$2" "$(median "$1" 1)" "$(median "$1" 2)" "$(median "$1" 3)" "$(median "$1" 4)" "$(median "$1" 5)"
}
row health "GET /health"
row verify "GET /token (legacy)"
row introspect "POST /introspect"
echo
awk -v v="$(median verify 1)" -v i="$(median introspect 1)" -v h="$(median health 1)" \
    -v cv="$(median verify 5)" -v ci="$(median introspect 5)" -v ch="$(median health 5)" 'BEGIN {
    printf "ratio legacy GET / health:   %.2f   (by server CPU per request: %.2f)\n", v / h, ch / cv
    printf "ratio introspect / health:   %.2f   (by server CPU per request: %.2f)\n", i / h, ch / ci
}'
printf 'server RSS idle:             %.1f MB\n' "$IDLE_RSS"
printf 'server RSS peak (VmHWM):     %.1f MB\n' "$HWM"
echo "($TOKENS tokens in the database, $SAMPLE of them used, $(nproc) CPUs shared by wrk and doorstep)"
