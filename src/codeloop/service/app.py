"""``codeloop serve``: verification as an HTTP service (FastAPI), on one warm pool.

Endpoints:

* ``POST /v1/verify``: a batch of (task id or inline task, code) → verdicts,
  with the feedback presets and rewards asked for.
* ``POST /v1/openrlhf``: OpenRLHF's remote reward shape,
  ``{"query", "prompts", "labels"}`` → ``{"rewards", "scores", "extra_logs"}``.
* ``POST /run_code``: SandboxFusion's run-code shape (verl's sandbox path):
  run a program with stdin and report what it did.
* ``GET /healthz``, ``GET /metrics`` (Prometheus text), ``GET /openapi.json``.

In front of every route (:mod:`.gate`): the bearer token when one is set
(every route but ``/healthz`` needs it, and ``/metrics`` unless
``public_metrics``), checked before a byte of the body is read; a body cap
counted as bytes arrive (413); a deadline on the body (408). Admission and
dispatch (:mod:`.schedule`): by each sample's worst-case time, fair between
clients (keyed by address), 429 with Retry-After when saturated, 504 when a
request cannot start within ``max_wait``. A client that disconnects cancels
its samples not yet started. Error answers never echo the input.

One item's failure is that item's ``infra_error`` verdict, never its batch's.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import Counter, deque
from typing import Annotated, Any, Optional, Sequence

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import feedback as feedback_mod
from .. import rewards as rewards_mod
from ..extract import response_of
from ..scoring.local import LocalScorer
from ..scoring.shapes import openrlhf_result
from ..sandbox.languages import UnknownLanguage, language
from ..sandbox.native import COMPILER_TIMED_OUT
from ..tasks.errors import TaskNotFound
from ..tasks.rows import row_from_label
from ..types import (CompileError, EvaluatorFailed, IOCase, Status, Task, TaskKind, Verdict, check_files,
                     evaluator_failure)
from .gate import Gate
from .sessions_api import add_session_routes
from .schedule import FairScheduler, Refused, SchedulerLimits

MAX_CODE = 200_000
MAX_DETAIL = 300  # characters of an error message at most: errors never echo a large input back
DEFAULT_MEMORY_MB = 1024


def _utf8(text: str) -> str:
    # JSON may carry a lone surrogate ("\ud800"), which Python accepts in a str but no program text can hold
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"not valid Unicode text (a lone surrogate at position {exc.start})") from None
    return text


Text = Annotated[str, AfterValidator(_utf8)]


class VerifyItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Text = Field(max_length=MAX_CODE, description="The model's reply or program (code is extracted from it).")
    task_id: Optional[Text] = Field(None, description="A task the server knows (HumanEval by default).")
    task: Optional[dict[str, Any]] = Field(None, description="A task in the JSONL task format, inline.")


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[VerifyItem] = Field(min_length=1)
    feedback: list[str] = Field(default_factory=list, description="Feedback presets to render.")
    rewards: list[str] = Field(default_factory=list, description="Reward names or weighted mixes.")
    hidden: bool = Field(True, description="The tests are hidden from the model (feedback must not show them).")


class OpenRLHFRequest(BaseModel):
    query: list[Text]
    prompts: list[Text] = Field(default_factory=list)
    labels: list[Any] = Field(default_factory=list)


class RunCodeRequest(BaseModel):
    code: Text = Field(max_length=MAX_CODE)
    stdin: Optional[Text] = ""
    language: str = "python"
    compile_timeout: float = Field(10.0, gt=0, le=120, allow_inf_nan=False,
                                   description="Seconds of CPU the compiler may take (compiled languages).")
    run_timeout: float = Field(10.0, gt=0, strict=True, allow_inf_nan=False,
                               description="Seconds; at most the server's --max-run-timeout.")
    memory_limit_MB: int = Field(DEFAULT_MEMORY_MB, strict=True,
                                 description="The program's memory limit (MiB, 16 to 65536); "
                                 "-1 for the server's default.")
    files: dict[str, str] = Field(default_factory=dict, description=(
        "Files placed in the program's working folder before it runs: relative name -> base64 of the bytes."))


class Metrics:
    def __init__(self) -> None:
        self.statuses: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self.latency: deque[float] = deque(maxlen=5000)

    def record(self, route: str, seconds: float, verdicts: Sequence[Verdict | None]) -> None:
        # only ever called on the event loop's thread
        self.requests[route] += 1
        self.latency.append(seconds)
        self.statuses.update(v.status.value for v in verdicts if v is not None)

    def quantile(self, q: float) -> float:
        data = sorted(self.latency)
        return data[min(len(data) - 1, int(q * len(data)))] if data else 0.0


def verdict_view(v: Verdict) -> dict[str, Any]:
    d = v.to_dict()
    d.pop("test_results", None)
    return d


def _short(text: str) -> str:
    return text if len(text) <= MAX_DETAIL else text[:MAX_DETAIL] + f"... [{len(text) - MAX_DETAIL} more]"


def _validation_detail(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Pydantic's errors without the ``input`` and ``ctx`` they carry (which
    can be the whole body): where, what, and the kind, at most 20."""
    errors = exc.errors()
    out = [{"loc": [str(p)[:60] for p in e.get("loc", ())][:8], "msg": _short(str(e.get("msg", ""))),
            "type": str(e.get("type", ""))[:60]} for e in errors[:20]]
    if len(errors) > 20:
        out.append({"loc": [], "msg": f"... and {len(errors) - 20} more errors", "type": "truncated"})
    return out


def create_app(scorer: LocalScorer, token: str | None = None, max_batch: int = 512, max_body: int = 8 << 20,
               limits: SchedulerLimits | None = None, public_metrics: bool = False, body_timeout: float = 30.0,
               max_run_timeout: float = 60.0, max_sessions: int = 64) -> FastAPI:
    """The service over ``scorer``'s pool.

    ``token``: required of clients on every route but ``/healthz`` (and
    ``/metrics`` with ``public_metrics``). Limits: ``max_batch`` items per
    request (413 beyond), ``max_body`` bytes per body (413), ``body_timeout``
    seconds for a body to arrive (408), ``max_run_timeout`` for
    ``/run_code``'s ``run_timeout`` and an inline task's ``time_limit`` (422
    beyond); ``max_sessions``: interactive sessions live at once (429 beyond,
    see :mod:`codeloop.service.sessions_api`); ``limits``: admission and
    dispatch (default: every worker of the scorer's, all counted as CPUs).
    """
    if limits is None:
        limits = SchedulerLimits(cpu_slots=scorer.workers, max_slots=scorer.workers)
    if limits.max_slots > scorer.workers:
        raise ValueError(f"max_slots ({limits.max_slots}) is more than the scorer's workers ({scorer.workers})")
    app = FastAPI(title="codeloop", version="0.1.0", max_body_size=max_body,
                  description="Run model-written code safely; verdicts, feedback and rewards.")
    scheduler = FairScheduler(limits)
    metrics = Metrics()
    public = frozenset({"/healthz", "/metrics"} if public_metrics else {"/healthz"})
    app.add_middleware(Gate, token=token, public=public, body_timeout=body_timeout)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_detail(exc)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = _short(exc.detail) if isinstance(exc.detail, str) else exc.detail
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)

    def client_of(request: Request) -> str:
        return request.client.host if request.client is not None else "-"

    async def judge(request: Request, items: list[tuple[Task, str]], raw: bool = False) -> list[Verdict]:
        """Judge through the scheduler. 429/413 when refused; 504 when the first
        sample cannot start within ``max_wait``; a disconnect cancels what has
        not started."""
        seconds = [scorer.judge.worst_case_seconds(t) for t, _ in items]
        try:
            ticket = scheduler.admit(client_of(request), seconds)
        except Refused as exc:
            headers = {"Retry-After": scheduler.retry_after(exc.retry_after)} if exc.retry_after is not None else None
            raise HTTPException(exc.status, exc.reason, headers=headers) from None
        try:
            # extraction parses and tokenizes (a second or more for a 200 KB reply): never on the event loop
            prepared = [scorer.prepare(t, c, raw) for t, c in items] if raw else \
                await asyncio.to_thread(lambda: [scorer.prepare(t, c, raw) for t, c in items])
        except BaseException:
            scheduler.cancel(ticket)
            raise
        futures = [asyncio.wrap_future(scheduler.submit(ticket, functools.partial(scorer.start, p), s))
                   for p, s in zip(prepared, seconds)]
        gathered = asyncio.gather(*futures)
        # an abandoned batch's outcome is nobody's: read it so asyncio does not log it as lost
        gathered.add_done_callback(lambda f: f.cancelled() or f.exception())
        try:
            while True:
                done, _ = await asyncio.wait({gathered}, timeout=0.25)
                if done:
                    return list(gathered.result())
                if ticket.first_start is None and time.monotonic() - ticket.admitted > limits.max_wait:
                    scheduler.cancel(ticket)
                    raise HTTPException(504, f"the request could not start within {limits.max_wait:g} s; retry",
                                        headers={"Retry-After": scheduler.retry_after(limits.max_wait / 2)})
                if await request.is_disconnected():
                    scheduler.cancel(ticket)
                    raise HTTPException(499, "client disconnected")
        finally:
            if not gathered.done():
                gathered.cancel()
                scheduler.cancel(ticket)

    def resolve(i: int, row: dict[str, Any]) -> Task | Verdict:
        """The task of one item, or (for a failure of the server's own) that item's evaluator failure.
        Raises TaskNotFound, also for a task whose own time limit is over ``max_run_timeout``."""
        try:
            task = scorer.resolve(row)
        except TaskNotFound:
            raise
        except Exception as exc:  # noqa: BLE001 - one item's failure must not cost its batch
            return evaluator_failure(_short(f"items[{i}]: reading its task failed: {type(exc).__name__}: {exc}"),
                                     scorer.pool.isolation)
        if task.time_limit is not None and task.time_limit > max_run_timeout:
            raise TaskNotFound(f"its time_limit ({task.time_limit:g} s) is over this server's maximum "
                               f"({max_run_timeout:g} s)")
        return task

    async def judge_rows(request: Request, tasks: list[Task | Verdict | None], codes: list[str]
                         ) -> list[Verdict | None]:
        """Judge the items that have a task; the others keep their verdict (or None)."""
        slots = [i for i, t in enumerate(tasks) if isinstance(t, Task)]
        out: list[Verdict | None] = [t if isinstance(t, Verdict) else None for t in tasks]
        if slots:
            judged = await judge(request, [(tasks[i], codes[i]) for i in slots])  # type: ignore[misc]
            for i, v in zip(slots, judged):
                out[i] = v
        return out

    @app.post("/v1/verify")
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
        tasks: list[Task | Verdict | None] = []
        for i, item in enumerate(body.items):
            row = dict(item.task or {})
            if item.task_id is not None:
                row.setdefault("task_id", item.task_id)
            try:
                tasks.append(resolve(i, row))
            except TaskNotFound as exc:
                raise HTTPException(422, f"items[{i}]: {exc}") from None
        start = time.monotonic()
        verdicts = await judge_rows(request, tasks, [item.code for item in body.items])
        metrics.record("verify", time.monotonic() - start, verdicts)
        return {"results": [{
            "status": v.status, "passed": v.passed, "verdict": verdict_view(v),
            "feedback": {p: feedback_mod.render(v, p, hidden=body.hidden) for p in body.feedback},
            "rewards": {n: fn(v) for n, fn in reward_fns.items()}} for v in verdicts if v is not None]}

    @app.post("/v1/openrlhf")
    async def openrlhf(body: OpenRLHFRequest, request: Request) -> dict[str, Any]:
        """OpenRLHF's remote reward model protocol (lists, not tensors). A row
        whose label names no task scores 0 with ``infra_error`` set, that row only."""
        n = len(body.query)
        if len(body.labels) != n or (body.prompts and len(body.prompts) != n):
            raise HTTPException(422, "query, prompts and labels must be lists of the same length")
        if n > max_batch:
            raise HTTPException(413, f"at most {max_batch} queries per request")
        prompts = body.prompts or [""] * n
        tasks: list[Task | Verdict | None] = []
        for i, label in enumerate(body.labels):
            try:
                tasks.append(resolve(i, row_from_label(label)))
            except TaskNotFound:
                tasks.append(None)
        replies = [response_of(q, p) for q, p in zip(body.query, prompts)]
        start = time.monotonic()
        verdicts = await judge_rows(request, tasks, replies)
        metrics.record("openrlhf", time.monotonic() - start, verdicts)
        return openrlhf_result(verdicts, "pass")

    @app.post("/run_code")
    async def run_code(body: RunCodeRequest, request: Request) -> dict[str, Any]:
        """SandboxFusion's run_code: run a program on stdin (compiled first, for a compiled language);
        what the compiler and the program printed and how they ended."""
        try:
            lang = language(body.language)
        except UnknownLanguage as exc:
            return {"status": "SandboxError", "message": str(exc), "compile_result": None, "run_result": None}
        try:
            files = check_files(body.files) if body.files else None
        except ValueError as exc:
            raise HTTPException(422, f"files: {exc}") from None
        if body.run_timeout > max_run_timeout:
            raise HTTPException(422, f"run_timeout {body.run_timeout:g} is over this server's maximum "
                                     f"({max_run_timeout:g} s)")
        memory = scorer.judge.memory_mb if body.memory_limit_MB == -1 else body.memory_limit_MB
        if not 16 <= memory <= 65536:
            raise HTTPException(422, f"memory_limit_MB must be -1 (the server's default) or 16 to 65536, "
                                     f"not {body.memory_limit_MB}")
        task = Task(task_id="run_code", kind=TaskKind.STDIO, cases=(IOCase(body.stdin or "", None),),
                    time_limit=body.run_timeout, memory_limit=memory, origin="inline", language=lang.name,
                    files=files, compile_time_limit=body.compile_timeout if lang.compiled else None)
        start = time.monotonic()
        (v,) = await judge(request, [(task, body.code)], raw=True)
        metrics.record("run_code", time.monotonic() - start, [v])
        return run_code_answer(v, lang.compiled, scorer.judge.compile_seconds(task, body.code))

    app.state.sessions = add_session_routes(app, workers=2, max_sessions=max_sessions,
                                            max_run_timeout=max_run_timeout)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        snap = scheduler.snapshot()
        return {"ok": True, "workers": limits.cpu_slots, "slots": limits.max_slots, "running": int(snap["running"]),
                "queued": int(snap["queued"])}

    @app.get("/metrics", response_class=PlainTextResponse)
    async def prom() -> str:
        snap = scheduler.snapshot()
        lines = [
            "# TYPE codeloop_running gauge", f"codeloop_running {snap['running']:g}",
            "# TYPE codeloop_queue_depth gauge", f"codeloop_queue_depth {snap['queued']:g}",
            "# TYPE codeloop_outstanding_seconds gauge",
            f"codeloop_outstanding_seconds {snap['outstanding_seconds']:.3f}",
            "# TYPE codeloop_queue_wait_seconds summary",
            f'codeloop_queue_wait_seconds{{quantile="0.5"}} {snap["wait_p50"]:.6f}',
            f'codeloop_queue_wait_seconds{{quantile="0.99"}} {snap["wait_p99"]:.6f}',
            "# TYPE codeloop_refused_total counter",
            *[f'codeloop_refused_total{{reason="{r}"}} {n}' for r, n in sorted(scheduler.refused.items())],
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


def run_code_answer(v: Verdict, compiled: bool = False, compile_seconds: float | None = None) -> dict[str, Any]:
    """SandboxFusion's answer for one run: how the program ended, what it printed; for a compiled
    language also how the compiler ended (``compile_result``; ``run_result`` None when it failed),
    its ``execution_time`` the compile's (``compile_seconds``, when the program was compiled before
    this sample and kept), else this sample's load time."""
    if v.status is Status.INFRA_ERROR:
        message = v.failure.message if isinstance(v.failure, EvaluatorFailed) else ""
        return {"status": "SandboxError", "message": message, "compile_result": None, "run_result": None}
    if compiled:
        compile_time = compile_seconds if compile_seconds is not None else (
            v.timing.load if v.timing is not None else None)
        if isinstance(v.failure, CompileError):
            timed_out = v.failure.message.startswith(COMPILER_TIMED_OUT)
            return {"status": "Failed", "message": "", "run_result": None,
                    "compile_result": {"status": "TimeLimitExceeded" if timed_out else "Finished",
                                       "return_code": None if timed_out else 1, "stdout": "",
                                       "stderr": v.failure.formatted or v.failure.message,
                                       "execution_time": compile_time}}
        answer = run_code_answer(v)
        answer["compile_result"] = {"status": "Finished", "return_code": 0, "stdout": "", "stderr": "",
                                    "execution_time": compile_time}
        return answer
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
