"""A sandbox worker: one long-lived process tree that runs samples one at a time.

Started by :mod:`codeloop.sandbox.pool` as ``python -I -c ...``. The boot
process enters new user, PID, mount, network, IPC and UTS namespaces once,
builds the sandbox root, and becomes the *zygote*: a warm interpreter with the
judge and the usual standard-library modules already imported. For each
sample the zygote forks

* the **judge**, which reads the test from the judge channel (the zygote never
  reads it, so no later fork can find expected values in memory) and writes
  its verdict straight to the verdict channel;
* the **candidate**, in a PID and mount namespace of its own (fresh /proc,
  /tmp, /sandbox, /dev/shm), with limits set, capabilities dropped and, when
  the host allows it, running as ``nobody``.

The zygote drains the candidate's output, enforces the wall-time guard,
kills the candidate's whole namespace when the judge is done, and reports
how the candidate ended on the report channel.

Channels (file descriptors given on the command line): control in (0), report
out (1), judge in, verdict out.
"""

from __future__ import annotations

import fcntl
import gc
import json
import os
import resource
import select
import signal
import socket
import struct
import sys
import time
from typing import Any

from ..verify import judge as judge_mod
from . import candidate, linux, rootfs, wire

PRELOAD = ("math", "re", "collections", "itertools", "functools", "heapq", "bisect", "string", "typing")
NOBODY = 65534
OUTPUT_KEEP = 4096
CLEAN_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/sandbox", "TMPDIR": "/tmp",
             "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}


def _preload() -> None:
    for name in PRELOAD:
        try:
            __import__(name)
        except ImportError:
            pass


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


def _set_limits(limits: dict[str, Any], for_candidate: bool) -> None:
    mb = 1 << 20
    wanted = {
        resource.RLIMIT_AS: limits["memory_mb"] * mb,
        resource.RLIMIT_FSIZE: limits["file_mb"] * mb,
        resource.RLIMIT_NOFILE: limits["open_files"],
        resource.RLIMIT_CORE: 0,
    }
    if for_candidate:
        cpu = int(limits["cpu_seconds"]) + 1
        wanted[resource.RLIMIT_CPU] = cpu
        wanted[resource.RLIMIT_NPROC] = limits["processes"]
    for res, value in wanted.items():
        try:
            resource.setrlimit(res, (value, value))
        except (ValueError, OSError):
            pass


class Zygote:
    """The warm process that runs one sample at a time.

    It keeps one judge process (forked once, before any test code exists)
    and forks a fresh candidate per sample.
    """

    def __init__(self, judge_in: int, verdict_out: int, isolation: str, nobody: bool) -> None:
        self.judge_in, self.verdict_out = judge_in, verdict_out
        self.isolation, self.nobody = isolation, nobody
        self.devnull = os.open(os.devnull, os.O_RDWR)
        self.judge_pid = 0
        self.judge_sock: socket.socket | None = None
        self.unreaped = 0
        self.rebinds: dict[str, str] = {}

    # -- judge ---------------------------------------------------------------
    def _start_judge(self) -> None:
        mine, theirs = socket.socketpair()
        pid = os.fork()
        if pid:
            theirs.close()
            self.judge_pid, self.judge_sock = pid, mine
            return
        try:
            mine.close()
            for fd in (0, 1, 2):
                os.dup2(self.devnull, fd)  # test code that prints must not touch the report channel
            _set_limits({"memory_mb": 8192, "file_mb": 64, "open_files": 256}, for_candidate=False)
            _judge_loop(theirs, self.judge_in, self.verdict_out)
        finally:
            os._exit(0)

    def _stop_judge(self) -> None:
        if self.judge_pid:
            _kill(self.judge_pid)
            os.waitpid(self.judge_pid, 0)
            self.judge_sock.close()
            self.judge_pid, self.judge_sock = 0, None

    # -- candidate -----------------------------------------------------------
    def _start_candidate(self, job: dict[str, Any], keep: dict[int, int]) -> int:
        """Fork the candidate: in full isolation, PID 1 of new PID, mount and
        IPC namespaces. It serves calls, or with ``measure`` in the job, runs
        the measuring run under valgrind."""
        if self.isolation == "full":
            pid = linux.fork_into(linux.CLONE_NEWPID | linux.CLONE_NEWNS | linux.CLONE_NEWIPC)
        else:
            pid = os.fork()
        if pid:
            return pid
        try:
            self._enter_sandbox(job["limits"], keep)
            if "measure" in job:
                _exec_measure(job["measure"])
            sys.stdin = open(0, "r", closefd=False)
            sys.stdout = open(1, "w", closefd=False, buffering=1)
            sys.stderr = open(2, "w", closefd=False, buffering=1)
            candidate.serve(job["program"], job.get("filename", "solution.py"), 3, 4, job.get("as_main", False))
        finally:
            os._exit(70)

    def _enter_sandbox(self, limits: dict[str, Any], keep: dict[int, int]) -> None:
        """In a freshly forked candidate: descriptors, scratch folders, limits, identity, environment."""
        for target, fd in keep.items():
            os.dup2(fd, target)
        edges = sorted(keep) + [1 << 16]
        for low, high in zip(edges, edges[1:]):
            os.closerange(low + 1, high)
        os.setsid()
        if self.isolation == "full":
            rootfs.private_scratch(limits["tmpfs_mb"], self.rebinds)
        try:
            with open("/proc/self/oom_score_adj", "w") as fh:
                fh.write("1000")
        except OSError:
            pass
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

    def _run_measure(self, job: dict[str, Any]) -> dict[str, Any]:
        """Count the work of one program under valgrind, sandboxed like a candidate.

        Valgrind writes its count to a pipe it keeps in its own reserved
        descriptors, out of reach of the program it runs, so the program
        cannot forge the number.
        """
        log_r, log_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        started = time.monotonic()
        # The log goes to the highest descriptor the limit allows: valgrind
        # reserves the top ones for itself and refuses the program any use of
        # them, so the count it writes there cannot be forged.
        log_fd = job["limits"]["open_files"] - 1
        job["measure"]["log_fd"] = log_fd
        pid = self._start_candidate(job, {0: self.devnull, 1: out_w, 2: err_w, log_fd: log_w})
        for fd in (log_w, out_w, err_w):
            os.close(fd)
        log = bytearray()
        sizes = {out_r: 0, err_r: 0}
        open_fds = {log_r, out_r, err_r}
        guard = started + job["guard_seconds"]
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
                    if sum(sizes.values()) > job["limits"]["output_bytes"] and not output_limit:
                        output_limit = True
                        _kill(pid)
        _kill(pid)
        _, status, usage = os.wait4(pid, 0)
        for fd in (log_r, out_r, err_r):
            os.close(fd)
        text = log.decode(errors="replace")
        return {"instructions": _instruction_count(text), "exit": os.waitstatus_to_exitcode(status),
                "timed_out": guard_hit, "output_limit": output_limit, "log_tail": text[-1500:],
                "cpu": round(usage.ru_utime + usage.ru_stime, 6), "wall": round(time.monotonic() - started, 6)}

    # -- one sample ----------------------------------------------------------
    def run(self, job: dict[str, Any]) -> dict[str, Any]:
        if not self.judge_pid:
            self._start_judge()
        if job.get("in_judge"):
            return self._run_in_judge(job)
        if "measure" in job:
            return self._run_measure(job)
        limits = job["limits"]
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        started = time.monotonic()
        socket.send_fds(self.judge_sock, [b"B"], [req_w, resp_r])
        cand_pid = self._start_candidate(job, {0: self.devnull, 1: out_w, 2: err_w, 3: req_r, 4: resp_w})
        self.judge_sock.sendall(struct.pack(">Q", cand_pid))  # the judge watches its CPU time
        for fd in (req_r, req_w, resp_r, resp_w, out_w, err_w):
            os.close(fd)
        guard = started + job["guard_seconds"]
        heads = {out_r: bytearray(), err_r: bytearray()}
        tails = {out_r: bytearray(), err_r: bytearray()}
        counts = {out_r: 0, err_r: 0}
        judge_fd = self.judge_sock.fileno()
        output_limit = guard_hit = judge_lost = candidate_gone = False
        open_fds = {out_r, err_r}
        judge_done = False
        while not judge_done:
            left = guard - time.monotonic()
            if left <= 0:
                guard_hit = True
                break
            ready, _, _ = select.select(list(open_fds) + [judge_fd], [], [], left)
            for fd in ready:
                if fd == judge_fd:
                    judge_done = True
                    note = self.judge_sock.recv(1)
                    judge_lost = note not in (b"D", b"X")
                    candidate_gone = note == b"X"
                    continue
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    open_fds.discard(fd)
                    continue
                _keep(chunk, heads[fd], tails[fd], counts, fd)
                if counts[out_r] + counts[err_r] > limits["output_bytes"] and not output_limit:
                    output_limit = True
                    _kill(cand_pid)
        # A candidate that ended by itself is a zombie now and tells how it
        # ended; one still waiting for calls is killed and reaped after the
        # report is sent, off the critical path.
        exited = False
        if candidate_gone:
            # The judge saw the candidate's channel close: it is gone or going
            # (say, a crash); give the kernel a moment so its exit status is known.
            # (a pidfd works on a zombie too, so it is only opened when needed)
            cand_fd = os.pidfd_open(cand_pid)
            exited = bool(select.select([cand_fd], [], [], 0.5)[0])
            os.close(cand_fd)
        reaped, cstatus, usage = os.wait4(cand_pid, 0 if exited else os.WNOHANG)
        cpu = maxrss = None
        exit_code = None
        if reaped:
            exit_code = os.waitstatus_to_exitcode(cstatus)
            cpu, maxrss = round(usage.ru_utime + usage.ru_stime, 6), usage.ru_maxrss
        else:
            cpu = _cpu_seconds(cand_pid)
            _kill(cand_pid)
            self.unreaped = cand_pid
        if guard_hit or judge_lost:
            self._stop_judge()  # a fresh judge starts with the next sample
        for fd in (out_r, err_r):
            _drain(fd, heads[fd], tails[fd], counts)
            os.close(fd)
        return {
            "candidate_exit": exit_code,
            "candidate_cpu": cpu,
            "candidate_maxrss_kb": maxrss,
            "stdout": _describe_stream(heads[out_r], tails[out_r], counts[out_r]),
            "stderr": _describe_stream(heads[err_r], tails[err_r], counts[err_r]),
            "output_limit": output_limit,
            "guard_hit": guard_hit,
            "judge_lost": judge_lost,
            "wall": round(time.monotonic() - started, 6),
        }

    def _run_in_judge(self, job: dict[str, Any]) -> dict[str, Any]:
        """Trusted code (a task's reference solution) runs inside the judge, no candidate."""
        started = time.monotonic()
        socket.send_fds(self.judge_sock, [b"R"], [])
        ready, _, _ = select.select([self.judge_sock], [], [], job["guard_seconds"])
        guard_hit = not ready
        judge_lost = bool(ready) and self.judge_sock.recv(1) != b"D"
        if guard_hit or judge_lost:
            self._stop_judge()
        return {"guard_hit": guard_hit, "judge_lost": judge_lost, "output_limit": False,
                "wall": round(time.monotonic() - started, 6)}

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
        """Run samples until the control channel closes, then end the judge
        and reap every child, so nothing is left for the host to clean up."""
        try:
            self._serve()
        finally:
            self._stop_judge()
            self.reap()

    def _serve(self) -> None:
        while True:
            try:
                job = wire.read_frame(0)
            except wire.WireError:
                return
            try:
                report = self.run(job)
            except Exception as exc:  # noqa: BLE001 - reported; the pool restarts this worker
                wire.write_frame(1, {"worker_error": f"{type(exc).__name__}: {exc}"})
                return
            wire.write_frame(1, report)
            self.reap()


def _judge_loop(sock: socket.socket, judge_in: int, verdict_out: int) -> None:
    """The judge process: one sample per begin message from the zygote."""
    while True:
        try:
            _, fds, _, _ = socket.recv_fds(sock, 1, 2)
        except OSError:
            return
        if len(fds) not in (0, 2):
            return
        try:
            job = wire.read_frame(judge_in)
            if fds:
                pid = _PidFromZygote(sock)
                verdict = judge_mod.judge(job, fds[0], fds[1], pid)
                pid()  # always read it, so the next message lines up
            else:
                verdict = judge_mod.judge_in_process(job)
        except judge_mod.CandidateFatal as exc:
            verdict = {"status": exc.status, "failure": {"message": exc.message, "input": exc.call}}
        except BaseException as exc:  # noqa: BLE001 - any judge crash is the evaluator's failure
            verdict = {"status": "infra_error",
                       "failure": {"message": f"judge crashed: {type(exc).__name__}: {exc}"}}
        finally:
            for fd in fds:
                os.close(fd)
        wire.write_frame(verdict_out, verdict)
        sock.send(b"X" if verdict.get("candidate_gone") else b"D")


class _PidFromZygote:
    """The candidate's pid, which the zygote sends once it has cloned it; read on first use."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.pid = sock, None

    def __call__(self) -> int:
        if self.pid is None:
            data = b""
            while len(data) < 8:
                chunk = self.sock.recv(8 - len(data))
                if not chunk:
                    raise OSError("the zygote went away")
                data += chunk
            self.pid = struct.unpack(">Q", data)[0]
        return self.pid


def _cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of a live process, from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 6)
    except (OSError, IndexError, ValueError):
        return None


def _exec_measure(spec: dict[str, Any]) -> None:
    """Replace this process with valgrind counting the measuring run; never returns."""
    with open("/sandbox/measure.json", "w") as fh:
        json.dump({"program": spec["program"], "entry_point": spec["entry_point"], "calls": spec["calls"]}, fh)
    linux.personality(linux.ADDR_NO_RANDOMIZE)  # the same count every time: no address randomisation
    argv = [spec["valgrind"], "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
            f"--log-fd={spec['log_fd']}", "--vgdb=no", spec["python"], "-S", "-s", "-c", spec["runner"]]
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
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _describe_stream(head: bytearray, tail: bytearray, count: int) -> dict[str, Any]:
    """The first and last bytes a stream carried, and how many in all."""
    if count <= len(head):
        return {"head": head.decode(errors="replace"), "tail": "", "bytes": count}
    return {"head": head.decode(errors="replace"), "tail": bytes(tail).decode(errors="replace"), "bytes": count}


def main() -> None:
    """Entry point of the worker process; argv[1] is a JSON config."""
    config = json.loads(sys.argv[1])
    # Fixed numbers 3 and 4, so that every per-sample descriptor is above them.
    high = [fcntl.fcntl(config[k], fcntl.F_DUPFD, 10) for k in ("judge_in", "verdict_out")]
    for fd in (config["judge_in"], config["verdict_out"]):
        os.close(fd)
    for fixed, fd in zip((3, 4), high):
        os.dup2(fd, fixed)
        os.close(fd)
    judge_in, verdict_out = 3, 4
    if config.get("cpu") is not None:
        os.sched_setaffinity(0, {config["cpu"]})
    isolation = config["isolation"]
    _preload()
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    nobody = False
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
    # Objects that exist now live in every fork: keep the garbage collector of a
    # candidate from walking (and so copying the pages of) all of them.
    gc.freeze()
    zygote = Zygote(judge_in, verdict_out, isolation, nobody)
    if isolation == "full":
        zygote.rebinds = plan.rebinds
    wire.write_frame(1, {"ready": {"isolation": isolation, "candidate_uid": NOBODY if nobody else os.getuid()}})
    zygote.serve()
    os._exit(0)
