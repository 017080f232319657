"""Parquet task files (`--tasks train.parquet`): codeloop's own rows, dataset rows and verl's rows
(``reward_model.ground_truth`` with ``extra_info``), read row by row; every error names the row."""

import json
import sys

import pytest
from conftest import read_jsonl, write_jsonl

from codeloop.tasks import InputError, load_task_file
from codeloop.tasks.tables import BATCH_ROWS
from codeloop.types import IOCase, TaskKind


@pytest.fixture
def pa():
    return pytest.importorskip("pyarrow")


def write_parquet(pa, path, rows, **kw):
    import pyarrow.parquet as pq

    columns = list(dict.fromkeys(key for row in rows for key in row))  # from_pylist reads the first row's only
    pq.write_table(pa.Table.from_pylist([{k: row.get(k) for k in columns} for row in rows]), str(path), **kw)
    return str(path)


def error(path) -> str:
    with pytest.raises(InputError) as info:
        load_task_file(path)
    return str(info.value)


OWN = [
    {"task_id": "add", "entry_point": "add", "asserts": ["assert add(1, 2) == 3"],
     "reference": "def add(a, b):\n    return a + b\n"},
    {"task_id": "c", "entry_point": "f", "test": "def check(candidate):\n    assert candidate() == 1\n"},
    {"task_id": "io", "cases": [{"input": "1\n", "output": "1\n"}], "time_limit": 2.0, "memory_limit": 256},
]


def test_codeloop_rows_in_parquet_load_like_jsonl_lines(pa, tmp_path):
    # a table gives every row every column: the ones a row does not use are null and left out
    path = write_parquet(pa, tmp_path / "tasks.parquet", OWN)
    tasks = load_task_file(path)
    jsonl = load_task_file(str(write_jsonl(tmp_path / "tasks.jsonl", OWN)))
    assert list(tasks) == ["add", "c", "io"]
    assert [t.kind for t in tasks.values()] == [TaskKind.ASSERTS, TaskKind.CHECK, TaskKind.STDIO]
    assert tasks["io"].cases == (IOCase("1\n", "1\n"),) and tasks["io"].memory_limit == 256
    assert tasks["add"].origin == f"{path}, row 1" and tasks["io"].origin == f"{path}, row 3"
    strip = [(t.task_id, t.kind, t.entry_point, t.asserts, t.test, t.cases, t.reference, t.time_limit)
             for t in tasks.values()]
    assert strip == [(t.task_id, t.kind, t.entry_point, t.asserts, t.test, t.cases, t.reference, t.time_limit)
                     for t in jsonl.values()]


def verl_row(truth, index, **extra):
    """A row as verl's preprocess scripts write train.parquet."""
    return {"data_source": "codecontests", "prompt": [{"role": "user", "content": "Add two numbers."}],
            "ability": "code", "reward_model": {"style": "rule", "ground_truth": truth},
            "extra_info": {"split": "train", "index": index, **extra}}


SUM = {"inputs": ["1 2\n", "5 -7\n", "0 0\n"], "outputs": ["3\n", "-2\n", "0\n"]}


def test_verl_rows_with_apps_ground_truths_as_dicts(pa, tmp_path):
    rows = [verl_row(SUM, 0), verl_row({"inputs": ["2 2\n"], "outputs": ["4\n"]}, 1, max_tests=1),
            verl_row(SUM, 2, max_tests=2, time_limit_per_test=2.5)]
    path = write_parquet(pa, tmp_path / "train.parquet", rows)
    tasks = load_task_file(path)
    assert list(tasks) == ["row-1", "row-2", "row-3"]
    assert all(t.kind is TaskKind.STDIO for t in tasks.values())
    assert tasks["row-1"].cases == (IOCase("1 2\n", "3\n"), IOCase("5 -7\n", "-2\n"), IOCase("0 0\n", "0\n"))
    assert len(tasks["row-3"].cases) == 2 and tasks["row-3"].time_limit_per_test == 2.5  # extra_info applies
    assert tasks["row-1"].time_limit_per_test is None  # null in row 1's struct, not a value
    assert tasks["row-2"].origin == f"{path}, row 2"


def test_verl_rows_with_json_text_ground_truths(pa, tmp_path):
    call = {"fn_name": "add", "inputs": [[1, 2], [3, 4]], "outputs": [3, 7]}
    own = {"task_id": "sq", "entry_point": "sq", "asserts": ["assert sq(3) == 9"]}
    rows = [verl_row(json.dumps(SUM), 0, problem_id="p-1"), verl_row(json.dumps(call), 1),
            verl_row(json.dumps(own), 2)]
    tasks = load_task_file(write_parquet(pa, tmp_path / "train.parquet", rows))
    assert list(tasks) == ["p-1", "row-2", "sq"]
    assert tasks["p-1"].kind is TaskKind.STDIO and len(tasks["p-1"].cases) == 3
    assert tasks["row-2"].kind is TaskKind.ASSERTS and tasks["row-2"].entry_point == "add"
    # extra_info's split and index are no task fields: ignored, as verl's reward function ignores them
    assert tasks["sq"].asserts == ("assert sq(3) == 9",)


@pytest.mark.parametrize("rows, words", [
    ([verl_row(SUM, 0), verl_row({"inputs": ["1\n"], "outputs": []}, 1)],
     "train.parquet, row 2: field 'reward_model.ground_truth': apps format: 1 inputs and 0 outputs"),
    ([verl_row(SUM, 0), verl_row(SUM, 1, max_tests=0)],
     "train.parquet, row 2: field 'reward_model.ground_truth': apps format: max_tests must be a positive integer"),
    ([verl_row(json.dumps(SUM), 0), verl_row("{oops", 1)],
     "train.parquet, row 2: field 'reward_model.ground_truth': not a valid JSON object"),
    ([verl_row("HumanEval/0", 0)],
     "train.parquet, row 1: field 'reward_model.ground_truth': 'HumanEval/0' names a task"),
    ([verl_row(json.dumps(SUM), 0), verl_row(json.dumps({"task_id": "x", "cases": [{"input": "1"}]}), 1)],
     "train.parquet, row 2: field 'reward_model.ground_truth.cases[0].output': Field required"),
])
def test_bad_verl_rows_name_the_row_and_field(pa, tmp_path, rows, words):
    assert words in error(write_parquet(pa, tmp_path / "train.parquet", rows))


def test_bad_codeloop_rows_name_the_row_and_field(pa, tmp_path):
    bad = {**OWN[0], "task_id": "bad", "asserts": []}
    assert "tasks.parquet, row 3: field 'asserts': must hold at least one test" in \
        error(write_parquet(pa, tmp_path / "tasks.parquet", [OWN[0], OWN[1], bad]))
    message = error(write_parquet(pa, tmp_path / "tasks.parquet", [OWN[0], OWN[0]]))
    assert "tasks.parquet, row 2: field 'task_id': task_id 'add' appears twice" in message
    typo = [{**OWN[0], "tets": "typo"}]
    assert "row 1: field 'tets': unknown field" in error(write_parquet(pa, tmp_path / "tasks.parquet", typo))


def test_a_big_file_is_read_batch_by_batch_and_counts_rows_across_batches(pa, tmp_path):
    n = 2 * BATCH_ROWS + 50
    rows = [{"task_id": f"t{i}", "cases": [{"input": f"{i}\n", "output": f"{i}\n"}]} for i in range(n)]
    path = write_parquet(pa, tmp_path / "big.parquet", rows, row_group_size=100)
    tasks = load_task_file(path)
    assert list(tasks) == [f"t{i}" for i in range(n)]
    rows[n - 3] = {"task_id": "bad", "cases": []}
    assert f"big.parquet, row {n - 2}: field 'cases'" in error(write_parquet(pa, tmp_path / "big.parquet", rows,
                                                                             row_group_size=100))


def test_unreadable_and_empty_parquet_files(pa, tmp_path):
    (tmp_path / "junk.parquet").write_text("not parquet")
    assert "junk.parquet: not a Parquet file" in error(str(tmp_path / "junk.parquet"))
    assert "missing.parquet: cannot read: No such file or directory" in error(str(tmp_path / "missing.parquet"))
    empty = pa.table({"task_id": pa.array([], pa.string())})
    import pyarrow.parquet as pq

    pq.write_table(empty, str(tmp_path / "empty.parquet"))
    assert "empty.parquet: the file holds no tasks" in error(str(tmp_path / "empty.parquet"))


def test_without_pyarrow_a_parquet_file_names_the_extra(tmp_path, monkeypatch):
    (tmp_path / "train.parquet").write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow raises ImportError
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    message = error(str(tmp_path / "train.parquet"))
    assert "train.parquet: reading Parquet needs pyarrow: pip install 'codeloop[parquet]'" in message


def test_a_folder_saved_by_datasets(tmp_path):
    datasets = pytest.importorskip("datasets")
    keys = ["task_id", "entry_point", "asserts", "cases"]
    rows = [{k: row.get(k) for k in keys} for row in (OWN[0], OWN[2])]  # a Dataset's rows share one schema
    dataset = datasets.Dataset.from_list(rows)
    dataset.save_to_disk(str(tmp_path / "saved"))
    tasks = load_task_file(str(tmp_path / "saved"))
    assert [t.kind for t in tasks.values()] == [TaskKind.ASSERTS, TaskKind.STDIO]
    assert tasks["io"].origin == f"{tmp_path / 'saved'}, row 2"
    datasets.DatasetDict({"train": dataset}).save_to_disk(str(tmp_path / "dict"))
    assert "give one split's folder" in error(str(tmp_path / "dict"))
    assert "a folder is read only as a dataset saved by datasets' save_to_disk" in error(str(tmp_path))


@pytest.mark.sandbox
def test_codeloop_eval_judges_a_verl_parquet(pa, tmp_path):
    from test_eval_cli import cli

    tasks = write_parquet(pa, tmp_path / "train.parquet", [verl_row(SUM, 0), verl_row(SUM, 1, max_tests=1)])
    good = "a, b = map(int, input().split())\nprint(a + b)\n"
    wrong = "a, b = map(int, input().split())\nprint(a - b)\n"
    samples = write_jsonl(tmp_path / "samples.jsonl", [
        {"task_id": "row-1", "solution": good}, {"task_id": "row-1", "solution": wrong},
        {"task_id": "row-2", "solution": good}])
    proc = cli("eval", "--tasks", tasks, "--samples", str(samples), "--out", str(tmp_path / "r.jsonl"), "-q")
    assert proc.returncode == 0, proc.stderr
    results = read_jsonl(tmp_path / "r.jsonl")
    assert [(r["task_id"], r["status"]) for r in results] == [("row-1", "passed"), ("row-1", "failed"),
                                                              ("row-2", "passed")]
    assert results[1]["tests_passed"] == 1 and results[1]["tests_total"] == 3  # 0 0 -> 0 holds either way
    assert results[2]["tests_total"] == 1  # extra_info's max_tests
    bad = write_parquet(pa, tmp_path / "bad.parquet", [verl_row(SUM, 0), verl_row({"inputs": ["1\n"],
                                                                                  "outputs": []}, 1)])
    proc = cli("eval", "--tasks", bad, "--samples", str(samples), "--out", str(tmp_path / "r2.jsonl"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "bad.parquet, row 2: field 'reward_model.ground_truth'" in " ".join(proc.stderr.split())
