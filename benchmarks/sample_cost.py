"""Where a sample's time goes: one worker, one small task, many samples.

    python benchmarks/sample_cost.py [--samples 300]

Reports the wall time per sample, the CPU time per sample of the orchestrator,
the zygote (which forks), the judge, the template (which clones each
candidate) and the candidates, and the cost of one call between judge and
candidate (a test making 101 calls against one making 1).

The worker's process tree: the boot process (``pool.worker_pids()``) has one
child, the zygote; the zygote's children are the judge (forked first), the
template (forked second) and the short-lived candidates, cloned by the
template with CLONE_PARENT so that the zygote reaps them: their CPU time is
the zygote's reaped-children time.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

from codeloop.sandbox.pool import SandboxPool
from codeloop.types import Task, TaskKind
from codeloop.verify.engine import Judge
from codeloop.verify.limits import TimeLimits, TimePolicy


def stat(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (field 3 is index 0)."""
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()


def proc_cpu(pid: int) -> tuple[float, float]:
    """(own, reaped children's) CPU seconds of a process, from /proc."""
    fields = stat(pid)
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick


def children(pid: int) -> list[int]:
    """Children of a single-threaded process, oldest first."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            pids = [int(p) for p in fh.read().split()]
    except OSError:
        return []
    return sorted(pids, key=lambda p: int(stat(p)[19]))  # field 22: start time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=300)
    n = ap.parse_args().samples
    one = Task("one", TaskKind.CHECK, entry_point="f", test="def check(candidate):\n    assert candidate(1) == 2\n")
    many = Task("many", TaskKind.CHECK, entry_point="f",
                test="def check(candidate):\n    for i in range(101):\n        assert candidate(i) == i + 1\n")
    program = "def f(x):\n    return x + 1\n"
    n_many = max(20, n // 10)
    with SandboxPool(1) as pool:
        pool.check()
        judge = Judge(pool, TimeLimits(TimePolicy(fixed=5.0)))
        try:
            (boot,) = pool.worker_pids()
            (zygote,) = children(boot)
            # The zygote forks the judge, then the template, before it reports ready:
            # no candidate exists yet.
            judge_pid, template = children(zygote)[:2]
            for task in (one, many):
                v = judge.judge(task, program)
                if not v.passed:
                    raise SystemExit(f"the warm-up sample on {task.task_id!r} did not pass: {v.status} {v.failure}")
            before = {"zygote": proc_cpu(zygote), "judge": proc_cpu(judge_pid), "template": proc_cpu(template)}
            me0 = resource.getrusage(resource.RUSAGE_SELF)
            t = time.perf_counter()
            for _ in range(n):
                judge.judge(one, program)
            wall = (time.perf_counter() - t) / n
            me1 = resource.getrusage(resource.RUSAGE_SELF)
            z1, j1, t1 = proc_cpu(zygote), proc_cpu(judge_pid), proc_cpu(template)
            t = time.perf_counter()
            for _ in range(n_many):
                judge.judge(many, program)
            wall_many = (time.perf_counter() - t) / n_many
            if pool.worker_pids() != [boot]:
                raise SystemExit("the worker was restarted during the run: the CPU figures are not its own")
        finally:
            judge.close()
    ms = lambda s: f"{s * 1000:6.2f} ms"  # noqa: E731
    orch = (me1.ru_utime - me0.ru_utime + me1.ru_stime - me0.ru_stime) / n
    print(f"{n} samples of a one-call test on 1 worker ({os.cpu_count()} CPUs)")
    print(f"wall per sample            {ms(wall)}")
    print(f"CPU per sample: orchestrator {ms(orch)}, zygote {ms((z1[0] - before['zygote'][0]) / n)}, "
          f"judge {ms((j1[0] - before['judge'][0]) / n)}, template {ms((t1[0] - before['template'][0]) / n)}, "
          f"candidates {ms((z1[1] - before['zygote'][1]) / n)}")
    print(f"one judge-candidate call   {ms((wall_many - wall) / 100)}  (101 calls: {ms(wall_many)} per sample)")


if __name__ == "__main__":
    main()
