#!/usr/bin/env python3
"""Small-job latency through a node: submit -> completed (proven, verified, attested).

    benches/load/latency.py [JOBS] [LOG_STEPS]

Starts `obelysk serve` (OBELYSK, default target/release/obelysk) on a throwaway data dir,
uploads the fibonacci plugin (target/plugins/fibonacci.wasm, from `make plugins`), picks the
input whose run is closest to 2^LOG_STEPS VM steps (default 10) with POST /jobs/estimate,
then submits JOBS jobs (default 100) one at a time and polls each until it is completed. Prints
p50/p90/p99/max of the client-side wall time and of the node's own prove_ms.
"""
import json, os, re, subprocess, sys, tempfile, time, urllib.request

jobs = int(sys.argv[1]) if len(sys.argv) > 1 else 100
log_steps = int(sys.argv[2]) if len(sys.argv) > 2 else 10
target = os.environ.get("CARGO_TARGET_DIR", "target")
obelysk = os.environ.get("OBELYSK", f"{target}/release/obelysk")
module = open(f"{target}/plugins/fibonacci.wasm", "rb").read()


def call(url, body=None, content_type="application/json"):
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"content-type": content_type})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


with tempfile.TemporaryDirectory() as data:
    env = dict(os.environ, OBELYSK_LOG="warn")
    node = subprocess.Popen([obelysk, "serve", "--port", "0", "--data-dir", data],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    try:
        url = None
        while url is None:
            m = re.match(r"listening on (\S+)", node.stdout.readline())
            url = m.group(1) if m else None
        plugin = call(f"{url}/plugins", module, "application/wasm")["id"]
        steps = lambda n: call(f"{url}/jobs/estimate", {"plugin": plugin, "input": [n]})["steps"]
        per = (steps(101) - steps(1)) / 100
        n = max(1, round((2**log_steps - steps(1)) / per) + 1)
        print(f"node {url}: fibonacci({n}) = {steps(n)} steps, {jobs} jobs one at a time")
        wall, prove = [], []
        for _ in range(jobs):
            started = time.monotonic()
            job = call(f"{url}/jobs", {"plugin": plugin, "input": [n]})
            while job["status"] not in ("completed", "failed"):
                time.sleep(0.002)
                job = call(f"{url}/jobs/{job['id']}")
            assert job["status"] == "completed", job
            wall.append((time.monotonic() - started) * 1e3)
            prove.append(call(f"{url}/jobs/{job['id']}/proof")["prove_ms"])
        for name, values in (("submit -> completed", wall), ("prove_ms", prove)):
            print(f"{name:>20}: p50 {percentile(values, 50):.0f} ms, p90 {percentile(values, 90):.0f} ms,"
                  f" p99 {percentile(values, 99):.0f} ms, max {max(values):.0f} ms")
    finally:
        node.terminate()
        node.wait()
