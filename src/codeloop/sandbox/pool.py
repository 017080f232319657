"""The orchestrator's side of the sandbox: a pool of warm workers.

Each worker is one process tree (see :mod:`codeloop.sandbox.worker`) that pays
for namespaces and interpreter start-up once, then runs jobs one at a time.
:meth:`SandboxPool.submit` queues a job and returns a future; one dispatcher
thread per worker keeps ``depth`` jobs written ahead to its worker, so the
worker starts the next sample the moment it has reported the last one,
without waiting for the orchestrator.

A worker that breaks (crashes, hangs past its guard, answers nonsense) is
killed and replaced: the job it was running fails with :class:`InfraError`
(the caller may retry: an evaluator failure is never turned into a verdict
against the program), and the jobs queued behind it go to the next worker
untouched.
"""

from __future__ import annotations

import collections
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from typing import Any, Literal

from . import wire
from .environments import Environment
from .headers import headers_root
from .limits import Limits
from .protocol import Hello, Job, Report

WORKER_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
# Numerical libraries start thread pools on import; a worker forks samples from a warm process and caps their
# processes, so one thread each.
ENVIRONMENT_WORKER_ENV = dict(WORKER_ENV, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
                              NUMEXPR_NUM_THREADS="1")
START_TIMEOUT = 60.0
HANG_MARGIN = 10.0  # seconds past a job's own guard before the worker counts as hung
DEFAULT_JUDGE = "codeloop.verify.judge:handle"
Outcome = tuple[Report, Any]  # the zygote's report, and the judge's result (None when no judge took part)

__all__ = ["InfraError", "IsolationUnavailable", "Limits", "SandboxPool", "Worker", "Outcome", "DEFAULT_JUDGE"]


class InfraError(Exception):
    """The evaluator itself failed (a worker died, hung or could not start)."""


class IsolationUnavailable(InfraError):
    """Namespaces cannot be created on this machine (the kernel's reason in the message)."""


class _Channel:
    """Incremental frame reader over a non-blocking pipe."""

    def __init__(self, fd: int) -> None:
        self.fd, self.buf = fd, bytearray()
        os.set_blocking(fd, False)

    def feed(self) -> bool:
        """Read what is there; False at end of file."""
        try:
            chunk = os.read(self.fd, wire.READ_CHUNK)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        self.buf += chunk
        return True

    def frame(self) -> Any:
        """The next complete frame, or None; InfraError for bytes that are not a frame."""
        if len(self.buf) < 4:
            return None
        size = int.from_bytes(self.buf[:4], "big")
        if len(self.buf) < 4 + size:
            return None
        body = bytes(self.buf[4:4 + size])
        del self.buf[:4 + size]
        try:
            return json.loads(body)
        except ValueError as exc:
            raise InfraError(f"worker sent a malformed frame: {exc}") from exc


class _Item:
    """A queued job: its frames, its future, and when it began to run."""

    __slots__ = ("job", "judge_job", "future", "frames", "started", "report", "result", "running")

    def __init__(self, job: Job, judge_job: Any, future: Future) -> None:
        self.job, self.judge_job, self.future = job, judge_job, future
        self.frames: tuple[bytes, bytes | None] | None = None
        self.started = 0.0
        self.report: Any = None
        self.result: Any = None
        self.running = False  # its future was set running (a job given back by a broken worker)

    def claim(self) -> bool:
        """Whether the job is still wanted, setting its future running (once)."""
        if self.running:
            return True
        self.running = self.future.set_running_or_notify_cancel()
        return self.running

    @property
    def wants_result(self) -> bool:
        return self.job["kind"] != "measure"

    def encoded(self) -> tuple[bytes, bytes | None]:
        if self.frames is None:
            self.frames = (wire.pack(self.job), wire.pack(self.judge_job) if self.wants_result else None)
        return self.frames


class Worker:
    """One sandbox worker process tree and the pipes to it.

    Driven by one dispatcher thread; not thread-safe.
    """

    def __init__(self, isolation: Literal["full", "weak"] = "full", tmpfs_mb: int = 64, cpu: int | None = None,
                 judge: str = DEFAULT_JUDGE, mode: Literal["jobs", "sessions"] = "jobs",
                 environment: Environment | None = None) -> None:
        if isolation not in ("full", "weak"):
            raise ValueError("isolation is 'full' or 'weak'")
        self.isolation, self.cpu, self.tmpfs_mb, self.judge = isolation, cpu, tmpfs_mb, judge
        self.mode = mode  # "sessions": the worker serves interactive sessions (sandbox/sessions.py)
        self.environment = environment  # packages on sys.path, warm, bound read-only (sandbox/environments.py)
        self.proc: subprocess.Popen | None = None
        self.info: dict[str, Any] = {}
        self.jobs_run = 0

    def start(self) -> None:
        """Start the worker and wait for its hello; raises IsolationUnavailable or InfraError."""
        judge_r, judge_w = os.pipe()
        result_r, result_w = os.pipe()
        binds = [headers_root()]  # precompiled headers, read-only (sandbox/headers.py)
        config: dict[str, Any] = {"judge_in": judge_r, "result_out": result_w, "isolation": self.isolation,
                                  "tmpfs_mb": self.tmpfs_mb, "cpu": self.cpu, "judge": self.judge, "mode": self.mode,
                                  "extra_binds": binds}
        if self.environment is not None:
            config["site"], config["warm"] = self.environment.site, list(self.environment.warm)
            binds.append(self.environment.site)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-c", "from codeloop.sandbox.worker import main; main()", json.dumps(config)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                pass_fds=(judge_r, result_w), env=WORKER_ENV if self.environment is None else ENVIRONMENT_WORKER_ENV,
                start_new_session=True, cwd="/",
            )
        finally:
            os.close(judge_r)
            os.close(result_w)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.control_fd, self.judge_fd = self.proc.stdin.fileno(), judge_w
        os.set_blocking(self.control_fd, False)
        os.set_blocking(self.judge_fd, False)
        self.report = _Channel(self.proc.stdout.fileno())
        self.result = _Channel(result_r)
        self.out = {self.control_fd: bytearray(), self.judge_fd: bytearray()}
        hello = self._hello(time.monotonic() + START_TIMEOUT)
        if "error" in hello:
            self.kill()
            raise IsolationUnavailable(hello["error"])
        if "failed" in hello:
            self.kill()
            raise InfraError(hello["failed"])
        self.info = hello.get("ready", {})

    def _hello(self, deadline: float) -> Hello:
        while True:
            msg = self.report.frame()
            if msg is not None:
                return msg
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise InfraError("the worker did not start in time")
            if select.select([self.report.fd], [], [], left)[0] and not self.report.feed():
                self.kill()
                raise InfraError("the worker exited while starting")

    def queue(self, item: _Item) -> None:
        """Add a job's frames to what is being written to the worker."""
        control, judge = item.encoded()
        self.out[self.control_fd] += control
        if judge is not None:
            self.out[self.judge_fd] += judge
        self.flush()

    def flush(self) -> None:
        """Write what the pipes take now, without blocking; InfraError if the worker is gone."""
        for fd, pending in self.out.items():
            while pending:
                try:
                    n = os.write(fd, pending)
                except BlockingIOError:
                    break
                except OSError as exc:
                    raise InfraError(f"the worker is gone: {exc}") from exc
                del pending[:n]

    def writing(self) -> list[int]:
        return [fd for fd, pending in self.out.items() if pending]

    def kill(self, graceful: bool = False) -> None:
        """End the worker tree and reap it.

        Graceful: close the control channel and let the zygote finish. Else
        (or if that takes too long) SIGTERM, on which the boot process kills
        the zygote and reaps it, then SIGKILL as a last resort. Killing the
        zygote through its parent keeps zombies from reaching the host's init.
        """
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        try:
            if proc.stdin is not None:
                proc.stdin.close()
        except OSError:
            pass
        steps = ([None] if graceful else []) + [signal.SIGTERM, signal.SIGKILL]
        for sig in steps:
            if sig is not None:
                try:
                    proc.send_signal(sig)
                except ProcessLookupError:
                    pass
            try:
                proc.wait(timeout=2.0)
                break
            except subprocess.TimeoutExpired:
                continue
        proc.wait()
        for fd in (self.judge_fd, self.result.fd):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            if proc.stdout is not None:
                proc.stdout.close()
        except OSError:
            pass


class SandboxPool:
    """A fixed number of warm workers, fed from one queue by dispatcher threads.

    ``isolation="full"`` requires user namespaces and raises
    IsolationUnavailable (with the kernel's reason) when they cannot be made;
    ``"weak"`` runs with separate processes and resource limits only.
    ``judge`` names the judge every worker runs (``module:function``, see
    :class:`~codeloop.sandbox.protocol.JudgeEntry`). ``depth``: jobs written
    ahead to each worker (1 disables pipelining). Workers start at once, in
    parallel; :meth:`check` waits for them. Thread-safe; :meth:`close` ends
    every worker.
    """

    def __init__(self, workers: int = 2, isolation: Literal["full", "weak"] = "full", tmpfs_mb: int = 64,
                 pin: bool = True, judge: str = DEFAULT_JUDGE, depth: int = 2,
                 environment: Environment | None = None) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        if depth < 1:
            raise ValueError("depth must be at least 1")
        self.size, self.isolation, self.tmpfs_mb, self.pin, self.judge = workers, isolation, tmpfs_mb, pin, judge
        self.depth, self.environment = depth, environment
        self.restarts = 0
        self._queue: collections.deque[_Item] = collections.deque()
        self._lock = threading.Condition()
        self._closed = False
        self._fatal: BaseException | None = None
        self._started = threading.Event()
        self._starting = workers
        self._info: dict[str, Any] = {}
        cpus = sorted(os.sched_getaffinity(0))
        self._threads = []
        self._wake: list[tuple[int, int]] = []
        self._hungry = [False] * workers
        self._live: list[Worker | None] = [None] * workers
        for slot in range(workers):
            self._wake.append(os.pipe())
            cpu = cpus[slot % len(cpus)] if pin else None
            t = threading.Thread(target=self._drive, args=(slot, cpu), name=f"codeloop-worker-{slot}", daemon=True)
            self._threads.append(t)
            t.start()

    # -- the public side -----------------------------------------------------
    def check(self) -> dict[str, Any]:
        """Wait until the workers have started; their facts. Raises
        IsolationUnavailable or InfraError if they cannot start."""
        self._started.wait()
        if self._fatal is not None:
            raise self._fatal
        return dict(self._info)

    def submit(self, job: Job, judge_job: Any = None) -> Future[Outcome]:
        """Queue a job; the future gives (the zygote's report, the judge's
        result), or raises InfraError. Cancel it to drop the job if it has
        not started. ``judge_job`` goes to the judge (never to the zygote):
        JSON-able data, or its JSON text already encoded as bytes."""
        future: Future[Outcome] = Future()
        item = _Item(job, judge_job, future)
        with self._lock:
            if self._closed:
                raise InfraError("the pool is closed")
            if self._fatal is not None:
                future.set_exception(self._fatal)
                return future
            self._queue.append(item)
            self._lock.notify()
            self._poke_hungry()
        return future

    def run(self, job: Job, judge_job: Any = None) -> Outcome:
        """Run one job and wait for it (see :meth:`submit`)."""
        return self.submit(job, judge_job).result()

    def close(self) -> None:
        """End every worker; jobs not yet started fail with InfraError."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            pending, self._queue = list(self._queue), collections.deque()
            self._lock.notify_all()
            for slot in range(self.size):
                self._poke(slot)
        for item in pending:
            if item.claim():
                item.future.set_exception(InfraError("the pool was closed"))
        for t in self._threads:
            t.join(timeout=30)
        for r, w in self._wake:
            os.close(r)
            os.close(w)

    def __enter__(self) -> "SandboxPool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- the dispatchers -----------------------------------------------------
    def _poke(self, slot: int) -> None:
        try:
            os.write(self._wake[slot][1], b"!")
        except OSError:
            pass

    def _poke_hungry(self) -> None:
        # called with the lock held
        for slot, hungry in enumerate(self._hungry):
            if hungry:
                self._hungry[slot] = False
                self._poke(slot)

    def _take(self, slot: int, wait: bool) -> _Item | None:
        """The next job not cancelled; with ``wait``, block until there is one (None once closed)."""
        with self._lock:
            while True:
                while self._queue:
                    item = self._queue.popleft()
                    if item.claim():
                        return item
                if self._closed or not wait:
                    self._hungry[slot] = not self._closed
                    return None
                self._lock.wait()

    def _give_back(self, items: list[_Item]) -> None:
        """Jobs a failed worker had not started: to the front of the queue, in order."""
        with self._lock:
            closed = self._closed
            if not closed:
                for item in reversed(items):
                    item.started = 0.0
                    item.report = item.result = None
                    self._queue.appendleft(item)
                self._lock.notify_all()
        if closed:
            for item in items:
                item.future.set_exception(InfraError("the pool was closed"))

    def _spawn(self, slot: int, cpu: int | None) -> Worker:
        worker = Worker(self.isolation, self.tmpfs_mb, cpu, self.judge, environment=self.environment)
        worker.start()
        self._live[slot] = worker
        return worker

    def worker_pids(self) -> list[int]:
        """The pid of each live worker's boot process (for measuring where time goes)."""
        return [w.proc.pid for w in self._live if w is not None and w.proc is not None]

    def _drive(self, slot: int, cpu: int | None) -> None:
        """One worker's dispatcher: start it, keep it fed, read its reports."""
        worker: Worker | None = None
        try:
            worker = self._spawn(slot, cpu)
            with self._lock:
                self._info = self._info or dict(worker.info)
        except InfraError as exc:
            with self._lock:
                self._fatal = self._fatal or exc
        finally:
            with self._lock:
                self._starting -= 1
                if self._starting == 0 or self._fatal is not None:
                    self._started.set()
        if worker is None:
            self._fail_queue()
            return
        inflight: collections.deque[_Item] = collections.deque()
        wake_r = self._wake[slot][0]
        os.set_blocking(wake_r, False)
        try:
            while True:
                if worker is None:
                    try:
                        worker = self._spawn(slot, cpu)
                    except InfraError as exc:
                        # cannot replace it: the next job fails (its caller may retry), then try again
                        item = self._take(slot, wait=True)
                        if item is None:
                            return
                        item.future.set_exception(exc)
                        time.sleep(0.5)
                        continue
                while len(inflight) < self.depth:
                    item = self._take(slot, wait=not inflight)
                    if item is None:
                        break
                    try:
                        worker.queue(item)
                    except InfraError:
                        inflight.append(item)
                        break
                    inflight.append(item)
                if not inflight:
                    return  # closed
                if not inflight[0].started:
                    inflight[0].started = time.monotonic()
                broken = self._step(worker, inflight, wake_r)
                if broken:
                    self.restarts += 1
                    worker.kill()
                    worker = None
        finally:
            for item in inflight:
                if not item.future.done():
                    item.future.set_exception(InfraError("the pool was closed"))
            if worker is not None:
                worker.kill(graceful=True)

    def _fail_queue(self) -> None:
        with self._lock:
            items, self._queue = list(self._queue), collections.deque()
        for item in items:
            if item.claim():
                item.future.set_exception(self._fatal or InfraError("no worker could start"))

    def _step(self, worker: Worker, inflight: collections.deque[_Item], wake_r: int) -> bool:
        """Wait for progress on the head job; complete what is done. Returns
        whether the worker broke (the head job then failed, the rest went back
        to the queue)."""
        head = inflight[0]
        deadline = head.started + float(head.job["guard"]) + HANG_MARGIN
        left = deadline - time.monotonic()
        try:
            if left <= 0:
                raise InfraError("the worker hung past its guard time")
            readable, writable, _ = select.select([worker.report.fd, worker.result.fd, wake_r],
                                                  worker.writing(), [], left)
            if wake_r in readable:
                try:
                    os.read(wake_r, 64)
                except BlockingIOError:
                    pass
            if writable:
                worker.flush()
            for channel in (worker.report, worker.result):
                if channel.fd in readable and not channel.feed():
                    raise InfraError("the worker exited in the middle of a job")
            while inflight:
                head = inflight[0]
                if head.report is None:
                    head.report = worker.report.frame()
                    if head.report is not None:
                        self._check_report(head.report)
                if head.report is not None and head.report.get("guard_hit"):
                    # The judge was stopped mid-job: its channels are out of step.
                    inflight.popleft()
                    head.future.set_result((head.report, None))
                    self._give_back(list(inflight))
                    inflight.clear()
                    return True
                if head.wants_result and head.result is None:
                    head.result = worker.result.frame()
                if head.report is None or (head.wants_result and head.result is None):
                    break
                inflight.popleft()
                worker.jobs_run += 1
                head.future.set_result((head.report, head.result))
                if inflight:
                    inflight[0].started = time.monotonic()
            return False
        except InfraError as exc:
            head = inflight.popleft()
            head.future.set_exception(exc)
            self._give_back(list(inflight))
            inflight.clear()
            return True

    @staticmethod
    def _check_report(report: Any) -> None:
        if not isinstance(report, dict):
            raise InfraError("the worker sent a report that is not an object")
        if "worker_error" in report:
            raise InfraError(f"worker error: {report['worker_error']}")
        if report.get("judge_lost"):
            raise InfraError("the judge process died")
        if report.get("setup_failed"):
            raise InfraError(f"the candidate could not be set up: {report['setup_failed']}")

