"""The APPS / TACO / PRIME test format (verl's code data sources): rows in
the datasets' exact shapes, read and judged; verl's compute_score scores
them with no conversion; and on every fixture where verl's own harness for
this format (``prime_code``, loaded from verl's installed files) is right,
codeloop's verdict is its verdict."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from codeloop.tasks.errors import TaskNotFound
from codeloop.tasks.formats import detect, task_from_format
from codeloop.tasks.rows import resolve_row, row_from_label
from codeloop.types import TaskKind

# A stdin problem in verl's ground_truth shape: print the sum and the mean of the numbers.
MEAN = {"inputs": ["3\n1 2 4\n", "2\n5 5\n", "3\n1 1 2\n"],
        "outputs": ["7\n2.3333333333\n", "10\n5.0\n", "4\n1.3333333333\n"]}
MEAN_READ = "n = int(input())\nxs = list(map(int, input().split()))\n"
STDIN_SOLUTIONS = {
    "correct": (True, MEAN_READ + "print(sum(xs))\nprint(sum(xs) / n)\n"),
    "more digits": (True, MEAN_READ + "print(sum(xs))\nprint(f'{sum(xs) / n:.12f}')\n"),
    "trailing spaces": (True, MEAN_READ + "print(str(sum(xs)) + '   ')\nprint(sum(xs) / n, end='  \\n')\n"),
    "too few digits": (False, MEAN_READ + "print(sum(xs))\nprint(f'{sum(xs) / n:.2f}')\n"),
    "missing line": (False, MEAN_READ + "print(sum(xs))\n"),
    "extra line": (False, MEAN_READ + "print(sum(xs))\nprint(sum(xs) / n)\nprint('done')\n"),
    "wrong": (False, MEAN_READ + "print(max(xs))\nprint(sum(xs) / n)\n"),
}
# A call-based problem in verl's (LiveCodeBench's) encoding: one JSON argument per line, JSON outputs.
PAIRS = {"fn_name": "shifted", "inputs": ["[1, 2, 3]\n1", "[4]\n0", "[0, 0]\n5"],
         "outputs": ["[[1, 2], [2, 3], [3, 4]]", "[[4, 4]]", "[[0, 5], [0, 5]]"]}
CALL_SOLUTIONS = {
    "correct": (True, "def shifted(xs, k):\n    return [[x, x + k] for x in xs]\n"),
    "tuples": (True, "def shifted(xs, k):\n    return tuple((x, x + k) for x in xs)\n"),
    "wrong": (False, "def shifted(xs, k):\n    return [[x, x * k] for x in xs]\n"),
    "one short": (False, "def shifted(xs, k):\n    return [[x, x + k] for x in xs[1:]]\n"),
    # LeetCode's shape, as LiveCodeBench and verl's data carry it: a method of class Solution, with List from
    # the imports the harnesses put in front (the program does not import it)
    "class Solution": (True, "class Solution:\n    def shifted(self, xs: List[int], k: int) -> List[List[int]]:\n"
                             "        return [[x, x + k] for x in xs]\n"),
    "class Solution, wrong": (False, "class Solution:\n    def shifted(self, xs: List[int], k: int):\n"
                                     "        return [[x, k] for x in xs]\n"),
    # one instance serves every test, as in LiveCodeBench's harness: state kept on it is seen by the next test
    "class Solution, state": (False, "class Solution:\n    seen = 0\n    def shifted(self, xs, k):\n"
                                     "        self.seen += 1\n        return [[x, x + k + (self.seen > 1)] for x in xs]\n"),
}


def test_the_format_is_told_by_its_fields():
    assert detect(MEAN) == "apps" and detect({"input_output": json.dumps(MEAN)}) == "apps"
    assert detect({"task_id": "x"}) is None
    task = task_from_format(MEAN)
    assert task.kind is TaskKind.STDIO and len(task.cases) == 3 and task.compare["name"] == "float"
    call = task_from_format({"input_output": {"inputs": [[[1, 2], 1]], "outputs": [[[[1, 3]]]], "fn_name": "f"}})
    assert call.kind is TaskKind.ASSERTS and call.entry_point == "f" and len(call.asserts) == 1
    assert "[[1, 3]]" not in "".join(call.asserts)  # expected values live in the setup, run by the judge only


def test_a_label_is_read_the_way_verl_passes_it():
    row = row_from_label(json.dumps(MEAN), {"index": 3, "split": "train"})
    assert resolve_row({}, row).kind is TaskKind.STDIO
    with pytest.raises(TaskNotFound, match="3 inputs and 2 outputs"):
        resolve_row({}, row_from_label(json.dumps({"inputs": MEAN["inputs"], "outputs": MEAN["outputs"][:2]})))
    with pytest.raises(TaskNotFound, match="not a function or method name"):
        task_from_format({"inputs": ["1"], "outputs": ["1"], "fn_name": "Solution.twoSum"})
    with pytest.raises(TaskNotFound, match="not text or a list of lines"):
        task_from_format({"inputs": [5], "outputs": ["5"]})


@pytest.fixture(scope="module")
def scorer():
    from codeloop.scoring.local import LocalScorer

    s = LocalScorer({}, workers=2)
    yield s
    s.close()


def _verl_score(scorer, truth, code):
    from codeloop.integrations.verl import compute_score

    return compute_score("codecontests", f"Here you go:\n```python\n{code}```\n", json.dumps(truth), {"index": 0},
                         scorer=scorer)


@pytest.mark.sandbox
@pytest.mark.parametrize("truth, name", [(MEAN, n) for n in STDIN_SOLUTIONS] + [(PAIRS, n) for n in CALL_SOLUTIONS],
                         ids=[f"stdin-{n}" for n in STDIN_SOLUTIONS] + [f"call-{n}" for n in CALL_SOLUTIONS])
def test_fixtures_through_verls_compute_score(scorer, truth, name):
    want, code = (STDIN_SOLUTIONS if truth is MEAN else CALL_SOLUTIONS)[name]
    result = _verl_score(scorer, truth, code)
    assert result["acc"] == float(want) and result["infra_error"] == 0.0, (name, result)


def _prime_code():
    """verl's prime_code package from its installed files (benchmarks/verl_files.py)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from verl_files import load_verl_package

    module = load_verl_package("utils", "reward_score", "prime_code")
    if module is None:
        pytest.skip("verl is not installed (pip install --no-deps verl==0.9.1)")
    return module


# Where verl's harness is wrong, and why codeloop differs (docs/tasks.md lists these too).
KNOWN_DIFFERENCES = {
    "tuples": "prime_code turns only the outer tuple of a result into a list, so nested tuples fail against "
              "the JSON arrays expected; LiveCodeBench, whose encoding this is, compares as JSON (tuples are lists)",
}


@pytest.mark.sandbox
@pytest.mark.parametrize("truth, solutions", [(MEAN, STDIN_SOLUTIONS), (PAIRS, CALL_SOLUTIONS)],
                         ids=["stdin", "call"])
def test_agreement_with_verls_own_harness(scorer, truth, solutions):
    pytest.importorskip("numpy")
    prime = _prime_code()
    for name, (want, code) in solutions.items():
        res, _ = prime.apps_check_correctness(in_outs=truth, generation=code, timeout=10, debug=False)
        theirs = all(r is True for r in res)
        ours = _verl_score(scorer, truth, code)["acc"] == 1.0
        assert ours == want, name
        if name in KNOWN_DIFFERENCES:
            assert theirs != ours, f"{name}: verl's harness no longer differs; drop it from KNOWN_DIFFERENCES"
        else:
            assert theirs == ours, (name, res)


# -- the other formats, each in its dataset's exact shape ------------------------------------------------------

MBPP_ROW = {"task_id": 11, "text": "Write a python function to remove first and last occurrence of a given character.",
            "code": "def remove_Occ(s,ch):\n    return s", "test_setup_code": "",
            "test_list": ['assert remove_Occ("hello","l") == "heo"', 'assert remove_Occ("abcda","a") == "bcd"',
                          'assert remove_Occ("PHP","P") == "H"'],
            "challenge_test_list": ['assert remove_Occ("hellolloll","l") == "helollol"']}
MBPP_GOOD = ("def remove_Occ(s, ch):\n    i = s.find(ch)\n    if i >= 0:\n        s = s[:i] + s[i + 1:]\n"
             "    j = s.rfind(ch)\n    if j >= 0:\n        s = s[:j] + s[j + 1:]\n    return s\n")
MBPP_ALL_OCCURRENCES = "def remove_Occ(s, ch):\n    return s.replace(ch, '')\n"  # right on test_list only
MBPP_WRONG = "def remove_Occ(s, ch):\n    return s[1:-1]\n"
ACECODER_ROW = {"id": "oss_1", "question": "Sum a list.",
                "test_cases": ["assert total([1, 2]) == 3", "assert total([]) == 0",
                               "assert isinstance(total([1]), int)"]}
CODECONTESTS_ROW = {"name": "1000_A. Halve", "description": "Print n / 2 with at least 6 digits.",
                    "public_tests": {"input": ["3\n"], "output": ["1.5\n"]},
                    "private_tests": {"input": ["1\n"], "output": ["0.500000\n"]},
                    "generated_tests": {"input": ["7\n", "10\n"], "output": ["3.5\n", "5\n"]},
                    "time_limit": {"seconds": 2, "nanos": 0}, "memory_limit_bytes": 256000000}


def _lcb_encode(tests: list[dict]) -> str:
    import base64
    import pickle
    import zlib

    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(tests)))).decode()


LCB_STDIN = {"question_id": "abc301_a", "platform": "atcoder", "starter_code": "", "metadata": "{}",
             "public_test_cases": json.dumps([{"input": "2 3\n", "output": "5\n", "testtype": "stdin"}]),
             "private_test_cases": _lcb_encode([{"input": "10 -4\n", "output": "6\n", "testtype": "stdin"}])}
LCB_SOLUTION = {"question_id": "lc_2", "platform": "leetcode",
                "starter_code": "class Solution:\n    def maxPair(self, nums: List[int]) -> int:\n        ",
                "metadata": json.dumps({"func_name": "maxPair"}),
                "public_test_cases": json.dumps([{"input": "[1, 5, 3]", "output": "8", "testtype": "functional"}]),
                "private_test_cases": _lcb_encode([{"input": "[2, 2]", "output": "4", "testtype": "functional"}])}
LCB_CALL = {"question_id": "lc_1", "platform": "leetcode", "starter_code": "def halves(xs: list) -> list:\n    ",
            "metadata": json.dumps({"func_name": "halves"}),
            "public_test_cases": json.dumps([{"input": "[2, 3]", "output": "[1.0, 1.5]", "testtype": "functional"}]),
            "private_test_cases": _lcb_encode([{"input": "[]", "output": "[]", "testtype": "functional"}])}


def test_each_format_is_read_from_its_own_shape():
    mbpp = task_from_format(MBPP_ROW)
    assert detect(MBPP_ROW) == "mbpp" and mbpp.entry_point == "remove_Occ" and len(mbpp.asserts) == 3
    assert len(task_from_format({**MBPP_ROW, "with_challenge": True}).asserts) == 4
    ace = task_from_format(ACECODER_ROW)
    assert detect(ACECODER_ROW) == "acecoder" and ace.entry_point == "total"  # isinstance is a builtin
    cc = task_from_format(CODECONTESTS_ROW)
    assert detect(CODECONTESTS_ROW) == "codecontests" and len(cc.cases) == 4 and cc.time_limit_per_test == 2.0
    assert cc.memory_limit == 245 and cc.compare["name"] == "codecontests"
    lcb = task_from_format(LCB_STDIN)
    assert detect(LCB_STDIN) == "livecodebench" and [c.input for c in lcb.cases] == ["2 3\n", "10 -4\n"]
    assert task_from_format(LCB_CALL).kind is TaskKind.ASSERTS


def test_taco_limit_text_becomes_each_tests_limit_and_the_memory_limit():
    row = {"input_output": json.dumps({"inputs": ["1\n"], "outputs": ["2\n"]}), "time_limit": "2.5 seconds",
           "memory_limit": "256 megabytes"}
    task = task_from_format(row)
    assert (task.time_limit_per_test, task.memory_limit, task.time_limit) == (2.5, 256, None)
    none = task_from_format({**row, "time_limit": "None", "memory_limit": None})
    assert (none.time_limit_per_test, none.memory_limit) == (None, None)
    with pytest.raises(TaskNotFound, match="not a number and a unit: 'two seconds'"):
        task_from_format({**row, "time_limit": "two seconds"})
    # a row or verl's extra_info may set the run options itself
    opts = task_from_format({**row, "time_limit_per_test": 1, "stop_on_failure": True})
    assert (opts.time_limit_per_test, opts.stop_on_failure) == (1.0, True)
    with pytest.raises(TaskNotFound, match="stop_on_failure must be true or false"):
        task_from_format({**row, "stop_on_failure": "yes"})


def test_a_pickle_that_names_code_is_refused():
    import base64
    import pickle
    import zlib

    class Boom:
        def __reduce__(self):
            return (print, ("this ran",))

    evil = base64.b64encode(zlib.compress(pickle.dumps(Boom()))).decode()
    with pytest.raises(TaskNotFound, match="refused: the pickle names builtins.print"):
        task_from_format({**LCB_STDIN, "private_test_cases": evil})


@pytest.mark.sandbox
@pytest.mark.parametrize("row, code, want", [
    (MBPP_ROW, MBPP_GOOD, True), (MBPP_ROW, MBPP_WRONG, False), (MBPP_ROW, MBPP_ALL_OCCURRENCES, True),
    ({**MBPP_ROW, "with_challenge": True}, MBPP_ALL_OCCURRENCES, False),
    ({**MBPP_ROW, "with_challenge": True}, MBPP_GOOD, True),
    (ACECODER_ROW, "def total(xs):\n    return sum(xs)\n", True),
    (ACECODER_ROW, "def total(xs):\n    return float(sum(xs))\n", False),
    (CODECONTESTS_ROW, "print(int(input()) / 2)\n", True),             # 5.0 for 5: numbers within 1e-5
    (CODECONTESTS_ROW, "print(f'{int(input()) / 2:.3f}')\n", True),
    (CODECONTESTS_ROW, "print(int(input()) // 2)\n", False),
    (LCB_STDIN, "a, b = map(int, input().split())\nprint(a + b)\n", True),
    (LCB_STDIN, "a, b = map(int, input().split())\nprint(abs(a + b))\nprint()\nprint(0)\n", False),
    (LCB_CALL, "def halves(xs):\n    return [x / 2 for x in xs]\n", True),
    (LCB_CALL, "def halves(xs):\n    return [x // 2 for x in xs]\n", False),
    (LCB_SOLUTION, "class Solution:\n    def maxPair(self, nums: List[int]) -> int:\n"
                   "        return sum(sorted(nums)[-2:])\n", True),
    (LCB_SOLUTION, "class Solution:\n    def maxPair(self, nums):\n        return max(nums) * 2\n", False),
], ids=["mbpp", "mbpp-wrong", "mbpp-lax-tests", "mbpp-challenge-catches-it", "mbpp-challenge", "acecoder",
        "acecoder-float", "cc", "cc-3-digits", "cc-floor", "lcb", "lcb-extra",
        "lcb-call", "lcb-call-floor", "lcb-solution", "lcb-solution-wrong"])
def test_each_format_judged_through_verls_compute_score(scorer, row, code, want):
    from codeloop.integrations.verl import compute_score

    result = compute_score("any", f"```python\n{code}```", row, None, scorer=scorer)
    assert result["acc"] == float(want) and result["infra_error"] == 0.0, result


def test_tests_are_subsampled_as_the_row_says():
    truth = {"inputs": [f"{'x' * n}\n" for n in (3, 9, 1, 7, 5)], "outputs": ["a\n"] * 5}
    assert len(task_from_format({**truth, "max_tests": 2}).cases) == 2
    longest = task_from_format({**truth, "longest_tests": 2})
    assert [len(c.input) for c in longest.cases] == [10, 8]  # the two longest, in their order
    row = row_from_label(json.dumps(truth), {"max_tests": 3})  # verl's extra_info says it
    assert len(resolve_row({}, row).cases) == 3
    assert len(task_from_format({**MBPP_ROW, "max_tests": 1}).asserts) == 1
    with pytest.raises(TaskNotFound, match="max_tests must be a positive integer"):
        task_from_format({**truth, "max_tests": 0})
    with pytest.raises(TaskNotFound, match="stdin/stdout tests only"):
        task_from_format({**MBPP_ROW, "longest_tests": 1})


def test_a_dataset_exported_to_json_lines_is_a_task_file(tmp_path):
    from codeloop.jsonl import InputError
    from codeloop.tasks import load_task_file

    path = tmp_path / "apps.jsonl"
    rows = [{"problem_id": 4001, "question": "Add.", "input_output": json.dumps(MEAN), "difficulty": "interview"},
            MBPP_ROW, CODECONTESTS_ROW, LCB_STDIN]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    tasks = load_task_file(str(path))
    assert sorted(tasks) == sorted(["4001", "11", "1000_A. Halve", "abc301_a"])
    assert tasks["4001"].origin == f"{path}:1" and tasks["11"].kind is TaskKind.ASSERTS
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(rows[0]) + "\n" + json.dumps({"inputs": ["1"], "outputs": []}) + "\n")
    with pytest.raises(InputError, match=r"bad.jsonl:2: apps format: 1 inputs and 0 outputs"):
        load_task_file(str(bad))


# -- HumanEval+ / MBPP+ (EvalPlus): expected values from the reference, EvalPlus's float rule ------------------

EVALPLUS_ROW = {"task_id": "HumanEval/900", "entry_point": "spread",
                "prompt": "def spread(xs: list) -> float:\n    \"\"\"The largest minus the smallest, halved.\"\"\"\n",
                "canonical_solution": "    return (max(xs) - min(xs)) / 2\n",
                "base_input": [[[1.0, 2.0]], [[0.1, 0.7, 0.2]]],
                "plus_input": [[[1e-3, 3.3]], [[5.0]]], "atol": 0}
EVALPLUS_SOLUTIONS = {
    "correct": (True, "def spread(xs):\n    return (max(xs) - min(xs)) / 2\n"),
    # 0.3 - 0.1 style rounding: a different float, within EvalPlus's 1e-6
    "rounding": (True, "def spread(xs):\n    return max(xs) / 2 - min(xs) / 2\n"),
    # 0 == 0.0 in Python: EvalPlus's exact match takes it, before any type check
    "an int for 0.0": (True, "def spread(xs):\n    r = (max(xs) - min(xs)) / 2\n    return int(r) if r == 0 else r\n"),
    "a string": (False, "def spread(xs):\n    return str((max(xs) - min(xs)) / 2)\n"),
    "off by 1e-4": (False, "def spread(xs):\n    return (max(xs) - min(xs)) / 2 + 1e-4\n"),
    "right on base only": (False, "def spread(xs):\n    return (max(xs) - min(xs)) / 2 if len(xs) > 1 else 1.0\n"),
}


def test_evalplus_rows_are_read_with_base_and_plus_inputs():
    task = task_from_format(EVALPLUS_ROW)
    assert detect(EVALPLUS_ROW) == "evalplus" and task.kind is TaskKind.ASSERTS and len(task.asserts) == 4
    assert len(task_from_format({**EVALPLUS_ROW, "base_only": True}).asserts) == 2
    assert task.reference.startswith("def spread")  # the reference also calibrates the time limits
    # MBPP+ rows also carry MBPP's test_list: the plus inputs win
    assert detect({**EVALPLUS_ROW, "test_list": ["assert spread([1.0]) == 0.0"]}) == "evalplus"
    with pytest.raises(TaskNotFound, match="atol"):
        task_from_format({**EVALPLUS_ROW, "atol": "small"})


@pytest.mark.sandbox
@pytest.mark.parametrize("name", list(EVALPLUS_SOLUTIONS))
def test_evalplus_fixtures_judged_as_evalplus_judges_them(scorer, name):
    want, code = EVALPLUS_SOLUTIONS[name]
    task = task_from_format(EVALPLUS_ROW)
    verdict = scorer.judge_one(task, code, raw=True)
    assert verdict.passed == want, (name, verdict.failure)
    if name == "right on base only":
        assert verdict.test_results == (True, True, True, False)  # the plus input [5.0] catches it


@pytest.mark.sandbox
def test_agreement_with_evalplus_own_comparison(scorer):
    """EvalPlus 0.3.1's unsafe_execute compares out with exp: equal, or for floats (atol 0 means 1e-6) the same
    type and length and numpy.allclose(rtol=1e-07). Its rule, restated here from its source, on each fixture."""
    np = pytest.importorskip("numpy")
    ns: dict = {}
    row = EVALPLUS_ROW
    exec(row["prompt"] + row["canonical_solution"], ns)
    inputs = row["base_input"] + row["plus_input"]
    expected = [ns["spread"](*x) for x in inputs]
    for name, (want, code) in EVALPLUS_SOLUTIONS.items():
        mine: dict = {}
        exec(code, mine)
        theirs = True
        for x, exp in zip(inputs, expected):
            out = mine["spread"](*x)
            ok = out == exp
            if not ok:
                atol = row["atol"] or (1e-6 if isinstance(exp, float) else 0)
                ok = atol != 0 and type(out) is type(exp) and bool(np.allclose(out, exp, rtol=1e-07, atol=atol))
            theirs = theirs and ok
        assert theirs == want == scorer.judge_one(task_from_format(row), code, raw=True).passed, name


def test_a_humaneval_plus_row_with_its_own_test_field_is_read_as_evalplus(tmp_path):
    from codeloop.tasks.jsonl import load_task_file

    row = {**EVALPLUS_ROW, "test": "def check(candidate):\n    assert candidate([1.0, 3.0]) == 1.0\n",
           "contract": "", "canonical_solution": EVALPLUS_ROW["canonical_solution"]}
    path = tmp_path / "HumanEvalPlus.jsonl"
    path.write_text(json.dumps(row) + "\n")
    [task] = load_task_file(str(path)).values()
    assert task.task_id == "HumanEval/900" and task.origin.endswith(":1") and len(task.asserts) == 4
    assert resolve_row({}, row).kind is TaskKind.ASSERTS and len(resolve_row({}, row).asserts) == 4


@pytest.mark.sandbox
def test_a_humaneval_plus_row_through_verls_compute_score(scorer):
    from codeloop.integrations.verl import compute_score

    row = {**EVALPLUS_ROW, "test": "def check(candidate):\n    pass\n"}
    for name, (want, code) in EVALPLUS_SOLUTIONS.items():
        result = compute_score("evalplus", f"```python\n{code}```", row, None, scorer=scorer)
        assert result["acc"] == float(want) and result["infra_error"] == 0.0, (name, result)


# -- DS-1000 style: the reference's result is computed in the judge once per task, kept in its memo ---------------

def _ds1000_counting_row(token: str) -> dict:
    """A DS-1000-style row whose reference counts its runs in the judge process, and whose checker fails a sample
    judged after the reference ran more than once there."""
    count = (f"import builtins\n_runs = builtins.__dict__.setdefault('codeloop_reference_runs', {{}})\n"
             f"_runs[{token!r}] = _runs.get({token!r}, 0) + 1\n")
    return {"task_id": "ds-count", "code_context": "x = [3, 1, 2]\n[insert]\n",
            "reference_code": count + "result = sorted(x)",
            "checker": "def check_result(result, expected):\n    import builtins\n"
                       f"    runs = builtins.codeloop_reference_runs[{token!r}]\n"
                       "    assert runs == 1, f'the reference ran {runs} times in this judge'\n"
                       "    expected.append('changed by the checker')  # the next sample's expected value keeps\n"
                       "    return result + ['changed by the checker'] == expected\n"}


@pytest.mark.sandbox
def test_a_ds1000_tasks_reference_runs_once_per_task_in_the_judge(scorer):
    import uuid

    task = task_from_format(_ds1000_counting_row(uuid.uuid4().hex), "ds1000")
    replies = ["result = sorted(x)", "result = list(sorted(x))", "result = x", "x.sort()\nresult = x"] * 3
    verdicts = [scorer.judge_one(task, reply) for reply in replies]
    assert [v.passed for v in verdicts] == [True, True, False, True] * 3, [v.failure for v in verdicts]
