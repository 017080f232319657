"""The one judge (codeloop.verify.engine.Judge) and the records it returns:
batches in order, futures, lazy calibration of time limits, and verdicts that
serialise to the results file's keys and read back."""

import dataclasses
from concurrent.futures import Future

import pytest
from conftest import asserts_task, check_task, run

from codeloop.types import (CompileError, Crashed, LimitExceeded, ProgramRaised, Status, Task, TaskKind, Verdict,
                            WrongAnswer)
from codeloop.verify.engine import Judge
from codeloop.verify.limits import TimeLimits, TimePolicy

pytestmark = pytest.mark.sandbox

SQ = asserts_task([f"assert sq({i}) == {i * i}" for i in range(20)], entry_point="sq",
                  reference="def sq(x):\n    return x * x\n")
RIGHT = "def sq(x):\n    return x * x\n"
WRONG = "def sq(x):\n    return x + x\n"
LOOP = "def sq(x):\n    while x == 7:\n        pass\n    return x * x\n"


def test_judge_many_answers_in_order(judge):
    items = [(SQ, RIGHT), (SQ, WRONG), (SQ, "def sq(x)\n"), (SQ, RIGHT), (SQ, "# nothing\n")]
    assert [v.status for v in judge.judge_many(items)] == [Status.PASSED, Status.FAILED, Status.SYNTAX_ERROR,
                                                           Status.PASSED, Status.NO_CODE]


def test_submit_gives_a_future_of_a_verdict(judge):
    fut = judge.submit(SQ, WRONG)
    assert isinstance(fut, Future)
    v = fut.result(timeout=60)
    assert isinstance(v, Verdict) and v.status is Status.FAILED and not v.passed
    assert isinstance(v.failure, WrongAnswer) and v.failure.input == "sq(1)" and v.failure.expected == "1"
    assert v.failure.actual == "2" and v.failure.test == "assert sq(1) == 1" and v.tests_passed == 2


def test_no_code_in_what_the_model_wrote(judge):
    prompt = "def sq(x):\n    return x * x\n"
    v = judge.judge(SQ, prompt + "# thinking\n", code="# thinking\n")
    assert v.status is Status.NO_CODE and v.attempts == 0  # the prompt's code does not count


def test_time_limits_are_calibrated_only_when_a_program_outlasts_the_floors(pool):
    judge = Judge(pool)
    try:
        assert judge.limits.known(SQ) is None
        assert judge.judge(SQ, RIGHT).passed
        assert judge.limits.known(SQ) is None  # inside the floors: the reference was not timed
        v = judge.judge(SQ, LOOP)
        assert v.status is Status.TIMEOUT
        assert isinstance(v.failure, LimitExceeded) and v.failure.input == "sq(7)"
        known = judge.limits.known(SQ)
        assert known is not None and known.source == "calibrated" and known.reference_status == "passed"
        assert set(judge.limits.record.seconds) == {"t"} and judge.limits.record.failed == {}
    finally:
        judge.close()


def test_time_reference_and_what_settles_limits_without_it(pool):
    judge = Judge(pool)
    try:
        budgets = judge.time_reference(SQ)
        assert budgets.source == "calibrated" and budgets.wall >= TimePolicy().floor
        assert judge.limits.known(SQ) == budgets and judge.time_reference(SQ) == budgets
        # the same content under another id shares the timing
        assert judge.limits.known(dataclasses.replace(SQ, task_id="other", origin="elsewhere")) == budgets
        assert judge.limits.known(dataclasses.replace(SQ, time_limit=4.0)).source == "task"
        assert judge.limits.known(dataclasses.replace(SQ, reference=None)).source == "default"
        with pytest.raises(ValueError):
            judge.time_reference(Task(task_id="io", kind=TaskKind.STDIO, reference="print(1)\n"))
    finally:
        judge.close()
    assert TimeLimits(TimePolicy(fixed=2.5)).known(SQ).wall == 2.5


def test_task_is_frozen_and_keyed_by_content():
    a = check_task("def check(candidate):\n    assert candidate() == 1\n")
    b = dataclasses.replace(a, task_id="b", origin="x.jsonl:3")
    assert a.key == b.key and a.key != dataclasses.replace(a, entry_point="g").key
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.task_id = "c"
    assert isinstance(SQ.asserts, tuple)


@pytest.mark.parametrize("program, status, failure", [
    (WRONG, Status.FAILED, WrongAnswer),
    ("def sq(x):\n    return 1 // 0\n", Status.ERROR, ProgramRaised),
    ("def sq(x):\n    while True:\n        pass\n", Status.TIMEOUT, LimitExceeded),
    ("import os\ndef sq(x):\n    os._exit(1)\n", Status.KILLED, Crashed),
    ("def sq(x)\n", Status.SYNTAX_ERROR, CompileError),
])
def test_verdicts_write_the_results_keys_and_read_back(pool, program, status, failure):
    v = run(pool, SQ, program, time_limit=0.5)
    assert v.status is status and isinstance(v.failure, failure)
    d = v.to_dict()
    assert d["status"] == status.value and d["passed"] is False and d["failure"]["kind"] == failure.kind
    assert Verdict.from_dict(d) == v
    legacy = dict(d, failure={k: x for k, x in d["failure"].items() if k != "kind"})  # written by codeloop 0.1
    assert Verdict.from_dict(legacy).failure == v.failure


def test_probes_report_what_each_bare_call_returned(pool):
    """In a probe task (``probes``), a bare call of the entry point among the tests is a probe: its value is
    reported, nothing is checked and it is not a test (MBR-exec groups samples by these). The setup's own
    calls are not probes."""
    task = asserts_task(["sq(3)", "sq(0.5)", "sq(-2)", "assert sq(2) == 4", "sq('x')"], entry_point="sq",
                        setup="def twice(x):\n    return 2 * x\ntwice(4)", probes=True)
    v = run(pool, task, "def sq(x):\n    return {x * x}\n")
    assert v.status is Status.FAILED and v.tests_total == 1 and v.tests_passed == 0  # {4} != 4; probes not tests
    assert v.values == ("{9}", "{0.25}", "{4}", "raised TypeError")
    right = run(pool, task, RIGHT)
    assert right.values == ("9", "0.25", "4", "raised TypeError") and right.status is Status.ERROR
    # equal values read the same, however the program built them; a forged "equal to anything" object cannot cross
    same = run(pool, task, "def sq(x):\n    return float(x) ** 2 if isinstance(x, int) else x * x\n")
    assert same.values[:3] == ("9", "0.25", "4")
    liar = run(pool, task, "class Yes:\n    def __eq__(self, o):\n        return True\n"
                           "def sq(x):\n    return Yes()\n")
    assert liar.status is Status.ERROR and liar.values == ("raised TypeError",) * 4
    # a probe whose argument cannot cross is noted, not the program's fault nor a broken task
    odd = run(pool, asserts_task(["sq(3)", "sq(lambda: 1)"], entry_point="sq", probes=True), RIGHT)
    assert odd.status is Status.PASSED and odd.values[0] == "9" and odd.values[1].startswith("<probe not run:")
    only_odd = run(pool, asserts_task(["sq(lambda: 1)"], entry_point="sq", probes=True), RIGHT)  # not broken
    assert only_odd.status is Status.PASSED and only_odd.tests_total == 0 and len(only_odd.values) == 1
    assert "values" not in run(pool, SQ, RIGHT).to_dict()  # results of other tasks keep their keys
    # a run that ends early (as when a test does) has no values: how it ended is what it did
    slow = run(pool, task, "def sq(x):\n    while x == 0.5:\n        pass\n    return x * x\n", time_limit=0.5)
    assert slow.status is Status.TIMEOUT and slow.values is None


def test_a_bare_call_in_an_ordinary_asserts_task_only_runs():
    """Probes are opt-in (``Task.probes``, set by the probe task codeloop builds for selection): in any other
    asserts task a bare call of the entry point just runs, as before probes existed, and its key is unchanged."""
    from codeloop.tasks.jsonl import InlineTaskError, task_from_fields
    from codeloop.tasks.visible import probe_task

    task = asserts_task(["apply(lambda v: v + 1, 1)"], entry_point="apply")
    assert not task.probes and "probes" not in task.to_record()
    probing = dataclasses.replace(task, probes=True)
    assert probing.key != task.key and task_from_fields(probing.to_record(), origin="inline").probes
    built = probe_task(SQ, ["assert sq(5) == 25"])
    assert built.probes and built.asserts == ("sq(5)",)
    with pytest.raises(InlineTaskError, match="probes"):
        task_from_fields(dict(check_task("def check(c):\n    pass\n").to_record(), probes=True), origin="inline")


def test_an_asserts_task_whose_only_entry_is_a_bare_call_has_no_tests(pool):
    """A task with no assert is broken (infra_error), even when its bare call cannot send its argument:
    a wrong program must not pass it."""
    task = asserts_task(["apply(lambda v: v + 1, 1)"], entry_point="apply")
    v = run(pool, task, "def apply(f, x):\n    return 0\n")
    assert v.status is Status.INFRA_ERROR and v.tests_total is None and v.values is None
    plain = run(pool, asserts_task(["apply(1, 1)"], entry_point="apply"), "def apply(f, x):\n    return 0\n")
    assert plain.status is Status.INFRA_ERROR and plain.values is None


def test_a_bare_call_is_not_a_test_and_probes_are_not_counted(pool):
    """A bare call before an assert neither adds a passed test nor a value in an ordinary task; in a probe
    task its value is recorded, still not counted."""
    task = asserts_task(["total([])", "assert total([1, 2]) == 3"], entry_point="total")
    wrong = "def total(xs):\n    return 0\n"
    v = run(pool, task, wrong)
    assert v.status is Status.FAILED and (v.tests_passed, v.tests_total) == (0, 1) and v.values is None
    assert v.test_results == (False,)
    probed = run(pool, dataclasses.replace(task, probes=True), wrong)
    assert probed.status is Status.FAILED and (probed.tests_passed, probed.tests_total) == (0, 1)
    assert probed.values == ("0",) and probed.test_results == (False,)
    raised = run(pool, dataclasses.replace(task, probes=True), "def total(xs):\n    return xs[0] + sum(xs[1:])\n")
    assert raised.status is Status.ERROR and (raised.tests_passed, raised.tests_total) == (1, 1)
    assert raised.values == ("raised IndexError",)
    # stopped at the first failure, the asserts not run count as not passed; the probes not run do not count
    stopped = run(pool, asserts_task(["total([])", "assert total([1]) == 1", "total([2])", "assert total([3]) == 3"],
                                     entry_point="total", probes=True, stop_on_failure=True), wrong)
    assert stopped.status is Status.FAILED and (stopped.tests_passed, stopped.tests_total) == (0, 2)
