"""The candidate's side of a sample: load the program, then answer calls.

Runs inside the candidate's own sandboxed process, which holds no test code
and no expected value. Everything here is reachable by the program under test,
so nothing here is trusted: the judge decodes replies with its own strict
decoder and treats a missing or malformed reply as the candidate's failure.

Replies on the response channel, one frame each:
    {"ready": true} | {"syntax_error": {...}} | {"load_error": {...}}
    {"ok": <encoded value>} | {"exc": {"type", "message", "traceback"}}
"""

from __future__ import annotations

import builtins
import importlib
import json
import linecache
import math
import os
import resource
import selectors
import signal
import sys
import time
import traceback
from typing import Any

from . import wire

CAP_MESSAGE = 2000
CAP_TRACEBACK = 4000
MEMORY_EXIT = 251  # a run's exit status when the program ran out of memory (a program that exits so only fails itself)
CPU_POLL = 0.02    # seconds between looks at a run's CPU time, once it has run that long
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
DRAIN = 0.5        # seconds a killed run's pipes may stay open before the candidate stops reading them


def describe_exception(exc: BaseException, filename: str) -> dict[str, Any]:
    """Type, message and the traceback trimmed to frames of ``filename``.

    Only the program's own frames are looked at (its source is in the line
    cache), so no other file is read to describe an exception."""
    lines: list[str] = []
    last_line = None
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename == filename:
            last_line = tb.tb_lineno
            lines.append(f'  File "{filename}", line {last_line}, in {code.co_name}')
            source = linecache.getline(filename, last_line).strip()
            if source:
                lines.append(f"    {source}")
        tb = tb.tb_next
    try:
        message = str(exc)
    except Exception:  # a hostile __str__ must not break the reply
        message = "<unprintable message>"
    text = "\n".join(lines)
    return {
        "type": type(exc).__name__ if type(exc).__module__ == "builtins" else "Exception",
        "name": type(exc).__name__,
        "message": message[:CAP_MESSAGE],
        "traceback": text[-CAP_TRACEBACK:],
        "line": last_line,
    }


def _reply(fd: int, message: dict) -> None:
    try:
        wire.write_frame(fd, message)
    except wire.PeerClosed:
        os._exit(0)


def _print_own_traceback(exc: BaseException, filename: str) -> None:
    """Print the traceback as Python would, from the program's first frame on
    (the sandbox's own frames are not the program's business)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    traceback.print_exception(type(exc), exc, tb)


def _run_stdio(code: Any, stdin_text: str, out_cap: int, filename: str, cpu_limit: float | None = None,
               wall_limit: float | None = None) -> dict[str, Any]:
    """Run the Python program as __main__ in a child with real stdin/stdout
    pipes (see :func:`supervised_run` for the limits and the reply)."""
    streams = _standard_streams()

    def body() -> None:
        sys.stdin, sys.stdout, sys.stderr = streams
        fresh_random_state()
        status = _run_as_main(code, filename)
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(status)

    return supervised_run(body, stdin_text, out_cap, cpu_limit, wall_limit)


def _run_as_main(code: Any, filename: str) -> int:
    """Run the program as __main__; its exit status (a traceback of its own
    frames on stderr when it raised; MEMORY_EXIT when it ran out of memory)."""
    try:
        exec(code, {"__name__": "__main__", "__builtins__": builtins})
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except MemoryError as exc:
        _print_own_traceback(exc, filename)
        return MEMORY_EXIT
    except BaseException as exc:  # noqa: BLE001 - the program's own failure, shown on its stderr
        _print_own_traceback(exc, filename)
        return 1
    return 0


def supervised_run(body: Any, stdin_text: str, out_cap: int, cpu_limit: float | None = None,
                   wall_limit: float | None = None) -> dict[str, Any]:
    """Run ``body()`` (which must not return: it execs or exits) in a child
    with ``stdin_text`` on a pipe as its stdin and pipes for stdout and stderr.
    Past ``out_cap`` bytes printed (stdout and stderr together) the run is
    stopped and the reply's ``cut`` says so; only stderr's end is kept.

    With ``cpu_limit`` the run is stopped once its CPU time passes it (polled,
    then checked exactly from the child's resource usage, with a hard CPU
    rlimit behind both), or once ``wall_limit`` seconds have passed: the
    reply's ``timeout`` says so, and the candidate goes on to the next run.
    """
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.setpgid(0, 0)  # the run and what it starts, stopped together (see _kill_run)
            os.dup2(in_r, 0)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            for fd in (in_r, in_w, out_r, out_w, err_r, err_w):
                os.close(fd)
            if cpu_limit is not None:
                hard = math.ceil(cpu_limit) + 1
                ceiling = resource.getrlimit(resource.RLIMIT_CPU)[1]  # the sample's own: never raised
                if ceiling != resource.RLIM_INFINITY:
                    hard = min(hard, ceiling)
                resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))
            body()
        finally:
            os._exit(127)
    for fd in (in_r, out_w, err_w):
        os.close(fd)
    data = stdin_text.encode()
    limit = cpu_limit
    started = time.monotonic()
    wall_deadline = started + wall_limit if wall_limit is not None else None

    sel = selectors.DefaultSelector()
    sel.register(out_r, selectors.EVENT_READ, "out")
    sel.register(err_r, selectors.EVENT_READ, "err")
    if data:
        os.set_blocking(in_w, False)
        sel.register(in_w, selectors.EVENT_WRITE, "in")
    else:
        os.close(in_w)
    bufs = {"out": bytearray(), "err": bytearray()}
    cut = timed_out = False
    err_total = 0
    drain_until = 0.0
    open_fds = 2
    while open_fds:
        # once the run is killed, what is left of its pipes gets a moment: a process it started may hold them
        if (timed_out or cut) and time.monotonic() > drain_until:
            break
        wait = DRAIN if timed_out or cut else None
        if cpu_limit is not None or wall_deadline is not None:
            now = time.monotonic()
            # The CPU time is not looked at before the run could have used its limit (one thread uses at
            # most its wall time), so a fast run costs nothing extra.
            if (wall_deadline is not None and now >= wall_deadline) or (
                    cpu_limit is not None and now - started >= cpu_limit and _cpu_of(pid) > cpu_limit):
                timed_out = True
                _kill_run(pid)
                cpu_limit = wall_deadline = None
                drain_until = time.monotonic() + DRAIN
                wait = DRAIN
            else:
                look = now + CPU_POLL if cpu_limit is None or now - started >= cpu_limit else started + cpu_limit
                wait = max(0.001, min(look, wall_deadline if wall_deadline is not None else look) - now)
        events = sel.select(wait)
        if not events and (timed_out or cut):
            break
        for key, _ in events:
            if key.data == "in":
                try:
                    data = data[os.write(in_w, data[:65536]):]
                except BrokenPipeError:
                    data = b""
                if not data:
                    sel.unregister(in_w)
                    os.close(in_w)
                continue
            chunk = os.read(key.fd, 65536)
            if not chunk:
                sel.unregister(key.fd)
                os.close(key.fd)
                open_fds -= 1
                continue
            if cut or timed_out:
                continue  # what it prints after it was stopped is not kept
            buf = bufs[key.data]
            buf += chunk
            if key.data == "err":
                err_total += len(chunk)
                del buf[:-CAP_TRACEBACK]  # only its end is reported: a flood must not fill this process
            if len(bufs["out"]) + err_total > out_cap:
                cut = True
                _kill_run(pid)
                drain_until = time.monotonic() + DRAIN
    for key in list(sel.get_map().values()):
        os.close(key.fd)
    sel.close()
    _, status, usage = os.wait4(pid, 0)
    cpu = usage.ru_utime + usage.ru_stime
    exit_code = os.waitstatus_to_exitcode(status)
    reply = {
        "stdout": bufs["out"][:out_cap].decode(errors="replace"),
        "stderr": bytes(bufs["err"][-CAP_TRACEBACK:]).decode(errors="replace"),
        "exit": exit_code,
        "cut": cut,
        "cpu": round(cpu, 6),
        "maxrss_kb": usage.ru_maxrss,
    }
    if timed_out or exit_code == -signal.SIGXCPU or (limit is not None and cpu > limit):
        reply["timeout"] = True
    if exit_code == MEMORY_EXIT:
        reply["memory"] = True
    return reply


def _kill_run(pid: int) -> None:
    """Stop a run and the processes it started (its process group; one that left the
    group still ends with this candidate, whose PID namespace it is in)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        os.kill(pid, signal.SIGKILL)


_STREAMS: tuple[Any, Any, Any] | None = None


def _standard_streams() -> tuple[Any, Any, Any]:
    """Text streams on fds 0, 1 and 2, made once here and never used here: a
    run's child takes its copies, empty, instead of making its own (which
    costs it about a quarter of a millisecond of copy-on-write page faults)."""
    global _STREAMS
    if _STREAMS is None:
        _STREAMS = (open(0, "r", closefd=False), open(1, "w", closefd=False), open(2, "w", closefd=False))
    return _STREAMS


def _run_in_process(code: Any, stdin_text: str, out_cap: int, filename: str) -> dict[str, Any]:
    """Run the program as __main__ in this process, with fds 0, 1 and 2 on
    memory files for the run: no fork, as APPS's and verl's harnesses run
    every test in one process. The judge bounds the run (CPU budget, deadline);
    a program that exits the process or outlasts them ends this candidate.
    Output past ``out_cap`` fails to write (a file size limit), and stdout and
    stderr together past it are reported cut."""
    _limit_file_size(out_cap + 1)
    files = [os.memfd_create(name) for name in ("stdin", "stdout", "stderr")]
    os.write(files[0], stdin_text.encode())
    os.lseek(files[0], 0, os.SEEK_SET)
    saved_fds = [os.dup(fd) for fd in (0, 1, 2)]
    saved_streams = sys.stdin, sys.stdout, sys.stderr
    for fd, file in enumerate(files):
        os.dup2(file, fd)
    sys.stdin, sys.stdout, sys.stderr = open(0, "r", closefd=False), open(1, "w", closefd=False), \
        open(2, "w", closefd=False)
    fresh_random_state()
    started, status = time.thread_time(), 1
    try:
        status = _run_as_main(code, filename)
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001 - a closed or over-full stream: what was written is kept
                pass
        cpu = time.thread_time() - started
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        for fd, saved in enumerate(saved_fds):
            os.dup2(saved, fd)
            os.close(saved)
    out = os.pread(files[1], out_cap + 1, 0)
    size = os.fstat(files[2]).st_size
    err = os.pread(files[2], CAP_TRACEBACK, max(0, size - CAP_TRACEBACK))
    for file in files:
        os.close(file)
    reply: dict[str, Any] = {"stdout": out[:out_cap].decode(errors="replace"), "stderr": err.decode(errors="replace"),
                             "exit": status if isinstance(status, int) and 0 <= status < 256 else 1,
                             "cut": len(out) + size > out_cap, "cpu": round(cpu, 6)}
    if status == MEMORY_EXIT:
        reply["memory"] = True
    return reply


_FILE_SIZE_SET = False


def _limit_file_size(limit: int) -> None:
    """Cap what one write may make a file grow to (once): past it a write fails
    with EFBIG instead of filling memory (SIGXFSZ, which would end the process, is ignored)."""
    global _FILE_SIZE_SET
    if not _FILE_SIZE_SET:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        wanted = limit if hard == resource.RLIM_INFINITY else min(limit, hard)
        resource.setrlimit(resource.RLIMIT_FSIZE, (wanted, hard))
        _FILE_SIZE_SET = True


def _seconds(value: Any) -> float | None:
    return float(value) if type(value) in (int, float) else None


def _cpu_of(pid: int) -> float:
    """CPU seconds (user and system, all threads) a run has used: the process
    ``pid`` and every process in its process group (a compiler driver's
    cc1plus, a shell's commands), each with the children it has reaped; 0 if
    nothing can be read. Reads this PID namespace's /proc: a few entries."""
    total = 0.0
    try:
        names = os.listdir("/proc")
    except OSError:
        names = [str(pid)]
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            if int(name) == pid or int(fields[2]) == pid:
                total += sum(int(x) for x in fields[11:15]) / CLOCK_TICKS
        except (OSError, IndexError, ValueError):
            continue
    return total


def load(program: str, filename: str, as_main: bool) -> tuple[dict[str, Any], Any, dict[str, Any]]:
    """Compile ``program`` and (unless it runs as a script) execute it as a
    module. Returns the reply for the judge (ready, syntax_error or
    load_error), the compiled code, and the module's namespace."""
    linecache.cache[filename] = (len(program), None, program.splitlines(True), filename)
    namespace: dict[str, Any] = {"__name__": "solution", "__builtins__": builtins}
    try:
        code = compile(program, filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        info = {"message": str(exc)[:CAP_MESSAGE], "line": getattr(exc, "lineno", None),
                "offset": getattr(exc, "offset", None), "text": (getattr(exc, "text", None) or "")[:200],
                "formatted": "".join(traceback.format_exception_only(type(exc), exc))[-CAP_TRACEBACK:]}
        return {"syntax_error": info}, None, namespace
    if not as_main:
        try:
            exec(code, namespace)
        except BaseException as exc:  # noqa: BLE001 - reported to the judge as the program's failure
            return {"load_error": describe_exception(exc, filename)}, None, namespace
    return {"ready": True}, code, namespace


def answer(request: Any, code: Any, namespace: dict[str, Any], filename: str) -> dict[str, Any]:
    """The reply to one request from the judge: a call, or a run on stdin."""
    if type(request) is not dict:
        return {"exc": {"type": "TypeError", "name": "TypeError", "message": "a request that is not an object",
                        "traceback": "", "line": None}}
    if "stdin" in request and request.get("in_process") is True:
        return {"ok": wire.encode_value(_run_in_process(code, request["stdin"], request.get("cap", 1 << 20),
                                                        filename))}
    if "stdin" in request:
        return {"ok": wire.encode_value(_run_stdio(code, request["stdin"], request.get("cap", 1 << 20), filename,
                                                   _seconds(request.get("cpu_limit")),
                                                   _seconds(request.get("wall_limit"))))}
    try:
        func = resolve_entry(namespace, str(request.get("call")))
        if not callable(func):
            return {"exc": {"type": "NameError", "name": "NameError",
                            "message": f"the program does not define a function {request.get('call')!r}",
                            "traceback": "", "line": None}}
        args = wire.decode_value(request["args"])
        kwargs = wire.decode_value(request["kwargs"]) if "kwargs" in request else {}
        return {"ok": wire.encode_value(func(*args, **kwargs))}
    except wire.NotPlainData as exc:
        return {"exc": {"type": "TypeError", "name": "TypeError", "message": f"the return value: {exc}",
                        "traceback": "", "line": None}}
    except BaseException as exc:  # noqa: BLE001 - every failure of the program is a reply
        return {"exc": describe_exception(exc, filename)}


SOLUTION_INSTANCE = "__codeloop_solution__"


def resolve_entry(namespace: dict[str, Any], name: str) -> Any:
    """The function ``name`` the tests call: a top-level one, or else (LeetCode's
    convention, which LiveCodeBench's harness follows) that method of one
    ``Solution()`` made on first use and kept for every later call. None if neither."""
    func = namespace.get(name)
    if callable(func) or not isinstance(namespace.get("Solution"), type):
        return func
    if SOLUTION_INSTANCE not in namespace:
        namespace[SOLUTION_INSTANCE] = namespace["Solution"]()  # its exceptions are the program's, as a call's
    return getattr(namespace[SOLUTION_INSTANCE], name, None)


def serve(program: str, filename: str, req_fd: int, resp_fd: int, as_main: bool) -> None:
    """Load ``program`` and answer the judge's requests until the channel closes.

    Never returns: the process exits when the judge is done.
    """
    fresh_random_state()
    reply, code, namespace = load(program, filename, as_main)
    answer_until_closed(reply, req_fd, resp_fd, lambda request: answer(request, code, namespace, filename))


def answer_until_closed(ready: dict[str, Any], req_fd: int, resp_fd: int, respond: Any) -> None:
    """Send ``ready`` (the load's outcome); unless the program is ready, exit.
    Then reply ``respond(request)`` to each request until the judge closes the channel. Never returns."""
    _reply(resp_fd, ready)
    if "ready" not in ready:
        os._exit(0)
    requests = wire.FrameReader(req_fd)
    while True:
        try:
            request = requests.read()
        except wire.WireError:
            os._exit(0)
        _reply(resp_fd, respond(request))


_WARM_PROGRAM = """from typing import List


def f(values: List[int], k: int) -> List[int]:
    \"\"\"A program like the ones judged, run in the template to warm these paths.\"\"\"
    if k < 0:
        raise ValueError("k")
    return sorted(v * k for v in values if v % 2 == 0)
"""


# The modules the datasets' harnesses (APPS, verl's prime_code, LiveCodeBench) import in front of a program:
# loaded once in the template, a call-based task's prompt that imports them costs a sample nothing.
PRELOADED = ("string", "re", "datetime", "collections", "heapq", "bisect", "copy", "math", "random", "statistics",
             "itertools", "functools", "operator", "io", "json", "typing")


def fresh_random_state() -> None:
    """Reseed ``random`` if it is loaded: it was seeded once in the template, and
    every program (and every run of one) must not draw the same numbers."""
    module = sys.modules.get("random")
    if module is not None:
        module.seed()


def warm_up(rounds: int = 64) -> None:
    """Run the candidate's own code paths here, in the process candidates
    are forked from, so that the interpreter has specialised them already:
    a candidate then writes less memory it shares with its parent (fewer
    copy-on-write faults, a cheaper sample)."""
    for i in range(rounds):
        reply, code, namespace = load(_WARM_PROGRAM, "warm.py", False)
        for k in (i, -1):
            request = json.loads(wire.pack({"call": "f", "args": wire.encode_value([[1, 2, 3, 4], k])})[4:])
            wire.pack(answer(request, code, namespace, "warm.py"))
        reader = wire.FrameReader(-1)
        reader.buf += wire.pack({"call": "f", "args": [[2], 1]})
        reader.pending()
    linecache.cache.pop("warm.py", None)
    _standard_streams()
    for name in PRELOADED:
        importlib.import_module(name)
