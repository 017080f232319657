"""The task of a trainer's dataset row: by id, or carried inline.

Trainers hand codeloop one row per sample: TRL passes the dataset's columns,
verl a ``ground_truth`` (and ``extra_info``), OpenRLHF a label. Each becomes
a row dict here, and :func:`resolve_row` makes it a :class:`Task`.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..jsonl import json_object
from ..types import Task
from .errors import TaskNotFound

TASK_FIELDS = frozenset({"test", "asserts", "cases"})


def inline_task(row: Mapping[str, Any]) -> dict[str, Any] | None:
    """The task a row carries under ``task``, as a dict or as JSON text; None if none."""
    return json_object(row.get("task"))


def row_from_label(label: Any, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A row from a trainer's label (verl's ``ground_truth``, OpenRLHF's
    label): a task id, a task as JSON text, or a dict of row fields;
    ``extra`` (verl's ``extra_info``) fills in what the label leaves out."""
    row: dict[str, Any] = dict(extra) if isinstance(extra, Mapping) else {}
    if isinstance(label, Mapping):
        row.update(label)
    elif isinstance(label, str) and label.lstrip().startswith("{"):
        row["task"] = label
    elif isinstance(label, str):
        row["task_id"] = label
    return row


def resolve_row(tasks: Mapping[str, Task], row: Mapping[str, Any]) -> Task:
    """The task of one dataset row: ``task_id`` known in ``tasks``, or the
    task's own fields (``test`` / ``asserts`` / ``cases``, ``entry_point``,
    ``prompt``, ...) inline, or a JSON text of them under ``task``, or a
    dataset's own test format (:mod:`codeloop.tasks.formats`: APPS / TACO /
    PRIME's ``inputs`` and ``outputs``, as verl's code data sources carry
    them in ``ground_truth``).

    Raises TaskNotFound, whose message says what is missing or malformed.
    """
    inline = inline_task(row)
    if inline is not None:
        row = {**row, **inline}
    task_id = row.get("task_id")
    if isinstance(task_id, str) and task_id in tasks and not (TASK_FIELDS & row.keys()):
        return tasks[task_id]
    if TASK_FIELDS & row.keys():
        from .jsonl import InlineTaskError, task_from_fields

        try:
            return task_from_fields(dict(row), origin="inline")
        except InlineTaskError as exc:
            raise TaskNotFound(f"bad inline task: {exc}") from None
    from .formats import detect, task_from_format

    name = detect(row)
    if name is not None:
        return task_from_format(row, name, task_id=str(task_id or row.get("problem_id") or name))
    raise TaskNotFound(f"no task for row (task_id={task_id!r}, and no inline 'test', 'asserts' or 'cases')")
