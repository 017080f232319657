"""Interactive sessions over HTTP, and SandboxFusion's ``/run_jupyter``.

* ``POST /v1/sessions`` ``{"kind": "python" | "bash" | "sql", "files"?: {name: base64},
  "schema"?: SQL, "memory_mb"?}`` → ``{"session_id"}`` (an unguessable id: holding it is
  what lets a client step the session);
* ``POST /v1/sessions/{id}/step`` ``{"code", "cpu"?, "wall"?}`` → the step's result
  (``observation``: the text a model reads; ``stdout``, ``stderr``, ``value``,
  ``exit``, ``columns``, ``rows``, ``error``, ``limit``, ``alive``, ``seconds``);
* ``DELETE /v1/sessions/{id}`` → ``{"closed": true}`` (its processes and files are gone);
* ``POST /run_jupyter``: SandboxFusion's one-shot notebook: ``cells`` run in
  one fresh Python session, each with ``cell_timeout`` seconds (0: no limit of
  its own) within ``total_timeout``; the answer has SandboxFusion's shape
  (``status``, ``driver``, ``cells`` with ``stdout``, ``stderr``, ``display``
  and ``error`` as Jupyter's ``ename`` / ``evalue`` / ``traceback``).

Sessions run on a pool of their own (:class:`~codeloop.sandbox.sessions.SessionPool`),
started on first use, with at most ``max_sessions`` live (429 beyond).
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from typing import Any, Literal, Optional

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

from ..sandbox.limits import Limits
from ..sandbox.sessions import Session, SessionError, SessionPool, StepResult
from ..types import check_files


class OpenSession(BaseModel):
    kind: Literal["python", "bash", "sql"] = "python"
    files: dict[str, str] = Field(default_factory=dict, description="relative name -> base64 of the bytes")
    schema_sql: Optional[str] = Field(None, alias="schema", description="SQL building an sql session's database")
    memory_mb: int = Field(1024, ge=16, le=65536)


class Step(BaseModel):
    code: str = Field(max_length=1 << 20)
    cpu: float = Field(10.0, gt=0, allow_inf_nan=False)
    wall: float = Field(30.0, gt=0, allow_inf_nan=False)


class RunJupyter(BaseModel):
    cells: list[str] = Field(min_length=1, max_length=256)
    cell_timeout: float = Field(0, ge=0, allow_inf_nan=False)
    total_timeout: float = Field(45, gt=0, allow_inf_nan=False)
    kernel: Literal["python3"] = "python3"
    files: dict[str, str] = Field(default_factory=dict)
    fetch_files: list[str] = Field(default_factory=list)
    memory_limit_MB: int = Field(1024, ge=16, le=65536)


class SessionRoutes:
    """The routes' state: the pool (started on first use) and the live sessions by id."""

    def __init__(self, workers: int, max_sessions: int, max_run_timeout: float) -> None:
        self.workers, self.max_sessions, self.max_run_timeout = workers, max_sessions, max_run_timeout
        self.pool: SessionPool | None = None
        self.sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def _pool(self) -> SessionPool:
        with self._lock:
            if self.pool is None:
                self.pool = SessionPool(self.workers, max_sessions=self.max_sessions)
            return self.pool

    def open(self, kind: str, files: dict[str, str] | None, setup: dict[str, Any] | None, memory_mb: int) -> str:
        try:
            session = self._pool().open(kind, files=files or None, setup=setup,
                                        limits=Limits(time_limit=600.0, memory_mb=memory_mb))
        except SessionError as exc:
            status = 429 if "live" in str(exc) else 503
            raise HTTPException(status, str(exc)) from None
        sid = secrets.token_urlsafe(18)
        with self._lock:
            self.sessions[sid] = session
        return sid

    def get(self, sid: str) -> Session:
        with self._lock:
            found = self.sessions.get(sid)
        if found is None or found.closed:
            raise HTTPException(404, "no such session (closed, expired, or ended at a limit)")
        return found

    def close(self, sid: str) -> None:
        with self._lock:
            found = self.sessions.pop(sid, None)
        if found is not None:
            found.close()

    def shutdown(self) -> None:
        with self._lock:
            pool, self.pool = self.pool, None
            self.sessions.clear()
        if pool is not None:
            pool.close()


def step_answer(result: StepResult) -> dict[str, Any]:
    return {"observation": result.text(), "stdout": result.stdout, "stderr": result.stderr, "value": result.value,
            "exit": result.exit, "columns": list(result.columns), "rows": [list(r) for r in result.rows],
            "error": result.error, "limit": result.limit, "alive": result.alive, "cut": result.cut,
            "seconds": result.seconds, "cpu_seconds": result.cpu_seconds}


def add_session_routes(app: FastAPI, workers: int = 2, max_sessions: int = 64,
                       max_run_timeout: float = 60.0) -> SessionRoutes:
    """Add the session routes and ``/run_jupyter`` to ``app``; the returned object's ``shutdown`` ends them."""
    routes = SessionRoutes(workers, max_sessions, max_run_timeout)

    def files_of(given: dict[str, str]) -> dict[str, str] | None:
        try:
            return check_files(given) if given else None
        except ValueError as exc:
            raise HTTPException(422, f"files: {exc}") from None

    @app.post("/v1/sessions")
    async def open_session(body: OpenSession) -> dict[str, Any]:
        files = files_of(body.files)
        setup = {"schema": body.schema_sql} if body.schema_sql else None
        sid = await asyncio.to_thread(routes.open, body.kind, files, setup, body.memory_mb)
        return {"session_id": sid, "kind": body.kind}

    @app.post("/v1/sessions/{sid}/step")
    async def step(sid: str, body: Step) -> dict[str, Any]:
        if body.wall > max_run_timeout or body.cpu > max_run_timeout:
            raise HTTPException(422, f"cpu and wall must be at most {max_run_timeout:g} s")
        session = routes.get(sid)
        try:
            result = await asyncio.to_thread(session.step, body.code, body.cpu, body.wall)
        except SessionError as exc:
            raise HTTPException(409 if "already running" in str(exc) else 404, str(exc)) from None
        if not result.alive:
            routes.close(sid)
        return step_answer(result)

    @app.delete("/v1/sessions/{sid}")
    async def close(sid: str) -> dict[str, Any]:
        routes.get(sid)
        await asyncio.to_thread(routes.close, sid)
        return {"closed": True}

    @app.post("/run_jupyter")
    async def run_jupyter(body: RunJupyter) -> dict[str, Any]:
        if body.total_timeout > max_run_timeout:
            raise HTTPException(422, f"total_timeout is over this server's maximum ({max_run_timeout:g} s)")
        files = files_of(body.files)
        return await asyncio.to_thread(_notebook, routes, body, files)

    return routes


def _notebook(routes: SessionRoutes, body: RunJupyter, files: dict[str, str] | None) -> dict[str, Any]:
    """Run the cells in one fresh session, as SandboxFusion's /run_jupyter answers."""
    started = time.monotonic()
    try:
        sid = routes.open("python", files, None, body.memory_limit_MB)
    except HTTPException as exc:
        return {"status": "SandboxError", "message": str(exc.detail), "driver": None, "cells": [], "files": {}}
    session = routes.get(sid)
    cells: list[dict[str, Any]] = []
    timed_out = False
    try:
        for code in body.cells:
            left = body.total_timeout - (time.monotonic() - started)
            wall = min(left, body.cell_timeout) if body.cell_timeout > 0 else left
            if wall <= 0:
                timed_out = True
                break
            result = session.step(code, cpu=wall, wall=wall)
            cells.append(_cell(result))
            if result.limit in ("time", "cpu", "episode"):  # a cell over its time: the notebook failed
                timed_out = True
                break
            if not result.alive:
                break
    finally:
        routes.close(sid)
    seconds = round(time.monotonic() - started, 6)
    driver = {"status": "TimeLimitExceeded" if timed_out else "Finished", "execution_time": seconds,
              "return_code": None if timed_out else 0, "stdout": "", "stderr": ""}
    if timed_out:
        return {"status": "Failed", "message": "", "driver": driver, "cells": [], "files": {}}
    return {"status": "Success", "message": "", "driver": driver, "cells": cells, "files": {}}


def _cell(result: StepResult) -> dict[str, Any]:
    display = [{"text/plain": result.value}] if result.value is not None else []
    error = []
    if result.error is not None:
        trace = result.error.get("traceback") or ""
        error.append({"ename": result.error.get("name", ""), "evalue": result.error.get("message", ""),
                      "traceback": trace.splitlines()})
    elif result.limit is not None:
        error.append({"ename": "TimeoutError" if result.limit != "output" else "OutputLimit",
                      "evalue": f"the cell's {result.limit} limit", "traceback": []})
    return {"stdout": result.stdout, "stderr": result.stderr, "display": display, "error": error}
