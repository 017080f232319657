"""Interactive sessions: sandboxed processes that keep their state across steps.

Two halves. :class:`SessionHost` runs inside a sandbox worker started in
``sessions`` mode (see :mod:`codeloop.sandbox.worker`): it clones a kernel
(:mod:`codeloop.sandbox.kernels`) per session, with the isolation of a
sample (its own PID and mount namespace, fresh /tmp and /sandbox, limits, no
capabilities), and serves every session of that worker from one event loop:
it writes a step to its kernel, collects what the step prints, and stops the
step at its CPU or wall limit. :class:`SessionPool` is the orchestrator's
side: it starts the workers, spreads sessions over them, and turns each
request into a future.

Limits: per step, CPU seconds (the kernel and every process it started) and
wall seconds; per episode, CPU seconds in all; memory, processes, files and
output as a sample's (:class:`~codeloop.sandbox.limits.Limits`); an idle
session expires. A Python step over its limit is interrupted
(``KeyboardInterrupt``, the session lives on, as a notebook's kernel does);
one that does not stop, and any other kind's, ends the session. A result says
which limit was hit. Closing a session kills its PID namespace: its
processes and its files are gone.
"""

from __future__ import annotations

import itertools
import os
import select
import signal
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Mapping

from . import wire
from .limits import Limits

KINDS = ("python", "bash", "sql")
OUTPUT_CAP = 64 << 10      # what a step may print (stdout and stderr together) before it is cut
INTERRUPT_GRACE = 1.0      # seconds a Python step has to stop after its interrupt
CPU_POLL = 0.05
_MACHINE_CPUS = os.cpu_count() or 1  # CPUs a session's processes could run on at once, at most
START_SECONDS = 10.0       # a kernel that is not ready within this is an evaluator failure


class SessionError(Exception):
    """The session is gone (closed, expired, killed at a limit) or could not be made."""


@dataclass(frozen=True)
class StepResult:
    """What one step did: its output, how it ended, and what it says.

    ``stdout``/``stderr``: what it printed (cut past the output cap: ``cut``);
    ``value``: a Python cell's last expression, shown; ``exit``: a Bash step's
    exit status; ``columns``/``rows``: an SQL step's result; ``error``: an
    exception or SQL error (``name``, ``message``, ``traceback``);
    ``limit``: the limit that stopped it (``time``, ``cpu``, ``episode``,
    ``output``) or None; ``alive``: whether the session lives on;
    ``seconds``/``cpu_seconds``: the step's wall and CPU time."""

    stdout: str = ""
    stderr: str = ""
    value: str | None = None
    exit: int | None = None
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[Any, ...], ...] = ()
    error: dict[str, str] | None = None
    limit: str | None = None
    alive: bool = True
    cut: bool = False
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    files: dict[str, str] | None = None

    @property
    def ok(self) -> bool:
        """The step ran to its end without an error, a non-zero exit or a limit."""
        return self.error is None and self.limit is None and self.exit in (None, 0)

    def text(self, cap: int = 4000) -> str:
        """The observation as a model reads it: output, then the value, rows or error."""
        parts = [self.stdout, self.stderr]
        if self.value is not None:
            parts.append(self.value)
        if self.columns:
            parts.append(" | ".join(self.columns))
            parts.extend(" | ".join(map(str, row)) for row in self.rows)
        if self.error is not None:
            parts.append(self.error.get("traceback") or f"{self.error.get('name')}: {self.error.get('message')}")
        if self.exit not in (None, 0):
            parts.append(f"(exit status {self.exit})")
        if self.limit is not None:
            parts.append(f"(stopped: the step's {self.limit} limit" + ("" if self.alive else "; the session ended") + ")")
        text = "\n".join(p.rstrip("\n") for p in parts if p)
        return text if len(text) <= cap else text[:cap] + "\n...(cut)"

    @staticmethod
    def from_wire(msg: dict[str, Any]) -> "StepResult":
        done = msg.get("done") or {}
        return StepResult(
            stdout=msg.get("stdout", ""), stderr=msg.get("stderr", ""), value=done.get("value"), exit=done.get("exit"),
            columns=tuple(done.get("columns") or ()), rows=tuple(tuple(r) for r in done.get("rows") or ()),
            error=done.get("error"), limit=msg.get("limit"), alive=bool(msg.get("alive", True)),
            cut=bool(msg.get("cut")), seconds=float(msg.get("seconds", 0.0)),
            cpu_seconds=float(msg.get("cpu_seconds", 0.0)), files=done.get("files"))


# -- inside the worker --------------------------------------------------------------------------------------------


@dataclass
class _Live:
    sid: str
    kind: str
    pid: int
    req_w: int
    resp: wire.FrameReader
    out_r: int
    err_r: int
    episode_cpu: float
    idle_seconds: float
    last_used: float = field(default_factory=time.monotonic)
    cpu_used: float = 0.0
    step: dict[str, Any] | None = None   # the step under way: rid, started, limits, output so far


class SessionHost:
    """The session side of a worker: clones kernels through the worker's template and runs their steps.

    Control frames in (descriptor 0): ``{"op": "open" | "step" | "close", "rid", "sid", ...}``;
    replies out (descriptor 1), one per request, with its ``rid``."""

    def __init__(self, zygote: Any, check_limits: Any, setup_outcome: Any) -> None:
        # the worker's own helpers, handed in (this module cannot import the worker, which imports it)
        self.zygote, self.check_limits, self.setup_outcome = zygote, check_limits, setup_outcome
        self.live: dict[str, _Live] = {}
        self.control = wire.FrameReader(0)

    def serve(self) -> None:
        while True:
            fds = [0]
            for s in self.live.values():
                fds += [s.resp.fd, s.out_r, s.err_r] if s.step is not None else []
            ready = select.select(fds, [], [], self._wait())[0]
            if 0 in ready:
                try:
                    self.control.fill()
                except (wire.WireError, OSError):
                    break
                while (msg := self.control.pending()) is not None:
                    self._handle(msg)
            for s in list(self.live.values()):
                if s.step is not None:
                    self._progress(s, ready)
            self._expire()
        for s in list(self.live.values()):
            self._end(s)

    def _wait(self) -> float:
        wait = 5.0
        now = time.monotonic()
        for s in self.live.values():
            if s.step is not None:
                wait = min(wait, CPU_POLL, max(0.0, s.step["wall_deadline"] - now))
            else:
                wait = min(wait, max(0.0, s.last_used + s.idle_seconds - now))
        return wait

    def _answer(self, rid: Any, message: dict[str, Any]) -> None:
        wire.write_frame(1, dict(message, rid=rid))

    def _handle(self, msg: Any) -> None:
        rid = msg.get("rid") if isinstance(msg, dict) else None
        try:
            op = msg["op"]
            if op == "open":
                self._open(msg)
                self._answer(rid, {"ok": True})
            elif op == "step":
                self._start_step(msg)
            elif op == "judge":
                self._answer(rid, self._judge(msg))
            elif op == "close":
                found = self.live.get(msg["sid"])
                if found is not None:
                    self._end(found)
                self._answer(rid, {"ok": True})
            else:
                raise ValueError(f"unknown op {op!r}")
        except Exception as exc:  # noqa: BLE001 - told to the caller; the host goes on
            self._answer(rid, {"failed": f"{type(exc).__name__}: {exc}"})

    def _open(self, msg: dict[str, Any]) -> None:
        if msg["sid"] in self.live:
            raise ValueError(f"session {msg['sid']!r} exists")
        limits = msg["limits"]
        self.check_limits(limits)
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        z = self.zygote
        pid, setup_r = z._spawn({0: z.devnull, 1: out_w, 2: err_w, 3: req_r, 4: resp_w},
                                {"role": "session", "kind": msg["kind"], "limits": limits, "files": msg.get("files"),
                                 "setup": msg.get("setup") or {}}, req_w)
        for fd in (req_r, resp_w, out_w, err_w):
            os.close(fd)
        session = _Live(msg["sid"], msg["kind"], pid, req_w, wire.FrameReader(resp_r), out_r, err_r,
                        float(msg.get("episode_cpu") or limits["cpu_seconds"]), float(msg.get("idle") or 300.0))
        try:
            first = session.resp.read(time.monotonic() + START_SECONDS)
        except wire.WireError:
            first = None
        failure = self.setup_outcome(setup_r)
        if failure is not None or not (isinstance(first, dict) and first.get("done", {}).get("ready")):
            self._end(session)
            raise SessionError(failure or "the session's kernel did not start")
        for fd in (out_r, err_r):
            os.set_blocking(fd, False)
        self.live[session.sid] = session

    def _judge(self, msg: dict[str, Any]) -> dict[str, Any]:
        """End a Python episode by handing its kernel to the worker's judge, whose job (the tests) the
        orchestrator wrote on the judge channel; the judge's result goes to the result channel."""
        import socket

        s = self.live.get(msg["sid"])
        if s is None:
            raise SessionError(f"no session {msg['sid']!r}")
        if s.step is not None or s.kind != "python":
            raise SessionError("only an idle python session is judged by tests")
        judge_sock = self.zygote.judge_sock
        if judge_sock is None:
            raise SessionError("the worker's judge was stopped")
        wire.write_frame(s.req_w, {"serve": True})
        socket.send_fds(judge_sock, [int(s.pid).to_bytes(8, "big")], [s.req_w, s.resp.fd])
        said = b""
        if select.select([judge_sock], [], [], float(msg.get("guard") or 60.0))[0]:
            said = judge_sock.recv(1)
        self._end(s)
        if not said:
            # the judge is stuck on this kernel: the worker cannot go on with it
            raise SessionError("the judge did not finish in time")
        return {"ok": True}

    def _start_step(self, msg: dict[str, Any]) -> None:
        s = self.live.get(msg["sid"])
        if s is None:
            raise SessionError(f"no session {msg['sid']!r} (closed, expired or ended at a limit)")
        if s.step is not None:
            raise SessionError("a step is already running in this session")
        now = time.monotonic()
        request = msg.get("request") or {"code": msg.get("code", "")}
        s.step = {"rid": msg["rid"], "started": now, "cpu_at_start": _tree_cpu(s.pid),
                  "cpu": float(msg.get("cpu") or 10.0), "wall_deadline": now + float(msg.get("wall") or 30.0),
                  "out": bytearray(), "err": bytearray(), "cut": False, "interrupted": None, "limit": None}
        try:
            wire.write_frame(s.req_w, request)
        except OSError:
            self._finish(s, {}, alive=False, limit=None)

    def _progress(self, s: _Live, ready: list[int]) -> None:
        step = s.step
        assert step is not None
        for fd, key in ((s.out_r, "out"), (s.err_r, "err")):
            if fd in ready:
                self._drain(s, fd, key)
        if s.resp.fd in ready:
            try:
                s.resp.fill()
                reply = s.resp.pending()
            except (wire.WireError, OSError):
                reply = None
                self._finish(s, {}, alive=False, limit=step["limit"])
                return
            if reply is not None:
                self._drain(s, s.out_r, "out")
                self._drain(s, s.err_r, "err")
                self._finish(s, reply.get("done") if isinstance(reply, dict) else {}, alive=True, limit=step["limit"])
                return
        now = time.monotonic()
        # a step's processes use at most its wall time in CPU on each of the machine's CPUs (a program may widen
        # the affinity it inherited): /proc is read only once the limit could have been reached
        may_matter = (now - step["started"]) * _MACHINE_CPUS >= min(step["cpu"], s.episode_cpu - s.cpu_used)
        used = _tree_cpu(s.pid) - step["cpu_at_start"] if may_matter else 0.0
        over = ("output" if step["cut"] else "time" if now >= step["wall_deadline"] else
                "cpu" if used > step["cpu"] else "episode" if s.cpu_used + used > s.episode_cpu else None)
        if over is None:
            return
        if step["interrupted"] is None and s.kind == "python" and over != "episode":
            step["interrupted"], step["limit"] = now, over
            step["wall_deadline"] = now + INTERRUPT_GRACE
            step["cpu"] = used + INTERRUPT_GRACE
            _signal(s.pid, signal.SIGINT)
            return
        self._finish(s, {}, alive=False, limit=step["limit"] or over)

    def _drain(self, s: _Live, fd: int, key: str) -> None:
        step = s.step
        assert step is not None
        while True:
            try:
                chunk = os.read(fd, 65536)
            except (BlockingIOError, OSError):
                return
            if not chunk:
                return
            if len(step["out"]) + len(step["err"]) + len(chunk) > OUTPUT_CAP:
                step[key] += chunk[:max(0, OUTPUT_CAP - len(step["out"]) - len(step["err"]))]
                step["cut"] = True
                return
            step[key] += chunk

    def _finish(self, s: _Live, done: dict[str, Any] | None, alive: bool, limit: str | None) -> None:
        step = s.step
        assert step is not None
        used = max(0.0, _tree_cpu(s.pid) - step["cpu_at_start"]) if alive else 0.0
        s.cpu_used += used
        s.step, s.last_used = None, time.monotonic()
        if not alive:
            self._end(s)
        self._answer(step["rid"], {"done": done or {}, "stdout": step["out"].decode(errors="replace"),
                                   "stderr": step["err"].decode(errors="replace"), "cut": step["cut"],
                                   "limit": limit, "alive": alive, "seconds": round(time.monotonic() - step["started"], 6),
                                   "cpu_seconds": round(used, 6)})

    def _expire(self) -> None:
        now = time.monotonic()
        for s in list(self.live.values()):
            if s.step is None and now - s.last_used > s.idle_seconds:
                self._end(s)
                wire.write_frame(1, {"expired": s.sid})  # the pool stops counting it

    def _end(self, s: _Live) -> None:
        """Kill the session's PID namespace (its processes, and so its private files) and reap it."""
        _signal(s.pid, signal.SIGKILL)
        try:
            os.waitpid(s.pid, 0)
        except ChildProcessError:
            pass
        for fd in (s.req_w, s.resp.fd, s.out_r, s.err_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self.live.pop(s.sid, None)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _tree_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and every process below it (with what each has reaped), from /proc."""
    total, todo, ticks = 0.0, [pid], os.sysconf("SC_CLK_TCK")
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15]) / ticks
            with open(f"/proc/{p}/task/{p}/children", "rb") as fh:
                todo.extend(int(c) for c in fh.read().split())
        except (OSError, ValueError, IndexError):
            continue
    return total


# -- the orchestrator's side --------------------------------------------------------------------------------------


class SessionPool:
    """Sessions spread over ``workers`` sandbox workers (started in sessions mode).

    Thread-safe. Each worker's sessions share its CPU; a session lives on one
    worker. ``max_sessions`` caps live sessions (SessionError past it).
    """

    def __init__(self, workers: int = 2, isolation: str = "full", max_sessions: int = 64) -> None:
        from .pool import Worker

        cpus = sorted(os.sched_getaffinity(0))
        self.max_sessions = max_sessions
        self._workers: list[Any] = []
        self._pending: dict[int, Future[dict[str, Any]]] = {}
        self._where: dict[str, int] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._judging = [threading.Lock() for _ in range(workers)]  # one judge per worker: one judging at a time
        self._closed = False
        try:
            for i in range(workers):
                w = Worker(isolation, cpu=cpus[i % len(cpus)], mode="sessions")  # type: ignore[arg-type]
                w.start()
                os.set_blocking(w.control_fd, True)
                self._workers.append(w)
                threading.Thread(target=self._read, args=(w,), daemon=True, name=f"codeloop-sessions-{i}").start()
        except Exception:
            self.close()
            raise

    def _read(self, worker: Any) -> None:
        while True:
            try:
                msg = worker.report.frame()
                if msg is None:
                    ready = select.select([worker.report.fd], [], [], 1.0)[0]
                    if ready and not worker.report.feed():
                        break
                    continue
            except Exception:  # noqa: BLE001 - the worker is gone: fail what waits on it
                break
            with self._lock:
                if isinstance(msg, dict) and "expired" in msg:
                    self._where.pop(msg["expired"], None)
                    continue
                rid = msg.get("rid") if isinstance(msg, dict) else None
                fut = self._pending.pop(rid, None) if isinstance(rid, int) else None
            if fut is not None:
                fut.set_result(msg)
        with self._lock:
            waiting = list(self._pending.items())
        for rid, fut in waiting:
            if not fut.done():
                fut.set_exception(SessionError("the session worker is gone"))

    def _send(self, index: int, message: dict[str, Any]) -> Future[dict[str, Any]]:
        fut: Future[dict[str, Any]] = Future()
        rid = next(self._ids)
        with self._lock:
            if self._closed:
                raise SessionError("the session pool is closed")
            self._pending[rid] = fut
            wire.write_frame(self._workers[index].control_fd, dict(message, rid=rid))
        return fut

    def open(self, kind: str, *, limits: Limits | None = None, files: dict[str, str] | None = None,
             setup: dict[str, Any] | None = None, episode_cpu: float | None = None,
             idle_seconds: float = 300.0, timeout: float = 30.0) -> "Session":
        """A new session of ``kind`` (python, bash or sql). ``files`` (relative name to base64) are placed
        in its working folder; ``setup``: the kind's own (``schema`` for sql). Raises SessionError."""
        if kind not in KINDS:
            raise SessionError(f"unknown session kind {kind!r}; known: {', '.join(KINDS)}")
        limits = limits or Limits(time_limit=600.0, memory_mb=1024)
        with self._lock:
            if len(self._where) >= self.max_sessions:
                raise SessionError(f"{self.max_sessions} sessions are live: close one first")
            sid = f"s{next(self._ids)}"
            index = min(range(len(self._workers)), key=lambda i: sum(1 for w in self._where.values() if w == i))
            self._where[sid] = index
        reply = self._send(index, {"op": "open", "sid": sid, "kind": kind, "limits": limits.to_wire(),
                                   "files": files, "setup": setup, "episode_cpu": episode_cpu,
                                   "idle": idle_seconds}).result(timeout)
        if "failed" in reply:
            with self._lock:
                self._where.pop(sid, None)
            raise SessionError(f"the session could not start: {reply['failed']}")
        return Session(self, sid, kind, index)

    def _step(self, session: "Session", request: dict[str, Any], cpu: float, wall: float) -> StepResult:
        reply = self._send(session.worker, {"op": "step", "sid": session.sid, "request": request, "cpu": cpu,
                                            "wall": wall}).result(wall + INTERRUPT_GRACE + 30.0)
        if "failed" in reply:
            if "no session" in reply["failed"]:
                session.closed = True
                with self._lock:
                    self._where.pop(session.sid, None)
            raise SessionError(reply["failed"])
        result = StepResult.from_wire(reply)
        if not result.alive:
            with self._lock:
                self._where.pop(session.sid, None)
        return result

    def judge(self, session: "Session", judge_job: Mapping[str, Any], guard: float = 60.0) -> dict[str, Any]:
        """End a python ``session`` by running ``judge_job`` (the judge's job: the tests; see
        :func:`codeloop.verify.engine.fixed_judge_job`) in its worker's judge against the session's final
        state; the judge's result. Raises SessionError."""
        worker = self._workers[session.worker]
        with self._judging[session.worker]:
            os.set_blocking(worker.judge_fd, True)
            wire.write_frame(worker.judge_fd, judge_job)
            reply = self._send(session.worker, {"op": "judge", "sid": session.sid, "guard": guard}).result(guard + 30)
            with self._lock:
                self._where.pop(session.sid, None)
            session.closed = True
            if "failed" in reply:
                raise SessionError(reply["failed"])
            deadline = time.monotonic() + 30.0
            while (result := worker.result.frame()) is None:
                if time.monotonic() > deadline:
                    raise SessionError("the judge's result did not come")
                if select.select([worker.result.fd], [], [], 1.0)[0] and not worker.result.feed():
                    raise SessionError("the session worker is gone")
            return result

    def _close(self, session: "Session") -> None:
        with self._lock:
            known = self._where.pop(session.sid, None) is not None
        if known and not self._closed:
            self._send(session.worker, {"op": "close", "sid": session.sid}).result(30.0)

    def live(self) -> int:
        with self._lock:
            return len(self._where)

    def close(self) -> None:
        with self._lock:
            self._closed = True
        for w in self._workers:
            w.kill(graceful=True)

    def __enter__(self) -> "SessionPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Session:
    """One live session: :meth:`step` runs code in it; :meth:`close` ends it (its files and processes go)."""

    def __init__(self, pool: SessionPool, sid: str, kind: str, worker: int) -> None:
        self.pool, self.sid, self.kind, self.worker = pool, sid, kind, worker
        self.closed = False

    def step(self, code: str, cpu: float = 10.0, wall: float = 30.0) -> StepResult:
        """Run ``code`` (a Python cell, a Bash script, SQL) with at most ``cpu`` CPU seconds and ``wall``
        wall seconds. Raises SessionError when the session is gone."""
        if self.closed:
            raise SessionError("the session is closed")
        result = self.pool._step(self, {"code": code}, cpu, wall)
        self.closed = not result.alive
        return result

    def snapshot(self) -> dict[str, str]:
        """The working folder's files and their SHA-256 (the Bash reward compares these)."""
        return self.pool._step(self, {"snapshot": True}, 10.0, 30.0).files or {}

    def query(self, sql: str) -> StepResult:
        """Run ``sql`` for its rows (an SQL session; the SQL reward's gold side)."""
        return self.pool._step(self, {"query": sql}, 10.0, 30.0)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.pool._close(self)

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["KINDS", "Session", "SessionError", "SessionHost", "SessionPool", "StepResult"]
