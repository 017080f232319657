"""What crosses between the orchestrator and a sandbox worker: the typed jobs
the zygote runs and the reports it sends back.

TypedDicts, not dataclasses: they are plain dicts at run time, so the zygote
(which every candidate is forked from) stays small, and they still give the
type checker every key. A job names its kind in ``kind``; the zygote
dispatches on it through a table, one entry per kind.

The judge's side is not here: the sandbox carries the judge's job and its
result as opaque JSON, so another kind of judge plugs in without a change to
the sandbox (see :class:`JudgeEntry`).
"""

from __future__ import annotations

from typing import Any, Literal, Optional, Protocol, TypedDict, Union


class LimitsWire(TypedDict):
    """Resource limits as the candidate applies them (see ``Limits``)."""

    memory_mb: int
    processes: int
    file_mb: int
    open_files: int
    output_bytes: int
    tmpfs_mb: int
    cpu_seconds: float


class CallJob(TypedDict):
    """Run ``program`` in a fresh candidate and let the judge call into it.

    ``as_main``: the program is a whole script (stdin tests), not loaded as a
    module. ``language``: not Python, the program is compiled once in the
    candidate (:mod:`codeloop.sandbox.native`) and run on each stdin request. ``guard``: seconds after which the zygote stops the sample
    whatever the judge says.
    """

    kind: Literal["call"]
    program: str
    filename: str
    as_main: bool
    limits: LimitsWire
    guard: float
    language: str                     # a languages.LANGUAGES name
    compile_seconds: Optional[float]  # the compiler's time limit; None: the language's default
    binary: Optional[str]             # base64 of the program compiled from this source before: no compiling
    include: Optional[str]            # a folder of precompiled headers (sandbox/headers.py), searched first
    files: Optional[dict[str, str]]   # name (relative) -> base64: placed in the working folder before the program


class JudgeOnlyJob(TypedDict):
    """The judge runs its job with no candidate (trusted code, such as a
    task's reference solution timed in the judge)."""

    kind: Literal["judge_only"]
    guard: float


class MeasureSpec(TypedDict):
    """A measuring run: ``runner`` (Python source) runs under ``valgrind``
    and calls ``entry_point`` of ``program`` with each of ``calls``."""

    program: str
    entry_point: str
    calls: list[Any]
    valgrind: str
    python: str
    runner: str


class MeasureJob(TypedDict):
    """Count the instructions of a measuring run, sandboxed like a candidate."""

    kind: Literal["measure"]
    spec: MeasureSpec
    limits: LimitsWire
    guard: float


Job = Union[CallJob, JudgeOnlyJob, MeasureJob]


class StreamWire(TypedDict):
    """The first and last bytes a stream carried, and how many in all."""

    head: str
    tail: str
    bytes: int


class CallReport(TypedDict):
    """How a candidate ended, from the zygote (trusted; it never saw a test)."""

    setup_failed: Optional[str]  # the candidate could not be set up: the evaluator's failure
    exit: Optional[int]          # exit code, or minus the signal; None if it was still running
    cpu: Optional[float]         # user + system seconds of the candidate's main process
    maxrss_kb: Optional[int]
    stdout: StreamWire
    stderr: StreamWire
    output_limit: bool
    guard_hit: bool
    judge_lost: bool
    wall: float                  # seconds from the job's start to the judge's end
    spawn: float                 # seconds the zygote spent creating the candidate


class JudgeOnlyReport(TypedDict):
    guard_hit: bool
    judge_lost: bool
    wall: float


class MeasureReport(TypedDict):
    setup_failed: Optional[str]
    instructions: Optional[int]
    exit: Optional[int]
    timed_out: bool
    output_limit: bool
    log_tail: str
    cpu: float
    wall: float


Report = Union[CallReport, JudgeOnlyReport, MeasureReport]


class Hello(TypedDict, total=False):
    """The worker's first frame: ``ready`` facts, an ``error`` (namespaces
    cannot be made here), or ``failed`` (its processes could not start)."""

    ready: dict[str, Any]
    error: str
    failed: str


class WorkerFailure(TypedDict):
    """In place of a report: the zygote could not run a job (a limit it cannot
    apply, a template or judge gone); the pool replaces the worker."""

    worker_error: str


class JudgeEntry(Protocol):
    """A judge: called in the judge process once per job, with the job as the
    orchestrator sent it and the channel to the sample's candidate (None for a
    judge-only job). Returns the JSON-able result sent back to the orchestrator;
    a result with ``"candidate_gone": true`` tells the zygote the candidate
    ended by itself. Exceptions it lets through are reported as a crash of the
    judge."""

    def __call__(self, job: Any, channel: Any) -> dict[str, Any]: ...
