"""The task and sample formats: every error names the file, the line and the field."""

import json

import pytest
from conftest import write_jsonl

from codeloop.evaluate.samples import read_samples
from codeloop.tasks import InputError, load_benchmark, load_task_file
from codeloop.types import IOCase, TaskKind

GOOD = {"task_id": "add", "entry_point": "add", "asserts": ["assert add(1, 2) == 3"],
        "reference": "def add(a, b):\n    return a + b\n"}


def load(tmp_path, rows):
    path = tmp_path / "tasks.jsonl"
    if isinstance(rows, str):
        path.write_text(rows)
    else:
        write_jsonl(path, rows)
    return load_task_file(str(path)), str(path)


def error(tmp_path, rows) -> str:
    with pytest.raises(InputError) as info:
        load(tmp_path, rows)
    return str(info.value)


def test_good_file_loads_each_kind(tmp_path):
    tasks, path = load(tmp_path, [
        GOOD,
        {"task_id": "c", "entry_point": "f", "test": "def check(candidate):\n    assert candidate() == 1\n"},
        {"task_id": "io", "cases": [{"input": "1\n", "output": "1\n"}], "time_limit": 2},
    ])
    assert [t.kind for t in tasks.values()] == [TaskKind.ASSERTS, TaskKind.CHECK, TaskKind.STDIO]
    assert tasks["io"].time_limit == 2 and tasks["add"].origin == f"{path}:1"
    assert tasks["add"].asserts == ("assert add(1, 2) == 3",) and tasks["io"].cases == (IOCase("1\n", "1\n"),)


@pytest.mark.parametrize("row, line, field, words", [
    ({**GOOD, "task_id": 5}, 2, "task_id", "valid string"),
    ({k: v for k, v in GOOD.items() if k != "task_id"}, 2, "task_id", "required"),
    ({**GOOD, "asserts": "assert x"}, 2, "asserts", "valid list"),
    ({**GOOD, "asserts": []}, 2, "asserts", "at least one"),
    ({**GOOD, "entry_point": "not valid"}, 2, "entry_point", "identifier"),
    ({**GOOD, "tets": "typo"}, 2, "tets", "unknown field"),
    ({**GOOD, "time_limit": -1}, 2, "time_limit", "greater than 0"),
    ({"task_id": "io", "cases": [{"input": "1", "output": 1}]}, 2, "cases[0].output", "valid string"),
    ({"task_id": "io", "cases": [{"input": "1"}]}, 2, "cases[0].output", "required"),
])
def test_field_errors_name_file_line_and_field(tmp_path, row, line, field, words):
    message = error(tmp_path, [GOOD, row])
    assert f"tasks.jsonl:{line}:" in message
    assert f"field '{field}'" in message
    assert words in message


def test_kind_errors(tmp_path):
    assert "exactly one of 'test'" in error(tmp_path, [{"task_id": "x", "entry_point": "f"}])
    both = {**GOOD, "test": "def check(c): pass"}
    assert "got test, asserts" in error(tmp_path, [both])
    assert "'entry_point' is required" in error(tmp_path, [{"task_id": "x", "asserts": ["assert 1"]}])


def test_bad_json_duplicate_ids_and_empty_files(tmp_path):
    assert "tasks.jsonl:2: not valid JSON" in error(tmp_path, json.dumps(GOOD) + "\n{oops\n")
    assert "expected a JSON object" in error(tmp_path, "[1, 2]\n")
    message = error(tmp_path, [GOOD, GOOD])
    assert "tasks.jsonl:2:" in message and "field 'task_id'" in message and "twice" in message
    assert "holds no tasks" in error(tmp_path, "\n\n")
    with pytest.raises(InputError, match="cannot read"):
        load_task_file(str(tmp_path / "missing.jsonl"))


def test_sample_errors(tmp_path):
    tasks = load_benchmark("humaneval")

    def sample_error(rows):
        path = write_jsonl(tmp_path / "samples.jsonl", rows)
        with pytest.raises(InputError) as info:
            read_samples(str(path), tasks)
        return str(info.value)

    ok = {"task_id": "HumanEval/0", "completion": "    return False\n"}
    assert "samples.jsonl:2: field 'task_id': unknown task 'Nope/1'" in sample_error([ok, {"task_id": "Nope/1", "completion": ""}])
    assert "samples.jsonl:1: field 'task_id'" in sample_error([{"completion": "x"}])
    assert "field 'solution': give only one of 'completion' or 'solution'" in sample_error([{**ok, "solution": "x"}])
    assert "samples.jsonl:1: field 'completion': missing" in sample_error([{"task_id": "HumanEval/0"}])
    assert "samples.jsonl:1: field 'completion': must be a string" in sample_error([{**ok, "completion": 3}])
    assert "field 'solution'" in sample_error([{"task_id": "HumanEval/0", "solution": None}])


def test_solutions_and_completions(tmp_path):
    tasks = load_benchmark("humaneval")
    path = write_jsonl(tmp_path / "s.jsonl", [
        {"task_id": "HumanEval/0", "completion": "    return True\n"},
        {"task_id": "HumanEval/0", "solution": "def has_close_elements(n, t):\n    return True\n"},
    ])
    a, b = read_samples(str(path), tasks)
    assert a.program == tasks["HumanEval/0"].prompt + a.code
    assert b.program == b.code
    assert a.fingerprint != b.fingerprint


def test_unknown_benchmark():
    with pytest.raises(InputError, match="unknown benchmark 'nope'; known: humaneval"):
        load_benchmark("nope")


# Rows in datasets' own formats take the run options codeloop's format takes, checked as strictly.
DS1000_ROW = {"task_id": "ds", "code_context": "x = 3\n[insert]\n", "reference_code": "result = x * 2",
              "checker": "def check_result(result, expected):\n    return result == expected\n"}
BIGCODEBENCH_ROW = {"task_id": "bcb", "complete_prompt": "def task_func():\n", "canonical_solution": "    return 1\n",
                    "test": "import unittest\nclass TestCases(unittest.TestCase):\n    def test_one(self):\n"
                            "        self.assertEqual(task_func(), 1)\n"}
MBPP_ROW = {"task_id": 11, "text": "Add.", "test_list": ["assert add(1, 2) == 3"]}
APPS_ROW = {"problem_id": 7, "input_output": json.dumps({"inputs": ["1\n"], "outputs": ["1\n"]})}


@pytest.mark.parametrize("row", [DS1000_ROW, BIGCODEBENCH_ROW, MBPP_ROW], ids=["ds1000", "bigcodebench", "mbpp"])
@pytest.mark.parametrize("option, value, words", [
    ("integrity", "inprocess", "must be one of 'split', 'in-process', not 'inprocess'"),
    ("integrity", True, "must be one of"),
    ("environment", 5, "must be the name of a package environment, not 5"),
    ("environment", "", "must be the name of a package environment"),
    ("environment", "no-such-env", "'no-such-env' is not built here"),
])
def test_a_dataset_rows_environment_and_integrity_are_checked_at_load(tmp_path, monkeypatch, row, option, value,
                                                                       words):
    monkeypatch.setenv("CODELOOP_CACHE", str(tmp_path / "cache"))  # no environment is built there
    message = error(tmp_path, [row, {**row, "task_id": "second", option: value}])
    assert "tasks.jsonl:2:" in message and f"field '{option}'" in message and words in message, message
    own = error(tmp_path, [GOOD, {**GOOD, "task_id": "second", option: value}])  # codeloop's format refuses it too
    assert "tasks.jsonl:2:" in own and f"field '{option}'" in own


def test_a_dataset_rows_run_options_reach_its_task(tmp_path):
    tasks, _ = load(tmp_path, [{**BIGCODEBENCH_ROW, "integrity": "in-process"}, {**MBPP_ROW, "integrity": "split"},
                               DS1000_ROW])
    assert [tasks[t].integrity for t in ("bcb", "11", "ds")] == ["in-process", "split", "split"]
    assert "stdin/stdout runs" in error(tmp_path, [{**APPS_ROW, "integrity": "in-process"}])
