#!/usr/bin/env bash
# Benchmarks the gateway against its peers in one run and writes
# bench/RESULTS.md: the reference design (bench/baseline, gorilla with two
# goroutines per connection) and gws (bench/gwsserver, github.com/lxzan/gws
# in its default server mode), the strongest peer measured so far.
#
#   bench/run.sh              # 3 rounds of every scenario (about 30 minutes)
#   ROUNDS=1 bench/run.sh     # a quicker look
#   SCENARIOS="idle echo64" SERVERS="gateway gws" bench/run.sh
#   MODE=manycore bench/run.sh   # the many-core set (echo c=1,000 and 10,000, rate, fanout, idle)
#   BIN=/path/to/prebuilt bench/run.sh   # static binaries from `make bench-binaries`, no Go needed
#
# Each case starts each server fresh, runs the load tool against it, and
# stops it by PID; the servers alternate, round after round, so that drift
# of this shared machine hits all alike. CPUs are split into disjoint sets
# with taskset: on 2 to 3 CPUs the server gets CPU 0 and the load tool the
# rest; on 4 or more the server gets the lower half (SERVER_CPUS overrides)
# and the load tool the upper half. The load tool splits itself over worker
# processes past the per-process open-file limit.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
MODE=${MODE:-default}
case $MODE in
default) default_scenarios="idle connect echo64 echo1k rate fanout slow0 slow200" ;;
manycore) default_scenarios="idle echo64c1k echo64c10k rate fanout" ;;
*) echo "MODE=$MODE: want default or manycore" >&2; exit 2 ;;
esac
SCENARIOS=${SCENARIOS:-$default_scenarios}
SERVERS=${SERVERS:-"gateway baseline gws"}
OUT=${OUT:-bench/out}
ADDR=127.0.0.1:18080
METRICS=127.0.0.1:19080
mkdir -p "$OUT"
results=$OUT/results.jsonl
commands=$OUT/commands.txt
: >"$results"
: >"$commands"
: >"$OUT/human.txt"

if [ -n "${BIN:-}" ]; then
  echo "== using prebuilt binaries from $BIN" >&2
  for b in gateway baseline gwsserver bench; do cp "$BIN/$b" "$OUT/$b"; done
else
  echo "== building" >&2
  go build -o "$OUT/gateway" ./cmd/gateway
  go build -o "$OUT/baseline" ./bench/baseline
  go build -o "$OUT/gwsserver" ./bench/gwsserver
  go build -o "$OUT/bench" ./bench
fi

cpus=$(nproc)
if [ "$cpus" -ge 2 ] && command -v taskset >/dev/null; then
  if [ "$cpus" -ge 4 ]; then
    half=$((cpus / 2))
    server_cpus=${SERVER_CPUS:-0-$((half - 1))}
    client_cpus=${CLIENT_CPUS:-$half-$((cpus - 1))}
  else
    server_cpus=${SERVER_CPUS:-0}
    client_cpus=${CLIENT_CPUS:-1-$((cpus - 1))}
  fi
  pin_server=(taskset -c "$server_cpus")
  pin_client=(taskset -c "$client_cpus")
else
  pin_server=()
  pin_client=()
fi
echo "# $cpus CPUs, $(uname -sr); mode $MODE; server pinned: ${pin_server[*]:-no}; load tool pinned: ${pin_client[*]:-no}" >>"$commands"

server_pid=
start_server() { # name mode
  local name=$1 mode=$2
  case $name in
  gateway)
    local handler=echo
    [ "$mode" = broadcast ] && handler=broadcast
    "${pin_server[@]}" "$OUT/gateway" -listen "$ADDR" -admin.listen "$METRICS" -handler "$handler" \
      -log.level warn >"$OUT/$name.log" 2>&1 &
    ;;
  baseline)
    "${pin_server[@]}" "$OUT/baseline" -listen "$ADDR" -metrics "$METRICS" -mode "$mode" >"$OUT/$name.log" 2>&1 &
    ;;
  gws)
    "${pin_server[@]}" "$OUT/gwsserver" -listen "$ADDR" -metrics "$METRICS" -mode "$mode" >"$OUT/$name.log" 2>&1 &
    ;;
  *) echo "unknown server $name" >&2; exit 2 ;;
  esac
  server_pid=$!
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/${ADDR%:*}/${ADDR#*:}") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "$name did not start; see $OUT/$name.log" >&2
  exit 1
}

stop_server() {
  kill -TERM "$server_pid" 2>/dev/null || true
  for _ in $(seq 150); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  sleep 1 # let the kernel release the sockets
}

# run_case name mode bench-arguments...
run_case() {
  local name=$1 mode=$2
  shift 2
  echo "bench $* -addr $ADDR -pid \$SERVER_PID -metrics http://$METRICS/metrics -label <server> -json   # $name, server mode $mode" >>"$commands"
  for round in $(seq "$ROUNDS"); do
    for server in $SERVERS; do
      echo "== $name: round $round/$ROUNDS, $server" >&2
      start_server "$server" "$mode"
      "${pin_client[@]}" "$OUT/bench" "$@" -addr "$ADDR" -pid "$server_pid" -metrics "http://$METRICS/metrics" \
        -label "$server" -json | tee -a "$OUT/human.txt" | grep '^{' >>"$results" || echo "bench failed: $name $server" >&2
      stop_server
    done
  done
}

for s in $SCENARIOS; do
  case $s in
  idle) run_case idle echo idle -n 10000 ;;
  connect) run_case connect echo connect -n 10000 -dial-rate 20000 ;;
  echo64) run_case echo64 echo echo -c 100 -size 64 -duration 10s ;;
  echo1k) run_case echo1k echo echo -c 1000 -size 1024 -duration 10s ;;
  echo64c1k) run_case echo64c1k echo echo -c 1000 -size 64 -duration 8s ;;
  echo64c10k) run_case echo64c10k echo echo -c 10000 -size 64 -duration 8s ;;
  rate) run_case rate echo rate -c 10000 -rate 10000 -duration 10s ;;
  fanout) run_case fanout broadcast fanout -n 10000 -pubs 1 -interval 10ms -size 128 -duration 10s ;;
  slow0) run_case slow0 echo slow -c 100 -slow 0 -duration 10s ;;
  slow200) run_case slow200 echo slow -c 100 -slow 200 -duration 10s ;;
  *) echo "unknown scenario $s" >&2; exit 2 ;;
  esac
done

"$OUT/bench" report -in "$results" -commands "$commands" -notes bench/notes.md -out bench/RESULTS.md
echo "== wrote bench/RESULTS.md" >&2
