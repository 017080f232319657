"""A row from what a trainer hands a reward function: verl's ``ground_truth``
and ``extra_info``, OpenRLHF's label, a row of verl's ``train.parquet``.

Below :mod:`codeloop.tasks.rows` (which resolves a row to its task) and the
task file reader (:mod:`codeloop.tasks.jsonl`), which both read rows this way.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..jsonl import json_object

TASK_FIELDS = frozenset({"test", "asserts", "cases"})


def in_own_format(row: Mapping[str, Any]) -> bool:
    """Whether ``row`` is a task in codeloop's own format (it has ``test``,
    ``asserts`` or ``cases``), not a dataset row that merely shares a field
    name with it (HumanEval+'s rows have a ``test``: the evalplus format claims them)."""
    from .formats import claims_over_task_fields

    return bool(TASK_FIELDS & row.keys()) and claims_over_task_fields(row) is None


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


def expand_inline(row: Mapping[str, Any]) -> dict[str, Any]:
    """``row`` with the task it carries under ``task`` (:func:`inline_task`) spread into it."""
    inline = inline_task(row)
    return {**row, **inline} if inline is not None else dict(row)


def verl_record_row(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """The row of one record of a verl dataset (a row of its ``train.parquet``:
    ``data_source``, ``prompt``, ``reward_model``, ``extra_info``), read as
    verl's reward function reads it (``codeloop.integrations.verl``):
    ``reward_model.ground_truth`` through :func:`row_from_label` with
    ``extra_info`` filling in, its inline task spread out. None when the
    record has no ``reward_model.ground_truth``."""
    reward = json_object(record.get("reward_model"))
    if reward is None or "ground_truth" not in reward:
        return None
    extra = json_object(record.get("extra_info"))
    return expand_inline(row_from_label(reward["ground_truth"], extra))
