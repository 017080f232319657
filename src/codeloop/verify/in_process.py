"""The in-process mode: a task's tests run beside the program, inside its sandboxed process.

Some tests need what cannot cross the split: a Matplotlib ``Axes`` the
program drew on, a file it wrote, a module it monkey-patched, a mock of
a module it uses. A task that says ``"integrity": "in-process"`` has its
tests appended to the program and run in the program's own process (still in
the sandbox, with its limits), which prints a report line: how many tests
passed of how many, each one's outcome, and the first failure. The program
is run as a whole (a stdin run with nothing to compare), and
:func:`in_process_verdict` reads the report from what it printed; the mode's
report is read here, where the mode lives, not by an output comparator.

What a program could forge there, and the split prevents: the tests and
their expected values are in its memory, so it can read them; it can replace
``AssertionError``, ``print`` or the report itself, or exit with a report
it wrote. Every verdict of such a task says ``"integrity": "in-process"``;
use it for tasks whose tests cannot be written otherwise, never to grade
training rewards that a policy could learn to forge.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from ..types import (IN_PROCESS, SPLIT, TASK_MEMO, Crashed, ExceptionInfo, Failure, IOCase, LimitExceeded,
                     ProgramRaised, Status, Task, TaskKind, UnusableResult, Verdict, WrongAnswer, evaluator_failure)

MARKER = "CODELOOP-IN-PROCESS-REPORT "  # starts the report line the appended tests print
MAX_TEST_TEXT = 300

_HARNESS = '''

def _codeloop_in_process_tests():
    import builtins as _builtins
    import json as _json
    import traceback as _traceback
    _namespace = globals()
    _namespace.setdefault({memo!r}, {{}})  # the per-task memo a judge gives tests: here, this run's only
    _steps = {steps!r}
    _setup_steps = {setup_steps}
    _results, _first = [], None
    for _index, _source in enumerate(_steps):
        try:
            exec(compile(_source, "test.py", "exec", dont_inherit=True), _namespace)
            if {kind!r} == "check" and _index == len(_steps) - 1:
                _namespace["check"](_namespace[{entry_point!r}])
            if _index >= _setup_steps:
                _results.append(True)
        except BaseException as _exc:  # noqa: BLE001 - a failing test, reported
            _cls = type(_exc)
            # the failing line: an assert entry's own (its first frame in the tests), or inside check() the
            # innermost line of the test's code (both are compiled as test.py)
            _lines = (_steps[0] if {kind!r} == "check" else _source).splitlines()
            _frames = _traceback.extract_tb(_exc.__traceback__)
            _at = [f.lineno for f in _frames if f.filename == "test.py"]
            _at = _at[-1:] if {kind!r} == "check" else _at[:1]
            _text = (_lines[_at[0] - 1] if _at and 0 < _at[0] <= len(_lines)
                     else (_lines[-1] if _lines else "check({entry_point})")).strip()
            _first = _first or {{
                "test": _text[:{max_text}], "setup": _index < _setup_steps,
                "in_test": not _frames or _frames[-1].filename == "test.py",
                "type": _cls.__name__ if getattr(_builtins, _cls.__name__, None) is _cls else "Exception",
                "name": _cls.__name__, "message": str(_exc)[:2000],
                "traceback": "".join(_traceback.format_exception(_cls, _exc, _exc.__traceback__.tb_next))[-2000:]}}
            if _index < _setup_steps:
                break  # the tests cannot run without their set-up: none passed
            _results.append(False)
    _total = len(_steps) - _setup_steps
    print("\\n{marker}" + _json.dumps({{"passed": sum(_results), "total": _total, "results": _results,
                                        "first_failure": _first}}), flush=True)


_codeloop_in_process_tests()
'''


def in_process_program(task: Task, program: str) -> str:
    """``program`` with ``task``'s tests appended, run when the program has run. Each of an asserts task's
    entries is a test (a bare call too: it passes if it returns); a check task's ``check(candidate)`` is one."""
    if task.kind is TaskKind.ASSERTS:
        setup = [task.setup] if task.setup.strip() else []
        steps, kind = [*setup, *task.asserts], "asserts"
    else:
        setup = [task.test]
        steps, kind = [task.test, ""], "check"
    return program + _HARNESS.format(steps=steps, setup_steps=len(setup), kind=kind, entry_point=task.entry_point,
                                     marker=MARKER, max_text=MAX_TEST_TEXT, memo=TASK_MEMO)


def in_process_task(task: Task) -> Task:
    """The task the appended program is judged as: one run of the whole program with nothing to compare (its
    output is kept), read by :func:`in_process_verdict`. Raises ValueError for a task the mode does not take."""
    if task.kind not in (TaskKind.ASSERTS, TaskKind.CHECK):
        raise ValueError(f"the in-process mode takes asserts or check tests, not {task.kind.value}")
    return replace(task, kind=TaskKind.STDIO, cases=(IOCase("", None),), asserts=(), test="", setup="",
                   compare=None, reference=None, time_limit_per_test=task.time_limit or 10.0, integrity=SPLIT,
                   probes=False)


def read_report(stdout: str) -> dict[str, Any] | None:
    """The last report line in ``stdout``, checked for shape (None: no readable report). The program could
    have printed it itself: see the module's docstring."""
    lines = [line for line in stdout.splitlines() if line.startswith(MARKER)]
    if not lines:
        return None
    try:
        report = json.loads(lines[-1][len(MARKER):])
    except ValueError:
        return None
    if not isinstance(report, dict) or type(report.get("total")) is not int or type(report.get("passed")) is not int \
            or not 0 <= report["passed"] <= report["total"]:
        return None
    return report


def _without_report(stdout: str) -> str:
    return "\n".join(line for line in stdout.split("\n") if not line.startswith(MARKER)).rstrip("\n")


def _failure(first: Any) -> tuple[Status, Failure]:
    """The first failing test's status and failure, as the split judge gives them where it can: a bare
    assertion that did not hold is a wrong answer (with no expected or actual value: the tests' values are
    not seen here); an exception the tests' own code raised (an assertion with a message, unittest's
    failures, a check on a value that has none) a wrong answer whose detail is that exception; one the
    program raised its error; running out of memory the memory limit. Where an exception was raised is
    told by the program's own traceback, which it could forge (see the module's docstring)."""
    info = first if isinstance(first, dict) else {}
    test = str(info.get("test") or "")[:MAX_TEST_TEXT] or None
    name = str(info.get("name") or "Exception")
    exc = ExceptionInfo(type=str(info.get("type") or "Exception"), name=name,
                        message=str(info.get("message") or "")[:2000], traceback=str(info.get("traceback") or ""))
    if name == "MemoryError":
        return Status.MEMORY_LIMIT, LimitExceeded("memory", "the program ran out of memory during the tests")
    if info.get("setup"):
        return Status.ERROR, ProgramRaised(exception=exc, test=f"(set-up) {test}" if test else "(set-up)")
    if info.get("in_test"):
        if name == "AssertionError" and not exc.message:
            return Status.FAILED, WrongAnswer(test=test)
        return Status.FAILED, UnusableResult(exception=exc, test=test)
    return Status.ERROR, ProgramRaised(exception=exc, test=test)


def in_process_verdict(run: Verdict) -> Verdict:
    """The verdict of an in-process task from its run (:func:`in_process_task`): the report's tests passed and
    total, each test's outcome and the first failure; a run that ended early (a time-out, a crash) keeps how it
    ended. A program that exited without a report never let its tests run: ``killed``. Always says
    ``integrity`` in-process."""
    first_run = run.runs[0] if run.runs else None
    report = read_report(first_run.stdout) if first_run is not None else None
    common: dict[str, Any] = {"integrity": IN_PROCESS, "runs": None, "case_results": None}
    if first_run is not None:
        common["stdout"] = _without_report(first_run.stdout)[-4000:]
        common["stderr"] = first_run.stderr[-4000:]
    if report is None:
        status, failure = run.status, run.failure
        if status is Status.PASSED:
            status, failure = Status.KILLED, Crashed("the program exited before its tests ran (no test report)")
        return run.with_(status=status, failure=failure, tests_passed=None, tests_total=None, test_results=None,
                         **common)
    if report["total"] == 0:
        return evaluator_failure("the task has no tests", run.isolation, broken_task=True).with_(**common)
    results = report.get("results")
    counts: dict[str, Any] = {
        "tests_passed": report["passed"], "tests_total": report["total"],
        "test_results": tuple(bool(r) for r in results[:1000]) if isinstance(results, list) else None}
    if run.status is not Status.PASSED:  # the report came, then the run failed (a limit, an exit status)
        return run.with_(**counts, **common)
    if report["passed"] == report["total"]:
        return run.with_(status=Status.PASSED, failure=None, **counts, **common)
    status, failure = _failure(report.get("first_failure"))
    return run.with_(status=status, failure=failure, **counts, **common)
