"""The output comparators: each one's rule, the cases official harnesses get
wrong (missing and extra lines), a task choosing one, and bad choices named
with their file, line and field."""

from __future__ import annotations

import pytest

from codeloop.compare import COMPARATORS, check_spec, matches


def ok(name: str, actual: str, expected: str, **params) -> bool:
    return matches(check_spec({"name": name, **params}), actual, expected)


# apps's cascade is lax on purpose; a checker decides for itself
@pytest.mark.parametrize("name", sorted(set(COMPARATORS) - {"apps", "checker", "checker_program"}))
def test_missing_and_extra_lines_are_always_caught(name):
    assert ok(name, "1\n2\n3\n", "1\n2\n3\n")
    assert not ok(name, "1\n2\n", "1\n2\n3\n")      # a missing line
    assert not ok(name, "1\n2\n3\n4\n", "1\n2\n3\n")  # an extra one
    assert not ok(name, "", "1\n")


def test_the_in_process_report_is_no_comparator():
    """The in-process mode reads its tests' report where the mode lives (verify/in_process.py)."""
    assert "in_process_report" not in COMPARATORS


def test_exact_and_lines():
    assert ok("exact", "a b\n", "a b\n") and not ok("exact", "a b \n", "a b\n")
    assert ok("lines", "a b  \n\n\n", "a b") and not ok("lines", "a  b\n", "a b\n")
    assert matches(None, "x \n", "x")  # the default is lines
    assert not ok("lines", "a\n\nb\n", "a\nb\n")  # a blank line in the middle counts


def test_tokens_and_case():
    assert ok("tokens", "1  2\n3", "1 2 3") and not ok("tokens", "1 3 2", "1 2 3")
    assert not ok("tokens", "YES", "yes") and ok("tokens", "YES", "yes", case_insensitive=True)
    assert ok("case_insensitive", "Yes\nNO", "yes no") and not ok("case_insensitive", "yes", "no")


def test_float_tolerance():
    assert ok("float", "0.3333334", "0.333333", abs_tol=1e-5)
    assert not ok("float", "0.3334", "0.333333", abs_tol=1e-5)
    assert ok("float", "1000001", "1000000", rel_tol=1e-5) and not ok("float", "1000011", "1000000", rel_tol=1e-5)
    assert ok("float", "nan", "nan") and not ok("float", "nan", "0")  # equal text passes; nan is no number
    assert not ok("float", "abc", "abd")


def test_codecontests_outputs_match():
    assert ok("codecontests", "YES\n0.1000001", "yes 0.1")       # lower-cased tokens, absolute 1e-5
    assert not ok("codecontests", "0.10002", "0.1")
    assert not ok("codecontests", "NO", "YES")


def test_livecodebench_decimals():
    assert ok("lcb", "1.0 1e3\n", "1 1000") and ok("lcb", "  a b  \n", "a b")
    assert not ok("lcb", "0.333333", "0.333333333")  # no tolerance, as LiveCodeBench
    assert not ok("lcb", "a\n\nb", "a\nb")


def test_apps_cascade_is_as_lax_as_apps():
    assert ok("apps", "  3\n", "3") and ok("apps", "1.000001\n2", "1\n2")
    assert ok("apps", "2 1\n", "1 2")                # token sets: order within a line ignored
    assert ok("apps", "b\na\n", "a\nb")              # and the order of lines too
    assert ok("apps", "1.0004", "1.0001")            # rounded to 3 places
    assert not ok("apps", "1 2 3", "1 2 4")


def test_a_bad_choice_is_named():
    with pytest.raises(ValueError, match="unknown comparator 'zip'; known: .*lines"):
        check_spec("zip")
    with pytest.raises(ValueError, match="takes no parameter tol"):
        check_spec({"name": "float", "tol": 1})
    with pytest.raises(ValueError, match="abs_tol must be a float"):
        check_spec({"name": "float", "abs_tol": "1e-5"})
    with pytest.raises(ValueError, match="finite number"):
        check_spec({"name": "float", "abs_tol": -1.0})
    assert check_spec("float") == {"name": "float", "abs_tol": 1e-6, "rel_tol": 0.0, "case_insensitive": False}


def test_a_task_file_names_a_bad_comparator_by_file_line_and_field(tmp_path):
    from codeloop.tasks import load_task_file
    from codeloop.tasks.errors import TaskNotFound  # noqa: F401 - the loader's own error type is asserted below

    path = tmp_path / "t.jsonl"
    path.write_text('{"task_id": "a", "cases": [{"input": "", "output": "1"}], "compare": "lines"}\n'
                    '{"task_id": "b", "cases": [{"input": "", "output": "1"}], "compare": "zip"}\n')
    with pytest.raises(Exception) as err:
        load_task_file(str(path))
    text = str(err.value)
    assert "t.jsonl" in text and ":2" in text and "compare" in text and "unknown comparator 'zip'" in text


@pytest.mark.sandbox
def test_a_task_judged_with_its_comparator():
    from codeloop.scoring.local import LocalScorer
    from codeloop.types import Status

    scorer = LocalScorer({}, workers=1)
    try:
        row = {"task_id": "third", "cases": [{"input": "1 3\n", "output": "0.333333\n"}],
               "compare": {"name": "float", "abs_tol": 1e-5}}
        task = scorer.resolve(row)
        strict = scorer.resolve({**row, "compare": "lines"})
        program = "a, b = map(int, input().split())\nprint(f'{a / b:.7f}')\n"
        assert scorer.judge_one(task, program, raw=True).status is Status.PASSED
        assert scorer.judge_one(strict, program, raw=True).status is Status.FAILED
        assert task.key != strict.key  # the comparator is part of what decides a verdict
        short = "print(0.3)\n"
        assert scorer.judge_one(task, short, raw=True).status is Status.FAILED
    finally:
        scorer.close()


# A problem with more than one right answer: print any two numbers from the input that sum to the target.
PAIR_CHECKER = '''def check(input, output, answer):
    first, second = input.split("\\n")[:2]
    target, numbers = int(first), set(map(int, second.split()))
    a, b = map(int, output.split())
    return a + b == target and a in numbers and b in numbers
'''


def test_a_checker_function_is_checked_when_read_without_running_it():
    spec = check_spec({"name": "checker", "source": PAIR_CHECKER})
    assert matches(spec, "1 4\n", "2 3\n", "5\n1 2 3 4\n") and matches(spec, "2 3", "2 3\n", "5\n1 2 3 4\n")
    assert not matches(spec, "1 3\n", "2 3\n", "5\n1 2 3 4\n")
    assert not matches(spec, "one four\n", "2 3\n", "5\n1 2 3 4\n")  # output it cannot read: a wrong answer
    with pytest.raises(ValueError, match="needs 'source'"):
        check_spec({"name": "checker"})
    with pytest.raises(ValueError, match="defines no check"):
        check_spec({"name": "checker", "source": "def judge(i, o, a):\n    return True\n"})
    with pytest.raises(ValueError, match="does not compile"):
        check_spec({"name": "checker", "source": "def check(:\n"})
    # loading a task does not run its checker (that happens in the judge, inside the sandbox)
    check_spec({"name": "checker", "source": "raise SystemExit('ran at load')\ndef check(i, o, a):\n    return 1\n"})


@pytest.mark.sandbox
def test_a_task_judged_by_its_checker_in_the_judge():
    from codeloop.scoring.local import LocalScorer
    from codeloop.types import Status

    scorer = LocalScorer({}, workers=1)
    try:
        row = {"task_id": "pair", "cases": [{"input": "5\n1 2 3 4\n", "output": "2 3\n"},
                                            {"input": "7\n3 4 9\n", "output": "3 4\n"}],
               "compare": {"name": "checker", "source": PAIR_CHECKER}}
        task = scorer.resolve(row)
        other_pair = "t = int(input())\nxs = list(map(int, input().split()))\n" \
                     "print(*next((a, t - a) for a in xs if t - a in xs and t - a != a))\n"
        assert scorer.judge_one(task, other_pair, raw=True).status is Status.PASSED
        v = scorer.judge_one(task, "print(1, 1)\n", raw=True)
        assert v.status is Status.FAILED and v.failure.case == 0
        broken = scorer.resolve({**row, "task_id": "broken",
                                 "compare": {"name": "checker", "source": "x = 1 / 0\ndef check(i, o, a):\n    return 1\n"}})
        v = scorer.judge_one(broken, other_pair, raw=True)
        assert v.status is Status.INFRA_ERROR and "ZeroDivisionError" in v.failure.message  # the task's fault
    finally:
        scorer.close()


# The same pair problem, judged by a checker program in testlib's convention (checker INPUT OUTPUT ANSWER, exit
# status 0 / 1 / 2 / 3), written here with a header of its own standing in for testlib.h.
PAIR_HEADER = '''#include <fstream>
#include <set>
inline std::set<long> read_numbers(std::ifstream &in, long count) {
    std::set<long> out; long x; for (long i = 0; i < count && in >> x; i++) out.insert(x); return out;
}
'''
PAIR_CHECKER_CPP = '''#include "pairs.h"
#include <cstdlib>
int main(int argc, char **argv) {
    if (argc != 4) return 3;
    std::ifstream in(argv[1]), out(argv[2]);
    long target, n = 0; in >> target;
    std::set<long> numbers; long x; while (in >> x) numbers.insert(x);
    long a, b;
    if (!(out >> a >> b)) return 2;                        // presentation error: not two numbers
    if (getenv("CODELOOP_CHECKER_FAIL")) return 3;
    return (a + b == target && numbers.count(a) && numbers.count(b)) ? 0 : 1;
}
'''


@pytest.mark.sandbox
@pytest.mark.skipif(__import__("shutil").which("g++") is None, reason="g++ is not installed")
def test_a_task_judged_by_its_checker_program():
    from codeloop.scoring.local import LocalScorer
    from codeloop.types import Status

    spec = {"name": "checker_program", "source": PAIR_CHECKER_CPP, "language": "cpp",
            "headers": {"pairs.h": PAIR_HEADER}}
    scorer = LocalScorer({}, workers=1)
    try:
        row = {"task_id": "pair-cpp", "cases": [{"input": "5\n1 2 3 4\n", "output": "2 3\n"},
                                                {"input": "7\n3 4 9\n", "output": "3 4\n"}], "compare": spec}
        task = scorer.resolve(row)
        other_pair = "t = int(input())\nxs = list(map(int, input().split()))\n" \
                     "print(*next((a, t - a) for a in xs if t - a in xs and t - a != a))\n"
        assert scorer.judge_one(task, other_pair, raw=True).status is Status.PASSED
        assert scorer.judge_one(task, "print(1, 1)\n", raw=True).status is Status.FAILED
        assert scorer.judge_one(task, "print('two three')\n", raw=True).status is Status.FAILED  # presentation
        broken = scorer.resolve({**row, "task_id": "broken", "compare": {**spec, "source": "int main( {"}})
        v = scorer.judge_one(broken, other_pair, raw=True)
        assert v.status is Status.INFRA_ERROR and "did not compile" in v.failure.message
    finally:
        scorer.close()
    with pytest.raises(ValueError, match="plain file names"):
        check_spec({**spec, "headers": {"../evil.h": ""}})
    with pytest.raises(ValueError, match="unknown language"):
        check_spec({**spec, "language": "cobol"})
