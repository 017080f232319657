"""codeloop serve against SandboxFusion's design, through the same /run_code, in one run.

    python benchmarks/serve_vs_sandboxfusion.py [--clients 1,8] [--programs 300] [--loops 10] [--workers N]

The same generated stdin programs (stdin_programs.py: fixed seed; correct,
wrong, crashing, and ``--loops`` endless ``while True: pass`` loops sent with
run_timeout=2; the rest with verl's default 10 s) go through ``POST /run_code``
to two servers on loopback, one after the other, for each number of
concurrent client threads:

* ``codeloop serve`` (its defaults, or ``--workers N``) (its command line: servers.py);
* a stand-in for SandboxFusion's server (sandboxfusion_like.py: one uvicorn
  process, a temporary directory and a ``python`` subprocess per request, no
  isolation, as SandboxFusion's default configuration; its docstring says what
  of SandboxFusion's design it reproduces). SandboxFusion itself cannot be
  installed here: PyPI's ``sandbox-fusion`` is its client SDK only.

Each client thread sends one request at a time, as verl's reward threads do;
429 (after its Retry-After) and 504 (after 1 s, 2 s, ..., as verl does) are
retried and counted. Printed per server and number of clients: requests per
second over the whole run (loops included), p50 and p99 latency of the
requests that are not loops (from first send to final answer, retries
included), how many answers report what each program really did (stdout,
exit code, exception, time-out), how many would be scored as verl scores them
against the intended outcome, and the ratios. While each phase runs, CPU time
is sampled from /proc (proccpu.py): the server's process tree (sandbox
workers included: they are descendants even in their own namespaces), this
load generator, kernel threads, every other process, and the machine's
total, so time spent outside the server's tree is named. Everything goes to
``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import proccpu  # noqa: E402
import servers  # noqa: E402
import stdin_programs  # noqa: E402
from stdin_programs import Program  # noqa: E402

VERL_COMPILE_TIMEOUT = 10  # verl sends its one timeout as both compile and run timeout
VERL_API_TIMEOUT = 10  # verl's request time-out is compile + run + this
MAX_RETRIES = 60


@dataclass
class Outcome:
    index: int
    latency: float
    answer: dict[str, Any] | None
    http: int | None
    error: str | None = None
    retried_429: int = 0
    retried_504: int = 0


@dataclass
class Phase:
    server: str
    clients: int
    seconds: float
    outcomes: list[Outcome]
    cpu: proccpu.Accounting
    wrong_answers: list[dict[str, Any]] = field(default_factory=list)


def body_of(p: Program, loop_timeout: float, run_timeout: float) -> dict[str, Any]:
    return {"code": p.code, "stdin": p.stdin, "language": "python", "compile_timeout": VERL_COMPILE_TIMEOUT,
            "run_timeout": loop_timeout if p.kind == "loop" else run_timeout, "memory_limit_MB": 1024,
            "files": {}, "fetch_files": []}


def send(http: httpx.Client, url: str, body: dict[str, Any], index: int) -> Outcome:
    """One request as a trainer sends it: 429 after Retry-After and 504 after a growing pause, again."""
    start = time.perf_counter()
    n429 = n504 = 0
    for attempt in range(MAX_RETRIES):
        try:
            r = http.post(url + "/run_code", json=body)
        except httpx.HTTPError as exc:
            return Outcome(index, time.perf_counter() - start, None, None, f"{type(exc).__name__}: {exc}", n429, n504)
        if r.status_code == 429:
            n429 += 1
            time.sleep(float(r.headers.get("Retry-After", "1")))
            continue
        if r.status_code == 504:
            n504 += 1
            time.sleep(min(1.0 * (n504), 5.0))
            continue
        latency = time.perf_counter() - start
        if r.status_code != 200:
            return Outcome(index, latency, None, r.status_code, r.text[:300], n429, n504)
        return Outcome(index, latency, r.json(), 200, None, n429, n504)
    return Outcome(index, time.perf_counter() - start, None, None, "gave up after retries", n429, n504)


def load(url: str, bodies: list[dict[str, Any]], clients: int) -> tuple[float, list[Outcome]]:
    queue = list(range(len(bodies)))[::-1]
    lock = threading.Lock()
    results: list[Outcome] = []

    def client() -> None:
        with httpx.Client(timeout=600) as http:
            while True:
                with lock:
                    if not queue:
                        return
                    i = queue.pop()
                out = send(http, url, bodies[i], i)
                with lock:
                    results.append(out)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, sorted(results, key=lambda o: o.index)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    data = sorted(values)
    return data[min(len(data) - 1, int(q * len(data)))]


def summarize(phase: Phase, programs: list[Program], loop_timeout: float, run_timeout: float) -> dict[str, Any]:
    lat = [o.latency for o in phase.outcomes if programs[o.index].kind != "loop" and o.answer is not None]
    faithful = verl_right = 0
    wrong: list[dict[str, Any]] = []
    over_verl_timeout = 0
    for o in phase.outcomes:
        p = programs[o.index]
        timeout = VERL_COMPILE_TIMEOUT + (loop_timeout if p.kind == "loop" else run_timeout) + VERL_API_TIMEOUT
        over_verl_timeout += o.latency > timeout
        if o.answer is None:
            wrong.append({"index": o.index, "kind": p.kind, "problem": p.problem, "why": f"HTTP {o.http}: {o.error}"})
            continue
        why = stdin_programs.check_run_code(p, o.answer)
        if why is None:
            faithful += 1
        else:
            wrong.append({"index": o.index, "kind": p.kind, "problem": p.problem, "why": why})
        verl_right += stdin_programs.verl_score(p, o.answer) == (p.kind == "correct")
    phase.wrong_answers = wrong
    n = len(phase.outcomes)
    return {"server": phase.server, "clients": phase.clients, "requests": n, "seconds": round(phase.seconds, 3),
            "req_per_s": round(n / phase.seconds, 2), "p50_s": round(pct(lat, 0.5), 4),
            "p99_s": round(pct(lat, 0.99), 4), "mean_s": round(statistics.fmean(lat), 4) if lat else None,
            "answers_faithful": faithful, "verl_scores_as_intended": verl_right,
            "http_errors": sum(o.answer is None for o in phase.outcomes),
            "retried_429": sum(o.retried_429 for o in phase.outcomes),
            "retried_504": sum(o.retried_504 for o in phase.outcomes),
            "over_verl_request_timeout": over_verl_timeout, "wrong_answers": wrong[:20],
            "slowest_not_loops": [{"index": o.index, "kind": programs[o.index].kind,
                                   "problem": programs[o.index].problem, "latency_s": round(o.latency, 3),
                                   "execution_time": (o.answer or {}).get("run_result", {}).get("execution_time")}
                                  for o in sorted((o for o in phase.outcomes if programs[o.index].kind != "loop"),
                                                  key=lambda o: -o.latency)[:5]],
            "cpu": phase.cpu.to_dict()}


def run_phase(name: str, server: servers.Server, roots: dict[str, int], bodies: list[dict[str, Any]],
              clients: int, interval: float) -> Phase:
    sampler = proccpu.CpuSampler(roots, interval).start()
    seconds, outcomes = load(server.url, bodies, clients)
    return Phase(name, clients, seconds, outcomes, sampler.stop())


def warm_up(server: servers.Server, programs: list[Program], run_timeout: float) -> None:
    bodies = [body_of(p, 2.0, run_timeout) for p in programs if p.kind == "correct"][:10]
    load(server.url, bodies, 2)


def print_cpu(label: str, s: dict[str, Any], tree_label: str) -> None:
    cpu = s["cpu"]
    groups = cpu["groups_cpu_s"]
    tree = groups.get(tree_label, 0.0)
    me = groups.get("load generator (this process)", 0.0)
    idle_other = sum(v for k, v in groups.items() if k not in (tree_label, "load generator (this process)"))
    kernel = sum(k["cpu_s"] for k in cpu["kernel_threads_cpu_s"])
    others = sum(o["cpu_s"] for o in cpu["other_processes"])
    outside = cpu["total_busy_cpu_s"] - tree - me
    print(f"  {label}: machine busy {cpu['total_busy_cpu_s']:.2f} CPU-s in {cpu['seconds']:.2f} s; server tree "
          f"{tree:.2f}; load generator {me:.2f}; outside both {outside:.2f} = other server (idle) "
          f"{idle_other:.2f} + kernel threads {kernel:.2f} + other processes {others:.2f} + unattributed "
          f"{cpu['unattributed_cpu_s']:.2f} (irq+softirq in the machine's total: {cpu['irq_softirq_s']:.2f})")
    top = sorted([{"name": "kernel " + k["name"], "cpu_s": k["cpu_s"]} for k in cpu["kernel_threads_cpu_s"]]
                 + [{"name": o["process"], "cpu_s": o["cpu_s"]} for o in cpu["other_processes"]],
                 key=lambda d: -d["cpu_s"])[:6]
    if top:
        print("    largest outside: " + "; ".join(f"{t['name'][:60]} {t['cpu_s']:.2f}" for t in top))
    if cpu["autoreaped_counted_cpu_s"]:
        print(f"    reaped by no wait() (counted while seen): {cpu['autoreaped_counted_cpu_s']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", default="1,8", help="comma-separated numbers of concurrent client threads")
    ap.add_argument("--programs", type=int, default=300)
    ap.add_argument("--loops", type=int, default=10)
    ap.add_argument("--loop-timeout", type=float, default=2.0, help="run_timeout of the endless loops")
    ap.add_argument("--run-timeout", type=float, default=10.0, help="run_timeout of the other programs")
    ap.add_argument("--workers", type=int, default=None, help="codeloop serve --workers (default: the server's)")
    ap.add_argument("--serve-args", default="", help="more flags for codeloop serve, e.g. '--long-after 0.1'")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--python", default=sys.executable, help="interpreter the SandboxFusion stand-in runs programs with")
    ap.add_argument("--interval", type=float, default=0.1, help="CPU sampling interval, seconds")
    ap.add_argument("--out", type=Path, default=HERE / "out" / "serve_vs_sandboxfusion.json")
    args = ap.parse_args()
    levels = [int(c) for c in args.clients.split(",")]
    args.out.parent.mkdir(parents=True, exist_ok=True)

    programs = stdin_programs.mix(args.programs, args.loops, args.seed)
    bodies = [body_of(p, args.loop_timeout, args.run_timeout) for p in programs]
    kinds = {k: sum(p.kind == k for p in programs) for k in ("correct", "wrong", "crash", "loop")}
    print(f"{os.cpu_count()} CPUs; {platform.platform()}; Python {platform.python_version()}; "
          f"codeloop serve --workers {args.workers or '(default)'}; {len(programs)} programs {kinds}, loops with "
          f"run_timeout={args.loop_timeout:g}, the rest {args.run_timeout:g}")

    logs = args.out.parent
    sf = servers.Server("sandboxfusion-like", servers.sandboxfusion_like_command(args.python),
                        logs / "sandboxfusion_like.log")
    cl = servers.Server("codeloop", servers.codeloop_serve_command(args.workers, args.serve_args),
                        logs / "codeloop_serve.log")
    sf_tree, cl_tree = "sandboxfusion-like server tree", "codeloop serve tree"
    roots = {sf_tree: sf.pid, cl_tree: cl.pid}
    report: dict[str, Any] = {"cpus": os.cpu_count(), "platform": platform.platform(),
                              "python": platform.python_version(), "workers": args.workers, "kinds": kinds,
                              "loop_timeout": args.loop_timeout, "run_timeout": args.run_timeout,
                              "sandboxfusion_like_python": args.python, "codeloop_command": cl.cmd, "phases": []}
    rows = []
    try:
        sf.wait_ready()
        cl.wait_ready()
        warm_up(sf, programs, args.run_timeout)
        warm_up(cl, programs, args.run_timeout)
        for clients in levels:
            pair = []
            for name, server in (("sandboxfusion-like", sf), ("codeloop", cl)):
                phase = run_phase(name, server, roots, bodies, clients, args.interval)
                s = summarize(phase, programs, args.loop_timeout, args.run_timeout)
                report["phases"].append(s)
                pair.append(s)
            rows.append(pair)
        report["servers_up_after"] = {"sandboxfusion-like": sf.alive(), "codeloop": cl.alive()}
    finally:
        sf.stop()
        cl.stop()
    args.out.write_text(json.dumps(report, indent=2))

    print("\nclients | sandboxfusion-like: req/s   p50 s   p99 s | codeloop: req/s   p50 s   p99 s |"
          " codeloop/SF req/s  SF/codeloop p50  p99")
    for a, b in rows:
        print(f"{a['clients']:7d} | {a['req_per_s']:24.1f} {a['p50_s']:7.3f} {a['p99_s']:7.3f} |"
              f" {b['req_per_s']:14.1f} {b['p50_s']:7.3f} {b['p99_s']:7.3f} |"
              f" {b['req_per_s'] / a['req_per_s']:16.2f}x {a['p50_s'] / b['p50_s']:15.2f}x"
              f" {a['p99_s'] / b['p99_s']:4.2f}x")
    print("(req/s over all requests, loops included; p50/p99 over the requests that are not loops)")
    for a, b in rows:
        for s, tree in ((a, sf_tree), (b, cl_tree)):
            print(f"\n{s['server']}, {s['clients']} clients: {s['requests']} requests in {s['seconds']:.2f} s; answers "
                  f"faithful {s['answers_faithful']}/{s['requests']}; scored as intended the verl way "
                  f"{s['verl_scores_as_intended']}/{s['requests']}; HTTP errors {s['http_errors']}; 429 retried "
                  f"{s['retried_429']}; 504 retried {s['retried_504']}; over verl's request time-out "
                  f"{s['over_verl_request_timeout']}")
            for w in s["wrong_answers"][:5]:
                print(f"    not faithful: #{w['index']} {w['kind']} {w['problem']}: {w['why'][:160]}")
            print_cpu("CPU", s, tree)
    print(f"\nservers still up: {report['servers_up_after']}; JSON: {args.out}")


if __name__ == "__main__":
    main()
