"""Per-test limits and results for stdin/stdout tasks (issue 10, part 3).

Each case gets its own status and index; a case over its own CPU limit is
that case's time-out, and the cases after it still run unless the task says
stop at the first failure.
"""

from __future__ import annotations

import pytest

from codeloop.tasks.jsonl import load_task_file
from codeloop.types import CaseResult, Crashed, IOCase, LimitExceeded, Status, Task, TaskKind, Verdict, \
    WrongAnswer, wall_for_cases
from codeloop.verify.engine import Judge

# Answers "n*2" for each input n, except: 7 spins, 8 prints a wrong answer, 9 raises, 6 sleeps,
# 5 dies on a signal, 4 runs out of memory.
PROGRAM = """import os, signal, sys, time
n = int(input())
if n == 7:
    while True:
        pass
if n == 6:
    time.sleep(30)
if n == 8:
    print(n * 3)
elif n == 9:
    raise ValueError("nine")
elif n == 5:
    os.kill(os.getpid(), signal.SIGSEGV)
elif n == 4:
    x = bytearray(1 << 40)
else:
    print(n * 2)
"""


def stdio(inputs: list[int], **kw) -> Task:
    return Task(task_id="t", kind=TaskKind.STDIO,
                cases=tuple(IOCase(f"{n}\n", f"{n * 2}\n") for n in inputs), **kw)


@pytest.fixture(scope="module")
def plain_judge(pool):
    j = Judge(pool)  # the task's own limits apply: no fixed policy
    yield j
    j.close()


def statuses(v: Verdict) -> list[tuple[int, str]]:
    assert v.case_results is not None
    return [(c.index, c.status.value) for c in v.case_results]


def test_each_case_has_its_status_and_index_and_a_time_out_does_not_stop_the_rest(plain_judge):
    task = stdio([1, 7, 8, 9, 5, 6, 4, 2], time_limit_per_test=0.3)
    v = plain_judge.judge(task, PROGRAM)
    assert statuses(v) == [(0, "passed"), (1, "timeout"), (2, "failed"), (3, "error"), (4, "killed"),
                           (5, "timeout"), (6, "memory_limit"), (7, "passed")]
    assert v.test_results == (True, False, False, False, False, False, False, True)
    assert (v.tests_passed, v.tests_total) == (2, 8)
    # the sample's status and failure are the first failing case's
    assert v.status is Status.TIMEOUT and isinstance(v.failure, LimitExceeded)
    assert "test 1" in v.failure.message and "0.3 s of CPU" in v.failure.message and v.failure.time_limit == 0.3
    spun = v.case_results[1].seconds
    assert spun is not None and 0.3 <= spun < 1.5  # stopped soon after its CPU limit
    assert v.case_results[5].seconds is not None and v.case_results[5].seconds < 0.1  # slept: no CPU, wall limit


def test_stop_on_failure_runs_nothing_after_the_first_failing_case(plain_judge):
    v = plain_judge.judge(stdio([1, 8, 2, 3], time_limit_per_test=1.0, stop_on_failure=True), PROGRAM)
    assert statuses(v) == [(0, "passed"), (1, "failed")]
    assert v.status is Status.FAILED and isinstance(v.failure, WrongAnswer) and v.failure.case == 1
    assert (v.tests_passed, v.tests_total) == (1, 4)  # the cases not run count as not passed


def test_a_signal_names_itself_and_the_first_failure_wins(plain_judge):
    v = plain_judge.judge(stdio([1, 5, 8], time_limit_per_test=1.0), PROGRAM)
    assert v.status is Status.KILLED and isinstance(v.failure, Crashed)
    assert v.failure.signal == "SIGSEGV" and "test 1" in v.failure.message


def test_without_a_per_test_limit_a_spinning_case_ends_the_sample_with_results_so_far(pool):
    from codeloop.verify.limits import TimeLimits, TimePolicy

    j = Judge(pool, TimeLimits(TimePolicy(fixed=1.0)))
    try:
        v = j.judge(stdio([1, 2, 7, 3]), PROGRAM)
    finally:
        j.close()
    assert v.status is Status.TIMEOUT
    assert statuses(v) == [(0, "passed"), (1, "passed"), (2, "timeout")]
    assert (v.tests_passed, v.tests_total) == (2, 4)


def test_case_results_survive_the_results_file():
    v = Verdict(status=Status.FAILED, tests_passed=1, tests_total=2,
                case_results=(CaseResult(0, Status.PASSED, 0.01), CaseResult(1, Status.TIMEOUT, None)))
    assert Verdict.from_dict(v.to_dict()) == v


def test_the_per_test_limit_sets_the_whole_wall_and_the_key():
    task = stdio([1, 2, 3], time_limit_per_test=2.0)
    assert wall_for_cases(task) == 3 * (2 * 2.0 + 0.5)
    assert task.key != stdio([1, 2, 3]).key != stdio([1, 2, 3], stop_on_failure=True).key


def test_the_task_file_reads_both_fields_and_names_a_bad_one(tmp_path):
    line = '{"task_id": "a", "cases": [{"input": "1", "output": "2"}], "time_limit_per_test": 1.5, ' \
           '"stop_on_failure": true}\n'
    good = tmp_path / "tasks.jsonl"
    good.write_text(line)
    [task] = load_task_file(str(good)).values()
    assert (task.time_limit_per_test, task.stop_on_failure) == (1.5, True)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(line.replace("1.5", "-1"))
    with pytest.raises(Exception) as err:
        load_task_file(str(bad))
    text = str(err.value)
    assert "bad.jsonl" in text and "1" in text and "time_limit_per_test" in text


def test_stop_on_failure_in_assert_tests(plain_judge):
    from conftest import asserts_task

    asserts = ["assert f(1) == 2", "assert f(2) == 5", "assert f(3) == 6", "assert f(4) == 8"]
    wrong = "def f(x):\n    return x * 2\n"
    v = plain_judge.judge(asserts_task(asserts, time_limit=2.0, stop_on_failure=True), wrong)
    assert v.status is Status.FAILED and v.test_results == (True, False)
    assert (v.tests_passed, v.tests_total) == (1, 4)
    # a test's own `except Exception` cannot swallow the stop
    guarded = ["try:\n    assert f(2) == 5\nexcept Exception:\n    pass", "assert f(3) == 6"]
    v = plain_judge.judge(asserts_task(guarded, time_limit=2.0, stop_on_failure=True), wrong)
    assert v.test_results == (False,) and v.tests_total == 2
    v = plain_judge.judge(asserts_task(asserts, time_limit=2.0), wrong)
    assert v.test_results == (True, False, True, True)  # without it every assert runs


def test_random_draws_differ_between_samples_and_runs(plain_judge):
    # `random` is loaded once in the template (the datasets' harnesses import it in front of programs):
    # each sample and each run is reseeded, as a fresh interpreter would be
    task = Task(task_id="r", kind=TaskKind.STDIO, cases=(IOCase("", None), IOCase("", None)))
    verdicts = plain_judge.judge_many([(task, "import random\nprint(random.random())\n")] * 3)
    draws = [run.stdout for v in verdicts for run in v.runs or ()]
    assert len(draws) == 6 and len(set(draws)) == 6


def test_the_samples_cpu_time_counts_its_runs(plain_judge):
    # each case runs in a child of the candidate: their CPU time is the program's too
    spin = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.15:\n    pass\nprint(2 * int(input()))\n"
    v = plain_judge.judge(stdio([1, 2], time_limit_per_test=2.0), spin)
    assert v.passed and v.cpu_seconds is not None and v.cpu_seconds >= 0.25, v.cpu_seconds
    assert sum(c.seconds or 0 for c in v.case_results) >= 0.29


# -- the cases run one after another in the one sandboxed process (tests_in_one_process) ----------------------

def test_in_one_process_each_case_still_gets_its_status(plain_judge):
    task = stdio([1, 8, 9, 4, 2], time_limit_per_test=0.5, tests_in_one_process=True)
    v = plain_judge.judge(task, PROGRAM)
    assert statuses(v) == [(0, "passed"), (1, "failed"), (2, "error"), (3, "memory_limit"), (4, "passed")]
    assert v.status is Status.FAILED and (v.tests_passed, v.tests_total) == (2, 5)
    assert "ValueError: nine" not in (v.failure.actual or "")


def test_in_one_process_a_time_out_ends_the_cases_left(plain_judge):
    v = plain_judge.judge(stdio([1, 7, 2], time_limit_per_test=0.3, tests_in_one_process=True), PROGRAM)
    assert statuses(v) == [(0, "passed"), (1, "timeout")]
    assert v.status is Status.TIMEOUT and (v.tests_passed, v.tests_total) == (1, 3)
    # a real fault ends the process (the candidate is its namespace's first process: a signal it sends
    # itself is ignored, as for any init, but not the one a fault raises)
    faults = "import ctypes\nn = int(input())\nif n == 5:\n    ctypes.string_at(0)\nprint(n * 2)\n"
    v = plain_judge.judge(stdio([1, 5, 2], time_limit_per_test=1.0, tests_in_one_process=True), faults)
    assert statuses(v) == [(0, "passed"), (1, "killed")] and v.status is Status.KILLED


def test_in_one_process_the_program_reads_fd_0_and_writes_fd_1_and_output_is_capped(plain_judge):
    reads = "import os, sys\ndata = open(0).read().split()\nos.write(1, (str(int(data[0]) * 2) + '\\n').encode())\n"
    v = plain_judge.judge(stdio([3, 4], tests_in_one_process=True, time_limit=5.0), reads)
    assert v.passed, v.failure
    flood = "while True:\n    print('x' * 10000)\n"
    v = plain_judge.judge(stdio([1, 2], tests_in_one_process=True, time_limit=5.0), flood)
    assert v.status is Status.OUTPUT_LIMIT and statuses(v)[0] == (0, "output_limit")
    # state kept between cases is the program's own: here a module-level counter in a module it imports
    leaks = "import string\nstring.seen = getattr(string, 'seen', 0) + 1\nprint(int(input()) * 2 + string.seen - 1)\n"
    assert plain_judge.judge(stdio([1, 2], tests_in_one_process=True, time_limit=5.0), leaks).test_results \
        == (True, False)
    assert plain_judge.judge(stdio([1, 2], time_limit=5.0), leaks).passed  # a fresh process per case


def test_in_one_process_is_read_from_a_row():
    from codeloop.tasks.formats import task_from_format

    task = task_from_format({"inputs": ["1\n"], "outputs": ["2\n"], "tests_in_one_process": True})
    assert task.tests_in_one_process and task.key != task_from_format({"inputs": ["1\n"], "outputs": ["2\n"]}).key


def test_the_output_cap_is_a_scorer_setting():
    from codeloop.scoring.local import LocalScorer

    big = "print('x' * (2 << 20))\n"  # 2 MiB and a newline
    task = Task(task_id="big", kind=TaskKind.STDIO, cases=(IOCase("", "x" * (2 << 20) + "\n"),), time_limit=5.0)
    small, large = LocalScorer({}, workers=1), LocalScorer({}, workers=1, output_bytes=4 << 20)
    try:
        assert small.judge_one(task, big, raw=True).status is Status.OUTPUT_LIMIT
        assert large.judge_one(task, big, raw=True).passed
    finally:
        small.close()
        large.close()
