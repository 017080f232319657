"""The in-process mode (issue 13): tests that need what cannot cross run in the program's own process, and
every verdict of such a task says so."""

from __future__ import annotations

import pytest

from codeloop.types import ProgramRaised, Status, Task, TaskKind, UnusableResult, WrongAnswer

pytestmark = pytest.mark.sandbox

WRITES = Task(task_id="writes", kind=TaskKind.ASSERTS, entry_point="save", setup="import os",
              asserts=("save('out.txt', 'hi')", "assert open('out.txt').read() == 'hi'",
                       "assert os.path.getsize('out.txt') == 2"), integrity="in-process")
MOCKED_TEST = '''import unittest
from unittest import mock


class TestCases(unittest.TestCase):
    def test_dice_is_mocked(self):
        with mock.patch("random.randint", return_value=40):  # no die shows 40: only a mock makes it
            self.assertEqual(task_func(), 80)
'''
MOCKED_ROW = {"task_id": "dice", "complete_prompt": "import random\n\ndef task_func():\n",
              "canonical_solution": "    return 2 * random.randint(1, 6)\n", "test": MOCKED_TEST}


def test_a_file_the_program_wrote_is_read_by_the_tests(judge):
    right = judge.judge(WRITES, "def save(path, text):\n    open(path, 'w').write(text)\n")
    assert right.passed and right.integrity == "in-process"
    wrong = judge.judge(WRITES, "def save(path, text):\n    open(path, 'w').write(text + '!')\n")
    assert wrong.status.value == "failed" and wrong.integrity == "in-process"
    assert (wrong.tests_passed, wrong.tests_total) == (1, 3)


def test_the_tests_report_gives_partial_credit_and_the_first_failure(judge):
    """The verdict carries the in-process tests' own count and first failure (the failing assert's text),
    with no expected or actual value made up: the tests' values stay in the program's process."""
    wrong = judge.judge(WRITES, "def save(path, text):\n    open(path, 'w').write(text + '!')\n")
    assert (wrong.tests_passed, wrong.tests_total, wrong.test_results) == (1, 3, (True, False, False))
    assert isinstance(wrong.failure, WrongAnswer) and wrong.failure.test == "assert open('out.txt').read() == 'hi'"
    assert wrong.failure.expected is None and wrong.failure.actual is None
    assert "CODELOOP-IN-PROCESS-REPORT" not in wrong.stdout and wrong.runs is None and wrong.case_results is None
    raises = judge.judge(WRITES, "def save(path, text):\n    raise ValueError('no disk: ' + path)\n")
    assert raises.status is Status.ERROR and (raises.tests_passed, raises.tests_total) == (0, 3)
    assert isinstance(raises.failure, ProgramRaised) and raises.failure.test == "save('out.txt', 'hi')"
    assert raises.failure.exception.type == "ValueError" and raises.failure.exception.message == "no disk: out.txt"
    # a check(candidate) test is one test; its failing line is the assert inside check
    check = Task(task_id="c", kind=TaskKind.CHECK, entry_point="f", integrity="in-process",
                 test="def check(candidate):\n    assert candidate(1) == 1\n    assert candidate(2) == 4\n")
    half = judge.judge(check, "def f(x):\n    return x\n")
    assert half.status is Status.FAILED and (half.tests_passed, half.tests_total) == (0, 1)
    assert half.failure.test == "assert candidate(2) == 4" and half.integrity == "in-process"
    assert judge.judge(check, "def f(x):\n    return x * x\n").passed


def test_a_program_that_leaves_before_its_tests_is_not_passed(judge):
    """A program that exits (status 0) before the appended tests run printed no report: it did not pass,
    and no count is made up."""
    gone = judge.judge(WRITES, "import sys\ndef save(path, text):\n    pass\nsys.exit(0)\n")
    assert gone.status is Status.KILLED and gone.tests_total is None and gone.integrity == "in-process"
    assert judge.judge(WRITES, "def save(path, text)\n").status is Status.SYNTAX_ERROR


def test_a_mock_of_a_module_the_program_uses_needs_the_in_process_mode(judge):
    from codeloop.tasks.formats import task_from_format

    split = task_from_format(MOCKED_ROW, "bigcodebench")
    in_process = task_from_format(dict(MOCKED_ROW, integrity="in-process"), "bigcodebench")
    solution = MOCKED_ROW["complete_prompt"] + MOCKED_ROW["canonical_solution"]
    assert split.integrity == "split" and in_process.integrity == "in-process"
    # through the split the judge's random is mocked, not the program's: the test cannot hold
    assert not judge.judge(split, solution).passed
    verdict = judge.judge(in_process, solution)
    assert verdict.passed and verdict.integrity == "in-process"
    # a failing unittest's message is the failure's detail (the tests' own AssertionError, as through the split)
    wrong = judge.judge(in_process, MOCKED_ROW["complete_prompt"] + "    return 3\n")
    assert wrong.status is Status.FAILED and (wrong.tests_passed, wrong.tests_total) == (0, 1)
    assert isinstance(wrong.failure, UnusableResult) and "3 != 80" in wrong.failure.exception.message


def test_what_a_program_could_forge_in_process_and_cannot_through_the_split(judge):
    """In its own process a program can print the tests' report itself and leave: it passes. The verdict
    says in-process, and the same program through the split fails."""
    forger = ("import sys\nprint('CODELOOP-IN-PROCESS-REPORT {\"passed\": 3, \"total\": 3}')\nsys.exit(0)\n"
              "def save(path, text):\n    pass\n")
    forged = judge.judge(WRITES, forger)
    assert forged.passed and forged.integrity == "in-process"
    split = judge.judge(Task(task_id="w", kind=TaskKind.ASSERTS, entry_point="save", setup="import os",
                             asserts=WRITES.asserts), forger)
    assert not split.passed and split.integrity == "split"


def test_the_task_format_takes_the_mode_and_results_keep_it(tmp_path):
    import json
    import subprocess

    from conftest import CODELOOP, read_jsonl, write_jsonl

    from codeloop.jsonl import InputError
    from codeloop.tasks.jsonl import load_task_file

    tasks = write_jsonl(tmp_path / "tasks.jsonl", [dict(WRITES.to_record(), asserts=list(WRITES.asserts))])
    assert load_task_file(str(tasks))["writes"].integrity == "in-process"
    samples = write_jsonl(tmp_path / "samples.jsonl", [{"task_id": "writes",
                                                        "solution": "def save(p, t):\n    open(p, 'w').write(t)\n"}])
    out = tmp_path / "results.jsonl"
    done = subprocess.run([CODELOOP, "eval", "--tasks", str(tasks), "--samples", str(samples), "--out", str(out),
                           "-q"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    (record,) = read_jsonl(out)
    assert record["status"] == "passed" and record["integrity"] == "in-process"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"task_id": "s", "cases": [{"input": "", "output": ""}], "integrity": "in-process"})
                   + "\n")
    with pytest.raises(InputError, match="in-process mode is for"):
        load_task_file(str(bad))
