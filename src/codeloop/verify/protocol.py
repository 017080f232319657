"""What the orchestrator tells the judge, and what the judge answers.

The sandbox carries these as opaque JSON between the orchestrator and the
judge process (:func:`codeloop.verify.judge.handle`). TypedDicts, so the
judge's process (forked from the zygote, like every candidate) imports
nothing heavy.
"""

from __future__ import annotations

from typing import Any, Literal, Optional, TypedDict


class CaseWire(TypedDict):
    input: str
    output: Optional[str]


class TestsWire(TypedDict):
    """A task's tests, as the judge runs them (never sent to a candidate)."""

    key: str                      # the task's content key: the judge compiles each task once
    kind: Literal["check", "asserts", "stdio"]
    prompt: str
    test: str
    asserts: list[str]
    setup: str
    cases: list[CaseWire]
    entry_point: str
    reference: Optional[str]
    compare: Optional[dict[str, Any]]  # a checked comparator spec for stdio cases; None: line by line
    time_limit_per_test: Optional[float]  # CPU seconds for each stdio case on its own; None: only the wall limit
    stop_on_failure: bool               # stop at the first failing test
    tests_in_one_process: bool          # stdio cases run in the candidate itself, not a fresh child each
    probes: bool                        # asserts: bare calls of the entry point are probes (Task.probes)


class PolicyWire(TypedDict):
    """How time limits follow from the reference's timing (see ``TimePolicy``)."""

    floor: float
    call_floor: float
    factor: float
    max: float
    default: float
    allowance: float


class BudgetsWire(TypedDict):
    """Time limits in force: ``wall`` for all the tests together; ``calls``
    pairs a call's argument digest with its CPU budget, by position."""

    wall: float
    calls: list[list[Any]]


class JudgeJob(TypedDict):
    """One sample for the judge.

    Either ``budgets`` are known, or ``provisional`` bounds apply until the
    program outlasts them; the judge then times the task's reference itself
    (``policy`` says how limits follow from that) and goes on with the real
    ones, which it reports in ``calibration``. With no candidate (a
    judge-only job) the judge runs ``tests`` against ``program`` in its own
    process and times it.
    """

    tests: TestsWire
    budgets: Optional[BudgetsWire]
    provisional: Optional[BudgetsWire]
    policy: Optional[PolicyWire]
    load_limit: float
    max_output: int
    record_calls: bool
    program: Optional[str]


class CalibrationWire(TypedDict):
    """The reference's timing, measured in the judge (CPU time of the judge's thread)."""

    status: str
    seconds: Optional[float]
    calls: int
    call_times: list[list[Any]]
    budgets: BudgetsWire
    message: str


class JudgeResult(TypedDict, total=False):
    """The judge's answer for one job (keys absent when they do not apply)."""

    status: str
    failure: Optional[dict[str, Any]]
    tests_total: Optional[int]
    tests_passed: Optional[int]
    test_results: list[bool]
    case_results: list[list[Any]]  # stdio: [index, status, CPU seconds or None] per case that ran
    runs: Optional[list[dict[str, Any]]]
    values: list[str]             # probe tasks (Task.probes): each probe's value, as text (see verify.asserts)
    seconds: float
    calls: int
    call_log: list[Any]
    call_times: list[list[Any]]
    calibration: CalibrationWire
    candidate_gone: bool
    broken_task: str          # the task itself is broken: its test does not run (the reason)
    time_limit: float         # the wall limit that applied in the end
    load: float               # seconds from the hand-off until the program was loaded
    calibration_seconds: float  # seconds the judge spent timing the reference during this sample
    judge_crashed: str        # set by the sandbox when the judge raised
    compiled: str             # base64 of the program the candidate compiled (compiled languages)
