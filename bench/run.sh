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
#   SCENARIOS="chidle chfanout chmany" bench/run.sh   # the channel protocol against Centrifugo
#   SCENARIOS="clfanout clmany" bench/run.sh          # three nodes through NATS against one node
#
# The channel scenarios (chidle, chfanout, chmany: `bench channels`, the
# Centrifugo client protocol v2 and server API) run the servers in CH_SERVERS
# (default "gateway centrifugo") and write bench/RESULTS-channels.md; the raw
# WebSocket scenarios run SERVERS and write bench/RESULTS.md. Centrifugo is
# github.com/centrifugal/centrifugo/v6 at v6.9.1: CENTRIFUGO_BIN, else
# ~/.cache/gateway-tools/centrifugo, which is built with `go install` when
# missing. Both servers get the same generated configuration: an API key,
# any origin, anonymous connects, and a "chat" namespace where anonymous
# clients may subscribe and publish, with a history of 100 for 300 s (no
# presence or join/leave, which would make setting up 10,000 subscribers of
# one channel quadratic).
#
# The cluster scenarios (clfanout, clmany, clhistory) run the gateway set-ups
# in CL_SERVERS (default "gateway gateway-nats cluster3") with the same
# channel configuration and write bench/RESULTS-cluster.md: `gateway` is one
# node on its in-memory broker, `gateway-nats` one node through a nats-server,
# `cluster3` three nodes through that nats-server. Subscribers are spread
# round-robin over the nodes (-addr lists them), publications go through the
# first node's API, and CPU and memory are summed over every process of the
# set-up, nats-server included (-pid lists them). The nats-server is
# NATS_SERVER, else ~/.cache/gateway-tools/nats-server, which is built from
# the version go.mod pins when missing; it starts fresh (empty JetStream) for
# every case.
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
CH_SERVERS=${CH_SERVERS:-"gateway centrifugo"}
CL_SERVERS=${CL_SERVERS:-"gateway gateway-nats cluster3"}
API_KEY=bench-api-key
OUT=${OUT:-bench/out}
ADDR=127.0.0.1:18080
METRICS=127.0.0.1:19080
mkdir -p "$OUT"
raw_results=$OUT/results.jsonl
raw_commands=$OUT/commands.txt
ch_results=$OUT/results-channels.jsonl
ch_commands=$OUT/commands-channels.txt
cl_results=$OUT/results-cluster.jsonl
cl_commands=$OUT/commands-cluster.txt
: >"$cl_results"
: >"$cl_commands"
: >"$raw_results"
: >"$raw_commands"
: >"$ch_results"
: >"$ch_commands"
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
for f in "$raw_commands" "$ch_commands" "$cl_commands"; do
  echo "# $cpus CPUs, $(uname -sr); mode $MODE; server pinned: ${pin_server[*]:-no}; load tool pinned: ${pin_client[*]:-no}; load average $(cut -d' ' -f1-3 /proc/loadavg)" >>"$f"
done

case " $SCENARIOS " in
*" cl"*)
  if [[ " $CL_SERVERS " == *" -nats"* || " $CL_SERVERS " == *" cluster3 "* ]]; then
    cache=${XDG_CACHE_HOME:-$HOME/.cache}/gateway-tools
    NATS_SERVER=${NATS_SERVER:-$cache/nats-server}
    if [ ! -x "$NATS_SERVER" ]; then
      echo "== $NATS_SERVER missing: building github.com/nats-io/nats-server/v2 (the version go.mod pins) into $cache" >&2
      mkdir -p "$cache"
      go build -o "$cache/nats-server" github.com/nats-io/nats-server/v2
      NATS_SERVER=$cache/nats-server
    fi
    echo "== nats-server: $NATS_SERVER" >&2
  fi
  ;;
esac
case " $SCENARIOS " in
*" ch"* | *" cl"*)
  if [[ " $SCENARIOS " == *" ch"* && " $CH_SERVERS " == *" centrifugo "* ]]; then
    cache=${XDG_CACHE_HOME:-$HOME/.cache}/gateway-tools
    CENTRIFUGO_BIN=${CENTRIFUGO_BIN:-$cache/centrifugo}
    if [ ! -x "$CENTRIFUGO_BIN" ]; then
      echo "== $CENTRIFUGO_BIN missing: building github.com/centrifugal/centrifugo/v6@v6.9.1 into $cache" >&2
      mkdir -p "$cache"
      GOBIN=$cache go install github.com/centrifugal/centrifugo/v6@v6.9.1
      CENTRIFUGO_BIN=$cache/centrifugo
    fi
    echo "== centrifugo: $CENTRIFUGO_BIN" >&2
  fi
  # The same channel configuration for both servers. The WebSocket and the
  # server API listen where the raw scenarios' servers do: ADDR and METRICS
  # (the gateway's admin listener, Centrifugo's internal port).
  cat >"$OUT/centrifugo.json" <<EOF
{
  "http_server": {"address": "${ADDR%:*}", "port": ${ADDR#*:}, "internal_address": "${METRICS%:*}", "internal_port": "${METRICS#*:}"},
  "log": {"level": "warn"},
  "http_api": {"key": "$API_KEY"},
  "prometheus": {"enabled": true},
  "client": {"allowed_origins": ["*"], "allow_anonymous_connect_without_token": true},
  "channel": {"namespaces": [{"name": "chat",
    "allow_subscribe_for_client": true, "allow_subscribe_for_anonymous": true,
    "allow_publish_for_client": true, "allow_publish_for_anonymous": true,
    "history_size": 100, "history_ttl": "300s"}]},
  "usage_stats": {"disabled": true}
}
EOF
  cat >"$OUT/gateway-channels.yaml" <<EOF
log: {level: warn}
origins: {allowed: ["*"]}
channels:
  enabled: true
  path: /connection/websocket
  client: {allow_anonymous_connect_without_token: true}
  channel:
    namespaces:
      - name: chat
        allow_subscribe_for_client: true
        allow_subscribe_for_anonymous: true
        allow_publish_for_client: true
        allow_publish_for_anonymous: true
        history_size: 100
        history_ttl: 300s
api: {key: $API_KEY}
EOF
  ;;
esac

server_pid=
server_addr=$ADDR
NATS_ADDR=127.0.0.1:14222
start_nats() { # starts a fresh nats-server with JetStream; sets nats_pid
  rm -rf "$OUT/nats-store"
  "${pin_server[@]}" "$NATS_SERVER" -a "${NATS_ADDR%:*}" -p "${NATS_ADDR#*:}" -js -sd "$OUT/nats-store" \
    >"$OUT/nats-server.log" 2>&1 &
  nats_pid=$!
  wait_listening nats-server "$NATS_ADDR"
}
start_server() { # name mode
  local name=$1 mode=$2
  server_addr=$ADDR
  case $name in
  gateway-nats | cluster3)
    start_nats
    local nodes=1 pids=$nats_pid addrs=""
    [ "$name" = cluster3 ] && nodes=3
    for i in $(seq "$nodes"); do
      # Node 1 listens where the single servers do (its admin listener serves the API).
      local port=$((${ADDR#*:} + i - 1)) admin=$((${METRICS#*:} + i - 1))
      "${pin_server[@]}" "$OUT/gateway" -config "$OUT/gateway-channels.yaml" -listen "${ADDR%:*}:$port" \
        -admin.listen "${METRICS%:*}:$admin" -node-id "$i" -broker nats -nats.url "nats://$NATS_ADDR" \
        >"$OUT/$name-$i.log" 2>&1 &
      pids="$pids,$!"
      addrs="$addrs${addrs:+,}${ADDR%:*}:$port"
      wait_listening "$name-$i" "${ADDR%:*}:$port"
    done
    server_pid=$pids server_addr=$addrs
    return
    ;;
  gateway)
    if [ "$mode" = channels ]; then
      "${pin_server[@]}" "$OUT/gateway" -config "$OUT/gateway-channels.yaml" -listen "$ADDR" -admin.listen "$METRICS" \
        >"$OUT/$name.log" 2>&1 &
      server_pid=$!
      wait_listening "$name"
      return
    fi
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
  centrifugo)
    "${pin_server[@]}" "$CENTRIFUGO_BIN" -c "$OUT/centrifugo.json" >"$OUT/$name.log" 2>&1 &
    ;;
  *) echo "unknown server $name" >&2; exit 2 ;;
  esac
  server_pid=$!
  wait_listening "$name"
}

wait_listening() { # name [address]
  local a=${2:-$ADDR}
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/${a%:*}/${a#*:}") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "$1 did not start; see $OUT/$1.log" >&2
  exit 1
}

stop_server() { # every process of server_pid (a comma-separated list for a cluster)
  local pids
  IFS=, read -r -a pids <<<"$server_pid"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 150); do
    kill -0 "${pids[@]}" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  sleep 1 # let the kernel release the sockets
}

# run_case name mode bench-arguments...: the raw scenarios (SERVERS); the
# channel scenarios have mode "channels" (CH_SERVERS, their own results).
run_case() {
  local name=$1 mode=$2 servers=$SERVERS results=$raw_results commands=$raw_commands target="-addr $ADDR -pid \$SERVER_PID"
  shift 2
  if [ "$mode" = channels ]; then
    servers=$CH_SERVERS results=$ch_results commands=$ch_commands
  elif [ "$mode" = cluster ]; then
    servers=$CL_SERVERS results=$cl_results commands=$cl_commands mode=channels
    target="-addr <each node's address, comma-separated> -pid <each node's PID and nats-server's, comma-separated>"
  fi
  echo "bench $* $target -metrics http://$METRICS/metrics -label <server> -json   # $name, server mode $mode" >>"$commands"
  for round in $(seq "$ROUNDS"); do
    for server in $servers; do
      echo "== $name: round $round/$ROUNDS, $server" >&2
      start_server "$server" "$mode"
      "${pin_client[@]}" "$OUT/bench" "$@" -addr "$server_addr" -pid "$server_pid" -metrics "http://$METRICS/metrics" \
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
  chidle)
    for n in ${CHIDLE_N:-5000 10000}; do
      run_case "chidle n=$n" channels channels -n "$n" -channels 1000 -subs-per-client 1 -rate 0 -duration 0s
    done
    ;;
  chfanout) run_case chfanout channels channels -n "${CHFANOUT_N:-10000}" -channels 1 -subs-per-client 1 -rate 100 -size 128 \
    -duration 10s -api "$METRICS" -api-key "$API_KEY" -publish-from api ;;
  chmany) run_case chmany channels channels -n 10000 -channels 1000 -subs-per-client 1 -rate 1000 -size 128 -duration 10s \
    -api "$METRICS" -api-key "$API_KEY" -publish-from api ;;
  # Issue #11's cluster load: 10,000 subscribers, 100 publications/s through
  # the API, history on (size 100, 300 s: every publication is stored).
  # clfanout: 10 channels of 1,000 subscribers (100,000 deliveries/s; one
  # channel would ask 1M/s, more than this machine's load core reads);
  # clmany: 100 channels of 100 (10,000/s); clpub: the cost of a publication,
  # 1,000/s over 100 channels with one subscriber each.
  clfanout) run_case clfanout cluster channels -n 10000 -channels 10 -subs-per-client 1 -rate 100 -size 128 \
    -duration 10s -api "$METRICS" -api-key "$API_KEY" -publish-from api ;;
  clmany) run_case clmany cluster channels -n 10000 -channels 100 -subs-per-client 1 -rate 100 -size 128 -duration 10s \
    -api "$METRICS" -api-key "$API_KEY" -publish-from api ;;
  clpub) run_case clpub cluster channels -n 100 -channels 100 -subs-per-client 1 -rate 1000 -size 128 -duration 10s \
    -api "$METRICS" -api-key "$API_KEY" -publish-from api ;;
  *) echo "unknown scenario $s" >&2; exit 2 ;;
  esac
done

if [ -s "$raw_results" ]; then
  "$OUT/bench" report -in "$raw_results" -commands "$raw_commands" -notes bench/notes.md -out bench/RESULTS.md
  echo "== wrote bench/RESULTS.md" >&2
fi
if [ -s "$cl_results" ]; then
  "$OUT/bench" report -in "$cl_results" -commands "$cl_commands" -notes bench/notes-cluster.md -out bench/RESULTS-cluster.md
  echo "== wrote bench/RESULTS-cluster.md" >&2
fi
if [ -s "$ch_results" ]; then
  "$OUT/bench" report -in "$ch_results" -commands "$ch_commands" -notes bench/notes-channels.md -out bench/RESULTS-channels.md
  echo "== wrote bench/RESULTS-channels.md" >&2
fi
