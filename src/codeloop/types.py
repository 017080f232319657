"""The records every layer above the sandbox shares: tasks, verdicts and failures.

Frozen dataclasses, serialised to JSON by :meth:`Verdict.to_dict` and read back
by :meth:`Verdict.from_dict`. A status is one :class:`Status`; a failure is
one member of the :data:`Failure` union, chosen by what went wrong, so code
that explains a verdict matches on a type instead of probing dict keys.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields, replace
from enum import Enum
from functools import cached_property
from typing import Any, ClassVar, Final, Literal, Mapping, Union


class Status(str, Enum):
    """How a program fared against a task's tests.

    A ``str`` enum: members compare equal to their values and serialise as
    them, so results files keep plain strings.
    """

    PASSED = "passed"              # every test ran to completion on the judge's side and held
    FAILED = "failed"              # a wrong answer: an assertion or output comparison did not hold
    ERROR = "error"                # the program raised an exception
    TIMEOUT = "timeout"            # over the time limit (wall or CPU)
    MEMORY_LIMIT = "memory_limit"  # over the memory limit
    OUTPUT_LIMIT = "output_limit"  # printed more than the output limit
    KILLED = "killed"              # exited or died on a signal before the tests were done
    SYNTAX_ERROR = "syntax_error"  # the program does not compile
    NO_CODE = "no_code"            # there was no code to run
    INFRA_ERROR = "infra_error"    # the evaluator failed; not the program's fault, never scored

    def __str__(self) -> str:
        return self.value


STATUSES: tuple[Status, ...] = tuple(Status)
# no program that could run: nothing to reward partly, and no candidate to select
NO_PROGRAM: frozenset[Status] = frozenset({Status.SYNTAX_ERROR, Status.NO_CODE})


class TaskKind(str, Enum):
    """How a task's tests are written (see :class:`Task`)."""

    CHECK = "check"
    ASSERTS = "asserts"
    STDIO = "stdio"

    def __str__(self) -> str:
        return self.value


Isolation = Literal["full", "weak"]
Integrity = Literal["split", "in-process"]  # where a task's tests run: the judge, or the program's own process
SPLIT: Final = "split"  # the tests run in the judge; the program's values cross to it as data
IN_PROCESS: Final = "in-process"  # the tests run in the program's own process (verify/in_process.py)
INTEGRITIES: tuple[Integrity, ...] = (SPLIT, IN_PROCESS)
TASK_MEMO: Final = "_judge_memo"  # the name of the dict a task's tests keep across samples, in the judge only


# -- tasks ----------------------------------------------------------------------


@dataclass(frozen=True)
class IOCase:
    """One stdin/stdout case; ``output`` None means "only run it" (SandboxFusion's run_code)."""

    input: str
    output: str | None = None


@dataclass(frozen=True)
class Task:
    """A programming task and the tests that judge it.

    ``kind`` says how the tests are written:
    ``check``: ``test`` defines ``check(candidate)`` (HumanEval);
    ``asserts``: assert statements that call ``entry_point`` by name (MBPP),
    after optional ``setup`` code;
    ``stdio``: ``cases`` for a whole program that reads stdin and writes stdout.
    ``reference`` is a complete correct program; it calibrates time limits.
    ``instructions`` are validated code-instruction specs (``{"id", **params}``).
    ``time_limit`` (seconds) and ``memory_limit`` (MiB, address space) are the
    task's own limits; None leaves them to the judge's policy and default.
    ``compare`` is how ``stdio`` outputs are compared (a checked spec from
    :func:`codeloop.compare.check_spec`; None: line by line).
    ``time_limit_per_test`` (seconds of CPU) bounds each stdio case on its
    own, as judges of contest problems do: a case over it is that case's
    time-out and the next case still runs. Without ``time_limit``, all the
    cases together then get :func:`wall_for_cases` of wall time.
    ``stop_on_failure``: stop at the first test that fails (verl's and APPS's
    harnesses do); the tests after it are not run and count as not passed.
    ``language``: what the program is written in (a name of
    :data:`codeloop.sandbox.languages.LANGUAGES`); other than Python, only
    ``stdio`` tasks, the program compiled once and run on each case.
    ``tests_in_one_process``: run the stdio cases one after another in the one
    sandboxed process, as APPS's and verl's harnesses do, instead of a fresh
    process forked for each (about 1 ms less a case here; but a case's state
    can leak into the next, and a time-out or an exit ends the cases left).
    ``files``: files the program finds in its working folder (name to the
    base64 of its bytes, as SandboxFusion's ``files``; names are relative,
    checked by :func:`check_files`). ``compile_time_limit``: seconds the
    compiler may take (None: the language's default). ``environment``: the
    name (or key) of a package environment whose packages the program may
    import (:mod:`codeloop.sandbox.environments`; built with ``codeloop env
    build``); None: the standard library only. ``template``: the program
    around the model's code, which goes where ``[insert]`` is (DS-1000's
    form); None: the code is the program (or completes the prompt).
    ``integrity``: ``split`` (the tests run in the judge, the program's values
    cross as data) or ``in-process`` (the tests run beside the program, in its
    process, for what cannot cross; see :mod:`codeloop.verify.in_process` for
    what a program could forge there).
    ``probes``: an ``asserts`` task's bare top-level calls of the entry point
    (no ``assert``) are probes: their values are recorded in the verdict's
    ``values`` instead of checked, and they are not tests (not counted in
    ``tests_passed`` / ``tests_total``). Set by the probe task codeloop builds
    for selection by agreement (:func:`codeloop.tasks.visible.probe_task`);
    off, a bare call just runs.
    """

    task_id: str
    kind: TaskKind
    prompt: str = ""
    entry_point: str = ""
    test: str = ""
    asserts: tuple[str, ...] = ()
    setup: str = ""
    cases: tuple[IOCase, ...] = ()
    reference: str | None = None
    time_limit: float | None = None
    memory_limit: int | None = None
    compare: Mapping[str, Any] | None = None
    instructions: tuple[Mapping[str, Any], ...] = ()
    origin: str = ""
    time_limit_per_test: float | None = None
    stop_on_failure: bool = False
    tests_in_one_process: bool = False
    language: str = "python"
    files: Mapping[str, str] | None = None
    compile_time_limit: float | None = None
    environment: str | None = None
    template: str | None = None
    integrity: Integrity = SPLIT
    probes: bool = False

    @cached_property
    def key(self) -> str:
        """A digest of everything that decides how a program is judged (not the
        id or where the task was read): two tasks with the same key share time
        limits, calibration and compiled tests, whoever asks."""
        content: list[Any] = [
            self.kind.value, self.prompt, self.entry_point, self.test, list(self.asserts), self.setup,
            [[c.input, c.output] for c in self.cases], self.reference, self.time_limit,
            [dict(i) for i in self.instructions]]
        if self.memory_limit is not None:  # appended only when set, so existing keys stay as they were
            content.append(self.memory_limit)
        content.extend([name, value] for name, value in self._options())
        blob = json.dumps(content, separators=(",", ":"), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:24]

    def _options(self) -> list[tuple[str, Any]]:
        """The optional settings that differ from their defaults, as JSON-able (name, value)
        pairs in a fixed order: what both the key and the task format write."""
        out: list[tuple[str, Any]] = []
        for name, default in _OPTION_DEFAULTS:
            value = getattr(self, name)
            if value == default or (isinstance(value, Mapping) and not value):  # no files is files={} too
                continue
            out.append((name, dict(value) if isinstance(value, Mapping) else value))
        return out

    def to_record(self) -> dict[str, Any]:
        """This task in the JSONL task format (docs/tasks.md), e.g. to send it inline."""
        record: dict[str, Any] = {"task_id": self.task_id, "prompt": self.prompt}
        if self.kind is TaskKind.CHECK:
            record["test"] = self.test
        elif self.kind is TaskKind.ASSERTS:
            record["asserts"] = list(self.asserts)
            record["setup"] = self.setup
        else:
            record["cases"] = [{"input": c.input, "output": c.output} for c in self.cases]
        if self.entry_point:
            record["entry_point"] = self.entry_point
        if self.reference is not None:
            record["reference"] = self.reference
        if self.time_limit is not None:
            record["time_limit"] = self.time_limit
        if self.memory_limit is not None:
            record["memory_limit"] = self.memory_limit
        if self.instructions:
            record["instructions"] = [dict(i) for i in self.instructions]
        record.update(self._options())
        return record


# Task's optional settings in the order the key appends them (appended only when set, so a key
# computed before a setting existed stays the same), with the value that means "not set".
_OPTION_DEFAULTS: tuple[tuple[str, Any], ...] = (
    ("compare", None), ("time_limit_per_test", None), ("stop_on_failure", False), ("tests_in_one_process", False),
    ("language", "python"), ("files", None), ("compile_time_limit", None), ("environment", None),
    ("template", None), ("integrity", SPLIT), ("probes", False))

INSERT = "[insert]"


def fill_template(template: str, code: str) -> str:
    """The program for ``code`` written for a task with ``template`` (DS-1000's form): the template with the
    code at its first ``[insert]``. Callers decide whether a task has a template at all; only the first
    ``[insert]`` is filled, so code that itself holds the marker is left as written."""
    return template.replace(INSERT, code, 1)


MAX_FILES = 64
MAX_FILES_BYTES = 16 << 20


def check_files(files: Mapping[str, Any]) -> dict[str, str]:
    """``files`` (name to base64 of the bytes) checked: each name a relative
    path without ``..`` or NUL, at most :data:`MAX_FILES` files and
    :data:`MAX_FILES_BYTES` decoded bytes in all, each value valid base64.
    Returns them as a plain dict; raises ValueError naming the file at fault."""
    import base64
    import binascii
    import posixpath

    if len(files) > MAX_FILES:
        raise ValueError(f"at most {MAX_FILES} files, not {len(files)}")
    total = 0
    for name, content in files.items():
        parts = name.split("/")
        if (not name or "\0" in name or posixpath.isabs(name) or ".." in parts or "" in parts or len(name) > 255):
            raise ValueError(f"file name {name!r} must be a relative path inside the working folder")
        if type(content) is not str:
            raise ValueError(f"file {name!r}: its content must be base64 text")
        try:
            total += len(base64.b64decode(content, validate=True))
        except (binascii.Error, ValueError):
            raise ValueError(f"file {name!r}: its content is not valid base64") from None
    if total > MAX_FILES_BYTES:
        raise ValueError(f"files hold {total} bytes, over the {MAX_FILES_BYTES} allowed")
    return dict(files)


CASE_WALL_FACTOR = 2.0   # wall time a case may take per second of its CPU limit (a busy machine)
CASE_WALL_EXTRA = 0.5    # and on top: the fork, the pipes, the interpreter's exit
MAX_TASK_WALL = 600.0


def case_wall_limit(cpu_limit: float) -> float:
    """The wall time one stdio case may take when its CPU limit is ``cpu_limit``:
    a program that sleeps or waits uses no CPU and is stopped by this instead."""
    return CASE_WALL_FACTOR * cpu_limit + CASE_WALL_EXTRA


def wall_for_cases(task: Task) -> float | None:
    """All of a task's stdio cases' wall time when only a per-test limit is
    given: each case's :func:`case_wall_limit`, summed, at most 600 s."""
    if task.time_limit_per_test is None:
        return None
    return min(MAX_TASK_WALL, max(1, len(task.cases)) * case_wall_limit(task.time_limit_per_test))


# -- failures -------------------------------------------------------------------


@dataclass(frozen=True)
class ExceptionInfo:
    """An exception the program raised: its builtin type name (or "Exception"
    for its own classes), its real class name, message, and a traceback
    trimmed to the program's own lines."""

    type: str
    name: str = ""
    message: str = ""
    traceback: str = ""
    line: int | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ExceptionInfo":
        return cls(type=str(d.get("type") or "Exception"), name=str(d.get("name") or d.get("type") or "Exception"),
                   message=str(d.get("message") or ""), traceback=str(d.get("traceback") or ""),
                   line=_int_or_none(d.get("line")))


@dataclass(frozen=True)
class WrongAnswer:
    """A check did not hold: the test (its source line), the call's input and
    the expected and actual values (capped reprs), or the stdin case number."""

    kind: ClassVar[str] = "wrong_answer"
    test: str | None = None
    line: int | None = None
    input: str | None = None
    expected: str | None = None
    actual: str | None = None
    case: int | None = None


@dataclass(frozen=True)
class UnusableResult:
    """The test itself raised on the program's answer (say, a length check on
    a value that has none): a wrong answer whose detail is that exception."""

    kind: ClassVar[str] = "unusable_result"
    exception: ExceptionInfo
    test: str | None = None
    line: int | None = None
    input: str | None = None


@dataclass(frozen=True)
class ProgramRaised:
    """The program raised, during a call (``input`` says which) or while loading."""

    kind: ClassVar[str] = "raised"
    exception: ExceptionInfo
    test: str | None = None
    line: int | None = None
    input: str | None = None
    case: int | None = None
    while_loading: bool = False


@dataclass(frozen=True)
class CompileError:
    """The program does not compile: the compiler's message and where."""

    kind: ClassVar[str] = "compile_error"
    message: str
    line: int | None = None
    offset: int | None = None
    text: str = ""
    formatted: str = ""  # the compiler's own report, as it would print it


@dataclass(frozen=True)
class LimitExceeded:
    """A resource limit stopped the program: time, memory or output."""

    kind: ClassVar[str] = "limit"
    limit: Literal["time", "memory", "output"]
    message: str
    input: str | None = None
    time_limit: float | None = None


@dataclass(frozen=True)
class Crashed:
    """The program exited, or died on a signal, before the tests were done."""

    kind: ClassVar[str] = "crashed"
    message: str
    input: str | None = None
    signal: str | None = None


@dataclass(frozen=True)
class NoCode:
    """There was nothing to run."""

    kind: ClassVar[str] = "no_code"
    message: str = "there is no code to run"


@dataclass(frozen=True)
class EvaluatorFailed:
    """The evaluator failed (a worker lost, a task whose own test is broken):
    says nothing about the program. ``broken_task`` means retrying cannot help."""

    kind: ClassVar[str] = "evaluator"
    message: str
    broken_task: bool = False


Failure = Union[WrongAnswer, UnusableResult, ProgramRaised, CompileError, LimitExceeded, Crashed, NoCode,
                EvaluatorFailed]
FAILURE_TYPES: dict[str, type] = {t.kind: t for t in (WrongAnswer, UnusableResult, ProgramRaised, CompileError,
                                                       LimitExceeded, Crashed, NoCode, EvaluatorFailed)}
STATUS_OF_LIMIT: dict[str, Status] = {"time": Status.TIMEOUT, "memory": Status.MEMORY_LIMIT,
                                      "output": Status.OUTPUT_LIMIT}


def plain(value: Any) -> Any:
    """JSON-able data from a record of this module: dataclasses become dicts
    of their fields, tuples lists (shallow where it can be: no deep copies)."""
    if hasattr(value, "__dataclass_fields__"):
        return {k: plain(v) for k, v in value.__dict__.items()}
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    return value


def failure_to_dict(f: Failure) -> dict[str, Any]:
    """A failure as JSON-able data, tagged with its ``kind``."""
    d: dict[str, Any] = {"kind": f.kind}
    d.update(plain(f))
    return d


def failure_from_dict(d: Mapping[str, Any], status: Status | None = None) -> Failure:
    """Read a failure back; ``status`` picks the type of records written
    without a ``kind`` (results files of codeloop 0.1). Raises ValueError."""
    kind = d.get("kind") or _legacy_kind(d, status)
    cls = FAILURE_TYPES.get(str(kind))
    if cls is None:
        raise ValueError(f"unknown failure kind {kind!r}")
    names = {f.name for f in fields(cls)}
    values = {k: v for k, v in d.items() if k in names}
    if "exception" in names:
        values["exception"] = ExceptionInfo.from_dict(d.get("exception") or {})
    if cls is LimitExceeded and "limit" not in values:
        values["limit"] = {Status.MEMORY_LIMIT: "memory", Status.OUTPUT_LIMIT: "output"}.get(status, "time")  # type: ignore[arg-type]
    if cls in (LimitExceeded, Crashed, EvaluatorFailed, CompileError) and "message" not in values:
        values["message"] = str((d.get("exception") or {}).get("message", "")) if cls is CompileError else ""
    return cls(**values)


def _legacy_kind(d: Mapping[str, Any], status: Status | None) -> str:
    if status is Status.SYNTAX_ERROR:
        return CompileError.kind
    if status in (Status.TIMEOUT, Status.MEMORY_LIMIT, Status.OUTPUT_LIMIT):
        return LimitExceeded.kind
    if status is Status.KILLED:
        return Crashed.kind
    if status is Status.NO_CODE:
        return NoCode.kind
    if status is Status.INFRA_ERROR:
        return EvaluatorFailed.kind
    exc = d.get("exception")
    if status is Status.ERROR:
        return ProgramRaised.kind
    if isinstance(exc, Mapping) and exc.get("where") == "test":
        return UnusableResult.kind
    return WrongAnswer.kind


# -- verdicts -------------------------------------------------------------------


@dataclass(frozen=True)
class ViolationInfo:
    """Where code breaks an instruction."""

    line: int
    column: int
    message: str
    rule: str


@dataclass(frozen=True)
class InstructionResult:
    """One code instruction checked on a program."""

    id: str
    params: Mapping[str, Any]
    sentence: str
    passed: bool
    violations: tuple[ViolationInfo, ...] = ()
    violation_count: int = 0

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "InstructionResult":
        return cls(id=str(d["id"]), params=dict(d.get("params") or {}), sentence=str(d.get("sentence", "")),
                   passed=bool(d.get("passed")),
                   violations=tuple(ViolationInfo(int(v.get("line", 0)), int(v.get("column", 0)),
                                                  str(v.get("message", "")), str(v.get("rule", "")))
                                    for v in d.get("violations") or ()),
                   violation_count=int(d.get("violation_count", len(d.get("violations") or ()))))


@dataclass(frozen=True)
class Cost:
    """What a passing program cost against the task's reference, counted by
    ``method``: ``ratio`` = reference / candidate (above 1: cheaper than the
    reference). ``error`` says why nothing was counted."""

    method: str
    candidate: int | None = None
    reference: int | None = None
    ratio: float | None = None
    baseline: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class StdioRun:
    """What a whole program did on one stdin case that had no expected output."""

    stdout: str
    stderr: str
    exit: int | None
    seconds: float | None = None


@dataclass(frozen=True)
class CaseResult:
    """How the program fared on one stdio case: its ``index`` in the task's
    cases, a :class:`Status` (passed, failed, error, timeout, memory_limit,
    output_limit, killed) and the CPU seconds the run took (None if unknown)."""

    index: int
    status: Status
    seconds: float | None = None


@dataclass(frozen=True)
class Timing:
    """Where one sample's time went, as the trusted processes measured it (seconds)."""

    spawn: float | None = None        # the zygote creating the candidate: clone from the template, pipes
    load: float | None = None         # hand-off to the judge until the program was loaded: set-up, compile, module
    calls: int | None = None          # calls the tests made into the program
    calibration: float | None = None  # the judge timing the task's reference, not charged to the program


@dataclass(frozen=True)
class Verdict:
    """What happened when one program met one task's tests."""

    status: Status
    tests_passed: int | None = None
    tests_total: int | None = None
    failure: Failure | None = None
    stdout: str = ""
    stderr: str = ""
    test_seconds: float | None = None
    cpu_seconds: float | None = None
    wall_seconds: float | None = None
    time_limit: float | None = None
    isolation: Isolation = "full"
    attempts: int = 1
    instructions: tuple[InstructionResult, ...] | None = None
    cost: Cost | None = None
    test_results: tuple[bool, ...] | None = None  # each counted test in order (the first 1,000)
    runs: tuple[StdioRun, ...] | None = None       # stdio cases with no expected output: what the program did
    timing: Timing | None = None
    case_results: tuple[CaseResult, ...] | None = None  # stdio: each case that ran, in order (the first 1,000)
    integrity: Integrity = SPLIT  # "in-process": the tests ran in the program's process (it could forge them)
    values: tuple[str, ...] | None = None  # asserts tasks: what each probe (a bare call) returned, as text

    @property
    def passed(self) -> bool:
        return self.status is Status.PASSED

    def with_(self, **changes: Any) -> "Verdict":
        """A copy with some fields changed."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able data: the fields, ``passed``, and the failure tagged with its kind."""
        d: dict[str, Any] = {"status": self.status.value, "passed": self.passed}
        for name, value in self.__dict__.items():
            if name == "status":
                continue
            if name == "values" and value is None:
                continue  # only probe tasks have values: other results lines stay as they were
            if name == "failure":
                d[name] = failure_to_dict(value) if value is not None else None
            elif value is None or type(value) in (str, int, float, bool):
                d[name] = value
            else:
                d[name] = plain(value)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Verdict":
        """A verdict from :meth:`to_dict` output or a results line (extra keys,
        like index and task_id, are ignored). Raises ValueError for an unknown status."""
        status = Status(d["status"])
        failure = d.get("failure")
        cost = d.get("cost")
        return cls(
            status=status, tests_passed=_int_or_none(d.get("tests_passed")),
            tests_total=_int_or_none(d.get("tests_total")),
            failure=failure_from_dict(failure, status) if isinstance(failure, Mapping) else None,
            stdout=str(d.get("stdout") or ""), stderr=str(d.get("stderr") or ""),
            test_seconds=d.get("test_seconds"), cpu_seconds=d.get("cpu_seconds"),
            wall_seconds=d.get("wall_seconds"), time_limit=d.get("time_limit"),
            isolation="weak" if d.get("isolation") == "weak" else "full", attempts=int(d.get("attempts", 1)),
            instructions=tuple(InstructionResult.from_dict(i) for i in d["instructions"])
            if d.get("instructions") is not None else None,
            cost=Cost(**{k: v for k, v in cost.items() if k in _COST_FIELDS}) if isinstance(cost, Mapping) else None,
            test_results=tuple(bool(x) for x in d["test_results"]) if d.get("test_results") is not None else None,
            runs=tuple(StdioRun(str(r.get("stdout", "")), str(r.get("stderr", "")), _int_or_none(r.get("exit")),
                                r.get("seconds")) for r in d["runs"]) if d.get("runs") is not None else None,
            timing=Timing(**{k: v for k, v in d["timing"].items() if k in _TIMING_FIELDS})
            if isinstance(d.get("timing"), Mapping) else None,
            case_results=tuple(CaseResult(int(c["index"]), Status(c["status"]), c.get("seconds"))
                               for c in d["case_results"]) if d.get("case_results") is not None else None,
            integrity=IN_PROCESS if d.get("integrity") == IN_PROCESS else SPLIT,
            values=tuple(str(v) for v in d["values"]) if d.get("values") is not None else None,
        )


_COST_FIELDS = {f.name for f in fields(Cost)}
_TIMING_FIELDS = {f.name for f in fields(Timing)}


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def evaluator_failure(message: str, isolation: Isolation = "full", *, broken_task: bool = False,
                      attempts: int = 1, time_limit: float | None = None) -> Verdict:
    """The verdict for an evaluator failure: status ``infra_error``, never scored."""
    return Verdict(status=Status.INFRA_ERROR, failure=EvaluatorFailed(message, broken_task), isolation=isolation,
                   attempts=attempts, time_limit=time_limit)


__all__ = ["Status", "STATUSES", "TaskKind", "Isolation", "IOCase", "Task", "ExceptionInfo", "WrongAnswer",
           "UnusableResult", "ProgramRaised", "CompileError", "LimitExceeded", "Crashed", "NoCode",
           "EvaluatorFailed", "Failure", "case_wall_limit", "wall_for_cases", "failure_to_dict", "failure_from_dict",
           "ViolationInfo",
           "InstructionResult", "Cost", "StdioRun", "CaseResult", "Timing", "Verdict", "evaluator_failure",
           "check_files", "MAX_FILES", "MAX_FILES_BYTES", "INSERT", "fill_template", "Integrity",
           "SPLIT", "IN_PROCESS", "INTEGRITIES", "TASK_MEMO"]
