"""The built-in feedback presets, modelled on the refinement loops that work
(Self-Debug, Reflexion, CodeTree/RethinkMCTS, MultiCodeIF)."""

from __future__ import annotations

from typing import Any

from ..types import (CompileError, Crashed, ExceptionInfo, InstructionResult, LimitExceeded, ProgramRaised, Status,
                     UnusableResult, Verdict, WrongAnswer)
from . import VALUE_CAP, cut, register

_HEADLINES = {
    Status.PASSED: "All tests passed.",
    Status.FAILED: "Wrong answer.",
    Status.ERROR: "The program raised an exception.",
    Status.TIMEOUT: "The program ran past its time limit.",
    Status.MEMORY_LIMIT: "The program ran out of memory.",
    Status.OUTPUT_LIMIT: "The program printed too much output and was stopped.",
    Status.KILLED: "The program exited or crashed before the tests were done.",
    Status.SYNTAX_ERROR: "The program does not compile.",
    Status.NO_CODE: "No code was found in the answer.",
    Status.INFRA_ERROR: "The evaluator failed; this says nothing about the program.",
}


def _v(text: Any) -> str:
    return cut(str(text), VALUE_CAP)


def _counts(v: Verdict) -> str:
    if v.tests_total:
        return f"{v.tests_passed} of {v.tests_total} tests passed."
    return ""


def _exception(exc: ExceptionInfo, hidden: bool, during_call: bool) -> list[str]:
    """Exception type, message (not for hidden calls: it may hold the input) and own traceback."""
    name = exc.name or exc.type or "Exception"
    lines = [f"{name}: {_v(exc.message)}" if exc.message and not (hidden and during_call) else name]
    if exc.traceback:
        lines.append("Traceback (most recent call last, the program's own lines):")
        lines.append(exc.traceback)
    return lines


def _unusable(exc: ExceptionInfo, hidden: bool) -> list[str]:
    name = exc.name or exc.type or "Exception"
    return [f"The test could not use the returned value: {name}" + ("" if hidden else f": {_v(exc.message)}")]


def _syntax(f: CompileError) -> list[str]:
    if ": error" in f.message:  # a compiler's own report (C, C++): shown as it printed it
        return ["The compiler's first errors:", f.message.rstrip()]
    where = f"line {f.line}" + (f", column {f.offset}" if f.offset else "")
    out = [f"SyntaxError at {where}: {_v(f.message)}"]
    if f.text:
        out.append(f"    {f.text.rstrip()}")
    return out


def _instructions(v: Verdict) -> list[str]:
    failed: list[InstructionResult] = [r for r in v.instructions or () if not r.passed]
    if not failed:
        return []
    out = ["Instructions not followed:"]
    for r in failed:
        params = ", ".join(f"{k}={val!r}" for k, val in r.params.items())
        out.append(f"- {r.id}" + (f" ({params})" if params else "") + f": {r.sentence}")
        for viol in r.violations[:5]:
            out.append(f"  line {viol.line}, column {viol.column}: {viol.message}")
        if r.violation_count > 5:
            out.append(f"  ... and {r.violation_count - 5} more")
    return out


def _body(v: Verdict, hidden: bool, style: str) -> list[str]:
    f = v.failure
    out: list[str] = []
    if isinstance(f, CompileError):
        return _syntax(f)
    if v.status in (Status.NO_CODE, Status.INFRA_ERROR, Status.PASSED):
        return []
    given = getattr(f, "input", None)
    if isinstance(f, LimitExceeded) and f.limit == "time":
        limit = f.time_limit or v.time_limit
        on = "" if hidden or not given else f" on input {_v(given)}"
        why = f.message or (f"no answer within {limit} s" if limit else "no answer in time")
        out.append(f"Timed out: {why}{on}.")
        return out
    if isinstance(f, (LimitExceeded, Crashed)) or f is None:
        if isinstance(f, Crashed) and f.signal:
            out.append(f"It died on {f.signal}.")
        if not hidden and given:
            out.append(f"Input: {_v(given)}")
        return out
    exc = f.exception if isinstance(f, (ProgramRaised, UnusableResult)) else None
    if hidden:
        if isinstance(f, UnusableResult):
            out += _unusable(f.exception, hidden=True)
        elif isinstance(f, ProgramRaised):
            out += _exception(f.exception, hidden=True, during_call=bool(given))
        return out
    test = getattr(f, "test", None)
    expected = f.expected if isinstance(f, WrongAnswer) else None
    actual = f.actual if isinstance(f, WrongAnswer) else None
    if style == "reflexion" and test:
        shown = actual if actual is not None else (exc.name if exc else "an exception")
        out.append(f"{_v(test)}  # output: {_v(shown)}")
    elif style == "codetree" and test:
        out.append(f"Failed test:\n{_v(test)}")
        out.append("# Current Execution Output:")
        if actual is not None:
            out.append(_v(actual))
        elif isinstance(f, UnusableResult):
            out += _unusable(f.exception, hidden=False)
        elif exc is not None:
            out += _exception(exc, False, True)
        return out
    else:
        if test:
            out.append(f"Failing test: {_v(test)}")
        if given:
            out.append(f"Input: {_v(given)}")
        if expected is not None:
            out.append(f"Expected: {_v(expected)}")
        if actual is not None:
            out.append(f"Got: {_v(actual)}")
    if isinstance(f, UnusableResult):
        out += _unusable(f.exception, hidden=False)
    elif isinstance(f, ProgramRaised):
        out += _exception(f.exception, hidden=False, during_call=True)
    return out


def _compose(v: Verdict, hidden: bool, style: str) -> str:
    parts = [_HEADLINES[v.status]]
    if v.status is not Status.PASSED:
        parts += _body(v, hidden, style)
    counts = _counts(v)
    if counts and v.status is not Status.PASSED:
        parts.append(counts + (" (the tests are hidden)" if hidden else ""))
    parts += _instructions(v)
    if not hidden and v.stdout and style == "first_failure":
        parts.append("Printed output (end):\n" + v.stdout[-400:])
    return "\n".join(p for p in parts if p)


@register("first_failure", "The first failing test with input, expected and actual values (visible tests), or "
          "the exception with the program's own traceback, the time limit, instruction violations; "
          "hidden tests: status, exception type and own lines, counts only.")
def first_failure(v: Verdict, hidden: bool) -> str:
    return _compose(v, hidden, "first_failure")


@register("reflexion", "Reflexion's form: the failing assert followed by '# output: <actual>'.")
def reflexion(v: Verdict, hidden: bool) -> str:
    return _compose(v, hidden, "reflexion")


@register("codetree", "CodeTree/RethinkMCTS's form: 'Failed test:' then '# Current Execution Output:'.")
def codetree(v: Verdict, hidden: bool) -> str:
    return _compose(v, hidden, "codetree")


@register("status", "One line: the status and how many tests passed.")
def status_only(v: Verdict, hidden: bool) -> str:
    return " ".join(p for p in (_HEADLINES[v.status], _counts(v)) if p)


@register("first_failure_reveal_hidden", "Like first_failure, but shows hidden tests' inputs, expected and "
          "actual values too. Opt-in: it leaks the tests.", reveals_hidden=True)
def first_failure_reveal_hidden(v: Verdict, hidden: bool) -> str:
    return _compose(v, False, "first_failure")
