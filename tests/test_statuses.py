"""Every status a verdict can have, each produced by a real program in the sandbox."""

import threading
import time

import pytest
from conftest import asserts_task, check_task, run

from codeloop.sandbox.pool import SandboxPool
from codeloop.types import (STATUSES, CompileError, Crashed, EvaluatorFailed, IOCase, LimitExceeded, ProgramRaised,
                            Status, Task, TaskKind, WrongAnswer)
from codeloop.verify.engine import Judge
from codeloop.verify.limits import TimeLimits, TimePolicy

pytestmark = pytest.mark.sandbox

ADD_TEST = """
def check(candidate):
    assert candidate(1, 2) == 3
    assert candidate(2, 2) == 4
    assert candidate(-1, 1) == 0
"""
ADD = check_task(ADD_TEST, entry_point="add")


def test_passed(pool):
    v = run(pool, ADD, "def add(a, b):\n    return a + b\n")
    assert v.status is Status.PASSED and v.passed
    assert (v.tests_passed, v.tests_total) == (3, 3)
    assert v.isolation == "full"


def test_failed_reports_input_expected_actual(pool):
    v = run(pool, ADD, "def add(a, b):\n    return a * b\n")
    assert v.status is Status.FAILED and not v.passed
    assert (v.tests_passed, v.tests_total) == (1, 3)   # 2*2 == 4 holds by accident
    f = v.failure
    assert isinstance(f, WrongAnswer)
    assert f.input == "add(1, 2)" and f.expected == "3" and f.actual == "2"
    assert f.test == "assert candidate(1, 2) == 3"


def test_error_has_traceback_trimmed_to_the_programs_own_lines(pool):
    v = run(pool, ADD, "def helper(x):\n    return x // 0\n\ndef add(a, b):\n    return helper(a)\n")
    assert v.status is Status.ERROR
    assert isinstance(v.failure, ProgramRaised)
    exc = v.failure.exception
    assert exc.type == "ZeroDivisionError"
    assert 'File "solution.py", line 2, in helper' in exc.traceback
    assert "return x // 0" in exc.traceback
    assert "candidate.py" not in exc.traceback and "codeloop" not in exc.traceback


def test_timeout_names_the_input(pool):
    t = time.monotonic()
    v = run(pool, ADD, "def add(a, b):\n    while True:\n        pass\n", time_limit=0.3)
    assert v.status is Status.TIMEOUT
    assert isinstance(v.failure, LimitExceeded) and v.failure.limit == "time"
    assert v.failure.input == "add(1, 2)"
    assert time.monotonic() - t < 5


def test_memory_limit(pool):
    v = run(pool, ADD, "def add(a, b):\n    return len(bytearray(2 * 1024**3))\n", memory_mb=256)
    assert v.status is Status.MEMORY_LIMIT
    assert isinstance(v.failure, LimitExceeded) and v.failure.limit == "memory"


def test_output_limit_stops_a_flood(pool):
    v = run(pool, ADD, "def add(a, b):\n    while True:\n        print('x' * 4096)\n", output_bytes=200_000)
    assert v.status is Status.OUTPUT_LIMIT
    assert isinstance(v.failure, LimitExceeded) and v.failure.limit == "output"
    assert "cut" in v.stdout


def test_killed_when_the_program_exits_during_a_call(pool):
    v = run(pool, ADD, "import os\ndef add(a, b):\n    os._exit(0)\n")
    assert v.status is Status.KILLED


def test_killed_by_a_signal_names_it(pool):
    v = run(pool, ADD, "import os, signal\ndef add(a, b):\n    signal.signal(signal.SIGSEGV, signal.SIG_DFL)\n"
                       "    import ctypes; ctypes.string_at(0)\n")
    assert v.status is Status.KILLED
    assert isinstance(v.failure, Crashed)
    assert v.failure.signal == "SIGSEGV"


def test_syntax_error(pool):
    v = run(pool, ADD, "def add(a, b)\n    return a + b\n")
    assert v.status is Status.SYNTAX_ERROR
    assert isinstance(v.failure, CompileError)
    assert v.failure.line == 1


def test_no_code(pool):
    v = run(pool, ADD, "# just a comment\n\n   \n")
    assert v.status is Status.NO_CODE
    assert v.attempts == 0


def test_missing_entry_point_is_an_error(pool):
    v = run(pool, ADD, "def other(a, b):\n    return a + b\n")
    assert v.status is Status.ERROR
    assert isinstance(v.failure, ProgramRaised)
    assert "does not define" in v.failure.exception.message


def test_error_while_loading(pool):
    v = run(pool, ADD, "import no_such_module_xyz\ndef add(a, b):\n    return a + b\n")
    assert v.status is Status.ERROR
    assert isinstance(v.failure, ProgramRaised)
    assert v.failure.exception.type == "ModuleNotFoundError"


def test_a_broken_task_is_infra_error_not_the_programs_fault(pool):
    broken = check_task("def check(candidate)\n    assert True\n", entry_point="add")
    v = run(pool, broken, "def add(a, b):\n    return a + b\n")
    assert v.status is Status.INFRA_ERROR and not v.passed
    assert isinstance(v.failure, EvaluatorFailed)
    assert "task error" in v.failure.message


def test_a_lost_worker_is_retried_and_never_scored():
    """Kill the worker tree from outside while a sample runs: the sample is
    retried on a fresh worker and gets its real verdict."""
    with SandboxPool(1) as pool:
        pool.check()
        victim = pool._live[0].proc

        def kill_soon():
            time.sleep(0.3)
            victim.kill()

        threading.Thread(target=kill_soon).start()
        judge = Judge(pool, TimeLimits(TimePolicy(fixed=3.0)))
        try:
            v = judge.judge(ADD, "import time\ndef add(a, b):\n    time.sleep(0.5)\n    return a + b\n")
        finally:
            judge.close()
        assert v.status is Status.PASSED
        assert v.attempts == 2
        assert pool.restarts == 1


def test_infra_error_when_the_evaluator_keeps_failing():
    with SandboxPool(1) as pool:
        pool.check()
        stop = threading.Event()

        def keep_killing():
            while not stop.is_set():
                for w in list(pool._live):
                    if w is not None and w.proc is not None and w.jobs_run == 0:
                        time.sleep(0.2)
                        if w.proc is not None:
                            w.proc.kill()
                time.sleep(0.01)

        killer = threading.Thread(target=keep_killing)
        killer.start()
        judge = Judge(pool, TimeLimits(TimePolicy(fixed=3.0)), retries=1)
        try:
            v = judge.judge(ADD, "import time\ndef add(a, b):\n    time.sleep(1)\n    return a + b\n")
        finally:
            stop.set()
            killer.join()
            judge.close()
        assert v.status is Status.INFRA_ERROR and not v.passed
        assert v.attempts == 2


def test_asserts_style_tasks_count_each_test(pool):
    task = asserts_task(["assert f(1) == 2", "assert f(2) == 3", "assert f(3) == 5"])
    v = run(pool, task, "def f(x):\n    return x + 1\n")
    assert v.status is Status.FAILED and (v.tests_passed, v.tests_total) == (2, 3)
    assert isinstance(v.failure, WrongAnswer)
    assert v.failure.test == "assert f(3) == 5" and v.failure.actual == "4"


def test_stdio_tasks(pool):
    task = Task(task_id="s", kind=TaskKind.STDIO, cases=(IOCase(input="2 3\n", output="5\n"),
                                                        IOCase(input="10 -4\n", output="6")))
    good = "a, b = map(int, input().split())\nprint(a + b)\n"
    assert run(pool, task, good).status is Status.PASSED
    v = run(pool, task, "a, b = map(int, input().split())\nprint(a - b)\n")
    assert v.status is Status.FAILED and isinstance(v.failure, WrongAnswer)
    assert v.failure.expected == repr("5\n") and v.failure.actual == repr("-1\n")
    v = run(pool, task, "raise SystemExit(3)\n")
    assert v.status is Status.ERROR and isinstance(v.failure, ProgramRaised)
    assert "status 3" in v.failure.exception.message


def test_every_status_is_covered_here():
    import inspect
    import sys

    source = inspect.getsource(sys.modules[__name__])
    for status in STATUSES:
        assert f"v.status is Status.{status.name}" in source, status


LIMIT_PROBE = """
import resource, sys
from codeloop.sandbox.pool import SandboxPool
from codeloop.types import Task, TaskKind
from codeloop.verify.engine import Judge
from codeloop.verify.limits import TimeLimits, TimePolicy
# The workers inherit this hard limit: 2 GiB of address space.
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
task = Task("t", TaskKind.ASSERTS, entry_point="f", asserts=("assert f() == 1",))
with SandboxPool(1) as pool:
    judge = Judge(pool, TimeLimits(TimePolicy(fixed=2.0)), memory_mb=int(sys.argv[1]), retries=0)
    v = judge.judge(task, "def f():\\n    return 1\\n")
    judge.close()
print(v.status.value, v.failure.message if v.failure else "")
"""


def test_a_limit_the_worker_cannot_apply_is_an_evaluator_error_never_dropped(tmp_path):
    import subprocess
    import sys

    probe = tmp_path / "probe.py"
    probe.write_text(LIMIT_PROBE)
    above = subprocess.run([sys.executable, str(probe), "4096"], capture_output=True, text=True, timeout=120)
    assert above.stdout.startswith("infra_error"), above.stdout + above.stderr
    assert "memory limit" in above.stdout and "above what this worker may set" in above.stdout
    within = subprocess.run([sys.executable, str(probe), "1024"], capture_output=True, text=True, timeout=120)
    assert within.stdout.startswith("passed"), within.stdout + within.stderr
