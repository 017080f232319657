"""A verdict from what the zygote saw and what the judge decided (pure).

The judge decides pass or fail; the zygote knows how the candidate ended
(an exit code, a signal, memory use, output size) and can correct the
status: a candidate the judge saw vanish was perhaps killed for its output,
its CPU time, or its memory.
"""

from __future__ import annotations

import signal
from typing import Any, Mapping

from ..sandbox.protocol import CallReport, StreamWire
from ..types import (CaseResult, Crashed, EvaluatorFailed, Failure, Isolation, LimitExceeded, Status, StdioRun, Timing, Verdict,
                     failure_from_dict)
from .protocol import JudgeResult

STREAM_CAP = 2000
_LIMIT_MESSAGES = {
    Status.OUTPUT_LIMIT: ("output", "the program printed more than the output limit and was stopped"),
    Status.TIMEOUT: ("time", "the program ran past its time limit and was stopped"),
    Status.MEMORY_LIMIT: ("memory", "the program ran out of memory"),
}


class BrokenTaskResult(Exception):
    """The judge found the task itself broken (its test cannot run)."""


def stream_text(stream: StreamWire | None) -> str:
    """What a program printed, at most about STREAM_CAP characters: its start
    and its end, with the size of what was cut between them."""
    if not stream:
        return ""
    head, tail, total = stream.get("head", ""), stream.get("tail", ""), stream.get("bytes", 0)
    if not tail and len(head) <= STREAM_CAP:
        return head
    half = STREAM_CAP // 2
    return f"{head[:half]}\n[... {total - 2 * half} bytes cut ...]\n{(tail or head)[-half:]}"


def _input_of(failure: Failure | None) -> str | None:
    return getattr(failure, "input", None)


def assemble(report: CallReport, result: JudgeResult | None, *, isolation: Isolation, memory_mb: int,
             time_limit: float | None, attempts: int = 1) -> Verdict:
    """The verdict of one sample. ``result`` None means the zygote's guard
    stopped the sample before the judge answered. Raises BrokenTaskResult
    when the judge says the task is broken, and ValueError for a result that
    is not a judge's."""
    if result is None:
        result = {"status": "timeout", "failure": {"kind": "limit", "limit": "time",
                                                   "message": "the sample ran past its guard time and was stopped"}}
    if "broken_task" in result:
        raise BrokenTaskResult(result["broken_task"])
    judged = Status(result.get("status", "infra_error"))
    status = judged
    exit_code = report.get("exit")
    if report.get("output_limit"):
        status = Status.OUTPUT_LIMIT
    elif report.get("guard_hit"):
        status = Status.TIMEOUT
    elif judged is Status.KILLED and exit_code == -signal.SIGXCPU:
        status = Status.TIMEOUT
    elif judged is Status.KILLED and exit_code == -signal.SIGKILL and (
            (report.get("maxrss_kb") or 0) > memory_mb * 1024 * 0.9):
        status = Status.MEMORY_LIMIT
    raw = result.get("failure")
    failure = failure_from_dict(raw, judged) if isinstance(raw, Mapping) else None
    limit = result.get("time_limit", time_limit)
    if status is not judged and status in _LIMIT_MESSAGES:
        which, message = _LIMIT_MESSAGES[status]
        failure = LimitExceeded(which, message, _input_of(failure))  # type: ignore[arg-type]
    if status is Status.KILLED and exit_code is not None and exit_code < 0 and getattr(failure, "signal", None) is None:
        try:
            failure = Crashed(getattr(failure, "message", "") or "the program died on a signal",
                              _input_of(failure), signal.Signals(-exit_code).name)
        except ValueError:
            pass
    if status is Status.TIMEOUT and isinstance(failure, LimitExceeded):
        failure = LimitExceeded("time", failure.message, failure.input, failure.time_limit or limit)
    if status is Status.INFRA_ERROR and failure is None:
        failure = EvaluatorFailed("the judge gave no reason")
    runs = result.get("runs")
    return Verdict(
        status=status, tests_passed=result.get("tests_passed"), tests_total=result.get("tests_total"),
        test_results=tuple(result["test_results"]) if result.get("test_results") is not None else None,
        runs=tuple(_run(r) for r in runs) if runs else None, failure=failure,
        values=tuple(str(v) for v in result["values"]) if result.get("values") else None,
        case_results=_case_results(result.get("case_results")),
        stdout=stream_text(report.get("stdout")), stderr=stream_text(report.get("stderr")),
        test_seconds=result.get("seconds"), cpu_seconds=report.get("cpu"), wall_seconds=report.get("wall"),
        time_limit=limit, isolation=isolation, attempts=attempts,
        timing=Timing(report.get("spawn"), result.get("load"), result.get("calls"), result.get("calibration_seconds")),
    )


def _case_results(raw: Any) -> tuple[CaseResult, ...] | None:
    if not raw:
        return None
    return tuple(CaseResult(int(index), Status(status), seconds if isinstance(seconds, (int, float)) else None)
                 for index, status, seconds in raw)


def _run(r: Mapping[str, Any]) -> StdioRun:
    exit_code = r.get("exit")
    return StdioRun(str(r.get("stdout", "")), str(r.get("stderr", "")),
                    exit_code if isinstance(exit_code, int) else None, r.get("seconds"))
