"""The engine behind every trainer adapter: model outputs in, verdicts out,
concurrently on one warm sandbox pool.

A :class:`Scorer` resolves each output's task (by id from a benchmark or task
file, or from the task's fields given inline, in the JSONL task format),
extracts the program from the reply, judges it with a per-task time limit
(calibrated from the reference the first time a task is seen), and checks
the task's code instructions. :func:`default_scorer` is a process-wide
scorer over HumanEval that the adapters use unless given another.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import ValidationError

from ..evaluate.runner import EvalConfig, derive_limits, judge_sample
from ..extract import extract_program
from ..instructions import InstructionError
from ..instructions import validate as validate_instructions
from ..sandbox.pool import Limits, SandboxPool
from ..tasks import load_benchmark
from ..tasks.jsonl import TaskRecord
from ..types import Task, Verdict
from ..verify.efficiency import CostMeter
from ..verify.execute import time_reference

TASK_FIELDS = {"test", "asserts", "cases"}


def inline_task(row: dict[str, Any]) -> dict[str, Any] | None:
    """The task a row carries under ``task``, as a dict or as JSON text; None if none."""
    inline = row.get("task")
    if isinstance(inline, str):
        try:
            inline = json.loads(inline)
        except ValueError:
            return None
    return inline if isinstance(inline, dict) else None


class TaskNotFound(KeyError):
    """No task could be made from a row (unknown id and no inline tests)."""


def resolve_task(tasks: dict[str, Task], row: dict[str, Any]) -> Task:
    """The task of one dataset row: ``task_id`` known in ``tasks``, or the
    task's own fields (``test`` / ``asserts`` / ``cases``, ``entry_point``,
    ``prompt``, ...) inline, or a JSON text of them under ``task``.
    Raises TaskNotFound."""
    inline = inline_task(row)
    if inline is not None:
        row = {**row, **inline}
    task_id = row.get("task_id")
    if isinstance(task_id, str) and task_id in tasks and not (TASK_FIELDS & row.keys()):
        return tasks[task_id]
    if TASK_FIELDS & row.keys():
        fields = {k: v for k, v in row.items() if k in TaskRecord.model_fields}
        fields.setdefault("task_id", str(task_id or "inline"))
        try:
            record = TaskRecord.model_validate(fields)
            validate_instructions(record.instructions)
        except ValidationError as exc:
            raise TaskNotFound(f"bad inline task: {exc.errors()[0]['msg']} at {exc.errors()[0]['loc']}") from None
        except InstructionError as exc:
            raise TaskNotFound(f"bad inline task: instructions{exc.field}: {exc}") from None
        return record.to_task("inline")
    raise TaskNotFound(f"no task for row (task_id={task_id!r}, and no inline 'test', 'asserts' or 'cases')")


class Scorer:
    """Judges batches of (task, model reply) on a shared pool.

    ``tasks``: tasks by id (default: HumanEval). ``workers``: pool size
    (default: the CPUs this process may use). ``efficiency``: also count the
    cost of passing programs (slow; needs valgrind). Thread-safe; one pool
    for the life of the scorer (:meth:`close` ends it).
    """

    def __init__(self, tasks: dict[str, Task] | None = None, workers: int | None = None, isolation: str = "full",
                 efficiency: bool = False, config: EvalConfig | None = None) -> None:
        self.tasks = tasks if tasks is not None else load_benchmark("humaneval")
        self.workers = workers or len(os.sched_getaffinity(0))
        self.pool = SandboxPool(self.workers, isolation)
        self.cfg = config or EvalConfig(workers=self.workers)
        self.meter = CostMeter(self.pool) if efficiency else None
        self._limits: dict[str, tuple[float, list]] = {}
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=self.workers * 2, thread_name_prefix="codeloop-score")

    # -- tasks -----------------------------------------------------------------
    def task_for(self, row: dict[str, Any]) -> Task:
        """The task of one dataset row (see :func:`resolve_task`)."""
        return resolve_task(self.tasks, row)

    def _limits_for(self, task: Task) -> tuple[float, list]:
        if task.time_limit is not None:
            return task.time_limit, []
        key = task.task_id if task.origin != "inline" else f"inline:{hash((task.test, tuple(task.asserts)))}"
        with self._lock:
            if key in self._limits:
                return self._limits[key]
        limit, calls = task.time_limit or self.cfg.default_timeout, []
        if task.time_limit is None and task.reference and task.kind != "stdio":
            timing = time_reference(self.pool, task)
            if timing.verdict.passed and timing.verdict.test_seconds is not None:
                limit, calls = derive_limits(self.cfg, timing.verdict.test_seconds, timing.calls, timing.call_times)
        with self._lock:
            self._limits[key] = (limit, calls)
        return limit, calls

    # -- judging ---------------------------------------------------------------
    def judge(self, task: Task, reply: str, raw: bool = False) -> Verdict:
        """One reply: extract the program (``raw``: the reply is the program
        as it is), judge it. Never raises for the program's faults."""
        if raw:
            program, code = reply, None
        else:
            ex = extract_program(reply, task.prompt, task.entry_point)
            program = ex.program if ex.kind != "none" else ""
            code = ex.code if program else None
        limit, calls = self._limits_for(task)
        limits = Limits(time_limit=limit, load_limit=self.cfg.load_limit, memory_mb=self.cfg.memory_mb)
        return judge_sample(self.pool, task, program, limits, calls, self.meter, code)

    def submit(self, task: Task, reply: str, raw: bool = False) -> Any:
        """Judge in the background; a concurrent.futures.Future of the verdict
        (cancel it to drop the sample if it has not started)."""
        return self._executor.submit(self.judge, task, reply, raw)

    def judge_many(self, items: list[tuple[Task, str]]) -> list[Verdict]:
        """Judge a batch concurrently, in order."""
        return list(self._executor.map(lambda item: self.judge(*item), items))

    async def ajudge_many(self, items: list[tuple[Task, str]]) -> list[Verdict]:
        """The same, awaitable (the event loop is not blocked)."""
        loop = asyncio.get_running_loop()
        return await asyncio.gather(*[loop.run_in_executor(self._executor, self.judge, t, r) for t, r in items])

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.pool.close()


_default: Scorer | None = None
_default_lock = threading.Lock()


def default_scorer() -> Scorer:
    """A process-wide scorer over HumanEval, made on first use, closed at exit.

    Set ``CODELOOP_TASKS`` to a task file to use your own tasks instead, or
    ``CODELOOP_URL`` (and ``CODELOOP_TOKEN``) to send the work to a
    ``codeloop serve`` instead of a local pool."""
    global _default
    with _default_lock:
        if _default is None and os.environ.get("CODELOOP_URL"):
            from ..service.client import RemoteScorer

            _default = RemoteScorer(os.environ["CODELOOP_URL"], os.environ.get("CODELOOP_TOKEN"))
            return _default
        if _default is None:
            path = os.environ.get("CODELOOP_TASKS")
            tasks = None
            if path:
                from ..tasks import load_task_file

                tasks = load_task_file(path)
            _default = Scorer(tasks)
            atexit.register(_default.close)
        return _default


def completion_text(completion: Any) -> str:
    """A completion as text: TRL gives a string, or for chat data a list of
    messages whose assistant content is the reply."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list):
        parts = [m.get("content", "") for m in completion if isinstance(m, dict) and m.get("role", "assistant") == "assistant"]
        return "\n".join(p if isinstance(p, str) else json.dumps(p) for p in parts)
    if isinstance(completion, dict):
        return str(completion.get("content", ""))
    return str(completion)
