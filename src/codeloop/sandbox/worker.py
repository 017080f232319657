"""A sandbox worker: one long-lived process tree that runs jobs one at a time.

Started by :mod:`codeloop.sandbox.pool` as ``python -I -c ...``. The boot
process imports the judge it was given (``module:function``, see
:class:`~codeloop.sandbox.protocol.JudgeEntry`) while the installed packages
are still visible, enters new user, PID, mount, network, IPC and UTS
namespaces, builds the sandbox root, and becomes the parent of the *zygote*: a
warm interpreter with the usual standard-library modules imported. The
zygote forks

* the **judge** once, before any test exists: it reads each job from the
  judge channel (the zygote never reads it, so no later fork can find expected
  values in memory) and writes its result straight to the result channel;
* a **candidate** per sample, in a PID and mount namespace of its own (fresh
  /proc, /tmp, /sandbox, /dev/shm), with limits set, capabilities dropped and,
  when the host allows it, running as ``nobody``.

The zygote drains the candidate's output, enforces the guard time, kills the
candidate's whole namespace when the judge is done, and reports how the
candidate ended. Every process of a worker is pinned to one CPU: a call from
judge to candidate is a context switch, not a cross-CPU wake-up.

Channels (file descriptors): control in (0), report out (1), judge in (3),
judge result out (4).
"""

from __future__ import annotations

import fcntl
import gc
import importlib
import json
import os
import resource
import select
import signal
import socket
import struct
import sys
import time
from typing import Any, Callable

from . import candidate, kernels, linux, native, rootfs, wire
from .languages import PYTHON, SANDBOX_PATH, language
from .channel import CandidateChannel
from .sessions import SessionHost
from .protocol import (CallJob, CallReport, JudgeOnlyJob, JudgeOnlyReport, LimitsWire, MeasureJob, MeasureReport,
                       WorkerFailure)

PRELOAD = ("math", "re", "collections", "itertools", "functools", "heapq", "bisect", "string", "typing", "hashlib")
NOBODY = 65534
OUTPUT_KEEP = 4096
SETUP_FAILED = 71  # a candidate's exit code when it could not be set up: an evaluator failure
SETUP_FD = 5       # the candidate's end of its set-up pipe, closed before the program runs
CLEAN_ENV = {"PATH": SANDBOX_PATH, "HOME": "/sandbox", "TMPDIR": "/tmp",
             "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
JUDGE_LIMITS: LimitsWire = {"memory_mb": 8192, "file_mb": 64, "open_files": 256, "processes": 0, "output_bytes": 0,
                            "tmpfs_mb": 0, "cpu_seconds": 0}
_PID = struct.Struct(">Q")


class LimitUnavailable(OSError):
    """A resource limit cannot be applied here (say, above the worker's hard limit)."""


def _preload() -> None:
    for name in PRELOAD:
        try:
            __import__(name)
        except ImportError:
            pass


def load_entry(spec: str) -> Callable[..., dict[str, Any]]:
    """The function named by ``"package.module:function"``; ImportError or AttributeError if missing."""
    module, _, name = spec.partition(":")
    fn = getattr(importlib.import_module(module), name)
    if not callable(fn):
        raise TypeError(f"{spec} is not callable")
    return fn


def _map_ids_as_root(child_pid: int) -> None:
    # Root may map more than its own id: keep 0 for the zygote and judge, and
    # give the candidate the host's unprivileged "nobody".
    for kind in ("uid", "gid"):
        with open(f"/proc/{child_pid}/{kind}_map", "w") as fh:
            fh.write(f"0 0 1\n{NOBODY} {NOBODY} 1\n")


def _enter_namespaces() -> bool:
    """Unshare everything; returns whether ``nobody`` is mapped for candidates."""
    uid, gid = os.geteuid(), os.getegid()
    flags = (linux.CLONE_NEWUSER | linux.CLONE_NEWNS | linux.CLONE_NEWPID | linux.CLONE_NEWNET
             | linux.CLONE_NEWIPC | linux.CLONE_NEWUTS)
    if uid != 0:
        linux.unshare(flags)
        with open("/proc/self/setgroups", "w") as fh:
            fh.write("deny")
        for kind, outer in (("uid", uid), ("gid", gid)):
            with open(f"/proc/self/{kind}_map", "w") as fh:
                fh.write(f"0 {outer} 1\n")
        return False
    go_r, go_w = os.pipe()
    done_r, done_w = os.pipe()
    me = os.getpid()
    helper = os.fork()
    if helper == 0:
        os.close(go_w)
        os.read(go_r, 1)
        try:
            _map_ids_as_root(me)
            os.write(done_w, b"1")
        finally:
            os._exit(0)
    os.close(go_r)
    os.close(done_w)
    try:
        linux.unshare(flags)
    finally:
        os.write(go_w, b"1")
        os.close(go_w)
    ok = os.read(done_r, 1) == b"1"
    os.waitpid(helper, 0)
    if not ok:
        raise OSError("could not write the sandbox's uid and gid maps")
    return True


_MB = 1 << 20


def _wanted_limits(limits: LimitsWire, for_candidate: bool) -> dict[int, tuple[str, int]]:
    wanted = {
        resource.RLIMIT_AS: ("memory", limits["memory_mb"] * _MB),
        resource.RLIMIT_FSIZE: ("file size", limits["file_mb"] * _MB),
        resource.RLIMIT_NOFILE: ("open files", limits["open_files"]),
        resource.RLIMIT_CORE: ("core size", 0),
    }
    if for_candidate:
        wanted[resource.RLIMIT_CPU] = ("CPU time", int(limits["cpu_seconds"]) + 1)
        wanted[resource.RLIMIT_NPROC] = ("processes", limits["processes"])
    return wanted


def check_limits(limits: LimitsWire, for_candidate: bool = True) -> None:
    """Raise LimitUnavailable unless every limit fits under this process's hard limits."""
    for res, (name, value) in _wanted_limits(limits, for_candidate).items():
        hard = resource.getrlimit(res)[1]
        if hard != resource.RLIM_INFINITY and value > hard:
            raise LimitUnavailable(f"the {name} limit ({value}) is above what this worker may set ({hard})")


def _set_limits(limits: LimitsWire, for_candidate: bool, at_most_hard: bool = False) -> None:
    """Apply the limits, soft and hard; LimitUnavailable names one that failed.

    ``at_most_hard``: lower a limit above this process's hard limit to it
    (for the judge, whose limits only protect the worker) instead of failing
    (as a candidate must: its limits are a promise about the program)."""
    for res, (name, value) in _wanted_limits(limits, for_candidate).items():
        if at_most_hard:
            hard = resource.getrlimit(res)[1]
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
        try:
            resource.setrlimit(res, (value, value))
        except (ValueError, OSError) as exc:
            raise LimitUnavailable(f"cannot set the {name} limit to {value}: {exc}") from exc


class Zygote:
    """The warm process that runs one job at a time.

    It keeps one judge process (forked before any test code exists) and forks
    a fresh candidate per sample.
    """

    def __init__(self, judge_in: int, result_out: int, isolation: str, nobody: bool,
                 entry: Callable[..., dict[str, Any]]) -> None:
        self.judge_in, self.result_out = judge_in, result_out
        self.isolation, self.nobody, self.entry = isolation, nobody, entry
        self.devnull = os.open(os.devnull, os.O_RDWR)
        self.judge_pid = self.template_pid = 0
        self.judge_sock: socket.socket | None = None
        self.template_sock: socket.socket | None = None
        self.unreaped = 0
        self.rebinds: dict[str, str] = {}
        self.handlers: dict[str, Callable[[Any], Any]] = {
            "call": self._run_call, "judge_only": self._run_judge_only, "measure": self._run_measure}

    # -- judge ---------------------------------------------------------------
    def start_judge(self) -> None:
        mine, theirs = socket.socketpair()
        pid = os.fork()
        if pid:
            theirs.close()
            self.judge_pid, self.judge_sock = pid, mine
            said = mine.recv(256)
            if said != b"R":
                raise RuntimeError(f"the judge could not start: {said.decode(errors='replace') or 'it exited'}")
            return
        try:
            mine.close()
            for fd in (0, 1, 2):
                os.dup2(self.devnull, fd)  # test code that prints must not touch the report channel
            try:
                _set_limits(JUDGE_LIMITS, for_candidate=False, at_most_hard=True)
            except LimitUnavailable as exc:
                theirs.send(str(exc).encode()[:256])
                raise
            theirs.send(b"R")
            _judge_loop(theirs, self.judge_in, self.result_out, self.entry)
        finally:
            os._exit(0)

    def _stop_judge(self) -> None:
        if self.judge_pid and self.judge_sock is not None:
            _kill(self.judge_pid)
            try:
                os.waitpid(self.judge_pid, 0)
            except ChildProcessError:
                pass  # it died and was reaped already
            self.judge_sock.close()
            self.judge_pid, self.judge_sock = 0, None

    # -- candidate -----------------------------------------------------------
    def start_template(self) -> None:
        """Fork the template: the idle process every candidate is cloned from."""
        mine, theirs = socket.socketpair()
        spawner = Spawner(self.isolation, self.nobody, self.rebinds, self.devnull)
        pid = os.fork()
        if pid:
            theirs.close()
            self.template_pid, self.template_sock = pid, mine
            return
        try:
            mine.close()
            if self.judge_sock is not None:
                self.judge_sock.close()
            for fd in (0, 1, 2):
                os.dup2(self.devnull, fd)  # not the zygote's channels
            for fd in (3, 4):
                os.close(fd)
            spawner.loop(theirs)
        finally:
            os._exit(0)

    def _stop_template(self) -> None:
        if self.template_pid and self.template_sock is not None:
            self.template_sock.close()
            _kill(self.template_pid)
            try:
                os.waitpid(self.template_pid, 0)
            except ChildProcessError:
                pass
            self.template_pid, self.template_sock = 0, None

    def _spawn(self, keep: dict[int, int], job: dict[str, Any], job_w: int) -> tuple[int, int]:
        """Have the template clone a candidate with the descriptors ``keep``
        (its number -> ours), and send it ``job`` through ``job_w``, the
        write end of what becomes its descriptor 3. Returns its pid (a child
        of this process) and the read end of its set-up pipe (see Spawner)."""
        if self.template_sock is None:
            raise RuntimeError("the template was stopped")
        setup_r, setup_w = os.pipe()
        try:
            socket.send_fds(self.template_sock, [",".join(map(str, keep)).encode()], [setup_w, *keep.values()])
            data = self.template_sock.recv(_PID.size)
            if len(data) != _PID.size:
                raise RuntimeError("the template is gone")
        finally:
            os.close(setup_w)
        wire.write_frame(job_w, job)
        return _PID.unpack(data)[0], setup_r

    # -- jobs ----------------------------------------------------------------
    def _run_call(self, job: CallJob) -> CallReport:
        """A sample: a fresh candidate serving the judge's calls."""
        if self.judge_sock is None:
            raise RuntimeError("the judge was stopped")
        limits = job["limits"]
        check_limits(limits)
        started = time.monotonic()
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        program, filename, as_main = job["program"], job["filename"], job["as_main"]
        # The job goes first down the request pipe: the candidate reads it
        # before the judge, who is handed that pipe only now, writes a request.
        cand_pid, setup_r = self._spawn({0: self.devnull, 1: out_w, 2: err_w, 3: req_r, 4: resp_w},
                                        {"role": "serve", "limits": limits, "program": program,
                                         "filename": filename, "as_main": as_main,
                                         "language": job.get("language", PYTHON),
                                         "compile_seconds": job.get("compile_seconds"),
                                         "binary": job.get("binary"), "include": job.get("include"),
                                         "files": job.get("files")}, req_w)
        spawned = time.monotonic()
        socket.send_fds(self.judge_sock, [_PID.pack(cand_pid)], [req_w, resp_r])
        for fd in (req_r, req_w, resp_r, resp_w, out_w, err_w):
            os.close(fd)
        guard = started + job["guard"]
        heads = {out_r: bytearray(), err_r: bytearray()}
        tails = {out_r: bytearray(), err_r: bytearray()}
        counts = {out_r: 0, err_r: 0}
        judge_fd = self.judge_sock.fileno()
        output_limit = guard_hit = judge_lost = candidate_gone = False
        open_fds = [out_r, err_r, judge_fd]
        cap = limits["output_bytes"]
        judge_done = False
        while not judge_done:
            left = guard - time.monotonic()
            if left <= 0:
                guard_hit = True
                break
            for fd in select.select(open_fds, [], [], left)[0]:
                if fd == judge_fd:
                    judge_done = True
                    note = self.judge_sock.recv(1)
                    judge_lost = note not in (b"D", b"X")
                    candidate_gone = note == b"X"
                    continue
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    open_fds.remove(fd)
                    continue
                _keep(chunk, heads[fd], tails[fd], counts, fd)
                if counts[out_r] + counts[err_r] > cap and not output_limit:
                    output_limit = True
                    _kill(cand_pid)
        ended = time.monotonic()
        setup_failed = _setup_outcome(setup_r)  # before the candidate is killed below
        # A candidate that ended by itself is a zombie now and tells how it
        # ended; one still waiting for calls is killed and reaped after the
        # report is sent, off the critical path.
        exited = False
        if candidate_gone:
            # The judge saw the candidate's channel close: it is gone or going
            # (say, a crash); give the kernel a moment so its exit status is known.
            cand_fd = os.pidfd_open(cand_pid)
            exited = bool(select.select([cand_fd], [], [], 0.5)[0])
            os.close(cand_fd)
        reaped, cstatus, usage = os.wait4(cand_pid, 0 if exited else os.WNOHANG)
        cpu: float | None = None
        maxrss: int | None = None
        exit_code: int | None = None
        if reaped:
            exit_code = os.waitstatus_to_exitcode(cstatus)
            cpu, maxrss = round(usage.ru_utime + usage.ru_stime, 6), usage.ru_maxrss
        else:
            cpu = _cpu_seconds(cand_pid)
            _kill(cand_pid)
            self.unreaped = cand_pid
        if guard_hit or judge_lost:
            # The judge channel is out of step now: the pool retires this worker.
            self._stop_judge()
        for fd in (out_r, err_r):
            _drain(fd, heads[fd], tails[fd], counts)
            os.close(fd)
        return {
            "setup_failed": setup_failed,
            "exit": exit_code, "cpu": cpu, "maxrss_kb": maxrss,
            "stdout": _describe_stream(heads[out_r], tails[out_r], counts[out_r]),
            "stderr": _describe_stream(heads[err_r], tails[err_r], counts[err_r]),
            "output_limit": output_limit, "guard_hit": guard_hit, "judge_lost": judge_lost,
            "wall": round(ended - started, 6), "spawn": round(spawned - started, 6),
        }

    def _run_judge_only(self, job: JudgeOnlyJob) -> JudgeOnlyReport:
        """The judge runs its job with no candidate (trusted code)."""
        if self.judge_sock is None:
            raise RuntimeError("the judge was stopped")
        started = time.monotonic()
        socket.send_fds(self.judge_sock, [_PID.pack(0)], [])
        ready = select.select([self.judge_sock], [], [], job["guard"])[0]
        guard_hit = not ready
        judge_lost = bool(ready) and self.judge_sock.recv(1) not in (b"D", b"X")
        if guard_hit or judge_lost:
            self._stop_judge()
        return {"guard_hit": guard_hit, "judge_lost": judge_lost, "wall": round(time.monotonic() - started, 6)}

    def _run_measure(self, job: MeasureJob) -> MeasureReport:
        """Count the work of one program under valgrind, sandboxed like a candidate.

        Valgrind writes its count to a descriptor it reserves for itself, out
        of reach of the program it runs, so the program cannot forge the number.
        """
        limits = job["limits"]
        check_limits(limits)
        log_r, log_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        started = time.monotonic()
        # The log goes to the highest descriptor the limit allows: valgrind
        # reserves the top ones for itself and refuses the program any use of them.
        log_fd = limits["open_files"] - 1
        spec = job["spec"]
        job_r, job_w = os.pipe()
        try:
            pid, setup_r = self._spawn({0: self.devnull, 1: out_w, 2: err_w, 3: job_r, log_fd: log_w},
                                       {"role": "measure", "limits": limits, "spec": spec, "log_fd": log_fd}, job_w)
        finally:
            os.close(job_r)
            os.close(job_w)
        for fd in (log_w, out_w, err_w):
            os.close(fd)
        log = bytearray()
        sizes = {out_r: 0, err_r: 0}
        open_fds = {log_r, out_r, err_r}
        guard = started + job["guard"]
        guard_hit = output_limit = False
        while open_fds:
            left = guard - time.monotonic()
            if left <= 0:
                guard_hit = True
                break
            for fd in select.select(list(open_fds), [], [], left)[0]:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    open_fds.discard(fd)
                elif fd == log_r:
                    log += chunk[: max(0, (1 << 20) - len(log))]
                else:
                    sizes[fd] += len(chunk)
                    if sum(sizes.values()) > limits["output_bytes"] and not output_limit:
                        output_limit = True
                        _kill(pid)
        setup_failed = _setup_outcome(setup_r)
        _kill(pid)
        _, status, usage = os.wait4(pid, 0)
        for fd in (log_r, out_r, err_r):
            os.close(fd)
        text = log.decode(errors="replace")
        return {"setup_failed": setup_failed, "instructions": _instruction_count(text), "exit": os.waitstatus_to_exitcode(status),
                "timed_out": guard_hit, "output_limit": output_limit, "log_tail": text[-1500:],
                "cpu": round(usage.ru_utime + usage.ru_stime, 6), "wall": round(time.monotonic() - started, 6)}

    def reap(self) -> None:
        """Wait for the last candidate to be gone (its whole PID namespace with it)."""
        if self.unreaped:
            try:
                os.wait4(self.unreaped, 0)
            except ChildProcessError:
                pass
            self.unreaped = 0
        _reap_all()

    def serve(self) -> None:
        """Run jobs until the control channel closes, then end the judge and
        reap every child, so nothing is left for the host to clean up."""
        try:
            while True:
                try:
                    job = wire.read_frame(0)
                except wire.WireError:
                    return
                handler = self.handlers.get(str(job.get("kind"))) if isinstance(job, dict) else None
                try:
                    if handler is None:
                        raise ValueError(f"unknown job kind {job.get('kind') if isinstance(job, dict) else job!r}")
                    report = handler(job)
                except Exception as exc:  # noqa: BLE001 - reported; the pool replaces this worker
                    failure: WorkerFailure = {"worker_error": f"{type(exc).__name__}: {exc}"}
                    wire.write_frame(1, failure)
                    return
                wire.write_frame(1, report)
                self.reap()
        finally:
            self._stop_judge()
            self._stop_template()
            self.reap()


class Spawner:
    """Clones candidates: the template process's only work.

    The template is forked from the zygote once, after the candidate's code
    paths were warmed up there, and then does nothing but this, so it
    writes almost no memory: a candidate cloned from it shares pages with an
    idle process, and the busy zygote (which watches every sample) shares
    none with candidates, so neither pays copy-on-write faults for the
    other. CLONE_PARENT makes each candidate the zygote's child, so the
    zygote reaps it and learns how it ended.

    A candidate reads its job from a pipe, sets itself up, writes ``+`` on
    its set-up pipe (or ``-`` and why it could not), closes it, and only
    then runs the program: the program can neither forge nor hide a set-up
    failure, which is the evaluator's, never the program's.
    """

    def __init__(self, isolation: str, nobody: bool, rebinds: dict[str, str], devnull: int) -> None:
        self.isolation, self.nobody, self.rebinds, self.devnull = isolation, nobody, rebinds, devnull
        flags = linux.CLONE_NEWPID | linux.CLONE_NEWNS | linux.CLONE_NEWIPC if isolation == "full" else 0
        self.flags = flags | linux.CLONE_PARENT

    def loop(self, sock: socket.socket) -> None:
        while True:
            try:
                header, fds, _, _ = socket.recv_fds(sock, 256, 16)
            except OSError:
                return
            if not header:
                return
            # A candidate starts with empty young generations: its collector
            # then walks only the candidate's own objects (and copies no page
            # of ours to do it). Freezing is a constant-time splice.
            gc.freeze()
            pid = linux.fork_into(self.flags)
            if pid == 0:
                sock.close()
                self._candidate(header, fds)
            for fd in fds:
                os.close(fd)
            sock.sendall(_PID.pack(pid))

    def _candidate(self, header: bytes, fds: list[int]) -> None:
        """In a new candidate: place descriptors, read the job on 3, set up,
        run the job; never returns."""
        status_fd = fds[0]
        try:
            try:
                keep = dict(zip(map(int, header.split(b",")), fds[1:]))
                keep[SETUP_FD] = status_fd
                _place_descriptors(keep)
                status_fd = SETUP_FD
                job = wire.read_frame(3)
                limits = job["limits"]
                if job["role"] == "serve" and job.get("language", PYTHON) != PYTHON:
                    # the compiler and the runtime's reservations get room; each run is held to the program's own
                    space = language(job["language"]).supervisor_address_space(limits["memory_mb"])
                    limits = dict(limits, memory_mb=space)
                self._enter_sandbox(limits)
                if job.get("files"):
                    native.place_files(job["files"])
                os.write(status_fd, b"+")
                os.close(status_fd)
            except BaseException as exc:  # noqa: BLE001 - told to the zygote, never to the program
                os.write(status_fd, f"-{type(exc).__name__}: {exc}".encode()[:1000])
                os._exit(SETUP_FAILED)
            if job["role"] == "serve" and job.get("language", PYTHON) != PYTHON:
                native.serve(job["program"], job["language"], 3, 4, job.get("compile_seconds"), job.get("binary"),
                             job.get("include"), job["limits"]["memory_mb"])
            elif job["role"] == "serve":
                candidate.serve(job["program"], job["filename"], 3, 4, job["as_main"])
            elif job["role"] == "session":
                kernels.serve(job["kind"], 3, 4, job.get("setup") or {})
            elif job["role"] == "measure":
                os.close(3)
                _exec_measure(job["spec"], job["log_fd"])
        finally:
            os._exit(70)

    def _enter_sandbox(self, limits: LimitsWire) -> None:
        """In a freshly cloned candidate: scratch folders, limits, identity, environment."""
        os.setsid()
        if self.isolation == "full":
            rootfs.private_scratch(limits["tmpfs_mb"], self.rebinds)
        with open("/proc/self/oom_score_adj", "w") as fh:
            fh.write("1000")
        os.chdir("/sandbox" if self.isolation == "full" else "/tmp")
        _set_limits(limits, for_candidate=True)
        if self.isolation == "full":
            if self.nobody:
                # leaving uid 0 clears every capability; no_new_privs keeps them gone
                os.setgroups([])
                os.setresgid(NOBODY, NOBODY, NOBODY)
                os.setresuid(NOBODY, NOBODY, NOBODY)
                linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
            else:
                linux.drop_capabilities()
        os.environ.clear()
        os.environ.update(CLEAN_ENV if self.isolation == "full" else dict(CLEAN_ENV, HOME="/tmp"))
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)


def _place_descriptors(keep: dict[int, int]) -> None:
    """Make each ``keep`` target number refer to its descriptor, and close every other."""
    # Out of the way first, so that no descriptor is overwritten before it is placed.
    moved = {target: fcntl.fcntl(fd, fcntl.F_DUPFD, 256) for target, fd in keep.items()}
    for target, fd in moved.items():
        os.dup2(fd, target)
    edges = [-1] + sorted(keep) + [1 << 16]
    for low, high in zip(edges, edges[1:]):
        if low + 1 < high:  # closerange(n, n) would close every descriptor (close_range(n, n - 1))
            os.closerange(low + 1, high)


def _judge_loop(sock: socket.socket, judge_in: int, result_out: int, entry: Callable[..., dict[str, Any]]) -> None:
    """The judge process: one job per hand-off from the zygote."""
    jobs = wire.FrameReader(judge_in)  # only this process reads the judge channel
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(sock, _PID.size, 2)
        except OSError:
            return
        if len(data) != _PID.size or len(fds) not in (0, 2):
            return
        (pid,) = _PID.unpack(data)
        channel = CandidateChannel(fds[0], fds[1], pid) if fds else None
        try:
            job = jobs.read()
            result = entry(job, channel)
        except BaseException as exc:  # noqa: BLE001 - a crash of the judge is the evaluator's failure
            result = {"judge_crashed": f"{type(exc).__name__}: {exc}"}
        finally:
            if channel is not None:
                channel.close()
            for fd in fds:
                os.close(fd)
        wire.write_frame(result_out, result)
        sock.send(b"X" if result.get("candidate_gone") else b"D")


def _setup_outcome(setup_r: int) -> str | None:
    """Why the candidate could not be set up, or None (it was, or it is still
    at it because the judge needed nothing of it). Closes the pipe."""
    try:
        os.set_blocking(setup_r, False)
        try:
            said = os.read(setup_r, 1024)
        except BlockingIOError:
            return None
    finally:
        os.close(setup_r)
    if said[:1] == b"+":
        return None
    return said[1:].decode(errors="replace") or "the candidate ended before it was set up"


def _cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of a live process and of the children it has
    waited for (a stdin program's runs), from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return round(sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK"), 6)
    except (OSError, IndexError, ValueError):
        return None


def _exec_measure(spec: Any, log_fd: int) -> None:
    """Replace this process with valgrind counting the measuring run; never returns."""
    with open("/sandbox/measure.json", "w") as fh:
        json.dump({"program": spec["program"], "entry_point": spec["entry_point"], "calls": spec["calls"]}, fh)
    linux.personality(linux.ADDR_NO_RANDOMIZE)  # the same count every time: no address randomisation
    argv = [spec["valgrind"], "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
            f"--log-fd={log_fd}", "--vgdb=no", spec["python"], "-S", "-s", "-c", spec["runner"]]
    env = dict(os.environ, PYTHONHASHSEED="0")  # and the same dict and set order
    os.execve(spec["valgrind"], argv, env)


def _instruction_count(log: str) -> int | None:
    """The "I refs" total from a cachegrind log, or None if there is none."""
    for line in log.splitlines():
        head, _, value = line.partition("I   refs:")
        if value and head.startswith("=="):
            try:
                return int(value.strip().replace(",", ""))
            except ValueError:
                return None
    return None


def _kill(pid: int) -> None:
    # The candidate leads its own session: its process group reaches children
    # even where there is no PID namespace to take them down with it.
    if pid:
        for kill in (os.killpg, os.kill):
            try:
                kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _keep(chunk: bytes, head: bytearray, tail: bytearray, counts: dict[int, int], key: int) -> None:
    counts[key] += len(chunk)
    if len(head) < OUTPUT_KEEP:
        head += chunk[: OUTPUT_KEEP - len(head)]
    tail[:] = (tail + chunk)[-OUTPUT_KEEP:]


def _drain(fd: int, head: bytearray, tail: bytearray, counts: dict[int, int]) -> bool:
    """Read what a pipe holds now, without waiting; True at end of file."""
    os.set_blocking(fd, False)
    for _ in range(64):
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            return False
        if not chunk:
            return True
        _keep(chunk, head, tail, counts, fd)
    return False


def _reap_all() -> None:
    """Reap every child that has ended (never waiting)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _describe_stream(head: bytearray, tail: bytearray, count: int) -> Any:
    """The first and last bytes a stream carried, and how many in all."""
    if count <= len(head):
        return {"head": head.decode(errors="replace"), "tail": "", "bytes": count}
    return {"head": head.decode(errors="replace"), "tail": bytes(tail).decode(errors="replace"), "bytes": count}


def _enter_environment(site: str, warm: Any) -> None:
    """Make a package environment the only packages on ``sys.path`` (codeloop's own venv leaves it, as it
    leaves the sandbox's view: an environment's modules must not find, say, the venv's pyarrow) and import
    its ``warm`` modules here, once, so that every sample starts with them loaded. Exits, telling the
    pool, when one cannot be imported or leaves a thread running (the namespaces need one thread)."""
    hidden = set(rootfs.site_package_dirs())
    sys.path[:] = [site] + [p for p in sys.path if os.path.realpath(p) not in hidden]
    importlib.invalidate_caches()
    for name in warm:
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - told to the pool, which refuses to start
            wire.write_frame(1, {"failed": f"cannot import {name!r} from the environment: {type(exc).__name__}: {exc}"})
            sys.exit(3)
    threads = len(os.listdir("/proc/self/task"))
    if threads > 1:
        wire.write_frame(1, {"failed": f"importing {', '.join(warm)} left {threads - 1} thread(s) running; "
                                       "a worker must be single-threaded to enter its namespaces"})
        sys.exit(3)


def main() -> None:
    """Entry point of the worker process; argv[1] is a JSON config."""
    config = json.loads(sys.argv[1])
    # Fixed numbers 3 and 4, so that every per-sample descriptor is above them.
    high = [fcntl.fcntl(config[k], fcntl.F_DUPFD, 10) for k in ("judge_in", "result_out")]
    for fd in (config["judge_in"], config["result_out"]):
        os.close(fd)
    for fixed, fd in zip((3, 4), high):
        os.dup2(fd, fixed)
        os.close(fd)
    judge_in, result_out = 3, 4
    if config.get("cpu") is not None:
        os.sched_setaffinity(0, {config["cpu"]})
    isolation = config["isolation"]
    _preload()
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        # Before the namespaces: installed packages are hidden from then on.
        entry = load_entry(config["judge"])
    except Exception as exc:  # noqa: BLE001 - told to the pool, which refuses to start
        wire.write_frame(1, {"error": f"cannot load the judge {config['judge']!r}: {type(exc).__name__}: {exc}"})
        sys.exit(3)
    if config.get("site"):
        _enter_environment(config["site"], config.get("warm", ()))
    nobody = False
    plan = None
    if isolation == "full":
        try:
            plan = rootfs.plan_root(tuple(config.get("extra_binds", ())))
            nobody = _enter_namespaces()
        except OSError as exc:
            wire.write_frame(1, {"error": f"cannot create namespaces: {exc}"})
            sys.exit(3)
        zygote_pid = os.fork()
        if zygote_pid:
            # stay as the zygote's parent in the host's PID namespace, so that
            # killing this process (the pool holds its pid) ends the whole tree
            for fd in (0, 1, 3, 4):
                os.close(fd)
            # SIGTERM from the pool: end the zygote and reap it ourselves, so no
            # zombie is left to whichever process would inherit it.
            signal.signal(signal.SIGTERM, lambda *_: os.kill(zygote_pid, signal.SIGKILL))
            _, status = os.waitpid(zygote_pid, 0)
            os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
        linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
        try:
            rootfs.build_root(plan, config["tmpfs_mb"])
            socket.sethostname("sandbox")
        except OSError as exc:
            wire.write_frame(1, {"error": f"cannot build the sandbox root: {exc}"})
            os._exit(3)
    linux.prctl(linux.PR_SET_DUMPABLE, 0)
    linux.prctl(linux.PR_SET_CHILD_SUBREAPER, 1)
    # Candidates write through the zygote's own stream objects (fd 1 and 2 are
    # theirs after the fork): line-buffered, so what a killed program printed
    # up to its last line is not lost in a buffer.
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    zygote = Zygote(judge_in, result_out, isolation, nobody, entry)
    if plan is not None:
        zygote.rebinds = plan.rebinds
    candidate.warm_up()
    # Objects that exist now live in every fork: keep the garbage collector of a
    # candidate from walking (and so copying the pages of) all of them.
    gc.collect()
    gc.freeze()
    try:
        zygote.start_judge()
        zygote.start_template()
    except (OSError, RuntimeError) as exc:
        wire.write_frame(1, {"failed": f"cannot start the worker's processes: {exc}"})
        os._exit(3)
    wire.write_frame(1, {"ready": {"isolation": isolation, "candidate_uid": NOBODY if nobody else os.getuid()}})
    if config.get("mode") == "sessions":
        SessionHost(zygote, check_limits, _setup_outcome).serve()
        zygote._stop_judge()
        zygote._stop_template()
        zygote.reap()
    else:
        zygote.serve()
    os._exit(0)
