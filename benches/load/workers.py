#!/usr/bin/env python3
"""Proven jobs per second with remote workers, each pinned to one core.

    benches/load/workers.py WORKERS [JOBS] [LOG_STEPS]

Starts a pure coordinator (`[prover] local = false`; OBELYSK, default target/release/obelysk)
on a throwaway data dir, then WORKERS `obelysk worker` processes, worker i pinned to core
i mod nproc with `taskset` (the coordinator is not pinned: it runs the sandbox and verifies
every uploaded proof). Uploads the fibonacci plugin (target/plugins/fibonacci.wasm, from
`make plugins`), picks the input whose run is closest to 2^LOG_STEPS VM steps (default 12),
submits JOBS proven jobs (default 40) at once and prints the wall time from the first
submission to the last completion, and the jobs each worker did.
"""
import json, os, re, subprocess, sys, tempfile, time, urllib.request

workers = int(sys.argv[1])
jobs = int(sys.argv[2]) if len(sys.argv) > 2 else 40
log_steps = int(sys.argv[3]) if len(sys.argv) > 3 else 12
target = os.environ.get("CARGO_TARGET_DIR", "target")
obelysk = os.environ.get("OBELYSK", f"{target}/release/obelysk")
module = open(f"{target}/plugins/fibonacci.wasm", "rb").read()
cores = os.cpu_count()


def call(url, body=None, content_type="application/json"):
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"content-type": content_type})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


with tempfile.TemporaryDirectory() as data:
    env = dict(os.environ, OBELYSK_LOG="warn", OBELYSK_PROVER_LOCAL="false")
    node = subprocess.Popen([obelysk, "serve", "--port", "0", "--data-dir", data],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    procs = [node]
    try:
        url = None
        while url is None:
            m = re.match(r"listening on (\S+)", node.stdout.readline())
            url = m.group(1) if m else None
        for i in range(workers):
            worker = subprocess.Popen(
                ["taskset", "-c", str(i % cores), obelysk, "worker", "--coordinator", url,
                 "--backend", "simd", "--name", f"w{i}"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
            procs.append(worker)
            assert worker.stdout.readline().startswith("registered as"), "the worker registers"
        plugin = call(f"{url}/plugins", module, "application/wasm")["id"]
        steps = lambda n: call(f"{url}/jobs/estimate", {"plugin": plugin, "input": [n]})["steps"]
        per = (steps(101) - steps(1)) / 100
        n = max(1, round((2**log_steps - steps(1)) / per) + 1)
        # Warm each worker (its preprocessed tree, once per process) before the clock starts.
        warm = [call(f"{url}/jobs", {"plugin": plugin, "input": [n]})["id"] for _ in range(2 * workers)]
        while any(call(f"{url}/jobs/{j}")["status"] != "completed" for j in warm):
            time.sleep(0.05)
        before = {w["id"]: w["jobs_done"] for w in call(f"{url}/workers")}
        print(f"coordinator {url}: {workers} workers on {cores} cores, {jobs} jobs of "
              f"fibonacci({n}) = {steps(n)} steps")
        started = time.monotonic()
        ids = [call(f"{url}/jobs", {"plugin": plugin, "input": [n]})["id"] for _ in range(jobs)]
        pending = set(ids)
        while pending:
            for j in list(pending):
                job = call(f"{url}/jobs/{j}")
                assert job["status"] != "failed", job
                if job["status"] == "completed":
                    pending.discard(j)
            time.sleep(0.01)
        elapsed = time.monotonic() - started
        done = {w["name"]: w["jobs_done"] - before[w["id"]] for w in call(f"{url}/workers")}
        print(f"{jobs} proven jobs in {elapsed:.2f} s: {jobs / elapsed:.2f} jobs/s; by worker {done}")
    finally:
        for p in procs:
            p.kill()
            p.wait()
