"""Where a sample's time goes: one worker, one small task, many samples.

    python benchmarks/sample_cost.py [--samples 300]

Reports the wall time per sample, the CPU time per sample of the orchestrator,
the zygote (which forks), the judge and the candidates, and the cost of one
call between judge and candidate (a test making 101 calls against one making 1).
"""

from __future__ import annotations

import argparse
import os
import resource
import time

from codeloop.sandbox.pool import Limits, SandboxPool
from codeloop.types import Task
from codeloop.verify.execute import verify


def proc_cpu(pid: int) -> tuple[float, float]:
    """(own, reaped children's) CPU seconds of a process, from /proc."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in open(f"/proc/{pid}/task/{pid}/children").read().split()]
    except OSError:
        return []


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=300)
    n = ap.parse_args().samples
    one = Task(task_id="one", kind="check", entry_point="f", test="def check(candidate):\n    assert candidate(1) == 2\n")
    many = Task(task_id="many", kind="check", entry_point="f",
                test="def check(candidate):\n    for i in range(101):\n        assert candidate(i) == i + 1\n")
    program = "def f(x):\n    return x + 1\n"
    limits = Limits(time_limit=5.0)
    with SandboxPool(1) as pool:
        pool.check()
        boot = pool._all[0].proc.pid
        (zygote,) = children(boot)
        verify(pool, one, program, limits)  # starts the judge
        judge = min(children(zygote))  # forked first; a candidate may not be reaped yet
        before = {"zygote": proc_cpu(zygote), "judge": proc_cpu(judge)}
        me0 = resource.getrusage(resource.RUSAGE_SELF)
        t = time.perf_counter()
        for _ in range(n):
            verify(pool, one, program, limits)
        wall = (time.perf_counter() - t) / n
        me1 = resource.getrusage(resource.RUSAGE_SELF)
        z1, j1 = proc_cpu(zygote), proc_cpu(judge)
        t = time.perf_counter()
        for _ in range(max(20, n // 10)):
            verify(pool, many, program, limits)
        wall_many = (time.perf_counter() - t) / max(20, n // 10)
    ms = lambda s: f"{s * 1000:6.2f} ms"  # noqa: E731
    orch = (me1.ru_utime - me0.ru_utime + me1.ru_stime - me0.ru_stime) / n
    print(f"{n} samples of a one-call test on 1 worker ({os.cpu_count()} CPUs)")
    print(f"wall per sample            {ms(wall)}")
    print(f"CPU per sample: orchestrator {ms(orch)}, zygote {ms((z1[0] - before['zygote'][0]) / n)}, "
          f"judge {ms((j1[0] - before['judge'][0]) / n)}, candidates {ms((z1[1] - before['zygote'][1]) / n)}")
    print(f"one judge-candidate call   {ms((wall_many - wall) / 100)}  (101 calls: {ms(wall_many)} per sample)")


if __name__ == "__main__":
    main()
