"""Feedback text and rewards, on verdicts of real programs."""

import pytest
from conftest import check_task, run

from codeloop import feedback, rewards
from codeloop.types import Cost, InstructionResult, Status, Verdict, ViolationInfo, WrongAnswer
from codeloop.verify.efficiency import METHOD


TEST = """
def check(candidate):
    assert candidate([3, 1, 2]) == [1, 2, 3]
    assert candidate([5, 4]) == [4, 5]
"""
SORT = check_task(TEST, entry_point="sort_it")
PROGRAMS = {
    "passed": "def sort_it(xs):\n    return sorted(xs)\n",
    "failed": "def sort_it(xs):\n    return xs\n",
    "error": "def sort_it(xs):\n    return xs[10]\n",
    "timeout": "def sort_it(xs):\n    while True:\n        pass\n",
    "syntax_error": "def sort_it(xs)\n    return xs\n",
    "no_code": "# nothing\n",
    "killed": "import os\ndef sort_it(xs):\n    os._exit(3)\n",
}
SECRET_BITS = ("[3, 1, 2]", "[1, 2, 3]", "assert candidate")


@pytest.fixture(scope="module")
def verdicts(pool):
    return {status: run(pool, SORT, prog, time_limit=0.5) for status, prog in PROGRAMS.items()}


def test_programs_give_the_intended_statuses(verdicts):
    assert {s: v.status for s, v in verdicts.items()} == {s: Status(s) for s in PROGRAMS}


@pytest.mark.parametrize("preset", [p for p in feedback.PRESETS if not feedback.PRESETS[p].reveals_hidden])
def test_hidden_tests_never_leak(verdicts, preset):
    for status, v in verdicts.items():
        text = feedback.render(v, preset, hidden=True)
        assert text, (preset, status)
        for bit in SECRET_BITS:
            assert bit not in text, (preset, status, text)


def test_visible_feedback_shows_test_input_expected_and_actual(verdicts):
    text = feedback.render(verdicts["failed"], "first_failure", hidden=False)
    assert "Failing test: assert candidate([3, 1, 2]) == [1, 2, 3]" in text
    assert "Input: sort_it([3, 1, 2])" in text and "Expected: [1, 2, 3]" in text and "Got: [3, 1, 2]" in text
    assert "0 of 2 tests passed" in text
    assert "# output: [3, 1, 2]" in feedback.render(verdicts["failed"], "reflexion", hidden=False)
    codetree = feedback.render(verdicts["failed"], "codetree", hidden=False)
    assert "Failed test:" in codetree and "# Current Execution Output:\n[3, 1, 2]" in codetree


def test_errors_show_the_programs_own_traceback(verdicts):
    hidden = feedback.render(verdicts["error"], hidden=True)
    assert "IndexError" in hidden and 'File "solution.py", line 2, in sort_it' in hidden
    assert "return xs[10]" in hidden
    assert "list index out of range" in feedback.render(verdicts["error"], hidden=False)


def test_timeouts_syntax_errors_and_crashes_are_said_plainly(verdicts):
    assert "Timed out: no answer within the time limit" in feedback.render(verdicts["timeout"], hidden=True)
    assert "on input sort_it([3, 1, 2])" in feedback.render(verdicts["timeout"], hidden=False)
    text = feedback.render(verdicts["syntax_error"])
    assert "SyntaxError at line 1" in text and "def sort_it(xs)" in text
    assert "No code" in feedback.render(verdicts["no_code"])
    assert "exited or crashed" in feedback.render(verdicts["killed"])


def test_reveal_preset_is_opt_in_and_shows_everything(verdicts):
    assert feedback.PRESETS["first_failure_reveal_hidden"].reveals_hidden
    text = feedback.render(verdicts["failed"], "first_failure_reveal_hidden", hidden=True)
    assert "Expected: [1, 2, 3]" in text
    with pytest.raises(ValueError):
        feedback.register("sneaky", "shows hidden tests", reveals_hidden=True)


def test_instruction_violations_name_rule_line_column_and_parameter():
    v = Verdict(status=Status.PASSED, instructions=(InstructionResult(
        id="style:max_line_length", params={"n": 40}, sentence="Keep every line at most 40 characters long.",
        passed=False, violations=(ViolationInfo(line=3, column=41, message="Line too long (52 > 40)", rule="E501"),),
        violation_count=1),))
    text = feedback.render(v)
    assert "style:max_line_length (n=40)" in text and "line 3, column 41: Line too long (52 > 40)" in text


def test_every_preset_keeps_to_its_cap_and_says_so():
    v = Verdict(status=Status.FAILED, failure=WrongAnswer(test="x" * 5000, expected="y" * 5000, actual="z"))
    for preset in feedback.PRESETS:
        for cap in (60, 300, 2000):
            text = feedback.render(v, preset, cap=cap, hidden=False)
            assert len(text) <= cap
            if preset != "status":
                assert "[feedback cut:" in text
    with pytest.raises(KeyError, match="unknown feedback preset"):
        feedback.render(v, "nope")


def test_rewards_by_status(verdicts):
    coderl = {s: rewards.get("coderl")(v) for s, v in verdicts.items()}
    assert coderl == {"passed": 1.0, "failed": -0.3, "error": -0.6, "timeout": -0.6, "syntax_error": -1.0,
                      "no_code": -1.0, "killed": -0.6}
    assert rewards.get("pass")(verdicts["passed"]) == 1.0 and rewards.get("pass")(verdicts["failed"]) == 0.0
    assert rewards.get("fraction")(verdicts["failed"]) == 0.0


def test_fraction_counts_tests():
    assert rewards.get("fraction")(Verdict(status=Status.FAILED, tests_passed=3, tests_total=4)) == 0.75


def test_infra_errors_give_none_never_zero():
    v = Verdict(status=Status.INFRA_ERROR)
    assert not v.passed
    for name, fn in rewards.REWARDS.items():
        assert fn(v) is None, name
    assert rewards.parse("pass=1,instructions=0.5")(v) is None


def test_efficiency_reward_is_correctness_first():
    eff = rewards.get("efficiency")
    assert eff(Verdict(status=Status.FAILED, cost=Cost(METHOD, ratio=10.0))) == 0.0
    assert eff(Verdict(status=Status.PASSED)) == 1.0
    assert eff(Verdict(status=Status.PASSED, cost=Cost(METHOD, ratio=1.0))) == pytest.approx(1.25)
    assert eff(Verdict(status=Status.PASSED, cost=Cost(METHOD, ratio=50.0))) == pytest.approx(1.5)
    slow = eff(Verdict(status=Status.PASSED, cost=Cost(METHOD, ratio=0.01)))
    assert 1.0 < slow < eff(Verdict(status=Status.PASSED, cost=Cost(METHOD, ratio=1.0)))


def test_instruction_rewards_and_composites():
    v = Verdict(status=Status.PASSED, instructions=(InstructionResult(id="a", params={}, sentence="", passed=True),
                                                   InstructionResult(id="b", params={}, sentence="", passed=False)))
    assert rewards.get("instructions")(v) == 0.5
    assert rewards.get("instructions_all")(v) == 0.0
    assert rewards.parse("pass=1,instructions=0.5")(v) == pytest.approx(1.25)
    assert rewards.parse("coderl")(v) == 1.0
    with pytest.raises(KeyError, match="unknown reward"):
        rewards.parse("nope")
    with pytest.raises(ValueError):
        rewards.parse("pass=heavy")


def test_first10_is_primes_continuous_score():
    from codeloop.rewards import get

    first10 = get("first10")
    twelve = (True, False) + (True,) * 8 + (False, False)  # the 11th and 12th fail: not counted
    assert first10(Verdict(status=Status.FAILED, test_results=twelve, tests_passed=9, tests_total=12)) == 0.9
    assert first10(Verdict(status=Status.PASSED, test_results=(True,) * 3, tests_passed=3, tests_total=3)) == 1.0
    assert first10(Verdict(status=Status.TIMEOUT)) == 0.0
    assert first10(Verdict(status=Status.INFRA_ERROR)) is None
