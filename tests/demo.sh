#!/usr/bin/env bash
# `make demo`: an embedded node on a free port (SQLite in a temp dir); a module uploaded,
# executed, proven, verified and attested; the proof downloaded and verified again by a separate
# `obelysk verify`; a memory-using plugin proven; one more run only. Needs $OBELYSK and $PLUGINS_DIR (set by make).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
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

fib="$PLUGINS_DIR/fibonacci.wasm"
proof="$data_dir/fib.proof"
echo "== fib(10000): upload, execute, prove, verify, attest (the fibonacci plugin, built with the SDK)"
"$OBELYSK" submit "$fib" --input 10000 --node "$url" --wait -o "$proof"

echo "== obelysk verify: the downloaded proof, checked by a separate process without the node"
"$OBELYSK" verify "$fib" "$proof"

echo "== sum-array: a plugin that keeps its data in linear memory, proven the same way"
"$OBELYSK" submit "$PLUGINS_DIR/sum-array.wasm" --input 3,1,4,1,5,9,2,6 --node "$url" --wait

echo "== sha256 and collatz: u64 arithmetic (i64, two slots per value), proven the same way"
"$OBELYSK" submit "$PLUGINS_DIR/sha256.wasm" --input-text "hello obelysk" --node "$url" --wait
"$OBELYSK" submit "$PLUGINS_DIR/collatz.wasm" --input 27 --node "$url" --wait

if command -v curl >/dev/null; then
    echo "== GET /health"
    curl -fsS "$url/health"
    echo
fi
echo "== stopping the node"
