#!/usr/bin/env bash
# Three gateways on one machine, as a cluster through NATS.
#
#   deploy/cluster/run.sh            nats-server (from PATH or $NATS_SERVER) + three gateways
#   EMBEDDED=1 deploy/cluster/run.sh three gateways whose embedded NATS servers form a cluster
#
# The gateways listen on 127.0.0.1:8081-8083 (admin 9091-9093); put nginx in
# front with nginx-upstream.conf. Ctrl-C stops everything. State (JetStream
# files, logs) goes to ./data under this directory.
set -euo pipefail
cd "$(dirname "$0")"
gateway=${GATEWAY:-../../gateway}
[ -x "$gateway" ] || (cd ../.. && go build -o gateway ./cmd/gateway)
mkdir -p data
pids=()
stop() { kill -TERM "${pids[@]}" 2>/dev/null; wait; }
trap stop EXIT TERM
# Ctrl-C reaches every process of the terminal's foreground group, the
# gateways included, and each shuts down gracefully on it: only wait for
# them (a second signal from here would make them exit at once).
trap wait INT
: "${GATEWAY_API_KEY:=change-me}"; export GATEWAY_API_KEY

if [ "${EMBEDDED:-0}" = 1 ]; then
  for i in 1 2 3; do
    routes=""
    for j in 1 2 3; do [ "$j" = "$i" ] || routes="$routes${routes:+,}nats-route://127.0.0.1:622$j"; done
    "$gateway" -config node$i.yaml -nats.url "" -nats.embedded -nats.replicas 3 \
      -nats.server.port 422$i -nats.server.store-dir "data/nats-$i" \
      -nats.cluster.name gateway -nats.cluster.host 127.0.0.1 -nats.cluster.port 622$i \
      -nats.cluster.routes "$routes" >"data/node$i.log" 2>&1 &
    pids+=($!)
  done
else
  "${NATS_SERVER:-nats-server}" -c nats.conf >data/nats.log 2>&1 &
  pids+=($!)
  sleep 0.5
  if ! kill -0 "${pids[0]}" 2>/dev/null; then
    echo "nats-server exited at start (data/nats.log):" >&2
    tail -5 data/nats.log >&2
    exit 1
  fi
  for i in 1 2 3; do
    "$gateway" -config node$i.yaml >"data/node$i.log" 2>&1 &
    pids+=($!)
  done
fi
echo "gateways on 127.0.0.1:8081-8083 (admin 9091-9093), logs in $(pwd)/data; Ctrl-C stops"
wait
