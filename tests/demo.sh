#!/usr/bin/env bash
# `make demo`: an embedded node on a free port (SQLite in a temp dir), two plugins uploaded,
# jobs run, results printed, node stopped. Needs $OBELYSK and $PLUGINS_DIR (set by make).
set -euo pipefail

data_dir=$(mktemp -d -t obelysk-demo-XXXXXX)
log="$data_dir/node.log"
node_pid=""
cleanup() {
    if [ -n "$node_pid" ] && kill -0 "$node_pid" 2>/dev/null; then
        kill -TERM "$node_pid" 2>/dev/null || true
        wait "$node_pid" 2>/dev/null || true
    fi
    rm -rf "$data_dir"
}
trap cleanup EXIT

coproc NODE { exec "$OBELYSK" serve --port 0 --data-dir "$data_dir" 2>"$log"; }
node_pid=$NODE_PID
url=""
while IFS= read -r -t 60 line <&"${NODE[0]}"; do
    case "$line" in "listening on "*) url=${line#listening on }; break ;; esac
done
if [ -z "$url" ]; then
    echo "demo: the node did not start; its log:" >&2
    cat "$log" >&2
    exit 1
fi
echo "== node listening on $url (data in $data_dir)"

echo "== fibonacci(48): upload, submit, wait"
"$OBELYSK" submit "$PLUGINS_DIR/fibonacci.wasm" --input 48 --node "$url" --wait

echo "== sha256(\"hello obelysk\")"
"$OBELYSK" submit "$PLUGINS_DIR/sha256.wasm" --input-text "hello obelysk" --node "$url" --wait

if command -v curl >/dev/null; then
    echo "== GET /health"
    curl -fsS "$url/health"
    echo
fi
echo "== stopping the node"
