"""codeloop serve on loopback: endpoints, trainers' wire shapes, limits, faults, the client."""

import asyncio
import shutil
import threading
import time

import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")
import uvicorn  # noqa: E402

from codeloop.scoring.local import LocalScorer  # noqa: E402
from codeloop.service.app import create_app  # noqa: E402
from codeloop.service.client import AsyncClient, Client, RemoteScorer, ServiceError  # noqa: E402
from codeloop.service.http import listening_url  # noqa: E402
from codeloop.service.schedule import SchedulerLimits  # noqa: E402
from codeloop.tasks import load_benchmark  # noqa: E402
from codeloop.types import Task, TaskKind  # noqa: E402

pytestmark = pytest.mark.sandbox

GOOD = "def max_element(l):\n    return max(l)\n"
WRONG = "def max_element(l):\n    return min(l)\n"
TOKEN = "t0ken"


class Served:
    """``app`` under uvicorn in a thread of this process, on a port the system picked: the socket is bound
    here and handed over, so no other socket can take the port in between."""

    def __init__(self, app) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error")
        sock = config.bind_socket()
        self.url = listening_url(sock)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        if not self.server.started:
            raise RuntimeError(f"uvicorn did not start serving {self.url} within 30 s")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def scorer():
    s = LocalScorer(load_benchmark("humaneval"), workers=2)
    yield s
    s.close()


@pytest.fixture(scope="module")
def server(scorer):
    app = create_app(scorer, token=TOKEN, max_batch=50, max_body=1 << 20,
                     limits=SchedulerLimits(cpu_slots=2, max_slots=2, max_queued=6))
    srv = Served(app)
    yield srv
    srv.stop()
    app.state.sessions.shutdown()


def post(server, path, body, token=TOKEN, **kw):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(server.url + path, json=body, headers=headers, timeout=60, **kw)


def test_verify_with_feedback_and_rewards(server):
    r = post(server, "/v1/verify", {"items": [{"task_id": "HumanEval/35", "code": GOOD},
                                              {"task_id": "HumanEval/35", "code": WRONG}],
                                    "feedback": ["first_failure"], "rewards": ["coderl", "pass=1,fraction=1"]})
    assert r.status_code == 200
    a, b = r.json()["results"]
    assert a["status"] == "passed" and a["rewards"] == {"coderl": 1.0, "pass=1,fraction=1": 2.0}
    assert b["status"] == "failed" and b["rewards"]["coderl"] == -0.3
    assert "Wrong answer" in b["feedback"]["first_failure"] and "[1, 2, 3]" not in b["feedback"]["first_failure"]


def test_inline_task(server):
    task = {"entry_point": "sq", "asserts": ["assert sq(3) == 9"]}
    r = post(server, "/v1/verify", {"items": [{"task": task, "code": "def sq(x):\n    return x * x\n"}]})
    assert r.json()["results"][0]["passed"]


def test_auth_and_clear_client_errors(server):
    assert post(server, "/v1/verify", {"items": [{"task_id": "HumanEval/35", "code": GOOD}]}, token=None).status_code == 401
    assert post(server, "/v1/verify", {"items": [{"task_id": "HumanEval/35", "code": GOOD}]}, token="bad").status_code == 401
    assert post(server, "/v1/verify", {"items": []}).status_code == 422
    assert post(server, "/v1/verify", {"items": [{"task_id": "Nope/1", "code": GOOD}]}).status_code == 422
    assert post(server, "/v1/verify", {"items": [{"task_id": 5, "code": GOOD}]}).status_code == 422
    assert post(server, "/v1/verify", {"items": [{"task_id": "HumanEval/35", "code": GOOD}], "rewards": ["x"]}).status_code == 422
    too_many = {"items": [{"task_id": "HumanEval/35", "code": GOOD}] * 51}
    assert post(server, "/v1/verify", too_many).status_code == 413
    big = httpx.post(server.url + "/v1/verify", content=b"{" + b" " * (2 << 20) + b"}",
                     headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    assert big.status_code == 413
    garbage = httpx.post(server.url + "/v1/verify", content=b"\xff\xfe not json",
                         headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    assert garbage.status_code in (400, 422)


def test_binary_garbage_as_code_gets_a_verdict(server):
    garbage = bytes(range(256)).decode("latin-1") * 4  # every byte value, as text
    r = post(server, "/v1/verify", {"items": [{"task_id": "HumanEval/35", "code": garbage}]})
    assert r.status_code == 200 and r.json()["results"][0]["status"] in ("syntax_error", "no_code", "failed")
    raw = httpx.post(server.url + "/v1/verify", headers={"Authorization": f"Bearer {TOKEN}",
                     "Content-Type": "application/json"},
                     content=b'{"items": [{"task_id": "HumanEval/35", "code": "\\udcff\x00"}]}')
    assert raw.status_code in (200, 400, 422)


def test_openrlhf_remote_reward_shape(server):
    prompt = "<|im_start|>user\nWrite max_element<|im_end|>\n<|im_start|>assistant\n"
    body = {"query": [prompt + "```python\n" + GOOD + "```<|im_end|>", prompt + WRONG],
            "prompts": [prompt, prompt], "labels": ["HumanEval/35", "HumanEval/35"]}
    r = post(server, "/v1/openrlhf", body)
    assert r.status_code == 200
    out = r.json()
    assert set(out) == {"rewards", "scores", "extra_logs"}
    assert out["rewards"] == [1.0, 0.0] and out["scores"] == [1.0, 0.0]
    assert out["extra_logs"]["infra_error"] == [0.0, 0.0] and out["extra_logs"]["pass"] == [1.0, 0.0]


def test_openrlhf_label_without_a_task_scores_that_row_only(server):
    prompt = "<|im_start|>user\nWrite max_element<|im_end|>\n<|im_start|>assistant\n"
    body = {"query": [prompt + GOOD, prompt + GOOD, prompt + GOOD], "prompts": [prompt] * 3,
            "labels": ["HumanEval/35", "Nope/1", "HumanEval/35"]}
    r = post(server, "/v1/openrlhf", body)
    assert r.status_code == 200
    out = r.json()
    assert out["rewards"] == [1.0, 0.0, 1.0] and out["scores"] == [1.0, 0.0, 1.0]
    assert out["extra_logs"]["infra_error"] == [0.0, 1.0, 0.0] and out["extra_logs"]["pass"] == [1.0, 0.0, 1.0]


def test_sandboxfusion_run_code_shape(server):
    r = post(server, "/run_code", {"code": "import sys\nprint(int(input()) * 2)\nprint('e', file=sys.stderr)",
                                   "stdin": "21\n", "language": "python", "compile_timeout": 10,
                                   "run_timeout": 5, "memory_limit_MB": 512, "files": {}})
    out = r.json()
    assert out["status"] == "Success"
    assert out["run_result"]["status"] == "Finished" and out["run_result"]["return_code"] == 0
    assert out["run_result"]["stdout"] == "42\n" and out["run_result"]["stderr"] == "e\n"
    assert isinstance(out["run_result"]["execution_time"], float)
    failed = post(server, "/run_code", {"code": "raise SystemExit(3)", "stdin": ""}).json()
    assert failed["status"] == "Failed" and failed["run_result"]["return_code"] == 3
    slow = post(server, "/run_code", {"code": "while True:\n    pass", "run_timeout": 0.5}).json()
    assert slow["status"] == "Failed" and slow["run_result"]["status"] == "TimeLimitExceeded"
    fences = post(server, "/run_code", {"code": 'fence = "```"\nprint(len(fence))'}).json()  # runs as given
    assert fences["status"] == "Success" and fences["run_result"]["stdout"] == "3\n"
    other = post(server, "/run_code", {"code": "program x", "language": "cobol"}).json()
    assert other["status"] == "SandboxError" and "known: bash, c, cpp, go, java" in other["message"]


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed")
def test_run_code_compiles_cpp_as_sandboxfusion_answers(server):
    code = "#include <bits/stdc++.h>\nint main() { int n; std::cin >> n; std::cout << n * 2 << std::endl; return 0; }\n"
    out = post(server, "/run_code", {"code": code, "stdin": "21\n", "language": "cpp"}).json()
    assert out["status"] == "Success" and out["run_result"]["stdout"] == "42\n"
    assert out["compile_result"]["status"] == "Finished" and out["compile_result"]["return_code"] == 0
    broken = post(server, "/run_code", {"code": "int main() { return }", "language": "cpp"}).json()
    assert broken["status"] == "Failed" and broken["run_result"] is None
    assert broken["compile_result"]["return_code"] == 1 and "error" in broken["compile_result"]["stderr"]


def test_run_code_places_files_and_bounds_the_compiler(server):
    import base64

    data = {"data/numbers.txt": base64.b64encode(b"4 5 6\n").decode()}
    py = post(server, "/run_code", {"code": "print(sum(map(int, open('data/numbers.txt').read().split())))",
                                    "files": data}).json()
    assert py["status"] == "Success" and py["run_result"]["stdout"] == "15\n"
    for bad in ({"../escape.txt": "eA=="}, {"/etc/x": "eA=="}, {"ok.txt": "not base64!"}):
        refused = post(server, "/run_code", {"code": "print(1)", "files": bad})
        assert refused.status_code == 422 and "files" in refused.text
    if shutil.which("g++") is not None:
        cpp = ("#include <bits/stdc++.h>\nint main() { std::ifstream f(\"data/numbers.txt\"); long s = 0, x;\n"
               "  while (f >> x) s += x; std::cout << s << std::endl; }\n")
        out = post(server, "/run_code", {"code": cpp, "language": "cpp", "files": data}).json()
        assert out["status"] == "Success" and out["run_result"]["stdout"] == "15\n", out
        # constant evaluation of 4e10 steps: the compiler works long past 0.2 s
        bomb = ("constexpr long f() { long s = 0; for (int i = 0; i < 200000; i++) for (int j = 0; j < 200000; j++)"
                " s += i ^ j; return s; }\nconstexpr long v = f();\nint main() { return v > 0; }\n")
        slow = post(server, "/run_code", {"code": bomb, "language": "cpp", "compile_timeout": 0.2}).json()
        assert slow["status"] == "Failed" and slow["compile_result"]["status"] == "TimeLimitExceeded", slow


def test_sessions_over_http(server):
    import base64

    opened = post(server, "/v1/sessions", {"kind": "bash", "files": {"in.txt": base64.b64encode(b"3\n").decode()}})
    assert opened.status_code == 200, opened.text
    sid = opened.json()["session_id"]
    first = post(server, f"/v1/sessions/{sid}/step", {"code": "N=$(cat in.txt); echo $((N * 2))"}).json()
    assert first["observation"] == "6" and first["exit"] == 0 and first["alive"]
    assert post(server, f"/v1/sessions/{sid}/step", {"code": "echo $N"}).json()["stdout"] == "3\n"
    assert post(server, f"/v1/sessions/{sid}/step", {"code": "x", "wall": 1e9}).status_code == 422
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.delete(server.url + f"/v1/sessions/{sid}", headers=auth).json() == {"closed": True}
    assert post(server, f"/v1/sessions/{sid}/step", {"code": "echo gone"}).status_code == 404
    assert post(server, "/v1/sessions/not-a-session/step", {"code": "1"}).status_code == 404
    assert httpx.delete(server.url + f"/v1/sessions/{sid}").status_code == 401  # the token guards sessions too
    sql = post(server, "/v1/sessions", {"kind": "sql", "schema": "CREATE TABLE t (a); INSERT INTO t VALUES (7);"})
    rows = post(server, f"/v1/sessions/{sql.json()['session_id']}/step", {"code": "SELECT a * 6 FROM t"}).json()
    assert rows["rows"] == [[42]]


def test_run_jupyter_as_sandboxfusion_answers(server):
    cells = ["a = 123", "a", "print(a)", "import sys; sys.stderr.write('stderr message')",
             "raise RuntimeError('error message')"]
    out = post(server, "/run_jupyter", {"cells": cells, "cell_timeout": 5, "total_timeout": 20}).json()
    assert out["status"] == "Success" and out["driver"]["status"] == "Finished"
    one, two, three, four, five = out["cells"]
    assert two["display"] == [{"text/plain": "123"}] and three["stdout"] == "123\n"
    assert four["stderr"] == "stderr message" and four["display"] == [{"text/plain": "14"}]
    assert five["error"][0]["ename"] == "RuntimeError" and five["error"][0]["evalue"] == "error message"
    assert any("<cell 5>" in line for line in five["error"][0]["traceback"])
    slow = post(server, "/run_jupyter", {"cells": ["x = 1", "while True: pass"], "cell_timeout": 0.5}).json()
    assert slow["status"] == "Failed" and slow["driver"]["status"] == "TimeLimitExceeded"


def test_backpressure_answers_429_with_retry_after(server):
    slow = {"task": {"entry_point": "f", "asserts": ["assert f() == 1"], "time_limit": 5},
            "code": "import time\ndef f():\n    time.sleep(1.5)\n    return 1\n"}
    with httpx.Client(timeout=60, headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        results = []

        def fire():
            results.append(c.post(server.url + "/v1/verify", json={"items": [slow] * 4}).status_code)

        threads = [threading.Thread(target=fire) for _ in range(3)]
        for t in threads:
            t.start()
            time.sleep(0.1)
        for t in threads:
            t.join()
    assert sorted(results) == [200, 200, 429]  # capacity 2 + queue 6 = 8 samples


def test_a_disconnect_cancels_queued_work(server, scorer):
    slow = {"task": {"entry_point": "f", "asserts": ["assert f() == 1"], "time_limit": 5},
            "code": "import time\ndef f():\n    time.sleep(1)\n    return 1\n"}
    ran = lambda: sum(w.jobs_run for w in scorer.pool._live if w is not None)  # noqa: E731
    before = ran()
    try:
        httpx.post(server.url + "/v1/verify", json={"items": [slow] * 8}, timeout=0.5,
                   headers={"Authorization": f"Bearer {TOKEN}"})
    except httpx.TimeoutException:
        pass
    time.sleep(4)  # what had started finishes; nothing else may start
    health = httpx.get(server.url + "/healthz").json()
    assert health["running"] == 0 and health["queued"] == 0
    started = ran() - before
    # only what the scheduler had handed to the workers began (one each); the rest was cancelled
    assert 0 < started <= scorer.workers < 8


def test_health_metrics_and_openapi(server):
    assert httpx.get(server.url + "/healthz").json()["ok"]  # the one route open without the token
    for path in ("/metrics", "/openapi.json", "/docs", "/redoc"):
        assert httpx.get(server.url + path).status_code == 401, path
    auth = {"Authorization": f"Bearer {TOKEN}"}
    text = httpx.get(server.url + "/metrics", headers=auth).text
    assert 'codeloop_verdicts_total{status="passed"}' in text and "codeloop_queue_depth" in text
    assert 'codeloop_request_seconds{quantile="0.99"}' in text and 'codeloop_queue_wait_seconds{quantile="0.99"}' in text
    schema = httpx.get(server.url + "/openapi.json", headers=auth).json()
    assert {"/v1/verify", "/v1/openrlhf", "/run_code", "/healthz", "/metrics"} <= set(schema["paths"])


def test_clients_and_remote_scorer(server):
    c = Client(server.url, token=TOKEN)
    (r,) = c.verify([{"task_id": "HumanEval/35", "code": GOOD}], rewards=["coderl"])
    assert r["rewards"]["coderl"] == 1.0
    with pytest.raises(ServiceError, match="422"):
        c.verify([{"task_id": "Nope/1", "code": GOOD}])
    c.close()

    async def go():
        ac = AsyncClient(server.url, token=TOKEN)
        try:
            return await ac.verify([{"task_id": "HumanEval/35", "code": WRONG}])
        finally:
            await ac.aclose()

    assert asyncio.run(go())[0]["status"] == "failed"
    from codeloop.integrations.trl import reward_function

    remote = RemoteScorer(server.url, TOKEN)
    f = reward_function("coderl", scorer=remote)
    assert f(prompts=["p", "p"], completions=[GOOD, WRONG], task_id=["HumanEval/35"] * 2) == [1.0, -0.3]
    assert f(prompts=["p"], completions=[GOOD], task_id=["NoSuch/1"]) == [None]  # that row only
    remote.close()
    # rows are resolved on the client's side and the task travels inline: the server need not know it
    own = {"sq": Task(task_id="sq", kind=TaskKind.ASSERTS, entry_point="sq", asserts=("assert sq(3) == 9",))}
    remote = RemoteScorer(server.url, TOKEN, tasks=own)
    f = reward_function("pass", scorer=remote)
    assert f(prompts=["p", "p"], completions=["def sq(x):\n    return x * x\n", "def sq(x):\n    return x\n"],
             task_id=["sq", "sq"]) == [1.0, 0.0]
    remote.close()


def test_loopback_only_without_token():
    import subprocess
    import sys
    from pathlib import Path

    exe = str(Path(sys.executable).with_name("codeloop"))
    proc = subprocess.run([exe, "serve", "--host", "0.0.0.0"], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2 and "needs a token" in " ".join(proc.stderr.split())
