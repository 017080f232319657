"""The errors task readers raise."""

from __future__ import annotations

from ..jsonl import InputError


class TaskNotFound(KeyError):
    """No task could be made from a dataset row (unknown id and no inline tests). ``field``: the row's field
    at fault, when one is (a task file's error names it beside the file and line)."""

    def __init__(self, message: str = "no task", field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "no task"


__all__ = ["InputError", "TaskNotFound"]
