"""Records shared by every layer: tasks, samples and verdicts.

Plain dataclasses that serialise to JSON with :func:`dataclasses.asdict`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

STATUSES = (
    "passed",        # every test ran to completion on the judge's side and held
    "failed",        # a wrong answer: an assertion or output comparison did not hold
    "error",         # the program raised an exception
    "timeout",       # over the time limit (wall or CPU)
    "memory_limit",  # over the memory limit
    "output_limit",  # printed more than the output limit
    "killed",        # exited or died on a signal before the tests were done
    "syntax_error",  # the program does not compile
    "no_code",       # there was no code to run
    "infra_error",   # the evaluator failed; not the program's fault, never scored
)
TASK_KINDS = ("check", "asserts", "stdio")


@dataclass
class Task:
    """A programming task and the tests that judge it.

    ``kind`` says how the tests are written:
    ``check``: ``test`` defines ``check(candidate)`` (HumanEval);
    ``asserts``: ``asserts`` is a list of assert statements that call
    ``entry_point`` by name (MBPP), after optional ``setup`` code;
    ``stdio``: ``cases`` is a list of {"input", "output"} for a whole program
    that reads stdin and writes stdout.
    ``reference`` is a complete correct program; it calibrates time limits.
    """

    task_id: str
    kind: str
    prompt: str = ""
    entry_point: str = ""
    test: str = ""
    asserts: list[str] = field(default_factory=list)
    setup: str = ""
    cases: list[dict[str, str]] = field(default_factory=list)
    reference: str | None = None
    time_limit: float | None = None
    instructions: list[dict[str, Any]] = field(default_factory=list)  # [{"id": ..., **params}]
    origin: str = ""

    def judge_job(self) -> dict[str, Any]:
        """What the judge process needs: the tests (never sent to the candidate)."""
        return {"kind": self.kind, "prompt": self.prompt, "test": self.test, "asserts": self.asserts,
                "setup": self.setup, "cases": self.cases, "entry_point": self.entry_point or "main"}


@dataclass
class Verdict:
    """What happened when one program met one task's tests."""

    status: str
    passed: bool
    tests_passed: int | None = None
    tests_total: int | None = None
    failure: dict[str, Any] | None = None
    stdout: str = ""
    stderr: str = ""
    test_seconds: float | None = None
    cpu_seconds: float | None = None
    wall_seconds: float | None = None
    time_limit: float | None = None
    isolation: str = "full"
    attempts: int = 1
    instructions: list[dict[str, Any]] | None = None  # per instruction: id, params, passed, violations
    cost: dict[str, Any] | None = None  # efficiency: method, candidate, reference, ratio
    test_results: list[bool] | None = None  # each counted test in order (the first 1,000)
    runs: list[dict[str, Any]] | None = None  # stdio cases with no expected output: what the program did
    # The arguments of every call the tests made (encoded), when asked for:
    # efficiency replays them. Kept in memory only, never written out.
    call_log: list | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("call_log")
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Verdict":
        """A verdict from a results line (extra keys, like index and task_id, are ignored)."""
        names = {f.name for f in fields(cls)} - {"call_log"}
        return cls(**{k: v for k, v in d.items() if k in names})
