#!/usr/bin/env bash
# Job submissions per second against a running node on loopback, with wrk (Debian package).
#   [STORE=postgres] benches/load/run.sh [SECONDS] [CONNECTIONS]
# Starts a node with a throwaway data dir (release build), uploads fibonacci, runs wrk against
# POST /jobs for SECONDS (default 10) and prints wrk's report plus how many jobs completed.
# STORE=postgres: the node's store is a throwaway PostgreSQL server (Debian's package, durable
# commits as in production) instead of SQLite.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-10}
conns=${2:-16}
command -v wrk >/dev/null || { echo "install wrk first: apt-get install wrk" >&2; exit 1; }
target=${CARGO_TARGET_DIR:-target}
cargo build --release -j2 -p obelysk-node >/dev/null
obelysk=$target/release/obelysk
$obelysk build plugins/fibonacci -o "$target/plugins/fibonacci.wasm" 2>/dev/null >/dev/null

data=$(mktemp -d -t obelysk-load-XXXXXX)
node=
pg_stop=true
trap 'kill $node 2>/dev/null; wait $node 2>/dev/null; $pg_stop; rm -rf "$data"' EXIT
if [ "${STORE:-sqlite}" = postgres ]; then
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    as_pg=()
    if [ "$(id -u)" = 0 ]; then chown postgres: "$data"; as_pg=(runuser -u postgres --); fi
    "${as_pg[@]}" "$bin/initdb" -D "$data/pg" -U obelysk --auth=trust -E UTF8 >/dev/null
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "${as_pg[@]}" "$bin/pg_ctl" -D "$data/pg" -l "$data/pg.log" -w \
        -o "-p $port -h 127.0.0.1 -k $data -c max_connections=200" start >/dev/null
    pg_stop="${as_pg[*]} $bin/pg_ctl -D $data/pg -m fast stop"
    export OBELYSK_STORE_URL="postgres://obelysk@127.0.0.1:$port/postgres"
    echo "store: PostgreSQL on port $port"
fi
OBELYSK_LIMITS_QUEUE_CAPACITY=10000000 OBELYSK_LOG=warn \
    "$obelysk" serve --port 0 --data-dir "$data" > "$data/stdout" 2> "$data/node.log" &
node=$!
for _ in $(seq 100); do grep -q "listening on" "$data/stdout" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$data/stdout")
plugin=$(curl -fsS -H 'content-type: application/wasm' --data-binary @"$target/plugins/fibonacci.wasm" "$url/plugins" \
    | sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p')
echo "node $url, plugin $plugin, $secs s, $conns connections"
PLUGIN=$plugin wrk --latency -t2 -c"$conns" -d"${secs}s" -s benches/load/submit.lua "$url" | tee "$data/wrk"
# A refused request is not a submission: a run with any is not a measurement.
if grep -q "Non-2xx" "$data/wrk"; then
    echo "wrk saw non-2xx answers: the node refused submissions; not a measurement" >&2
    exit 1
fi
sleep 2
echo "completed jobs: $(curl -fsS "$url/metrics" | sed -n 's/^obelysk_jobs_finished_total{outcome="completed"} //p')"
