"""The project's own task format: one JSON object per line (docs/tasks.md).

Validated with pydantic; every error names the file, the line and the field.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..instructions import InstructionError
from ..instructions import validate as validate_instructions
from ..types import Task
from .errors import InputError


class IOCase(BaseModel):
    """One stdin/stdout case."""

    model_config = ConfigDict(extra="forbid", strict=True)
    input: str
    output: str


class TaskRecord(BaseModel):
    """One line of a task file."""

    model_config = ConfigDict(extra="forbid", strict=True)
    task_id: str = Field(min_length=1)
    prompt: str = ""
    entry_point: Optional[str] = None
    test: Optional[str] = None
    asserts: Optional[list[str]] = None
    setup: str = ""
    cases: Optional[list[IOCase]] = None
    reference: Optional[str] = None
    time_limit: Optional[float] = Field(default=None, gt=0, le=600)
    instructions: list[dict[str, Any]] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("entry_point")
    @classmethod
    def _identifier(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and not v.isidentifier():
            raise ValueError(f"{v!r} is not a Python identifier")
        return v

    @field_validator("asserts", "cases")
    @classmethod
    def _non_empty(cls, v: Optional[list]) -> Optional[list]:
        if v is not None and not v:
            raise ValueError("must hold at least one test")
        return v

    @model_validator(mode="after")
    def _one_kind(self) -> "TaskRecord":
        given = [k for k in ("test", "asserts", "cases") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'test' (a check(candidate) function), "
                             "'asserts' (a list of assert statements) or 'cases' (stdin/stdout pairs)"
                             + (f"; got {', '.join(given)}" if given else ""))
        if given[0] != "cases" and not self.entry_point:
            raise ValueError(f"'entry_point' is required with '{given[0]}'")
        return self

    def to_task(self, origin: str) -> Task:
        kind = "check" if self.test is not None else "asserts" if self.asserts is not None else "stdio"
        return Task(
            task_id=self.task_id, kind=kind, prompt=self.prompt, entry_point=self.entry_point or "",
            test=self.test or "", asserts=list(self.asserts or []), setup=self.setup,
            cases=[c.model_dump() for c in self.cases or []], reference=self.reference,
            time_limit=self.time_limit, instructions=list(self.instructions), origin=origin,
        )


def _field_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def read_jsonl(path: str):
    """Yield (line number, object) for each non-blank line; InputError on bad JSON."""
    try:
        fh = open(path, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", path) from exc
    with fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"not valid JSON ({exc.msg} at column {exc.colno})", path, number) from exc
            if not isinstance(obj, dict):
                raise InputError(f"expected a JSON object, got {type(obj).__name__}", path, number)
            yield number, obj


def load_task_file(path: str) -> dict[str, Task]:
    """Read and validate a task file; raises InputError naming file, line and field."""
    tasks: dict[str, Task] = {}
    for number, obj in read_jsonl(path):
        try:
            record = TaskRecord.model_validate(obj)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = _field_path(tuple(err["loc"])) or None
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = "unknown field (see docs/tasks.md for the fields a task takes)"
            raise InputError(message, path, number, field) from None
        try:
            validate_instructions(record.instructions)
        except InstructionError as exc:
            raise InputError(str(exc), path, number, "instructions" + exc.field) from None
        if record.task_id in tasks:
            raise InputError(f"task_id {record.task_id!r} appears twice", path, number, "task_id")
        tasks[record.task_id] = record.to_task(f"{path}:{number}")
    if not tasks:
        raise InputError("the file holds no tasks", path)
    return tasks
