"""The in-process mode: a task's tests run beside the program, inside its sandboxed process.

Some tests need what cannot cross the split: a Matplotlib ``Axes`` the
program drew on, a file it wrote, a module it monkey-patched, a mock of
a module it uses. A task that says ``"integrity": "in-process"`` has its
tests appended to the program and run in the program's own process (still in
the sandbox, with its limits), which prints a report line the judge reads.

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

from ..compare import IN_PROCESS_MARKER as MARKER
from ..types import SPLIT, TASK_MEMO, IOCase, Task, TaskKind

COMPARATOR = {"name": "in_process_report"}

_HARNESS = '''

def _codeloop_in_process_tests():
    import json as _json
    import traceback as _traceback
    _namespace = globals()
    _namespace.setdefault({memo!r}, {{}})  # the per-task memo a judge gives tests: here, this run's only
    _passed, _total, _first = 0, 0, None
    _steps = {steps!r}
    for _index, _source in enumerate(_steps):
        _counts = _index >= {setup_steps}
        try:
            exec(compile(_source, "test.py", "exec", dont_inherit=True), _namespace)
            if {kind!r} == "check" and _index == len(_steps) - 1:
                _namespace["check"](_namespace[{entry_point!r}])
            _passed += 1 if _counts else 0
        except BaseException as _exc:  # noqa: BLE001 - a failing test, reported
            if not _counts:
                _first = _first or "the tests' set-up failed: " + repr(_exc)[:500]
                break
            _first = _first or ((_source.strip().splitlines() or ["check({entry_point})"])[-1][:300] + ": "
                                + "".join(_traceback.format_exception_only(type(_exc), _exc)).strip()[:700])
        _total += 1 if _counts else 0
    print("\\n{marker}" + _json.dumps({{"passed": _passed, "total": _total, "first_failure": _first}}), flush=True)


_codeloop_in_process_tests()
'''


def in_process_program(task: Task, program: str) -> str:
    """``program`` with ``task``'s tests appended, run when the program has run."""
    if task.kind is TaskKind.ASSERTS:
        setup = [task.setup] if task.setup.strip() else []
        steps, kind = [*setup, *task.asserts], "asserts"
    else:
        setup = [task.test]
        steps, kind = [task.test, ""], "check"
    return program + _HARNESS.format(steps=steps, setup_steps=len(setup), kind=kind, entry_point=task.entry_point,
                                     marker=MARKER, memo=TASK_MEMO)


def in_process_task(task: Task) -> Task:
    """The task the appended program is judged as: one run, its report line read by the ``in_process_report``
    comparator (passed when every test passed)."""
    if task.kind not in (TaskKind.ASSERTS, TaskKind.CHECK):
        raise ValueError(f"the in-process mode takes asserts or check tests, not {task.kind.value}")
    return replace(task, kind=TaskKind.STDIO, cases=(IOCase("", json.dumps({"all": True})),), asserts=(), test="",
                   setup="", compare=dict(COMPARATOR), reference=None,
                   time_limit_per_test=task.time_limit or 10.0, integrity=SPLIT)
