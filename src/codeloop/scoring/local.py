"""A scorer on this machine: one warm sandbox pool and the one judge.

The reply's code is extracted (fenced blocks, prose, a bare body, see
:mod:`codeloop.extract`), then judged with the task's limits, its cost if
asked, and its code instructions.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from ..extract import extract_for_task
from ..sandbox.pool import InfraError, SandboxPool
from ..tasks import load_benchmark
from ..tasks.rows import resolve_row
from ..types import Isolation, Task, Verdict, evaluator_failure
from ..verify.engine import Judge
from ..verify.routing import EnvironmentJudges
from ..verify.limits import TimeLimits, TimePolicy
from . import Row


@dataclass(frozen=True)
class Prepared:
    """An item ready to judge: its task, the program to run and the model's
    own code in it (None: the program is all the model's), or the evaluator
    failure that preparing it met."""

    task: Task
    program: str
    code: str | None
    failure: Verdict | None = None


class LocalScorer:
    """Judges batches of (task, model reply) on a pool of its own.

    ``tasks``: tasks rows may name by id (default: HumanEval; inline tasks
    always work). ``workers``: pool size (default: the CPUs this process may
    use). ``depth``: samples written ahead to each worker (1 for a service,
    where a sample queued behind a slow one would wait for it; 2 for batch
    throughput). ``policy``: how time limits are chosen. ``efficiency``: also count
    the cost of passing programs (slow; needs valgrind). ``output_bytes``: what a
    program may print (stdout and stderr together, per run of a stdin program)
    before it is stopped with ``output_limit``; contest problems with large
    outputs need more than the default 1 MiB. Thread-safe; the pool starts at
    once and lives until :meth:`close`.
    """

    def __init__(self, tasks: dict[str, Task] | None = None, workers: int | None = None,
                 isolation: Isolation = "full", efficiency: bool = False, policy: TimePolicy | None = None,
                 load_limit: float = 1.0, memory_mb: int = 1024, depth: int = 2, output_bytes: int = 1 << 20) -> None:
        self.tasks = tasks if tasks is not None else load_benchmark("humaneval")
        self.workers = workers or len(os.sched_getaffinity(0))
        self.pool = SandboxPool(self.workers, isolation, depth=depth)
        self.judge = Judge(self.pool, TimeLimits(policy), load_limit=load_limit, memory_mb=memory_mb,
                           efficiency=efficiency, output_bytes=output_bytes)
        # tasks that import third-party packages: a pool per package environment, started on first use
        self.judges = EnvironmentJudges(self.judge, lambda environment: Judge(
            SandboxPool(self.workers, isolation, depth=depth, environment=environment), TimeLimits(policy),
            load_limit=load_limit, memory_mb=memory_mb, efficiency=efficiency, output_bytes=output_bytes))

    def resolve(self, row: Row) -> Task:
        return resolve_row(self.tasks, row)

    def prepare(self, task: Task, reply: str, raw: bool = False) -> Prepared:
        """The program to run for ``reply`` (``raw``: the reply is the program as
        it is, nothing extracted), or, if preparing it fails, that item's
        evaluator failure. CPU work (the extraction parses and tokenizes):
        a service calls it off its event loop."""
        if raw:
            return Prepared(task, reply, None)
        try:
            task, ex = extract_for_task(task, reply)
        except Exception as exc:  # noqa: BLE001 - one item's failure must not cost its batch
            return Prepared(task, "", "", evaluator_failure(
                f"preparing this item failed: {type(exc).__name__}: {exc}"[:500], self.pool.isolation))
        program = ex.program if ex.kind != "none" else ""
        return Prepared(task, program, ex.code if program else "")

    def start(self, prepared: Prepared) -> Future[Verdict]:
        """Judge a prepared item in the background. Cancel the future to drop it if it has not started."""
        if prepared.failure is not None:
            done: Future[Verdict] = Future()
            done.set_result(prepared.failure)
            return done
        try:
            return self.judges.submit(prepared.task, prepared.program, prepared.code)
        except InfraError:
            raise  # the pool is closed or cannot start: nothing in this batch can be judged
        except Exception as exc:  # noqa: BLE001 - one item's failure must not cost its batch
            failed: Future[Verdict] = Future()
            failed.set_result(evaluator_failure(f"starting this item failed: {type(exc).__name__}: {exc}"[:500],
                                                self.pool.isolation))
            return failed

    def submit(self, task: Task, reply: str, raw: bool = False) -> Future[Verdict]:
        """:meth:`prepare`, then :meth:`start`."""
        return self.start(self.prepare(task, reply, raw))

    def judge_one(self, task: Task, reply: str, raw: bool = False) -> Verdict:
        return self.submit(task, reply, raw).result()

    def judge_many(self, items: Sequence[tuple[Task, str]]) -> list[Verdict]:
        return [f.result() for f in [self.submit(t, r) for t, r in items]]

    async def ajudge_many(self, items: Sequence[tuple[Task, str]]) -> list[Verdict]:
        futures = [asyncio.wrap_future(self.submit(t, r)) for t, r in items]
        return list(await asyncio.gather(*futures))

    def check(self) -> dict[str, Any]:
        """Wait for the pool to start; raises IsolationUnavailable when it cannot."""
        return self.pool.check()

    def close(self) -> None:
        self.judge.close()
        self.pool.close()
        self.judges.close()
