"""The orchestrator's side of the sandbox: a pool of warm workers.

Each worker is one process tree (see :mod:`codeloop.sandbox.worker`) that pays
for namespaces and interpreter start-up once, then runs samples one at a time.
:class:`SandboxPool` is thread-safe: call :meth:`SandboxPool.run` from as many
threads as there are workers. A worker that breaks (crashes, hangs past its
guard, answers nonsense) is killed and replaced, and the call raises
:class:`InfraError` so the caller can retry: an evaluator failure is never
turned into a verdict against the program.
"""

from __future__ import annotations

import json
import os
import queue
import selectors
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from . import wire

WORKER_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
START_TIMEOUT = 60.0


class InfraError(Exception):
    """The evaluator itself failed (a worker died, hung or could not start)."""


class IsolationUnavailable(InfraError):
    """Namespaces cannot be created on this machine."""


@dataclass(frozen=True)
class Limits:
    """Resource limits for one sample's candidate program.

    ``time_limit`` is the wall-clock budget for the tests after the program
    has loaded; ``load_limit`` the budget for loading it (module-level code).
    Memory is an address-space limit per process; ``processes`` caps the
    candidate's processes and threads; ``output_bytes`` caps stdout plus
    stderr (the program is killed past it, status ``output_limit``).
    """

    time_limit: float = 3.0
    load_limit: float = 2.0
    memory_mb: int = 1024
    processes: int = 64
    file_mb: int = 64
    open_files: int = 128
    output_bytes: int = 1 << 20
    tmpfs_mb: int = 64

    @property
    def cpu_seconds(self) -> float:
        return self.time_limit + self.load_limit + 1.0

    def to_wire(self) -> dict[str, Any]:
        d = asdict(self)
        d["cpu_seconds"] = self.cpu_seconds
        return d


class _Reader:
    """Incremental frame reader over a non-blocking pipe."""

    def __init__(self, fd: int) -> None:
        self.fd, self.buf = fd, bytearray()
        os.set_blocking(fd, False)

    def feed(self) -> bool:
        """Read what is there; returns False at end of file."""
        try:
            chunk = os.read(self.fd, 1 << 20)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        self.buf += chunk
        return True

    def frame(self) -> Any:
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


class Worker:
    """One sandbox worker process tree."""

    def __init__(self, isolation: str = "full", tmpfs_mb: int = 64, cpu: int | None = None) -> None:
        if isolation not in ("full", "weak"):
            raise ValueError("isolation is 'full' or 'weak'")
        self.isolation = isolation
        self.cpu = cpu
        self.tmpfs_mb = tmpfs_mb
        self.proc: subprocess.Popen | None = None
        self.info: dict[str, Any] = {}
        self.samples_run = 0
        self.broken = False

    def start(self) -> None:
        """Start the worker and wait for its hello; raises IsolationUnavailable or InfraError."""
        judge_r, judge_w = os.pipe()
        verdict_r, verdict_w = os.pipe()
        config = {"judge_in": judge_r, "verdict_out": verdict_w, "isolation": self.isolation,
                  "tmpfs_mb": self.tmpfs_mb, "cpu": self.cpu}
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-c", "from codeloop.sandbox.worker import main; main()", json.dumps(config)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                pass_fds=(judge_r, verdict_w), env=WORKER_ENV, start_new_session=True, cwd="/",
            )
        finally:
            os.close(judge_r)
            os.close(verdict_w)
        self.judge_w, self.verdict_r = judge_w, verdict_r
        self.report = _Reader(self.proc.stdout.fileno())
        self.verdict = _Reader(verdict_r)
        hello = self._read_one(self.report, time.monotonic() + START_TIMEOUT)
        if "error" in hello:
            self.kill()
            raise IsolationUnavailable(hello["error"])
        self.info = hello.get("ready", {})

    def _read_one(self, reader: _Reader, deadline: float) -> dict[str, Any]:
        sel = selectors.DefaultSelector()
        sel.register(reader.fd, selectors.EVENT_READ)
        try:
            while True:
                msg = reader.frame()
                if msg is not None:
                    return msg
                left = deadline - time.monotonic()
                if left <= 0:
                    raise InfraError("the worker did not answer in time")
                if sel.select(left) and not reader.feed():
                    raise InfraError("the worker exited")
        finally:
            sel.close()

    def run(self, control: dict[str, Any], judge_job: dict[str, Any] | None, guard: float) -> tuple[dict, dict]:
        """Run one sample; returns (the worker's report, the judge's verdict).

        With ``judge_job`` None (a measuring run) no judge takes part and the
        verdict is empty. Raises InfraError if the worker fails; the worker is
        then unusable.
        """
        assert self.proc is not None
        deadline = time.monotonic() + guard + 10.0
        try:
            wire.write_frame(self.proc.stdin.fileno(), control)
            if judge_job is not None:
                wire.write_frame(self.judge_w, judge_job)
        except (wire.PeerClosed, OSError) as exc:
            raise InfraError(f"the worker is gone: {exc}") from exc
        sel = selectors.DefaultSelector()
        readers = {self.report.fd: self.report}
        if judge_job is not None:
            readers[self.verdict.fd] = self.verdict
        got: dict[int, dict] = {}
        for fd in readers:
            sel.register(fd, selectors.EVENT_READ)
        try:
            while len(got) < len(readers):
                for fd, reader in readers.items():
                    if fd not in got:
                        msg = reader.frame()
                        if msg is not None:
                            got[fd] = msg
                if len(got) == len(readers):
                    break
                report = got.get(self.report.fd)
                if report is not None:
                    if "worker_error" in report:
                        raise InfraError(f"worker error: {report['worker_error']}")
                    if report.get("judge_lost"):
                        raise InfraError("the judge process died")
                    if report.get("guard_hit"):
                        # The judge was stopped mid-sample, so the verdict channel may
                        # hold a late frame: this worker must not run another sample.
                        self.broken = True
                        return report, {"status": "timeout", "failure": {
                            "message": "the sample ran past its guard time and was stopped"}}
                left = deadline - time.monotonic()
                if left <= 0:
                    raise InfraError("the worker hung past its guard time")
                for key, _ in sel.select(left):
                    if not readers[key.fd].feed() and key.fd not in got and readers[key.fd].frame() is None:
                        raise InfraError("the worker exited in the middle of a sample")
        finally:
            sel.close()
        self.samples_run += 1
        return got[self.report.fd], got.get(self.verdict.fd, {})

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
        for stream in (proc.stdin,):
            try:
                stream.close()
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
        for fd in (self.judge_w, self.verdict_r):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            proc.stdout.close()
        except OSError:
            pass


class SandboxPool:
    """A fixed number of warm workers shared by any number of threads.

    ``isolation="full"`` requires user namespaces and raises
    IsolationUnavailable (with the kernel's reason) when they cannot be made;
    ``"weak"`` runs with separate processes and resource limits only.
    Workers start lazily on first use; :meth:`close` ends them all.
    """

    def __init__(self, workers: int = 2, isolation: str = "full", tmpfs_mb: int = 64, pin: bool = True) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.size, self.isolation, self.tmpfs_mb, self.pin = workers, isolation, tmpfs_mb, pin
        self._idle: queue.Queue[Worker | None] = queue.Queue()
        for _ in range(workers):
            self._idle.put(None)
        self._all: list[Worker] = []
        self._lock = threading.Lock()
        self.restarts = 0

    def check(self) -> dict[str, Any]:
        """Start one worker now, so that a missing kernel feature shows up front."""
        worker = self._idle.get()
        try:
            worker = worker or self._spawn()
        finally:
            self._idle.put(worker)
        return dict(worker.info) if worker else {}

    def _spawn(self) -> Worker:
        # Each worker's judge and candidate share one CPU: a call from one to the
        # other is then a context switch rather than a cross-CPU wake-up, which
        # makes round trips several times faster.
        with self._lock:
            cpus = sorted(os.sched_getaffinity(0))
            used = [w.cpu for w in self._all]
            cpu = min(cpus, key=lambda c: (used.count(c), c)) if self.pin else None
        worker = Worker(self.isolation, self.tmpfs_mb, cpu)
        worker.start()
        with self._lock:
            self._all.append(worker)
        return worker

    def run(self, control: dict[str, Any], judge_job: dict[str, Any] | None, guard: float) -> tuple[dict, dict]:
        """Run one sample on an idle worker (blocking until one is free)."""
        worker = self._idle.get()
        try:
            if worker is None:
                worker = self._spawn()
            result = worker.run(control, judge_job, guard)
            if worker.broken:
                self._retire(worker)
                worker = None
            return result
        except InfraError:
            if worker is not None:
                self._retire(worker)
            worker = None
            raise
        finally:
            self._idle.put(worker)

    def _retire(self, worker: Worker) -> None:
        worker.kill()
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)
            self.restarts += 1

    def close(self) -> None:
        with self._lock:
            workers, self._all = self._all, []
        for worker in workers:
            if worker.proc is not None:
                worker.proc.stdin.close()  # all zygotes wind down in parallel
        for worker in workers:
            worker.kill(graceful=True)

    def __enter__(self) -> "SandboxPool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
