"""Judge a program against a task on the sandbox pool, and say what happened.

:func:`verify` is the one call the upper layers use: program text in,
:class:`~codeloop.types.Verdict` out. It retries evaluator failures on a fresh
worker and reports ``infra_error`` only when they persist.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from typing import Any

from ..sandbox.pool import InfraError, Limits, SandboxPool
from ..extract import has_code
from ..types import Task, Verdict

STREAM_CAP = 2000
GUARD_MARGIN = 2.0


def _assemble(report: dict[str, Any], verdict: dict[str, Any], limits: Limits, isolation: str) -> Verdict:
    status = verdict.get("status", "infra_error")
    exit_code = report.get("candidate_exit")
    if report.get("output_limit"):
        status = "output_limit"
    elif report.get("guard_hit"):
        status = "timeout"
    elif status == "killed" and exit_code == -signal.SIGXCPU:
        status = "timeout"
    elif status == "killed" and exit_code == -signal.SIGKILL and (
        (report.get("candidate_maxrss_kb") or 0) > limits.memory_mb * 1024 * 0.9
    ):
        status = "memory_limit"
    failure = verdict.get("failure")
    if status != verdict.get("status") and failure is not None:
        failure = dict(failure, message=_STATUS_MESSAGES.get(status, failure.get("message")))
    if status == "killed" and failure is not None and exit_code is not None and exit_code < 0:
        try:
            failure = dict(failure, signal=signal.Signals(-exit_code).name)
        except ValueError:
            pass
    if status == "timeout" and failure is not None:
        failure = dict(failure, time_limit=limits.time_limit)
    return Verdict(
        status=status, passed=status == "passed",
        tests_passed=verdict.get("tests_passed"), tests_total=verdict.get("tests_total"),
        test_results=verdict.get("test_results"), runs=verdict.get("runs"), failure=failure,
        stdout=_stream_text(report.get("stdout")), stderr=_stream_text(report.get("stderr")),
        test_seconds=verdict.get("seconds"), cpu_seconds=report.get("candidate_cpu"),
        wall_seconds=report.get("wall"), time_limit=limits.time_limit, isolation=isolation,
    )


def _stream_text(stream: dict[str, Any] | None) -> str:
    """What a program printed, at most about STREAM_CAP characters: its start
    and its end, with the size of what was cut between them."""
    if not stream:
        return ""
    head, tail, total = stream.get("head", ""), stream.get("tail", ""), stream.get("bytes", 0)
    if not tail and len(head) <= STREAM_CAP:
        return head
    half = STREAM_CAP // 2
    return f"{head[:half]}\n[... {total - 2 * half} bytes cut ...]\n{(tail or head)[-half:]}"


_STATUS_MESSAGES = {
    "output_limit": "the program printed more than the output limit and was stopped",
    "timeout": "the program ran past its time limit and was stopped",
    "memory_limit": "the program ran out of memory",
}


def verify(pool: SandboxPool, task: Task, program: str, limits: Limits, *, retries: int = 2,
           as_main: bool | None = None, call_limits: list[tuple[str, float]] | None = None,
           record_calls: bool = False, code: str | None = None) -> Verdict:
    """Run ``program`` (complete source) against ``task``'s tests.

    Limits: ``limits.time_limit`` covers all of the task's tests together;
    ``call_limits`` (argument digest, seconds) optionally bounds the i-th call
    too, when its arguments match (see :func:`time_reference`).
    ``record_calls`` keeps, for a passing program, the arguments of every
    call in ``verdict.call_log`` (for efficiency measurement). ``code`` is
    what the model wrote, when ``program`` adds a prompt to it: with no code
    in it the status is ``no_code``, whatever the prompt holds.
    Never raises for anything the program does; an evaluator failure that
    persists after ``retries`` fresh workers gives status ``infra_error``
    (with the reason in ``failure.message``), which callers must not score.
    """
    if not has_code(program if code is None else code):
        return Verdict(status="no_code", passed=False, failure={"message": "there is no code to run"},
                       isolation=pool.isolation, time_limit=limits.time_limit, attempts=0)
    main = task.kind == "stdio" if as_main is None else as_main
    control = {"program": program, "filename": "solution.py", "as_main": main, "limits": limits.to_wire(),
               "guard_seconds": limits.load_limit + limits.time_limit + GUARD_MARGIN}
    judge_job = dict(task.judge_job(), time_limit=limits.time_limit, load_limit=limits.load_limit,
                     max_output=limits.output_bytes, call_limits=call_limits or [], record_calls=record_calls)
    last_error = ""
    for attempt in range(1, retries + 2):
        try:
            report, raw = pool.run(control, judge_job, control["guard_seconds"])
        except InfraError as exc:
            last_error = str(exc)
            continue
        verdict = _assemble(report, raw, limits, pool.isolation)
        verdict.attempts = attempt
        verdict.call_log = raw.get("call_log") if verdict.passed else None
        if verdict.status != "infra_error":
            return verdict
        last_error = (verdict.failure or {}).get("message", "")
        if last_error.startswith("task error"):
            return verdict  # the task is broken: another try gives the same answer
    return Verdict(status="infra_error", passed=False, failure={"message": last_error},
                   isolation=pool.isolation, time_limit=limits.time_limit, attempts=retries + 1)


@dataclass
class ReferenceTiming:
    """How a task's reference did: its verdict, and the time of each call."""

    verdict: Verdict
    calls: int = 0
    call_times: list[tuple[str, float]] = field(default_factory=list)


def time_reference(pool: SandboxPool, task: Task, guard_seconds: float = 30.0) -> ReferenceTiming:
    """Run ``task.reference`` against the tests inside the judge process (it is
    trusted task code: no candidate sandbox, no call overhead) and time it.

    ``verdict.test_seconds`` is the tests' own time; ``call_times`` pairs each
    call's argument digest with its seconds. Only for ``check`` and
    ``asserts`` tasks; raises ValueError for others or a task without a reference.
    """
    if task.kind == "stdio" or not task.reference:
        raise ValueError("time_reference needs a check or asserts task with a reference")
    control = {"in_judge": True, "guard_seconds": guard_seconds}
    judge_job = dict(task.judge_job(), program=task.reference)
    last_error = ""
    for attempt in range(1, 4):
        try:
            _, raw = pool.run(control, judge_job, guard_seconds)
        except InfraError as exc:
            last_error = str(exc)
            continue
        status = raw.get("status", "infra_error")
        verdict = Verdict(status=status, passed=status == "passed", tests_passed=raw.get("tests_passed"),
                          tests_total=raw.get("tests_total"), failure=raw.get("failure"),
                          test_seconds=raw.get("seconds"), isolation=pool.isolation, attempts=attempt)
        return ReferenceTiming(verdict, int(raw.get("calls") or 0),
                               [(str(k), float(t)) for k, t in raw.get("call_times") or []])
    return ReferenceTiming(Verdict(status="infra_error", passed=False, failure={"message": last_error},
                                   isolation=pool.isolation, attempts=3))
