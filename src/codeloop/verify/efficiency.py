"""Efficiency: what a passing program costs, against the task's reference,
counted in a way that does not move when the machine is busy.

Method ``valgrind-instructions``: the program runs in the sandbox under
valgrind's cachegrind (no cache simulation), with address randomisation off
and a fixed hash seed, and calls its entry point with the very arguments the
tests passed to it (recorded by the judge). The count of a run with a
do-nothing function and the same calls is subtracted, which removes the
interpreter's start-up and the cost of building the arguments. Instruction
counts repeat exactly run after run, loaded machine or not.

Limits: valgrind must be installed (``apt-get install valgrind``); a run is
about 50 times slower than native, plus some 1.5 s of start-up, so only
passing programs are measured. Without valgrind nothing is measured and the
method says so: seconds would not be a fair measure.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
from importlib import resources

from ..sandbox.limits import Limits
from ..sandbox.pool import InfraError, SandboxPool
from ..sandbox.protocol import MeasureJob, MeasureReport, MeasureSpec
from ..types import Cost, Task, TaskKind

METHOD = "valgrind-instructions"
MEASURE_LIMITS = Limits(time_limit=120.0, load_limit=0.0, memory_mb=8192, output_bytes=1 << 20)
GUARD_SECONDS = 300.0
MAX_CALL_LOG = 4 << 20  # bytes of recorded arguments; beyond that, no measurement


class Unmeasurable(Exception):
    """The cost could not be counted (no valgrind, a crash under valgrind, too many calls...)."""


def _runner_source() -> str:
    return resources.files("codeloop.verify").joinpath("measure_runner.py").read_text()


def valgrind_path() -> str | None:
    """Where valgrind is, or None."""
    return shutil.which("valgrind")


def count_instructions(pool: SandboxPool, program: str, entry_point: str, calls: list) -> int:
    """Instructions executed by ``program`` loading and answering ``calls``
    (a list of encoded [args, kwargs]), sandboxed. Raises Unmeasurable."""
    valgrind = valgrind_path()
    if valgrind is None:
        raise Unmeasurable("valgrind is not installed")
    spec: MeasureSpec = {"program": program, "entry_point": entry_point, "calls": calls, "valgrind": valgrind,
                         "python": os.path.realpath(sys.executable), "runner": _runner_source()}
    job: MeasureJob = {"kind": "measure", "spec": spec, "limits": MEASURE_LIMITS.to_wire(), "guard": GUARD_SECONDS}
    try:
        outcome, _ = pool.run(job)
    except InfraError as exc:
        raise Unmeasurable(f"the worker failed: {exc}") from exc
    report: MeasureReport = outcome  # type: ignore[assignment]
    if report.get("timed_out") or report.get("output_limit") or report.get("instructions") is None \
            or report.get("exit") != 0:
        why = "timed out" if report.get("timed_out") else "printed too much" if report.get("output_limit") else \
            f"failed (exit {report.get('exit')}): {report.get('log_tail', '')[-300:]}"
        raise Unmeasurable(f"the measuring run {why}")
    instructions = report["instructions"]
    assert instructions is not None  # checked above
    return instructions


class CostMeter:
    """Counts costs, keeping the reference's and the do-nothing baseline's
    count per (task, calls), so that many samples of one task pay for them once."""

    def __init__(self, pool: SandboxPool) -> None:
        self.pool = pool
        self._cache: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def _cached(self, key: tuple[str, str], program: str, entry_point: str, calls: list) -> int:
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        value = count_instructions(self.pool, program, entry_point, calls)
        with self._lock:
            self._cache[key] = value
        return value

    def cost(self, task: Task, program: str, calls: list) -> Cost:
        """The cost of a passing program: instructions above the baseline;
        ratio = reference / candidate (above 1: cheaper than the reference).
        Raises Unmeasurable."""
        if not task.reference:
            raise Unmeasurable("the task has no reference solution to compare with")
        if task.kind is TaskKind.STDIO:
            raise Unmeasurable("stdin/stdout tasks are not measured yet")
        blob = json.dumps(calls, separators=(",", ":"))
        if len(blob) > MAX_CALL_LOG:
            raise Unmeasurable("the tests' arguments are too large to replay")
        calls_key = f"{hash(blob)}:{len(blob)}"
        key = task.key
        entry = task.entry_point
        null = f"def {entry}(*args, **kwargs):\n    return None\n"
        base = self._cached((key + "#null", calls_key), null, entry, calls)
        ref = self._cached((key + "#ref", calls_key), task.reference, entry, calls)
        own = count_instructions(self.pool, program, entry, calls)
        if own <= base or ref <= base:
            raise Unmeasurable("a count below the do-nothing baseline: the measurement cannot be trusted")
        ref_cost, own_cost = ref - base, own - base
        return Cost(METHOD, own_cost, ref_cost, round(ref_cost / own_cost, 4), base)
