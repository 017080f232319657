"""`codeloop eval` as a user runs it: the default job, resume, bad input, isolation."""

import json
import subprocess

import pytest
from conftest import CODELOOP, read_jsonl, write_jsonl

from codeloop.tasks import load_benchmark

pytestmark = pytest.mark.sandbox


def cli(*args, cwd=None, env=None):
    return subprocess.run([CODELOOP, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


def test_default_job_judges_every_humaneval_reference(tmp_path):
    proc = cli("eval", "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "No --samples given: judging the reference solutions of 164 humaneval tasks" in proc.stderr
    results = read_jsonl(tmp_path / "results.jsonl")
    assert len(results) == 164 and all(r["passed"] for r in results)
    assert [r["index"] for r in results] == list(range(164))
    summary = json.loads((tmp_path / "results.summary.json").read_text())
    assert summary["pass@1"] == 1.0 and summary["statuses"]["passed"] == 164
    assert summary["isolation"] == ["full"]
    assert set(summary["phases"]) == {"boot", "judging"} and summary["orchestrator_cpu_seconds"] >= 0
    assert summary["time_limits"]["mode"] == "calibrated" and summary["time_limits"]["reference_failed"] == {}


def test_the_progress_bar_and_the_summary_table_as_a_user_sees_them(tmp_path):
    samples, rows = mixed_samples(tmp_path, n_tasks=2)
    proc = cli("eval", "-s", str(samples), "-o", str(tmp_path / "r.jsonl"), env={"COLUMNS": "120", "PATH": "/usr/bin"})
    assert proc.returncode == 0, proc.stderr
    assert "judging" in proc.stderr                     # the progress bar (on stderr)
    assert "codeloop eval" in proc.stdout and "passed=2" in proc.stdout and "timeout=2" in proc.stdout
    assert len(read_jsonl(tmp_path / "r.jsonl")) == len(rows)


def mixed_samples(tmp_path, n_tasks=6, per_task=3):
    tasks = load_benchmark("humaneval")
    rows = []
    for task_id in list(tasks)[:n_tasks]:
        ref = tasks[task_id].reference[len(tasks[task_id].prompt):]
        rows += [{"task_id": task_id, "completion": ref}, {"task_id": task_id, "completion": "    return None\n"}]
        rows += [{"task_id": task_id, "completion": "    while True:\n        pass\n"}][: per_task - 2]
    return write_jsonl(tmp_path / "samples.jsonl", rows), rows


def test_results_in_input_order_with_pass_at_k(tmp_path):
    samples, rows = mixed_samples(tmp_path)
    out = tmp_path / "r.jsonl"
    proc = cli("eval", "--samples", str(samples), "--out", str(out), "-q", "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    results = read_jsonl(out)
    assert [r["index"] for r in results] == list(range(len(rows)))
    assert [r["task_id"] for r in results] == [r["task_id"] for r in rows]
    assert [r["status"] for r in results[:3]] == ["passed", "failed", "timeout"]
    summary = json.loads((tmp_path / "r.summary.json").read_text())
    assert summary["pass@1"] == pytest.approx(1 / 3)
    assert "pass@10" not in summary
    assert "pass@1" in proc.stdout and "0.3333" in proc.stdout


def test_rerun_resumes_and_reuses_only_matching_results(tmp_path):
    samples, rows = mixed_samples(tmp_path)
    out = tmp_path / "r.jsonl"
    assert cli("eval", "--samples", str(samples), "--out", str(out), "-q").returncode == 0
    first = read_jsonl(out)
    # An interrupted run: the journal holds some results, the final file none.
    journal = tmp_path / "r.jsonl.partial"
    journal.write_text("".join(json.dumps(r) + "\n" for r in first[:7]) + '{"index": 7, "trunc')
    out.unlink()
    # ...and one sample changed since: its stored result must not be reused.
    rows[2] = {"task_id": rows[2]["task_id"], "completion": "    return 1\n"}
    write_jsonl(samples, rows)
    proc = cli("eval", "--samples", str(samples), "--out", str(out), "-q")
    assert proc.returncode == 0, proc.stderr
    assert "Resuming: 6 of 18 results already" in proc.stderr
    summary = json.loads((tmp_path / "r.summary.json").read_text())
    assert summary["resumed"] == 6 and summary["judged_now"] == 12
    second = read_jsonl(out)
    assert [r["index"] for r in second] == list(range(18))
    assert second[2]["status"] != first[2]["status"]
    assert not journal.exists()
    # A complete run: nothing to judge.
    proc = cli("eval", "--samples", str(samples), "--out", str(out), "-q")
    assert json.loads((tmp_path / "r.summary.json").read_text())["judged_now"] == 0


def test_results_stream_to_disk_before_the_run_ends(tmp_path):
    samples, rows = mixed_samples(tmp_path, n_tasks=2, per_task=2)
    slow = [{"task_id": "HumanEval/23", "completion": "    import time\n    time.sleep(0.05)\n    return len(string)\n"}] * 20
    write_jsonl(samples, rows + slow)
    out = tmp_path / "r.jsonl"
    proc = subprocess.Popen([CODELOOP, "eval", "--samples", str(samples), "--out", str(out), "-q", "-w", "1",
                             "--timeout", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = tmp_path / "r.jsonl.partial"
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not journal.exists() or len(journal.read_text().splitlines()) < 3):
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    assert len(read_jsonl(journal)) >= 3  # judged results survived the kill
    done = cli("eval", "--samples", str(samples), "--out", str(out), "-q", "--timeout", "2")
    assert done.returncode == 0 and "Resuming:" in done.stderr


@pytest.mark.parametrize("content, words", [
    ('{"task_id": "HumanEval/0"}\n', "samples.jsonl:1: field 'completion'"),
    ('{"task_id": "X", "completion": ""}\n', "samples.jsonl:1: field 'task_id': unknown task 'X'"),
    ("not json\n", "samples.jsonl:1: not valid JSON"),
])
def test_bad_samples_file_is_a_clear_error(tmp_path, content, words):
    (tmp_path / "samples.jsonl").write_text(content)
    proc = cli("eval", "--samples", str(tmp_path / "samples.jsonl"), "--out", str(tmp_path / "r.jsonl"))
    assert proc.returncode == 2
    assert words in " ".join(proc.stderr.split())
    assert "Traceback" not in proc.stderr


def test_own_task_file(tmp_path):
    tasks = write_jsonl(tmp_path / "tasks.jsonl", [
        {"task_id": "sq", "entry_point": "sq", "asserts": ["assert sq(3) == 9", "assert sq(-2) == 4"],
         "reference": "def sq(x):\n    return x * x\n"},
        {"task_id": "echo", "cases": [{"input": "hi\n", "output": "hi\n"}], "reference": "print(input())\n"},
    ])
    proc = cli("eval", "--tasks", str(tasks), "--out", str(tmp_path / "r.jsonl"), "-q")
    assert proc.returncode == 0, proc.stderr
    assert [r["status"] for r in read_jsonl(tmp_path / "r.jsonl")] == ["passed", "passed"]
    samples = write_jsonl(tmp_path / "s.jsonl", [{"task_id": "sq", "solution": "def sq(x):\n    return x * abs(x)\n"}])
    proc = cli("eval", "--tasks", str(tasks), "--samples", str(samples), "--out", str(tmp_path / "s_out.jsonl"), "-q")
    (r,) = read_jsonl(tmp_path / "s_out.jsonl")
    assert r["status"] == "failed" and (r["tests_passed"], r["tests_total"]) == (1, 2)


NO_USERNS = "echo 0 > /proc/sys/user/max_user_namespaces && exec \"$@\""


def without_user_namespaces(*args, cwd):
    """Run the CLI where user namespaces cannot be created (a nested namespace
    with the limit set to zero), as on a machine that forbids them."""
    return subprocess.run(["unshare", "--user", "--map-root-user", "--fork", "sh", "-c", NO_USERNS, "sh",
                           CODELOOP, *args], capture_output=True, text=True, cwd=cwd, timeout=600)


def test_refuses_without_namespaces_unless_weak_isolation_is_allowed(tmp_path):
    samples, _ = mixed_samples(tmp_path, n_tasks=2)
    out = tmp_path / "r.jsonl"
    proc = without_user_namespaces("eval", "--samples", str(samples), "--out", str(out), "-q", cwd=tmp_path)
    assert proc.returncode == 3
    message = " ".join(proc.stderr.split())
    assert "refused to create them" in message and "--allow-weak-isolation" in message
    assert not out.exists()
    proc = without_user_namespaces("eval", "--samples", str(samples), "--out", str(out), "-q",
                                   "--allow-weak-isolation", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    results = read_jsonl(out)
    assert {r["isolation"] for r in results} == {"weak"}
    assert [r["status"] for r in results] == ["passed", "failed", "timeout"] * 2


def test_calibrated_limits_bound_each_call_like_the_reference(tmp_path):
    """A call that matches the reference's call gets its own budget, far below
    the whole test's limit, so an endless loop is cut early."""
    tasks = write_jsonl(tmp_path / "tasks.jsonl", [
        {"task_id": "sq", "entry_point": "sq", "asserts": [f"assert sq({i}) == {i * i}" for i in range(50)],
         "reference": "def sq(x):\n    return x * x\n"}])
    samples = write_jsonl(tmp_path / "s.jsonl", [
        {"task_id": "sq", "solution": "def sq(x):\n    while x == 7:\n        pass\n    return x * x\n"}])
    out = tmp_path / "r.jsonl"
    proc = cli("eval", "--tasks", str(tasks), "--samples", str(samples), "--out", str(out), "-q")
    assert proc.returncode == 0, proc.stderr
    (r,) = read_jsonl(out)
    assert r["status"] == "timeout" and r["failure"]["input"] == "sq(7)"
    assert "this call's budget" in r["failure"]["message"]
    limits = json.loads((tmp_path / "r.summary.json").read_text())["time_limits"]
    assert limits["tasks_timed"] == 1 and limits["reference_failed"] == {}


def test_reference_failed_lists_only_the_tasks_that_were_timed(tmp_path):
    """References are timed lazily, when a program outlasts the floors: a
    broken reference of a task never timed is not reported."""
    broken = "def sq(x):\n    return x + 1\n"
    tasks = write_jsonl(tmp_path / "tasks.jsonl", [
        {"task_id": "slow", "entry_point": "sq", "asserts": ["assert sq(3) == 9"], "reference": broken},
        {"task_id": "quick", "entry_point": "sq", "asserts": ["assert sq(2) == 4"], "reference": broken},
    ])
    samples = write_jsonl(tmp_path / "s.jsonl", [
        {"task_id": "slow", "solution": "def sq(x):\n    while True:\n        pass\n"},
        {"task_id": "quick", "solution": "def sq(x):\n    return x * x\n"},
    ])
    out = tmp_path / "r.jsonl"
    proc = cli("eval", "--tasks", str(tasks), "--samples", str(samples), "--out", str(out), "-q")
    assert proc.returncode == 0, proc.stderr
    assert [r["status"] for r in read_jsonl(out)] == ["timeout", "passed"]
    limits = json.loads((tmp_path / "r.summary.json").read_text())["time_limits"]
    assert limits["tasks_timed"] == 1 and list(limits["reference_failed"]) == ["slow"]


def test_the_output_cap_is_an_eval_option(tmp_path):
    tasks = write_jsonl(tmp_path / "tasks.jsonl", [{"task_id": "big", "time_limit": 5,
                                                    "cases": [{"input": "", "output": "x" * (2 << 20) + "\n"}]}])
    samples = write_jsonl(tmp_path / "samples.jsonl", [{"task_id": "big", "completion": "print('x' * (2 << 20))\n"}])
    for option, status in (([], "output_limit"), (["--output-mb", "4"], "passed")):
        out = tmp_path / f"out{len(option)}.jsonl"
        done = cli("eval", "--tasks", str(tasks), "-s", str(samples), "-o", str(out), "-q", *option)
        assert done.returncode == 0, done.stderr
        assert read_jsonl(out)[0]["status"] == status
