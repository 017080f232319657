"""Time limits per task: the policy, and what is known of each task's reference.

One :class:`TimeLimits` is shared by every caller of one judge engine
(``codeloop eval``, the trainer adapters, the service, Ray actors), keyed by
the task's content key (:attr:`codeloop.types.Task.key`), so a task is timed
once however it is named or wherever it came from.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Literal

from ..types import Task, wall_for_cases
from .budget import derive, fallback
from .protocol import BudgetsWire, CalibrationWire, PolicyWire

Source = Literal["calibrated", "default", "fixed", "task"]


@dataclass(frozen=True)
class TimePolicy:
    """How time limits are chosen.

    ``fixed``: one wall limit (seconds) for every sample's tests, no
    calibration. Otherwise each task's reference sets them (EvalPlus's rule,
    in CPU time): all the tests get ``min(max, max(floor, factor x reference)
    + calls x allowance)`` of wall time; each call whose arguments match the
    reference's call at that position gets ``max(call_floor, factor x that
    call) + allowance`` of CPU time. ``default`` applies to tasks with no
    reference, or whose reference fails. A task's own ``time_limit`` wins.
    """

    fixed: float | None = None
    floor: float = 1.0
    call_floor: float = 0.05
    factor: float = 10.0
    max: float = 10.0
    default: float = 3.0
    allowance: float = 0.001  # seconds per call: a sandboxed round trip, with room to spare

    def to_wire(self) -> PolicyWire:
        return {"floor": self.floor, "call_floor": self.call_floor, "factor": self.factor, "max": self.max,
                "default": self.default, "allowance": self.allowance}


@dataclass(frozen=True)
class Budgets:
    """The limits in force for one task, and where they came from."""

    wall: float
    calls: tuple[tuple[str, float], ...] = ()
    source: Source = "calibrated"
    reference_seconds: float | None = None
    reference_status: str | None = None

    def to_wire(self) -> BudgetsWire:
        return {"wall": self.wall, "calls": [[k, b] for k, b in self.calls]}


@dataclass
class CalibrationRecord:
    """What timing the references taught, for a run's summary."""

    seconds: dict[str, float] = field(default_factory=dict)   # task id -> reference CPU seconds
    failed: dict[str, str] = field(default_factory=dict)      # task id -> why its reference gave no timing


class TimeLimits:
    """Budgets per task content key. Thread-safe.

    A task not yet timed has no budgets: the judge then applies the policy's
    floors provisionally and times the reference itself if a program outlasts
    them (see :mod:`codeloop.verify.judge`).
    """

    def __init__(self, policy: TimePolicy | None = None) -> None:
        self.policy = policy or TimePolicy()
        self._known: dict[str, Budgets] = {}
        self._lock = threading.Lock()
        self.record = CalibrationRecord()

    def known(self, task: Task) -> Budgets | None:
        """The budgets for ``task`` if they are settled, else None."""
        if self.policy.fixed is not None:
            return Budgets(self.policy.fixed, source="fixed")
        if task.time_limit is not None:
            return Budgets(task.time_limit, source="task")
        per_test = wall_for_cases(task)
        if per_test is not None:
            return Budgets(per_test, source="task")
        if not task.reference:
            return Budgets(self.policy.default, source="default", reference_status="missing")
        with self._lock:
            return self._known.get(task.key)

    def learn(self, task: Task, calibration: CalibrationWire) -> Budgets:
        """Keep what the judge measured of ``task``'s reference; the budgets that follow."""
        passed = calibration["status"] == "passed"
        wire = calibration["budgets"]
        budgets = Budgets(float(wire["wall"]), tuple((str(k), float(b)) for k, b in wire["calls"]),
                          "calibrated" if passed else "default", calibration["seconds"], calibration["status"])
        with self._lock:
            self._known.setdefault(task.key, budgets)
            if passed and calibration["seconds"] is not None:
                self.record.seconds[task.task_id] = calibration["seconds"]
            else:
                self.record.failed[task.task_id] = calibration["status"]
            return self._known[task.key]

    def learn_from_run(self, task: Task, passed: bool, seconds: float | None, status: str) -> Budgets:
        """Keep the timing of a reference that ran as a sandboxed program (stdin tasks)."""
        policy = self.policy.to_wire()
        wire = derive(policy, seconds, 0, []) if passed and seconds is not None else fallback(policy)
        return self.learn(task, {"status": "passed" if passed else status, "seconds": seconds if passed else None,
                                 "calls": 0, "call_times": [], "budgets": wire, "message": ""})
