"""What a sample that imports NumPy (and pandas) costs, against one that imports nothing, in one run, as ratios.

Four sides judge the same number of samples on the same number of workers:

* a standard-library task (the baseline);
* the same task's NumPy version on the workers of an environment holding
  NumPy alone, which import it once, before they fork any sample;
* its NumPy + pandas version on a NumPy + pandas environment's warm workers;
* the same on workers of the same environment that import nothing first, so
  each sample imports NumPy and pandas itself ("cold"), as a harness that
  starts a fresh interpreter per sample must.

The environment is built (or found) with codeloop's own builder, from the
package registry: ``numpy==2.1.3`` and ``pandas==2.2.3`` by default.
Issue 13's goal: a NumPy task costs at most 2x the standard-library task per sample.

    .venv/bin/python benchmarks/env_speed.py [--samples 200] [--workers 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import machine, timed, write_report  # noqa: E402

from codeloop.sandbox.environments import build  # noqa: E402
from codeloop.sandbox.pool import SandboxPool  # noqa: E402
from codeloop.types import Task, TaskKind  # noqa: E402
from codeloop.verify.engine import Judge  # noqa: E402
from codeloop.verify.limits import TimeLimits, TimePolicy  # noqa: E402

STDLIB = "import statistics\n\ndef summary(xs):\n    return [statistics.fmean(xs), max(xs) - min(xs)]\n"
NUMPY = ("import numpy as np\n\ndef summary(xs):\n    a = np.array(xs, dtype=float)\n"
         "    return [float(a.mean()), float(a.max() - a.min())]\n")
DATA = ("import numpy as np\nimport pandas as pd\n\ndef summary(xs):\n    s = pd.Series(np.array(xs, dtype=float))\n"
        "    return [float(s.mean()), float(s.max() - s.min())]\n")
ASSERTS = ("assert summary([1, 2, 3, 6]) == [3.0, 5.0]", "assert summary([5]) == [5.0, 0.0]")


def judge_all(pool: SandboxPool, task: Task, program: str, n: int) -> dict:
    judge = Judge(pool, TimeLimits(TimePolicy(fixed=10.0)))
    try:
        judge.judge(task, program)  # the worker's first sample warms it
        wall, verdicts, cpu = timed(lambda: judge.judge_many([(task, program)] * n))
    finally:
        judge.close()
    statuses = {v.status.value for v in verdicts}
    return {"wall_s": round(wall, 3), "per_sample_ms": round(wall / n * 1000, 3), "statuses": sorted(statuses),
            "machine_cpu_s": cpu["machine_busy_cpu_s"], "others_cpu_s": cpu["others_cpu_s"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--requirements", default="numpy==2.1.3,pandas==2.2.3")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/env_speed.json"))
    args = parser.parse_args()
    t_start = time.perf_counter()
    started = time.monotonic()
    env = build(args.requirements.split(","), "bench-data", warm=("numpy", "pandas"))
    numpy_only = build([r for r in args.requirements.split(",") if r.startswith("numpy")], "bench-numpy",
                       warm=("numpy",))
    built = round(time.monotonic() - started, 1)
    print(f"environments {env.key}: {', '.join(env.resolved)}; {numpy_only.key}: {', '.join(numpy_only.resolved)} "
          f"(ready in {built} s)")
    stdlib_task = Task(task_id="stdlib", kind=TaskKind.ASSERTS, entry_point="summary", asserts=ASSERTS)
    data_task = Task(task_id="data", kind=TaskKind.ASSERTS, entry_point="summary", asserts=ASSERTS,
                     environment=env.name)
    report: dict = {"machine": machine(packages=", ".join(env.resolved)), "samples": args.samples,
                    "workers": args.workers}
    sides = {}
    with SandboxPool(args.workers) as pool:
        sides["standard library"] = judge_all(pool, stdlib_task, STDLIB, args.samples)
    numpy_task = dataclasses.replace(data_task, task_id="numpy", environment=numpy_only.name)
    with SandboxPool(args.workers, environment=numpy_only) as pool:
        sides["numpy, warm"] = judge_all(pool, numpy_task, NUMPY, args.samples)
    with SandboxPool(args.workers, environment=env) as pool:
        sides["numpy + pandas, warm"] = judge_all(pool, data_task, DATA, args.samples)
    with SandboxPool(args.workers, environment=dataclasses.replace(env, warm=())) as pool:
        sides["numpy + pandas, cold"] = judge_all(pool, data_task, DATA, max(10, args.samples // 10))
    base = sides["standard library"]["per_sample_ms"]
    for name, side in sides.items():
        side["ratio"] = round(side["per_sample_ms"] / base, 2)
        print(f"{name:28} {side['per_sample_ms']:>9.2f} ms a sample  ({side['ratio']:>5.2f}x)  {side['statuses']}")
    report["sides"] = sides
    write_report(report, args.out, t_start)


if __name__ == "__main__":
    main()
