"""The task of a trainer's dataset row: by id, or carried inline.

Trainers hand codeloop one row per sample: TRL passes the dataset's columns,
verl a ``ground_truth`` (and ``extra_info``), OpenRLHF a label. Each becomes
a row dict (:mod:`codeloop.tasks.labels`), and :func:`resolve_row` makes it a :class:`Task`.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..types import Task
from .errors import TaskNotFound
from .labels import TASK_FIELDS, expand_inline, in_own_format, inline_task, row_from_label, verl_record_row

__all__ = ["TASK_FIELDS", "expand_inline", "inline_task", "resolve_row", "row_from_label", "verl_record_row"]


def resolve_row(tasks: Mapping[str, Task], row: Mapping[str, Any]) -> Task:
    """The task of one dataset row: ``task_id`` known in ``tasks``, or the
    task's own fields (``test`` / ``asserts`` / ``cases``, ``entry_point``,
    ``prompt``, ...) inline, or a JSON text of them under ``task``, or a
    dataset's own test format (:mod:`codeloop.tasks.formats`: APPS / TACO /
    PRIME's ``inputs`` and ``outputs``, as verl's code data sources carry
    them in ``ground_truth``).

    Raises TaskNotFound, whose message says what is missing or malformed.
    """
    from .formats import detect, task_from_format

    row = expand_inline(row)
    task_id = row.get("task_id")
    own_fields = in_own_format(row)
    if isinstance(task_id, str) and task_id in tasks and not own_fields:
        return tasks[task_id]
    if own_fields:
        from .jsonl import InlineTaskError, task_from_fields

        try:
            return task_from_fields(dict(row), origin="inline")
        except InlineTaskError as exc:
            raise TaskNotFound(f"bad inline task: {exc}") from None
    name = detect(row)
    if name is not None:
        return task_from_format(row, name, task_id=str(task_id or row.get("problem_id") or name))
    raise TaskNotFound(f"no task for row (task_id={task_id!r}, and no inline 'test', 'asserts' or 'cases')")
