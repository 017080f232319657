"""``codeloop serve``: verification as an HTTP service (FastAPI), on one warm pool.

Endpoints:

* ``POST /v1/verify``: a batch of (task id or inline task, code) → verdicts,
  with the feedback presets and rewards asked for.
* ``POST /v1/openrlhf``: OpenRLHF's remote reward shape,
  ``{"query", "prompts", "labels"}`` → ``{"rewards", "scores", "extra_logs"}``.
* ``POST /run_code``: SandboxFusion's run-code shape (verl's sandbox path):
  run a program with stdin and report what it did.
* ``GET /healthz``, ``GET /metrics`` (Prometheus text), ``GET /openapi.json``.

Admission: at most ``capacity`` samples in flight plus ``queue`` waiting;
beyond that a request gets 429 with Retry-After instead of a time-out. A
client that disconnects cancels its samples not yet started. A bearer token
is required when ``token`` is set (always when listening beyond loopback).
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections import Counter, deque
from typing import Any, Optional, Sequence

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from .. import feedback as feedback_mod
from .. import rewards as rewards_mod
from ..extract import response_of
from ..scoring import ascore_rows
from ..scoring.local import LocalScorer
from ..tasks.errors import TaskNotFound
from ..tasks.rows import row_from_label
from ..scoring.shapes import openrlhf_result
from ..types import CompileError, EvaluatorFailed, IOCase, Status, Task, TaskKind, Verdict

MAX_CODE = 200_000


class VerifyItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(max_length=MAX_CODE, description="The model's reply or program (code is extracted from it).")
    task_id: Optional[str] = Field(None, description="A task the server knows (HumanEval by default).")
    task: Optional[dict[str, Any]] = Field(None, description="A task in the JSONL task format, inline.")


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[VerifyItem] = Field(min_length=1)
    feedback: list[str] = Field(default_factory=list, description="Feedback presets to render.")
    rewards: list[str] = Field(default_factory=list, description="Reward names or weighted mixes.")
    hidden: bool = Field(True, description="The tests are hidden from the model (feedback must not show them).")


class OpenRLHFRequest(BaseModel):
    query: list[str]
    prompts: list[str] = Field(default_factory=list)
    labels: list[Any] = Field(default_factory=list)


class RunCodeRequest(BaseModel):
    code: str = Field(max_length=MAX_CODE)
    stdin: Optional[str] = ""
    language: str = "python"
    compile_timeout: float = 10.0
    run_timeout: float = Field(10.0, gt=0, le=600)
    memory_limit_MB: int = Field(1024, ge=64, le=16384)
    files: dict[str, str] = Field(default_factory=dict)


class BodyLimit:
    """Refuses bodies over ``max_body`` bytes with 413. Plain ASGI rather than
    Starlette's BaseHTTPMiddleware, which would hide a client's disconnect
    from the endpoint."""

    def __init__(self, app: Any, max_body: int) -> None:
        self.app, self.max_body = app, max_body

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            for key, value in scope.get("headers", []):
                if key == b"content-length" and value.isdigit() and int(value) > self.max_body:
                    response = JSONResponse({"detail": f"the body is over {self.max_body} bytes"}, status_code=413)
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


class Overloaded(Exception):
    pass


class Admission:
    """Counts samples in flight and waiting; refuses beyond the bound."""

    def __init__(self, capacity: int, queue: int) -> None:
        self.capacity, self.queue = capacity, queue
        self.active = 0
        self._lock = threading.Lock()

    def enter(self, n: int) -> None:
        with self._lock:
            if self.active and self.active + n > self.capacity + self.queue:
                raise Overloaded
            self.active += n

    def leave(self, n: int) -> None:
        with self._lock:
            self.active -= n

    @property
    def waiting(self) -> int:
        return max(0, self.active - self.capacity)


class Metrics:
    def __init__(self) -> None:
        self.statuses: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self.latency: deque[float] = deque(maxlen=5000)
        self._lock = threading.Lock()

    def record(self, route: str, seconds: float, verdicts: Sequence[Verdict | None]) -> None:
        with self._lock:
            self.requests[route] += 1
            self.latency.append(seconds)
            self.statuses.update(v.status.value for v in verdicts if v is not None)

    def quantile(self, q: float) -> float:
        with self._lock:
            data = sorted(self.latency)
        return data[min(len(data) - 1, int(q * len(data)))] if data else 0.0


def verdict_view(v: Verdict) -> dict[str, Any]:
    d = v.to_dict()
    d.pop("test_results", None)
    return d


def create_app(scorer: LocalScorer, token: str | None = None, max_batch: int = 512, queue: int = 1024,
               max_body: int = 8 << 20) -> FastAPI:
    """The service over ``scorer``'s pool. Limits: ``max_batch`` items per
    request (413 beyond), ``max_body`` bytes per body (413), ``queue`` samples
    waiting beyond the pool's capacity (429 beyond)."""
    app = FastAPI(title="codeloop", version="0.1.0",
                  description="Run model-written code safely; verdicts, feedback and rewards.")
    admission = Admission(capacity=scorer.workers, queue=queue)
    metrics = Metrics()

    def check_token(request: Request) -> None:
        if token is None:
            return
        given = request.headers.get("authorization", "")
        if not secrets.compare_digest(given.encode(), f"Bearer {token}".encode()):
            raise HTTPException(401, "a bearer token is required (Authorization: Bearer ...)",
                                headers={"WWW-Authenticate": "Bearer"})

    app.add_middleware(BodyLimit, max_body=max_body)

    async def judge(request: Request, items: list[tuple[Task, str]], raw: bool = False) -> list[Verdict]:
        """Judge with admission control; a disconnect cancels what has not started."""
        try:
            admission.enter(len(items))
        except Overloaded:
            raise HTTPException(429, "the sandbox pool is saturated; retry later", headers={"Retry-After": "1"})
        futures = [asyncio.wrap_future(scorer.submit(t, code, raw)) for t, code in items]
        try:
            gathered = asyncio.gather(*futures)
            while True:
                done, _ = await asyncio.wait({gathered}, timeout=0.25)
                if done:
                    return list(gathered.result())
                if await request.is_disconnected():
                    for f in futures:
                        f.cancel()
                    raise HTTPException(499, "client disconnected")
        finally:
            admission.leave(len(items))

    def resolve(items: list[VerifyItem]) -> list[tuple[Task, str]]:
        out = []
        for i, item in enumerate(items):
            row = dict(item.task or {})
            if item.task_id is not None:
                row.setdefault("task_id", item.task_id)
            try:
                out.append((scorer.resolve(row), item.code))
            except TaskNotFound as exc:
                raise HTTPException(422, f"items[{i}]: {exc}") from None
        return out

    @app.post("/v1/verify", dependencies=[Depends(check_token)])
    async def verify(body: VerifyRequest, request: Request) -> dict[str, Any]:
        """Judge a batch; each result has the verdict, the feedback texts and the rewards asked for."""
        if len(body.items) > max_batch:
            raise HTTPException(413, f"at most {max_batch} items per request")
        try:
            reward_fns = {name: rewards_mod.parse(name) for name in body.rewards}
            for preset in body.feedback:
                if preset not in feedback_mod.PRESETS:
                    raise KeyError(f"unknown feedback preset {preset!r}")
        except (KeyError, ValueError) as exc:
            raise HTTPException(422, str(exc.args[0])) from None
        start = time.monotonic()
        verdicts = await judge(request, resolve(body.items))
        metrics.record("verify", time.monotonic() - start, verdicts)
        return {"results": [{
            "status": v.status, "passed": v.passed, "verdict": verdict_view(v),
            "feedback": {p: feedback_mod.render(v, p, hidden=body.hidden) for p in body.feedback},
            "rewards": {n: fn(v) for n, fn in reward_fns.items()}} for v in verdicts]}

    @app.post("/v1/openrlhf", dependencies=[Depends(check_token)])
    async def openrlhf(body: OpenRLHFRequest, request: Request) -> dict[str, Any]:
        """OpenRLHF's remote reward model protocol (lists, not tensors)."""
        n = len(body.query)
        if len(body.labels) != n or (body.prompts and len(body.prompts) != n):
            raise HTTPException(422, "query, prompts and labels must be lists of the same length")
        if n > max_batch:
            raise HTTPException(413, f"at most {max_batch} queries per request")
        prompts = body.prompts or [""] * n
        rows = [row_from_label(label) for label in body.labels]
        replies = [response_of(q, p) for q, p in zip(body.query, prompts)]
        try:
            admission.enter(n)
        except Overloaded:
            raise HTTPException(429, "the sandbox pool is saturated; retry later", headers={"Retry-After": "1"})
        start = time.monotonic()
        try:
            verdicts = await ascore_rows(scorer, rows, replies)
        finally:
            admission.leave(n)
        metrics.record("openrlhf", time.monotonic() - start, verdicts)
        return openrlhf_result(verdicts, "pass")

    @app.post("/run_code", dependencies=[Depends(check_token)])
    async def run_code(body: RunCodeRequest, request: Request) -> dict[str, Any]:
        """SandboxFusion's run_code: run a Python program on stdin; what it printed and how it ended."""
        if body.language.lower() not in ("python", "python3"):
            return {"status": "SandboxError", "message": f"language {body.language!r} is not supported (python only)",
                    "compile_result": None, "run_result": None}
        if body.files:
            return {"status": "SandboxError", "message": "files are not supported", "compile_result": None,
                    "run_result": None}
        task = Task(task_id="run_code", kind=TaskKind.STDIO, cases=(IOCase(body.stdin or "", None),),
                    time_limit=body.run_timeout, origin="inline")
        start = time.monotonic()
        (v,) = await judge(request, [(task, body.code)], raw=True)
        metrics.record("run_code", time.monotonic() - start, [v])
        if v.status is Status.INFRA_ERROR:
            message = v.failure.message if isinstance(v.failure, EvaluatorFailed) else ""
            return {"status": "SandboxError", "message": message, "compile_result": None, "run_result": None}
        run = v.runs[0] if v.runs else None
        run_status = "TimeLimitExceeded" if v.status is Status.TIMEOUT else "Finished"
        if v.status in (Status.MEMORY_LIMIT, Status.OUTPUT_LIMIT, Status.KILLED):
            run_status = "Error"
        exit_code = run.exit if run is not None else None
        stderr = run.stderr if run is not None else v.stderr
        if isinstance(v.failure, CompileError):
            exit_code, stderr = 1, v.failure.formatted or feedback_mod.render(v, "first_failure", hidden=False)
        return {"status": "Success" if v.passed else "Failed", "message": "",
                "compile_result": None,
                "run_result": {"status": run_status, "return_code": exit_code,
                               "stdout": run.stdout if run is not None else v.stdout, "stderr": stderr,
                               "execution_time": run.seconds if run is not None else v.test_seconds}}

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"ok": True, "workers": scorer.workers, "in_flight": admission.active}

    @app.get("/metrics", response_class=PlainTextResponse)
    async def prom() -> str:
        lines = [
            "# TYPE codeloop_in_flight gauge", f"codeloop_in_flight {admission.active}",
            "# TYPE codeloop_queue_depth gauge", f"codeloop_queue_depth {admission.waiting}",
            "# TYPE codeloop_verdicts_total counter",
            *[f'codeloop_verdicts_total{{status="{s}"}} {n}' for s, n in sorted(metrics.statuses.items())],
            "# TYPE codeloop_requests_total counter",
            *[f'codeloop_requests_total{{route="{r}"}} {n}' for r, n in sorted(metrics.requests.items())],
            "# TYPE codeloop_request_seconds summary",
            f'codeloop_request_seconds{{quantile="0.5"}} {metrics.quantile(0.5):.6f}',
            f'codeloop_request_seconds{{quantile="0.99"}} {metrics.quantile(0.99):.6f}',
        ]
        return "\n".join(lines) + "\n"

    return app
