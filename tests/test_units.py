"""Unit tests of the pure parts: they run anywhere, no sandbox needed.

Assert rewriting and the recorder, verdict assembly, the failure union and
its serialisation, time-limit rules, the trajectory's pick rule, code
extraction and the JSONL reader.
"""

from __future__ import annotations

import hashlib
import math
import signal

import pytest

from codeloop import jsonl
from codeloop.extract import extract_program, has_code, reply_text, response_of
from codeloop.records import Attempt, Brief, Trajectory
from codeloop.types import (STATUSES, CompileError, Crashed, EvaluatorFailed, ExceptionInfo, LimitExceeded,
                            ProgramRaised, Status, Task, TaskKind, UnusableResult, Verdict, WrongAnswer,
                            failure_from_dict, failure_to_dict)
from codeloop.verify.asserts import FATAL, RECORDER, rewrite_asserts
from codeloop.verify.assemble import BrokenTaskResult, assemble, stream_text
from codeloop.verify.budget import call_key, derive, fallback, provisional
from codeloop.verify.judge import CandidateFatal
from codeloop.verify.recorder import BrokenTask, CandidateRaised, Recorder, capped_repr

# -- assert rewriting and the recorder -------------------------------------------


def _run_test(source: str, func, candidate_names=("candidate",)):
    code = rewrite_asserts(source, "test.py", set(candidate_names))
    rec = Recorder(source.splitlines(), lambda: "f(…)")
    ns = {RECORDER: rec, FATAL: CandidateFatal, "candidate": func}
    exec(code, ns)
    if "check" in ns:
        try:
            ns["check"](func)
        except BaseException as exc:  # noqa: BLE001 - as the judge does
            rec.exception(exc, None)
    return rec


CHECK = """
def check(candidate):
    assert candidate(1) == 2
    assert candidate(2) == 4
    assert 6 == candidate(3)
    assert candidate(0) == 0, "a message"
"""


def test_every_assert_is_counted_and_a_failure_does_not_stop_the_test():
    rec = _run_test(CHECK, lambda x: x + 1)
    assert (rec.passed, rec.total) == (1, 4)
    assert rec.results == [True, False, False, False]
    assert rec.status == "failed"
    f = rec.failure
    assert f["kind"] == "wrong_answer" and f["line"] == 4 and f["test"] == "assert candidate(2) == 4"
    assert (f["expected"], f["actual"]) == ("4", "3")


def test_the_candidate_side_of_eq_is_the_actual_value_on_either_side():
    rec = _run_test(CHECK, lambda x: [2, 4, 7, 0][x - 1] if x else 0)
    assert rec.failure["line"] == 5 and rec.failure["actual"] == "7" and rec.failure["expected"] == "6"


def test_an_exception_of_the_program_is_an_error_with_its_details():
    def raises(x):
        raise CandidateRaised({"type": "ValueError", "name": "ValueError", "message": "bad"})

    rec = _run_test(CHECK, raises)
    assert rec.status == "error" and rec.total == 4 and rec.passed == 0
    assert rec.failure["kind"] == "raised" and rec.failure["exception"]["message"] == "bad"


def test_the_test_failing_on_the_answer_is_a_wrong_answer_not_an_error():
    rec = _run_test("def check(candidate):\n    assert len(candidate(1)) == 1\n", lambda x: 5)
    assert rec.status == "failed" and rec.failure["kind"] == "unusable_result"
    assert rec.failure["exception"]["type"] == "TypeError"


def test_a_fatal_end_of_the_candidate_stops_the_test_at_once():
    calls = []

    def gone(x):
        calls.append(x)
        raise CandidateFatal("gone")

    code = rewrite_asserts(CHECK, "test.py", {"candidate"})
    rec = Recorder(CHECK.splitlines(), lambda: None)
    ns = {RECORDER: rec, FATAL: CandidateFatal}
    exec(code, ns)
    with pytest.raises(CandidateFatal):
        ns["check"](gone)
    assert calls == [1]


def test_a_broken_task_is_raised_not_recorded():
    rec = Recorder([], lambda: None)
    with pytest.raises(BrokenTask):
        rec.exception(BrokenTask("no"), 1)


def test_a_test_that_does_not_parse_raises_syntax_error():
    with pytest.raises(SyntaxError):
        rewrite_asserts("def check(candidate):\n    assert (\n", "test.py", {"candidate"})


def test_capped_repr_says_how_much_it_cut():
    text = capped_repr("x" * 5000, 100)
    assert len(text) <= 100 and "more chars" in text


# -- verdict assembly -----------------------------------------------------------


def _report(**kw):
    base = {"setup_failed": None, "exit": None, "cpu": 0.01, "maxrss_kb": 1000,
            "stdout": {"head": "", "tail": "", "bytes": 0}, "stderr": {"head": "", "tail": "", "bytes": 0},
            "output_limit": False, "guard_hit": False, "judge_lost": False, "wall": 0.01, "spawn": 0.001}
    base.update(kw)
    return base


def test_assembly_keeps_the_judges_verdict():
    v = assemble(_report(), {"status": "failed", "tests_passed": 1, "tests_total": 2, "test_results": [True, False],
                             "failure": {"kind": "wrong_answer", "test": "assert f(1) == 2", "line": 3,
                                         "input": "f(1)", "expected": "2", "actual": "3"}, "seconds": 0.001},
                 isolation="full", memory_mb=1024, time_limit=1.0, attempts=2)
    assert v.status is Status.FAILED and not v.passed and v.attempts == 2
    assert v.failure == WrongAnswer("assert f(1) == 2", 3, "f(1)", "2", "3")
    assert v.test_results == (True, False)


@pytest.mark.parametrize("report, judged, status, failure_type", [
    (dict(output_limit=True), "killed", Status.OUTPUT_LIMIT, LimitExceeded),
    (dict(guard_hit=True), "passed", Status.TIMEOUT, LimitExceeded),
    (dict(exit=-signal.SIGXCPU), "killed", Status.TIMEOUT, LimitExceeded),
    (dict(exit=-signal.SIGKILL, maxrss_kb=1000 * 1024), "killed", Status.MEMORY_LIMIT, LimitExceeded),
    (dict(exit=-signal.SIGKILL, maxrss_kb=10), "killed", Status.KILLED, Crashed),
    (dict(exit=-signal.SIGSEGV), "killed", Status.KILLED, Crashed),
])
def test_how_the_candidate_ended_corrects_the_status(report, judged, status, failure_type):
    result = {"status": judged, "failure": {"kind": "crashed", "message": "gone", "input": "f(1)"}}
    v = assemble(_report(**report), result, isolation="full", memory_mb=1024, time_limit=1.0)
    assert v.status is status and isinstance(v.failure, failure_type)
    assert v.failure.input == "f(1)"
    if status is Status.KILLED and report.get("exit") == -signal.SIGSEGV:
        assert v.failure.signal == "SIGSEGV"
    if status is Status.TIMEOUT:
        assert v.failure.time_limit == 1.0


def test_a_guard_stop_without_an_answer_is_a_timeout():
    v = assemble(_report(guard_hit=True), None, isolation="weak", memory_mb=1024, time_limit=2.0)
    assert v.status is Status.TIMEOUT and v.isolation == "weak" and isinstance(v.failure, LimitExceeded)


def test_a_broken_task_raises_instead_of_becoming_a_verdict():
    with pytest.raises(BrokenTaskResult):
        assemble(_report(), {"status": "infra_error", "broken_task": "the test does not parse"},
                 isolation="full", memory_mb=1024, time_limit=1.0)


def test_long_output_keeps_head_and_tail_and_says_what_was_cut():
    text = stream_text({"head": "a" * 4096, "tail": "z" * 4096, "bytes": 100_000})
    assert text.startswith("a" * 100) and text.endswith("z" * 100) and "bytes cut" in text and len(text) < 2100


# -- the failure union and verdict records --------------------------------------

FAILURES = [
    WrongAnswer("assert f(1) == 2", 3, "f(1)", "2", "3"),
    UnusableResult(ExceptionInfo("TypeError", "TypeError", "no len"), "assert len(f(1)) == 1", 4, "f(1)"),
    ProgramRaised(ExceptionInfo("ValueError", "ValueError", "bad", '  File "solution.py", line 2', 2), None, None,
                  None, None, True),
    CompileError("invalid syntax", 1, 5, "def f(", "formatted"),
    LimitExceeded("time", "no answer", "f(1)", 1.5),
    Crashed("exited", "f(1)", "SIGSEGV"),
    EvaluatorFailed("worker lost", broken_task=False),
]


@pytest.mark.parametrize("failure", FAILURES, ids=lambda f: f.kind)
def test_failures_round_trip_through_json_data(failure):
    d = failure_to_dict(failure)
    assert d["kind"] == failure.kind
    assert failure_from_dict(d) == failure


def test_a_verdict_round_trips_and_keeps_the_results_file_keys():
    v = Verdict(Status.ERROR, 0, 2, FAILURES[2], stdout="out", test_results=(False, False), attempts=2)
    d = v.to_dict()
    assert d["status"] == "error" and d["passed"] is False and d["failure"]["kind"] == "raised"
    assert Verdict.from_dict({"index": 3, "task_id": "x", **d}) == v


def test_results_written_before_failures_had_a_kind_are_read_by_status():
    old = {"status": "timeout", "passed": False, "failure": {"message": "slow", "input": "f(1)", "time_limit": 1.0}}
    assert Verdict.from_dict(old).failure == LimitExceeded("time", "slow", "f(1)", 1.0)
    old = {"status": "failed", "failure": {"test": "assert f(1)", "line": 2, "exception": {
        "type": "TypeError", "message": "x", "where": "test"}}}
    assert isinstance(Verdict.from_dict(old).failure, UnusableResult)


def test_statuses_are_one_enum_that_reads_as_strings():
    assert Status.PASSED == "passed" and str(Status.NO_CODE) == "no_code"
    assert [s.value for s in STATUSES][-1] == "infra_error"
    with pytest.raises(ValueError):
        Verdict.from_dict({"status": "great"})


def test_a_tasks_key_follows_its_content_not_its_name():
    a = Task("a", TaskKind.ASSERTS, entry_point="f", asserts=("assert f(1) == 1",))
    b = Task("b", TaskKind.ASSERTS, entry_point="f", asserts=("assert f(1) == 1",), origin="elsewhere")
    c = Task("a", TaskKind.ASSERTS, entry_point="f", asserts=("assert f(1) == 2",))
    assert a.key == b.key != c.key


# -- time limits ------------------------------------------------------------------

POLICY = {"floor": 1.0, "call_floor": 0.05, "factor": 10.0, "max": 10.0, "default": 3.0, "allowance": 0.001}


def test_limits_follow_the_reference_with_floors_and_a_ceiling():
    b = derive(POLICY, 0.5, 2, [["k1", 0.001], ["k2", 0.02]])
    assert b == {"wall": 5.002, "calls": [["k1", 0.051], ["k2", 0.201]]}
    assert derive(POLICY, 0.001, 0, [])["wall"] == 1.0
    assert derive(POLICY, 5.0, 0, [])["wall"] == 10.0
    assert fallback(POLICY) == {"wall": 3.0, "calls": []}


def test_provisional_bounds_are_never_above_a_derived_limit():
    bound = provisional(POLICY)
    for seconds in (0.0, 0.01, 0.5, 50.0):
        assert derive(POLICY, seconds, 3, [["k", seconds / 3]])["wall"] >= bound["wall"]
        assert all(b >= POLICY["call_floor"] for _, b in derive(POLICY, seconds, 1, [["k", seconds]])["calls"])


def test_a_call_key_identifies_arguments():
    assert call_key([1, 2], {"$": "dict", "v": []}) == call_key([1, 2], {"$": "dict", "v": []})
    assert call_key([1, 2], {"$": "dict", "v": []}) != call_key([2, 1], {"$": "dict", "v": []})


# -- trajectories ----------------------------------------------------------------


def _attempt(i: int, round_: int, visible: tuple[int, int], hidden_passed: bool, status=Status.FAILED) -> Attempt:
    vis = Brief(Status.PASSED if visible[1] and visible[0] == visible[1] else status, visible[0], visible[1])
    hid = Brief(Status.PASSED if hidden_passed else Status.FAILED, 1 if hidden_passed else 0, 1)
    return Attempt(i, None, round_, "reply", "program", "solution", vis, hid, None)


def test_one_rule_picks_the_answer_for_the_strategy_and_for_the_curve():
    t = Trajectory("t", "tree", [_attempt(0, 0, (1, 3), False), _attempt(1, 0, (2, 3), True),
                                 _attempt(2, 1, (1, 3), False)])
    assert t.pick().id == 1 and t.final == 1 and t.passed
    assert t.pick(upto_round=0).id == 1
    refine = Trajectory("t", "refine", t.attempts)
    assert refine.pick().id == 2 and not refine.passed and refine.pick(upto_round=0).id == 1


def test_code_that_does_not_compile_ranks_below_any_that_runs():
    t = Trajectory("t", "tree", [_attempt(0, 0, (0, 0), False, Status.SYNTAX_ERROR), _attempt(1, 0, (0, 3), False)])
    assert t.pick().id == 1


def test_trajectories_round_trip_through_their_json_lines():
    t = Trajectory("t", "refine", [_attempt(0, 0, (1, 3), False), _attempt(1, 1, (3, 3), True)], visible_tests=3)
    d = t.to_dict()
    assert d["final"] == 1 and d["passed"] is True and d["samples"] == 2
    back = Trajectory.from_dict(d)
    assert back == t


def test_best_of_n_selections_round_trip_and_old_run_folders_still_read():
    from codeloop.records import Sampling, Selection

    t = Trajectory("t", "best-of-n", [_attempt(0, 0, (0, 1), False), _attempt(1, 0, (1, 1), True)],
                   selection=Selection(("assert f(1) == 2",), (10, 5), {"codet": 0, "mbr-exec": 1}, "mbr-exec",
                                       True, 0.5, ("f(1)",)),
                   sampling=Sampling(4, 2, 3, 1))
    d = t.to_dict()
    assert d["pick"] == 1 and d["picks_correct"] == {"codet": False, "mbr-exec": True} and d["pick_correct"]
    assert d["sampling"] == {"asked": 4, "received": 2, "requests": 3, "first": 1} and d["distinct_programs"] == 1
    assert Trajectory.from_dict(d) == t
    # a trajectory written before MBR-exec: one pick, CodeT's
    old = {k: v for k, v in d.items() if k not in ("picks", "rule", "probe_inputs", "sampling")}
    back = Trajectory.from_dict({**old, "pick": 1})
    assert back.selection is not None and back.selection.picks == {"codet": 1} and back.pick().id == 1


def test_selection_rules_pick_by_agreement_without_hidden_tests():
    from codeloop.loops.select import Candidate, Outputs, codet, mbr_exec

    # CodeT: size x generated tests passed (2 x 1 < 1 x 3); MBR-exec: the largest group of identical outputs
    cands = [Candidate(True, (True, False, False), Outputs(("1", "2"))),
             Candidate(True, (True, False, False), Outputs(("1", "2"))),
             Candidate(True, (True, True, True), Outputs(("1", "3"))), Candidate(False)]
    assert codet(cands) == 2 and mbr_exec(cands) == 0
    # on a tie, the group with fewer errors, then the earliest; nothing usable: the first
    tie = [Candidate(True, (), Outputs(("raised ValueError",), 1)), Candidate(True, (), Outputs(("5",)))]
    assert mbr_exec(tie) == 1 and mbr_exec([Candidate(False), Candidate(False)]) == 0


def test_an_answer_that_looks_like_a_marker_is_no_error():
    """Errors are counted where outputs are made, not read back from their text: two right programs printing
    markup (or returning an Enum, whose repr starts with '<') outrank one wrong program."""
    from codeloop.loops.select import Candidate, mbr_exec, outputs_of
    from codeloop.types import StdioRun, Verdict

    markup = outputs_of(Verdict(Status.PASSED, runs=(StdioRun("<b>5</b>\n", "", 0, 0.01),)))
    assert markup.errors == 0 and outputs_of(Verdict(Status.PASSED, values=("<Color.RED: 1>",))).errors == 0
    plain = outputs_of(Verdict(Status.PASSED, runs=(StdioRun("5\n", "", 0, 0.01),)))
    assert mbr_exec([Candidate(True, (), plain), Candidate(True, (), markup), Candidate(True, (), markup)]) == 1
    crashed = outputs_of(Verdict(Status.FAILED, runs=(StdioRun("", "boom", 1, 0.01),)))
    assert crashed.errors == 1 and crashed.texts == ("\n<exit 1>",)


def test_a_program_that_ran_no_probe_outputs_how_it_ended():
    """A program that fails to load has no values: it "outputs" its status, an error, and loses ties."""
    from codeloop.loops.select import Candidate, mbr_exec, outputs_of
    from codeloop.types import Verdict

    failed_to_load = outputs_of(Verdict(Status.ERROR))
    assert failed_to_load.texts == ("<error>",) and failed_to_load.errors == 1
    assert outputs_of(Verdict(Status.TIMEOUT, values=("1",))).texts == ("1", "<timeout>")
    # two that fail to load agree, but on nothing: a lone answer outranks them
    assert mbr_exec([Candidate(True, (), failed_to_load), Candidate(True, (), failed_to_load),
                     Candidate(True, (), outputs_of(Verdict(Status.PASSED, values=("5",))))]) == 2
    assert outputs_of(Verdict(Status.PASSED, values=("1",))).texts == ("1",)


def test_pick_figures_leave_out_a_rule_that_some_tasks_predate():
    from codeloop.loops import LoopConfig
    from codeloop.loops.run import summarise
    from codeloop.records import Selection

    def task(picks):
        return Trajectory("t", "best-of-n", [_attempt(0, 0, (0, 1), False), _attempt(1, 0, (1, 1), True)],
                          selection=Selection((), (0, 0), picks, "codet", True, 0.5))

    old, new = task({"codet": 1}), task({"codet": 0, "mbr-exec": 1})
    pick = summarise([old, new], LoopConfig(strategy="best-of-n"), "m", 1.0, 0)["pick"]
    assert pick["by_rule"] == {"codet": 0.5} and pick["rules_left_out"] == ["mbr-exec"]
    assert summarise([new], LoopConfig(strategy="best-of-n"), "m", 1.0, 0)["pick"]["by_rule"] == \
        {"codet": 0.0, "mbr-exec": 1.0}


def test_a_search_at_temperature_0_is_not_called_copies():
    from codeloop.loops import LoopConfig
    from codeloop.loops.run import summarise
    from codeloop.records import Sampling

    t = Trajectory("t", "tree", [_attempt(0, 0, (0, 1), False)], sampling=Sampling(2, 2, 1, 2))
    for strategy, copies in (("tree", False), ("direct", True)):
        summary = summarise([t], LoopConfig(strategy=strategy, temperature=0.0), "m", 1.0, 0)
        assert summary["sampling"]["copies"] is copies


def test_probe_values_read_the_same_for_equal_values():
    from codeloop.verify.recorder import observed_text

    assert observed_text({"b", "a"}) == observed_text({"a", "b"}) == "{'a', 'b'}"
    assert observed_text({2: 1.0, 1: [3.0, 2.5]}) == "{1: [3, 2.5], 2: 1}"
    assert observed_text(float("nan")) == "nan" and observed_text((1,)) == "(1,)" and observed_text(set()) == "set()"
    long_a, long_b = observed_text("x" * 5000), observed_text("x" * 4999 + "y")
    assert len(long_a) <= 1000 and long_a != long_b  # past the cap, a digest of the whole tells them apart


def test_long_probe_values_read_alike_when_equal_and_apart_when_not():
    """A long list or array reads as its first items and a digest, not its whole text (the judge makes one per
    probe per sample): equal values must still read the same, and values apart in one item apart."""
    from codeloop.verify.recorder import observed_text

    n = 50_000  # a dozen chunks of items
    floats = [i / 7 for i in range(n)]
    numbers = [float(i) for i in range(n)]
    for same in ((floats, list(floats)), (numbers, list(range(n))), ([0.0, math.nan] * n, [-0.0, math.nan] * n),
                 (["s"] * n, ["s"] * n), ([[i] for i in range(n)], [[float(i)] for i in range(n)])):
        assert observed_text(same[0]) == observed_text(same[1])
        assert len(observed_text(same[0])) <= 1000
    for apart in ((floats, floats[:-1] + [floats[-1] + 1e-9]), (numbers, numbers[:-1] + [True]),
                  (list(range(n)), tuple(range(n))), (list(range(n)), list(range(n + 1))),
                  ([2**60] * n, [2**60 + 1] * n), (["s"] * n, ["s"] * (n - 1) + ["t"])):
        assert observed_text(apart[0]) != observed_text(apart[1])
    # up to 333 items, the text is as it always was: in full, or capped to its beginning and a digest of it all
    assert observed_text(list(range(100))) == "[" + ", ".join(map(str, range(100))) + "]"
    whole = "[" + ", ".join(map(str, range(300))) + "]"
    digest = hashlib.sha256(whole.encode()).hexdigest()[:16]
    assert observed_text(list(range(300))) == whole[:952] + f"... [{len(whole)} chars, sha256 {digest}]"
    assert observed_text([2**60] * n) == observed_text([float(2**60)] * n)  # equal, past float64's exact ints

    np = pytest.importorskip("numpy")
    big = np.random.default_rng(0).random(300_000)
    other = big.copy()
    other[123_456] = np.nextafter(other[123_456], 2.0)
    assert observed_text(big) == observed_text(big.copy()) == observed_text(np.asfortranarray(big))
    assert observed_text(big) != observed_text(other) and len(observed_text(big)) <= 1000
    grid = np.arange(1_000_000, dtype=np.int64).reshape(1000, 1000)
    assert observed_text(grid) == observed_text(np.ascontiguousarray(grid.T.T))
    assert observed_text(grid) != observed_text(grid.T) != observed_text(grid.astype(np.int32))
    assert observed_text(grid) != observed_text(grid.reshape(-1))
    signed = np.zeros(1000)
    signed[::2] = -0.0
    assert observed_text(signed) == observed_text(np.zeros(1000))  # -0.0 == 0.0 reads the same, as short
    assert observed_text(np.array([np.nan] * 1000)) == observed_text(np.full(1000, -np.nan))
    assert observed_text(np.arange(1000) > 5) != observed_text(np.arange(1000) > 6)
    assert observed_text(np.arange(n, dtype=np.float64).tolist()) == observed_text([np.float64(i) for i in range(n)])
    assert observed_text(np.arange(5.0)) == "array([0, 1, 2, 3, 4], float64)"  # short: as before
    words = np.array([str(i) for i in range(1000)], dtype=object)
    assert observed_text(words) == observed_text(words.copy()) != observed_text(words[::-1])


def test_a_stdin_tasks_statement_is_not_code_to_complete():
    from codeloop.extract import extract_for_task
    from codeloop.types import IOCase, Task, TaskKind

    task = Task("t", TaskKind.STDIO, prompt="Print the sum of two integers.\n", cases=(IOCase("1 2\n", "3\n"),))
    _, ex = extract_for_task(task, "```python\nprint(sum(map(int, input().split())))\n```")
    assert ex.kind == "solution" and ex.program == "print(sum(map(int, input().split())))\n"


TEMPLATE = "x = 3\n[insert]\nprint(result)\n"


@pytest.mark.parametrize("reply, code", [
    ("Here:\n```python title=solution.py\nresult = x + 1\n```\nDone.", "result = x + 1\n"),  # a labelled fence
    ("```py\nresult = x\n```", "result = x\n"),
    ("```\n# nothing yet\n```\n```python\nresult = 2 * x\n```", "result = 2 * x\n"),  # the block with code
    ("<code>\nresult = -x\n</code>", "result = -x\n"),  # DS-1000's tags, in a reply without fences
    ("result = x ** 2", "result = x ** 2"),
    ("```text\nresult = x\n```", None),  # fences, none of them Python: no code, not the fenced reply itself
    ("```python\n# a comment only\n```", None),
    ("  \n", None),
])
def test_a_reply_for_a_template_is_extracted_as_any_python_reply(reply, code):
    from codeloop.extract import extract_for_task
    from codeloop.types import Task, TaskKind

    task = Task("t", TaskKind.CHECK, entry_point="f", test="def check(c):\n    pass\n", template=TEMPLATE)
    _, ex = extract_for_task(task, reply)
    if code is None:
        assert (ex.kind, ex.program) == ("none", "")
    else:
        assert (ex.kind, ex.code) == ("solution", code) and ex.program == TEMPLATE.replace("[insert]", code)


# -- extraction and input files -------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("", False), ("   \n\n", False), ("# only a comment\n  # another", False),
    ("x = 1", True), ("    return 1", True), ('"""a docstring"""', True), ("# c\nf()", True),
])
def test_has_code(text, expected):
    assert has_code(text) is expected


PROMPT = "from typing import List\n\n\ndef f(xs: List[int]) -> int:\n    \"\"\"Sum.\"\"\"\n"


@pytest.mark.parametrize("reply, kind, must", [
    ("```python\ndef f(xs):\n    return sum(xs)\n```", "solution", "from typing import List"),
    ("    return sum(xs)\n", "completion", PROMPT),
    ("return sum(xs)", "completion", "    return sum(xs)"),
    ("Sure! Here it is:\ndef f(xs):\n    return sum(xs)\nHope it helps.", "solution", "return sum(xs)"),
    ("I cannot do that.", "none", ""),
    ("```\ndef f(xs):\n    return sum(xs)\n", "solution", "return sum(xs)"),
])
def test_extraction(reply, kind, must):
    ex = extract_program(reply, PROMPT, "f")
    assert ex.kind == kind and must in ex.program


def test_every_canonical_humaneval_body_is_a_completion_of_its_prompt():
    # bodies starting with an assignment, or with a blank line first (HumanEval/81), were "no code"
    from codeloop.tasks import load_benchmark

    for task in load_benchmark("humaneval").values():
        body = task.reference[len(task.prompt):]
        ex = extract_program(body, task.prompt, task.entry_point)
        assert (ex.kind, ex.program) == ("completion", task.prompt + body), task.task_id


def test_replies_from_chat_messages_and_openrlhf_queries():
    assert reply_text([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]) == "a"
    prompt = "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n"
    assert response_of(prompt + "answer<|im_end|><|endoftext|>", prompt) == "answer"


def test_bad_jsonl_names_file_and_line(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text('{"a": 1}\n\n[1, 2]\n')
    with pytest.raises(jsonl.InputError, match=r"x.jsonl:3: expected a JSON object"):
        list(jsonl.read_jsonl(p))
    p.write_text('{"a": 1}\n{"b": \n')
    with pytest.raises(jsonl.InputError, match=r"x.jsonl:2: not valid JSON"):
        list(jsonl.read_jsonl(p))


def test_a_journal_cut_short_by_a_crash_loses_only_its_last_line(tmp_path):
    p = tmp_path / "j.jsonl"
    p.write_text('{"index": 0}\n{"index": 1}\n{"ind')
    assert [r["index"] for r in jsonl.read_journal(p)] == [0, 1]
    assert list(jsonl.read_journal(tmp_path / "missing.jsonl")) == []
