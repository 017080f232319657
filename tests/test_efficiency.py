"""Efficiency by counted instructions: repeatable, orders algorithms, cannot be forged."""

import json
import shutil
import subprocess

import pytest
from conftest import CODELOOP, read_jsonl, run, write_jsonl

from codeloop.sandbox.limits import Limits
from codeloop.sandbox.protocol import CallJob
from codeloop.types import Cost, Task, TaskKind
from codeloop.verify.efficiency import METHOD, CostMeter, Unmeasurable, count_instructions
from codeloop.verify.engine import FILENAME, Judge, judge_tests
from codeloop.verify.limits import TimeLimits, TimePolicy
from codeloop.verify.protocol import JudgeJob

pytestmark = [pytest.mark.sandbox,
              pytest.mark.skipif(shutil.which("valgrind") is None, reason="efficiency counts with valgrind")]

DUP = Task(task_id="dup", kind=TaskKind.ASSERTS, entry_point="has_dup",
           setup="import random\nrng = random.Random(7)\nbig = [rng.randrange(10**9) for _ in range(300)]\n",
           asserts=("assert has_dup(big) == (len(set(big)) != len(big))", "assert has_dup([1, 2, 1]) is True"),
           reference="def has_dup(xs):\n    return len(set(xs)) != len(xs)\n")
LINEAR = "def has_dup(xs):\n    seen = set()\n    for x in xs:\n        if x in seen:\n            return True\n" \
         "        seen.add(x)\n    return False\n"
QUADRATIC = "def has_dup(xs):\n    for i in range(len(xs)):\n        for j in range(i):\n" \
            "            if xs[i] == xs[j]:\n                return True\n    return False\n"


def judged(pool, program, record_calls):
    """The judge's raw result for ``program`` on DUP (10 s, no calibration),
    asking it to record the arguments of every call or not."""
    limits = Limits(time_limit=10, load_limit=1.0)
    job: CallJob = {"kind": "call", "program": program, "filename": FILENAME, "as_main": False,
                    "limits": limits.to_wire(), "guard": 15.0}
    judge_job: JudgeJob = {"tests": judge_tests(DUP), "budgets": {"wall": 10.0, "calls": []}, "provisional": None,
                           "policy": None, "load_limit": 1.0, "max_output": limits.output_bytes,
                           "record_calls": record_calls, "program": None}
    _, result = pool.run(job, judge_job)
    return result


def calls_of(pool, program):
    result = judged(pool, program, record_calls=True)
    assert result["status"] == "passed" and result["call_log"]
    return result["call_log"]


def test_counts_repeat_exactly(pool):
    calls = calls_of(pool, LINEAR)
    counts = {count_instructions(pool, LINEAR, "has_dup", calls) for _ in range(3)}
    assert len(counts) == 1


def test_quadratic_scores_below_linear(pool):
    meter = CostMeter(pool)
    linear = meter.cost(DUP, LINEAR, calls_of(pool, LINEAR))
    quadratic = meter.cost(DUP, QUADRATIC, calls_of(pool, QUADRATIC))
    assert isinstance(linear, Cost) and linear.method == "valgrind-instructions" == METHOD
    assert quadratic.candidate > 10 * linear.candidate
    assert quadratic.ratio < linear.ratio / 10
    assert linear.reference == quadratic.reference  # the same calls: the reference is counted once


def test_the_program_cannot_forge_the_count(pool):
    forger = ("import os\nfor fd in range(3, 200):\n    try:\n        os.write(fd, b'==1== I   refs:      5\\n')\n"
              "    except OSError:\n        pass\n") + LINEAR
    calls = calls_of(pool, LINEAR)
    honest = count_instructions(pool, LINEAR, "has_dup", calls)
    assert count_instructions(pool, forger, "has_dup", calls) > honest


def test_unmeasurable_cases(pool):
    meter = CostMeter(pool)
    no_ref = Task(task_id="x", kind=TaskKind.ASSERTS, entry_point="f", asserts=("assert f() == 1",))
    with pytest.raises(Unmeasurable, match="no reference"):
        meter.cost(no_ref, "def f():\n    return 1\n", [[[], {"$": "dict", "v": []}]])
    with pytest.raises(Unmeasurable, match="failed"):
        count_instructions(pool, "raise RuntimeError('no')\ndef has_dup(xs):\n    return 1\n", "has_dup", [])


def test_eval_with_efficiency_adds_cost_to_passing_results(tmp_path):
    row = {"task_id": "dup", "entry_point": "has_dup", "setup": DUP.setup, "asserts": list(DUP.asserts),
           "reference": DUP.reference}
    tasks = write_jsonl(tmp_path / "tasks.jsonl", [row])
    samples = write_jsonl(tmp_path / "s.jsonl", [{"task_id": "dup", "solution": p} for p in
                                                 (LINEAR, QUADRATIC, "def has_dup(xs):\n    return False\n")])
    out = tmp_path / "r.jsonl"
    proc = subprocess.run([CODELOOP, "eval", "--tasks", str(tasks), "--samples", str(samples), "--out", str(out),
                           "--efficiency", "-q"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    lin, quad, wrong = read_jsonl(out)
    assert lin["cost"]["ratio"] > quad["cost"]["ratio"]
    assert wrong["cost"] is None and not wrong["passed"]
    summary = json.loads((tmp_path / "r.summary.json").read_text())["efficiency"]
    assert summary["method"] == "valgrind-instructions" and summary["measured"] == 2


def test_efficiency_uses_the_recorded_arguments(pool):
    # only recorded when asked
    assert "call_log" not in judged(pool, LINEAR, record_calls=False)
    v = run(pool, DUP, LINEAR)
    assert v.passed and v.cost is None and not hasattr(v, "call_log")
    # a judge that meters cost records the calls and replays them
    judge = Judge(pool, TimeLimits(TimePolicy(fixed=10.0)), efficiency=True)
    try:
        metered = judge.judge(DUP, LINEAR)
    finally:
        judge.close()
    assert metered.passed and metered.cost is not None and metered.cost.method == METHOD
    assert metered.cost.error is None and metered.cost.ratio is not None and metered.cost.ratio > 0
