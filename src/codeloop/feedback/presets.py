"""The built-in feedback presets, modelled on the refinement loops that work
(Self-Debug, Reflexion, CodeTree/RethinkMCTS, MultiCodeIF)."""

from __future__ import annotations

from typing import Any

from ..types import Verdict
from . import VALUE_CAP, cut, register

_HEADLINES = {
    "passed": "All tests passed.",
    "failed": "Wrong answer.",
    "error": "The program raised an exception.",
    "timeout": "The program ran past its time limit.",
    "memory_limit": "The program ran out of memory.",
    "output_limit": "The program printed too much output and was stopped.",
    "killed": "The program exited or crashed before the tests were done.",
    "syntax_error": "The program does not compile.",
    "no_code": "No code was found in the answer.",
    "infra_error": "The evaluator failed; this says nothing about the program.",
}


def _v(text: Any) -> str:
    return cut(str(text), VALUE_CAP)


def _counts(v: Verdict) -> str:
    if v.tests_total:
        return f"{v.tests_passed} of {v.tests_total} tests passed."
    return ""


def _exception(exc: dict[str, Any], hidden: bool, during_call: bool) -> list[str]:
    """Exception type, message (not for hidden calls: it may hold the input) and own traceback."""
    lines = []
    name = exc.get("name") or exc.get("type") or "Exception"
    message = exc.get("message", "")
    if exc.get("where") == "test":
        lines.append(f"The test could not use the returned value: {name}" + ("" if hidden else f": {_v(message)}"))
        return lines
    lines.append(f"{name}: {_v(message)}" if message and not (hidden and during_call) else name)
    if exc.get("traceback"):
        lines.append("Traceback (most recent call last, the program's own lines):")
        lines.append(str(exc["traceback"]))
    return lines


def _syntax(v: Verdict) -> list[str]:
    exc = (v.failure or {}).get("exception") or {}
    where = f"line {exc.get('line')}" + (f", column {exc.get('offset')}" if exc.get("offset") else "")
    out = [f"SyntaxError at {where}: {_v(exc.get('message', ''))}"]
    if exc.get("text"):
        out.append(f"    {str(exc['text']).rstrip()}")
    return out


def _instructions(v: Verdict) -> list[str]:
    failed = [r for r in v.instructions or [] if not r.get("passed")]
    if not failed:
        return []
    out = ["Instructions not followed:"]
    for r in failed:
        params = ", ".join(f"{k}={val!r}" for k, val in (r.get("params") or {}).items())
        out.append(f"- {r['id']}" + (f" ({params})" if params else "") + f": {r.get('sentence', '')}")
        for viol in (r.get("violations") or [])[:5]:
            out.append(f"  line {viol.get('line')}, column {viol.get('column')}: {viol.get('message')}")
        if len(r.get("violations") or []) > 5:
            out.append(f"  ... and {len(r['violations']) - 5} more")
    return out


def _body(v: Verdict, hidden: bool, style: str) -> list[str]:
    f = v.failure or {}
    out: list[str] = []
    if v.status == "syntax_error":
        return _syntax(v)
    if v.status in ("no_code", "infra_error", "passed"):
        return []
    if v.status == "timeout":
        limit = f.get("time_limit") or v.time_limit
        on = "" if hidden or not f.get("input") else f" on input {_v(f['input'])}"
        why = f.get("message") or (f"no answer within {limit} s" if limit else "no answer in time")
        out.append(f"Timed out: {why}{on}.")
        return out
    if v.status in ("memory_limit", "output_limit", "killed"):
        if f.get("signal"):
            out.append(f"It died on {f['signal']}.")
        if not hidden and f.get("input"):
            out.append(f"Input: {_v(f['input'])}")
        return out
    exc = f.get("exception")
    if hidden:
        if exc:
            out += _exception(exc, hidden=True, during_call=bool(f.get("input")))
        return out
    test, given, expected, actual = f.get("test"), f.get("input"), f.get("expected"), f.get("actual")
    if style == "reflexion" and test:
        shown = actual if actual is not None else (exc or {}).get("name", "an exception")
        out.append(f"{_v(test)}  # output: {_v(shown)}")
    elif style == "codetree" and test:
        out.append(f"Failed test:\n{_v(test)}")
        out.append("# Current Execution Output:")
        out.append(_v(actual) if actual is not None else "\n".join(_exception(exc or {}, False, True)))
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
    if exc:
        out += _exception(exc, hidden=False, during_call=True)
    if f.get("message") and not exc and not test:
        out.append(_v(f["message"]))
    return out


def _compose(v: Verdict, hidden: bool, style: str) -> str:
    parts = [_HEADLINES.get(v.status, v.status)]
    if v.status != "passed":
        parts += _body(v, hidden, style)
    counts = _counts(v)
    if counts and v.status != "passed":
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
    return " ".join(p for p in (_HEADLINES.get(v.status, v.status), _counts(v)) if p)


@register("first_failure_reveal_hidden", "Like first_failure, but shows hidden tests' inputs, expected and "
          "actual values too. Opt-in: it leaks the tests.", reveals_hidden=True)
def first_failure_reveal_hidden(v: Verdict, hidden: bool) -> str:
    return _compose(v, False, "first_failure")
