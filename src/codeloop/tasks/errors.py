"""The errors task readers raise."""

from __future__ import annotations

from ..jsonl import InputError


class TaskNotFound(KeyError):
    """No task could be made from a dataset row (unknown id and no inline tests)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "no task"


__all__ = ["InputError", "TaskNotFound"]
