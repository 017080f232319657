"""Is the efficiency measure stable under load, and does it tell algorithms apart?

    python benchmarks/efficiency_stability.py [--repeats 5]

1. Counts the same passing program ``--repeats`` times while two other
   processes keep both cores busy, and prints the coefficient of variation.
   For contrast it also times the same runs in CPU seconds.
2. Scores a linear and a quadratic duplicate finder against a set-based
   reference on inputs of growing size.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time

from codeloop.sandbox.limits import Limits
from codeloop.sandbox.pool import SandboxPool
from codeloop.sandbox.protocol import CallJob
from codeloop.types import Task, TaskKind
from codeloop.verify.efficiency import count_instructions
from codeloop.verify.engine import FILENAME, Judge, judge_tests
from codeloop.verify.limits import TimeLimits, TimePolicy
from codeloop.verify.protocol import JudgeJob

LINEAR = ("def has_dup(xs):\n    seen = set()\n    for x in xs:\n        if x in seen:\n            return True\n"
          "        seen.add(x)\n    return False\n")
QUADRATIC = ("def has_dup(xs):\n    for i in range(len(xs)):\n        for j in range(i):\n"
             "            if xs[i] == xs[j]:\n                return True\n    return False\n")


def task(n: int) -> Task:
    return Task(task_id=f"dup{n}", kind=TaskKind.ASSERTS, entry_point="has_dup",
                setup=f"import random\nrng = random.Random(7)\nbig = [rng.randrange(10**12) for _ in range({n})]\n",
                asserts=("assert has_dup(big) == (len(set(big)) != len(big))", "assert has_dup([1, 2, 1]) is True"),
                reference="def has_dup(xs):\n    return len(set(xs)) != len(xs)\n")


def recorded_calls(pool: SandboxPool, t: Task, program: str, seconds: float) -> list:
    """The arguments of every call the tests made to ``program`` (the judge records them when asked)."""
    limits = Limits(time_limit=seconds, load_limit=1.0)
    job: CallJob = {"kind": "call", "program": program, "filename": FILENAME, "as_main": False,
                    "limits": limits.to_wire(), "guard": seconds + 5.0}
    judge_job: JudgeJob = {"tests": judge_tests(t), "budgets": {"wall": seconds, "calls": []}, "provisional": None,
                           "policy": None, "load_limit": 1.0, "max_output": limits.output_bytes,
                           "record_calls": True, "program": None}
    _, result = pool.run(job, judge_job)
    if result.get("status") != "passed" or not result.get("call_log"):
        raise SystemExit(f"{t.task_id}: the program did not pass, nothing to count: {result.get('status')}")
    return result["call_log"]


def spin(stop) -> None:
    while not stop.is_set():
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    with SandboxPool(1) as pool:
        judge = Judge(pool, TimeLimits(TimePolicy(fixed=10.0)))
        metered = Judge(pool, TimeLimits(TimePolicy(fixed=30.0)), efficiency=True)
        try:
            t = task(300)
            calls = recorded_calls(pool, t, LINEAR, 10.0)
            stop = multiprocessing.Event()
            hogs = [multiprocessing.Process(target=spin, args=(stop,)) for _ in range(2)]
            for h in hogs:
                h.start()
            counts, seconds = [], []
            try:
                for _ in range(args.repeats):
                    start = time.process_time()
                    counts.append(count_instructions(pool, LINEAR, "has_dup", calls))
                    seconds.append(time.process_time() - start)
                wall = []
                for _ in range(args.repeats):
                    v = judge.judge(t, LINEAR)
                    if not v.passed or v.test_seconds is None:
                        raise SystemExit(f"the timed run did not pass: {v.status} {v.failure}")
                    wall.append(v.test_seconds)
            finally:
                stop.set()
                for h in hogs:
                    h.join()
            cv = statistics.pstdev(counts) / statistics.mean(counts)
            cv_wall = statistics.pstdev(wall) / statistics.mean(wall)
            print(f"same program counted {args.repeats} times, both cores kept busy by two other processes:")
            print(f"  instructions: {counts}  coefficient of variation {cv:.6%}")
            print(f"  (its tests' wall time in the same conditions: CV {cv_wall:.1%})")
            print("linear vs quadratic duplicate finder against a set-based reference (ratio = reference / program):")
            for n in (30, 100, 300):
                t = task(n)
                row = []
                for name, prog in (("linear", LINEAR), ("quadratic", QUADRATIC)):
                    v = metered.judge(t, prog)
                    cost = v.cost
                    if not v.passed or cost is None or cost.error is not None \
                            or cost.candidate is None or cost.ratio is None:
                        raise SystemExit(f"{name}, n={n}: not measured: {v.status} {cost}")
                    row.append(f"{name} {cost.candidate:>11,} instr, ratio {cost.ratio:.4f}")
                print(f"  n={n:4d}: " + " | ".join(row))
        finally:
            judge.close()
            metered.close()


if __name__ == "__main__":
    main()
