"""A batch never dies for one item: the parse race CPython 3.11 has under
threads is closed, and any failure while preparing or judging one sample is
that sample's evaluator failure (``infra_error`` with the reason), while the
rest of the batch is judged."""

from __future__ import annotations

import sys
import threading

import pytest

from codeloop import pyparse
from codeloop.types import Status

GOOD = "def max_element(l):\n    return max(l)\n"
SOURCE = "def f(x):\n" + "".join(f"    y{i} = [(a, b) for a in range({i}) for b in range(a) if (a + b) % 3]\n"
                                  for i in range(60)) + "    return x\n"


class _Finalized:
    """Garbage whose finalizer runs Python code, so the collector switches threads mid-parse."""

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        sum(range(200))


def test_parsing_from_many_threads_at_once_never_raises_systemerror():
    # With plain ast.parse this workload raises "AST constructor recursion depth
    # mismatch" one to a few times a run on CPython 3.11 (the race the service hit).
    errors: list[BaseException] = []

    def work() -> None:
        for _ in range(300):
            for _ in range(200):
                _Finalized()
            try:
                pyparse.parse(SOURCE)
            except SystemError as exc:
                errors.append(exc)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert errors == []


@pytest.mark.sandbox
def test_one_item_failing_to_prepare_costs_that_item_only(monkeypatch):
    import codeloop.scoring.local as local
    from codeloop.scoring.local import LocalScorer
    from codeloop.tasks import load_benchmark

    real = local.extract_for_task

    def flaky(task, reply):
        if "POISON" in reply:
            raise SystemError("AST constructor recursion depth mismatch (before=18, after=8)")
        return real(task, reply)

    monkeypatch.setattr(local, "extract_for_task", flaky)
    scorer = LocalScorer(load_benchmark("humaneval"), workers=1)
    try:
        task = scorer.resolve({"task_id": "HumanEval/35"})
        verdicts = scorer.judge_many([(task, GOOD), (task, "# POISON\n" + GOOD), (task, GOOD)])
    finally:
        scorer.close()
    assert [v.status for v in verdicts] == [Status.PASSED, Status.INFRA_ERROR, Status.PASSED]
    assert "SystemError" in verdicts[1].failure.message and "recursion depth" in verdicts[1].failure.message


@pytest.mark.sandbox
def test_a_failure_while_reading_one_result_costs_that_item_only(monkeypatch):
    import codeloop.verify.engine as engine
    from codeloop.scoring.local import LocalScorer
    from codeloop.tasks import load_benchmark

    real = engine.assemble
    calls = {"n": 0}

    def breaks_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("a bug of the evaluator's own")
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "assemble", breaks_once)
    scorer = LocalScorer(load_benchmark("humaneval"), workers=1)
    try:
        task = scorer.resolve({"task_id": "HumanEval/35"})
        verdicts = scorer.judge_many([(task, GOOD)] * 3)  # would hang for ever if the error were lost
    finally:
        scorer.close()
    statuses = [v.status for v in verdicts]
    assert statuses.count(Status.INFRA_ERROR) == 1 and statuses.count(Status.PASSED) == 2
    assert "a bug of the evaluator's own" in next(v for v in verdicts if not v.passed).failure.message
