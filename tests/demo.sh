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

# Every proof is saved in the temp dir (`submit --wait` saves `<job id>.proof` in the working
# directory otherwise).
submit() {
    local name=$1
    shift
    "$OBELYSK" submit "$PLUGINS_DIR/$name.wasm" --node "$url" --wait -o "$data_dir/$name.proof" "$@"
}

fib="$PLUGINS_DIR/fibonacci.wasm"
proof="$data_dir/fib.proof"
echo "== fib(10000): upload, execute, prove, verify, attest (the fibonacci plugin, built with the SDK)"
"$OBELYSK" submit "$fib" --input 10000 --node "$url" --wait -o "$proof"

echo "== obelysk verify: the downloaded proof, checked by a separate process without the node"
"$OBELYSK" verify "$fib" "$proof"

echo "== sum-array: a plugin that keeps its data in linear memory, proven the same way"
submit sum-array --input 3,1,4,1,5,9,2,6

echo "== sha256 and collatz: u64 arithmetic (i64, two slots per value), proven the same way"
submit sha256 --input-text "hello obelysk"
submit collatz --input 27

echo "== matmul: a typed postcard payload (two 2×2 matrices, [[1,2],[3,4]] squared)"
submit matmul --input 14,0x01040202,0x02040302,0x02010402,0x0403

echo "== crates users bring: keccak256 (sha3), json-order (serde-json-core), merkle-proof (sha2)"
submit keccak256 --input-text "hello obelysk"
submit json-order --input-text \
    '{"id": 42, "buyer": "alice", "paid": true, "items": [{"sku": 7, "qty": 2, "price": 1250}]}'
# Leaf "a" of the two-leaf RFC 6962 tree over "a", "b": postcard (leaf, index 0, [H(0x00‖"b")],
# root b137985f…); the first output word is 1: the proof checks.
submit merkle-proof --input \
    68,0x1006101,0x6135eb57,0x4ef3475d,0xcdca14c7,0x6074fdf5,0x108e5e8a,0xbe82427,0xc087b224,0x316a7bc2,0x5f9837b1,0x60fb84f4,0x731b90d,0x65037bc7,0xf5780dc8,0xd0de29b4,0x1d3697fd,0xeb997907

echo "== mlp: an int8 784-32-10 network on a 28×28 image (a '7' in ASCII art: '#' is 35, the background a space, 32)"
seven=$(tr -d '\n' <<'ART' | tr . ' '
............................
............................
............................
............................
............................
......################......
......################......
......################......
...................###......
...................###......
..................###.......
..................###.......
.................###........
................###.........
................###.........
...............###..........
..............###...........
..............###...........
.............###............
.............###............
............###.............
...........###..............
...........###..............
..........###...............
............................
............................
............................
............................
ART
)
submit mlp --input-text "$seven"

if command -v curl >/dev/null; then
    echo "== GET /health"
    curl -fsS "$url/health"
    echo
    echo "== GET /stats/throughput (the status page's chart at $url/; proofs verify in the browser at $url/verify)"
    curl -fsS "$url/stats/throughput?minutes=5"
    echo
fi
echo "== stopping the node"
