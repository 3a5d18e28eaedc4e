#!/usr/bin/env bash
# Token verification and memory benchmark (README "Benchmark").
#
#   bench/verify.sh                    # this tree's release build
#   BEFORE=path/to/doorstep bench/verify.sh
#                                      # and another build, interleaved
#
# Builds a release doorstep (unless BIN is given), creates one database
# with TOKENS valid tokens, one grant each (examples/bench_seed.rs), and for
# each binary under test (BIN, and BEFORE if set, on a copy of it each):
#   - cold start: exec to the first answer of GET /health, STARTS times;
#   - resident memory idle after start-up and one password sign-in, and
#     after SIGNINS sign-ins;
#   - wrk at GET /health (the HTTP floor), the legacy GET /token and
#     POST /introspect, each with HOT tokens drawn at random, then each
#     verification with all TOKENS drawn at random; ROUNDS rounds, the
#     binaries and endpoints interleaved so that the machine's other load
#     falls on all of them alike, medians reported;
#   - resident memory at the end of the random-token runs, and its peak.
# The server's CPU time per request (from /proc/PID/stat) is printed beside
# requests/s: wrk shares the machine's cores with doorstep and anything
# else running, and CPU time is the steadier figure of the two.
#
# Knobs (environment): TOKENS=100000 HOT=1000 CONNECTIONS=64 THREADS=2
# DURATION=10s WARMUP=3s ROUNDS=3 STARTS=20 SIGNINS=100 PORT=18089
# BEFORE=; BIN and SEED name prebuilt binaries of doorstep and
# examples/bench_seed instead of building them. Targets (issue "lean"; printed, not
# asserted): idle RSS <= 8 MB; RSS <= 16 MB after the random-token runs;
# verification CPU/request <= 1.1 x /health's over HOT tokens;
# verification >= 0.6 x /health's requests/s over TOKENS tokens; RSS after
# SIGNINS sign-ins within 4 MB of RSS after one; cold start under 10 ms.
set -euo pipefail

TOKENS=${TOKENS:-100000}
HOT=${HOT:-1000}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
ROUNDS=${ROUNDS:-3}
STARTS=${STARTS:-20}
SIGNINS=${SIGNINS:-100}
PORT=${PORT:-18089}
BEFORE=${BEFORE:-}

cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
PASSWORD="the benchmark's long password"

if ! command -v wrk >/dev/null 2>&1; then
    echo "wrk is missing; installing it from Debian's packages" >&2
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get install -y wrk >/dev/null 2>&1 || {
        $SUDO apt-get update -qq && $SUDO apt-get install -y wrk >/dev/null
    }
fi

# Apart: built together, the example's dev-dependencies would lend their
# features (all of tokio's, for one) to the binary under test.
if [ -z "${BIN:-}" ]; then
    echo "== building doorstep (release)"
    cargo build --release --quiet --bin doorstep
fi
BIN=${BIN:-$TARGET/release/doorstep}
if [ -z "${SEED:-}" ]; then
    echo "== building examples/bench_seed (release)"
    cargo build --release --quiet --example bench_seed
fi
SEED=${SEED:-$TARGET/release/examples/bench_seed}

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "== seeding $TOKENS tokens"
SECRET=$("$SEED" "$WORK/seed.db" "$TOKENS" "$WORK/all.txt" "$TOKENS")
shuf -n "$HOT" "$WORK/all.txt" >"$WORK/hot.txt"

# The binaries under test, by name: "now" and, if given, "before".
NAMES=(now)
declare -A BINS=([now]=$BIN)
if [ -n "$BEFORE" ]; then
    NAMES=(before now)
    BINS[before]=$BEFORE
fi
declare -A PORTS SERVER
i=0
for name in "${NAMES[@]}"; do
    cp "$WORK/seed.db" "$WORK/$name.db"
    printf '%s\n' "$PASSWORD" | "${BINS[$name]}" --database "$WORK/$name.db" password --stdin >/dev/null
    PORTS[$name]=$((PORT + i))
    i=$((i + 1))
done

export DOORSTEP_LOG=warn
unset DOORSTEP_CONFIG
# `--issuer`: the address the seeded grants were issued under
# (examples/bench_seed.rs: http://127.0.0.1:8080/, also their `me`). The
# servers listen on other ports; with their default issuer, each port's own,
# the database's live grants would name another profile URL, and serve
# (rightly) refuses to record its identity and says so at every start,
# after a scan of every grant (store::identity). The issuer is only the
# public address: the benchmark's requests go to the listening port.
serve_args() {
    echo --database "$WORK/$1.db" --listen "127.0.0.1:${PORTS[$1]}" \
        --issuer http://127.0.0.1:8080/ serve
}

echo "== cold start: exec to the first /health answer, $STARTS starts each, interleaved"
for _ in $(seq 1 "$STARTS"); do
    for name in "${NAMES[@]}"; do
        # shellcheck disable=SC2046
        python3 bench/probe.py cold-start 1 "${PORTS[$name]}" "${BINS[$name]}" $(serve_args "$name") >>"$WORK/start.$name"
    done
done

status_mb() { awk -v k="$2:" '$1 == k { printf "%.1f\n", $2 / 1024 }' "/proc/$1/status"; }

echo "== starting the servers; $SIGNINS password sign-ins each"
for name in "${NAMES[@]}"; do
    # shellcheck disable=SC2046
    "${BINS[$name]}" $(serve_args "$name") >"$WORK/server.$name.log" 2>&1 &
    SERVER[$name]=$!
    PIDS+=("$!")
    for _ in $(seq 1 100); do
        if curl -fsS -o /dev/null "http://127.0.0.1:${PORTS[$name]}/health" 2>/dev/null; then break; fi
        sleep 0.05
    done
    read -r one many < <(python3 bench/probe.py sign-in "http://127.0.0.1:${PORTS[$name]}/" "$PASSWORD" "$SIGNINS" "${SERVER[$name]}")
    echo "$one $many" >"$WORK/signins.$name"
done

# Requests that pick one of the tokens in FILE at random.
lua() {
    local kind=$1 file=$2
    echo "local tokens = {}"
    echo "for line in io.lines(\"$file\") do tokens[#tokens + 1] = line end"
    if [ "$kind" = legacy ]; then
        cat <<'LUA'
request = function()
  return wrk.format("GET", "/token", { ["Authorization"] = "Bearer " .. tokens[math.random(#tokens)] }, nil)
end
LUA
    else
        cat <<LUA
request = function()
  return wrk.format("POST", "/introspect", {
    ["Authorization"] = "Bearer $SECRET",
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, "token=" .. tokens[math.random(#tokens)])
end
LUA
    fi
}
cat >"$WORK/health.lua" <<'LUA'
request = function()
  return wrk.format("GET", "/health", { ["Authorization"] = "Bearer none" }, nil)
end
LUA
for set in hot all; do
    lua legacy "$WORK/$set.txt" >"$WORK/legacy-$set.lua"
    lua introspect "$WORK/$set.txt" >"$WORK/introspect-$set.lua"
done

# Sanity: every endpoint answers 200 before it is measured.
ONE=$(head -n1 "$WORK/hot.txt")
for name in "${NAMES[@]}"; do
    base="http://127.0.0.1:${PORTS[$name]}"
    curl -fsS -o /dev/null -H "Authorization: Bearer $ONE" "$base/token"
    curl -fsS -o /dev/null -H "Authorization: Bearer $SECRET" --data "token=$ONE" "$base/introspect"
done

to_ms() { awk '{ v = $1; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }; printf "%.3f", v }'; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
TICKS=$(getconf CLK_TCK)

# run NAME CASE: appends "rps p50 p99 cpu_us_per_request" to $WORK/NAME.CASE
run() {
    local name=$1 case=$2 pid=${SERVER[$1]} url="http://127.0.0.1:${PORTS[$1]}" out
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s "$WORK/$case.lua" "$url" >/dev/null
    local before after sampler
    # Resident memory every 0.2 s during the run, for its peak.
    ( while kill -0 "$pid" 2>/dev/null; do status_mb "$pid" VmRSS >>"$WORK/rss-during.$name.$case"; sleep 0.2; done ) &
    sampler=$!
    before=$(cpu_ticks "$pid")
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$WORK/$case.lua" "$url")
    after=$(cpu_ticks "$pid")
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    if echo "$out" | grep -q "Non-2xx"; then
        echo "$out" >&2
        echo "!! $name $case: some answers were not 200" >&2
        exit 1
    fi
    local rps p50 p99 reqs
    rps=$(echo "$out" | awk '/^Requests\/sec:/ { print $2 }')
    p50=$(echo "$out" | awk '$1 == "50%" { print $2 }' | to_ms)
    p99=$(echo "$out" | awk '$1 == "99%" { print $2 }' | to_ms)
    reqs=$(echo "$out" | awk '/requests in/ { print $1 }')
    echo "$rps $p50 $p99 $(awk -v b="$before" -v a="$after" -v n="$reqs" -v t="$TICKS" 'BEGIN { printf "%.1f", (a - b) / t * 1e6 / n }')" >>"$WORK/$name.$case"
}

CASES=(health legacy-hot introspect-hot legacy-all introspect-all)
echo "== wrk -t$THREADS -c$CONNECTIONS -d$DURATION ($WARMUP warm-up each), $ROUNDS round(s), interleaved"
for round in $(seq 1 "$ROUNDS"); do
    for case in "${CASES[@]}"; do
        for name in "${NAMES[@]}"; do
            run "$name" "$case"
            if [ "$case" = introspect-all ]; then
                status_mb "${SERVER[$name]}" VmRSS >>"$WORK/rss-all.$name"
            fi
        done
    done
    echo "   round $round done"
done

# median FILE [COL]
median() { awk -v c="${2:-1}" '{ print $c }' "$1" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

for name in "${NAMES[@]}"; do
    pid=${SERVER[$name]}
    W=$WORK/$name
    echo
    echo "### $name: ${BINS[$name]} ($(stat -c %s "${BINS[$name]}" | awk '{ printf "%.1f MB", $1 / 1e6 }'))"
    printf '%-34s %11s %8s %8s %13s\n' case "requests/s" "p50 ms" "p99 ms" "CPU/request"
    row() {
        printf '%-34s %11s %8s %8s %10s us\n' "$2" "$(median "$W.$1" 1)" "$(median "$W.$1" 2)" "$(median "$W.$1" 3)" "$(median "$W.$1" 4)"
    }
    row health "GET /health"
    row legacy-hot "GET /token, $HOT hot tokens"
    row introspect-hot "POST /introspect, $HOT hot tokens"
    row legacy-all "GET /token, $TOKENS tokens"
    row introspect-all "POST /introspect, $TOKENS tokens"
    h=$(median "$W.health" 1)
    hc=$(median "$W.health" 4)
    for case in legacy-hot introspect-hot legacy-all introspect-all; do
        awk -v c="$case" -v r="$(median "$W.$case" 1)" -v u="$(median "$W.$case" 4)" -v h="$h" -v hc="$hc" \
            'BEGIN { printf "  %-16s requests/s %.2f x /health, CPU/request %.2f x /health", c, r / h, u / hc }'
        # Each round's ratio to /health's run of the same round, a minute
        # apart at most: the machine's other load drifts less within a round
        # than across the whole run.
        paste -d' ' "$W.$case" "$W.health" | awk '
            { rr[NR] = $1 / $5; cr[NR] = $4 / $8 }
            END {
                printf "; by round:"
                for (i = 1; i <= NR; i++) printf " %.2f/%.2f", rr[i], cr[i]
                printf " (requests/s / CPU)\n"
            }'
    done
    read -r one many <"$WORK/signins.$name"
    read -r smin smed sp90 < <(sort -g "$WORK/start.$name" | awk '{ v[NR] = $1 } END { p = int(NR * 0.9); if (p < 1) p = 1; print v[1], v[int((NR + 1) / 2)], v[p] }')
    awk -v one="$one" -v many="$many" -v n="$SIGNINS" 'BEGIN {
        printf "  RSS idle after one sign-in: %.1f MB; after %d: %.1f MB (%+.1f MB)\n", one / 1024, n, many / 1024, (many - one) / 1024 }'
    echo "  RSS at the end of the $TOKENS-token runs: $(median "$WORK/rss-all.$name") MB (median of rounds); highest seen during them: $(cat "$WORK"/rss-during."$name".*-all | sort -g | tail -n1) MB"
    echo "  peak of the whole run (VmHWM, which includes argon2's 19 MiB block during a sign-in): $(status_mb "$pid" VmHWM) MB"
    echo "  cold start (exec to first /health answer): min $smin ms, median $smed ms, p90 $sp90 ms"
    echo "  threads: $(awk '$1 == "Threads:" { print $2 }' "/proc/$pid/status")"
done
echo
echo "($TOKENS tokens in the database, $HOT hot; $(nproc) CPUs shared by wrk and doorstep; $(uname -m))"
