"""The project's own task format: one JSON object per line (docs/tasks.md).

Validated with pydantic; every error names the file, the line and the field.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..compare import check_spec
from ..instructions import InstructionError
from ..instructions import validate as validate_instructions
from ..jsonl import InputError, json_object, read_jsonl
from ..sandbox.environments import EnvironmentMissing
from ..sandbox.environments import find as find_environment
from ..sandbox.languages import UnknownLanguage, language
from ..types import IOCase as TaskCase
from ..types import IN_PROCESS, INSERT, SPLIT, Integrity, Task, TaskKind, check_files
from .labels import in_own_format, verl_record_row


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
    memory_limit: Optional[int] = Field(default=None, ge=16, le=65536)
    compare: Optional[Union[str, dict[str, Any]]] = None
    time_limit_per_test: Optional[float] = Field(default=None, gt=0, le=60)
    stop_on_failure: bool = False
    tests_in_one_process: bool = False
    language: str = "python"
    files: Optional[dict[str, str]] = None
    compile_time_limit: Optional[float] = Field(default=None, gt=0, le=120)
    environment: Optional[str] = Field(default=None, min_length=1)
    template: Optional[str] = None
    integrity: Integrity = SPLIT
    probes: bool = False
    instructions: list[dict[str, Any]] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("entry_point")
    @classmethod
    def _identifier(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and not v.isidentifier():
            raise ValueError(f"{v!r} is not a Python identifier")
        return v

    @field_validator("language")
    @classmethod
    def _language(cls, v: str) -> str:
        try:
            return language(v).name
        except UnknownLanguage as exc:
            raise ValueError(str(exc)) from None

    @field_validator("template")
    @classmethod
    def _template(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and INSERT not in v:
            raise ValueError(f"must hold {INSERT} where the model's code goes")
        return v

    @field_validator("environment")
    @classmethod
    def _environment(cls, v: Optional[str]) -> Optional[str]:
        if v is not None:
            try:
                find_environment(v)
            except EnvironmentMissing as exc:
                raise ValueError(str(exc)) from None
        return v

    @field_validator("files")
    @classmethod
    def _files(cls, v: Optional[dict[str, str]]) -> Optional[dict[str, str]]:
        return check_files(v) if v else None

    @field_validator("compare")
    @classmethod
    def _comparator(cls, v: Optional[Union[str, dict[str, Any]]]) -> Optional[dict[str, Any]]:
        return check_spec(v) if v is not None else None

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
        if given[0] != "cases" and self.language != "python":
            raise ValueError(f"a {self.language} program is judged on stdin/stdout 'cases' only")
        if self.integrity == IN_PROCESS and given[0] == "cases":
            raise ValueError("the in-process mode is for 'test' or 'asserts' tests (stdin/stdout runs are its "
                             "already)")
        if self.probes and (given[0] != "asserts" or self.integrity != SPLIT):
            raise ValueError("'probes' (bare calls recorded, not checked) is for 'asserts' tests judged split")
        if given[0] != "cases" and not self.entry_point:
            raise ValueError(f"'entry_point' is required with '{given[0]}'")
        return self

    def to_task(self, origin: str) -> Task:
        kind = TaskKind.CHECK if self.test is not None else TaskKind.ASSERTS if self.asserts is not None \
            else TaskKind.STDIO
        return Task(
            task_id=self.task_id, kind=kind, prompt=self.prompt, entry_point=self.entry_point or "",
            test=self.test or "", asserts=tuple(self.asserts or ()), setup=self.setup,
            cases=tuple(TaskCase(c.input, c.output) for c in self.cases or ()), reference=self.reference,
            time_limit=self.time_limit, memory_limit=self.memory_limit,
            compare=self.compare if isinstance(self.compare, dict) else None,
            instructions=tuple(self.instructions), origin=origin,
            time_limit_per_test=self.time_limit_per_test, stop_on_failure=self.stop_on_failure,
            tests_in_one_process=self.tests_in_one_process, language=self.language, files=self.files,
            compile_time_limit=self.compile_time_limit, environment=self.environment, template=self.template,
            integrity=self.integrity, probes=self.probes,
        )


def _field_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class InlineTaskError(ValueError):
    """A task's fields do not validate; ``field`` names the offending one."""

    def __init__(self, message: str, field: str | None) -> None:
        super().__init__(f"{message} at {field}" if field else message)
        self.message, self.field = message, field


def task_from_fields(obj: dict[str, Any], origin: str) -> Task:
    """Validate one task's fields (a task file line, or a row's inline task);
    raises InlineTaskError naming the field. Keys that are not task fields
    are ignored for inline tasks, refused in files (see :func:`load_task_file`)."""
    if origin == "inline":
        obj = {k: v for k, v in obj.items() if k in TaskRecord.model_fields}
        obj.setdefault("task_id", "inline")
        if not isinstance(obj["task_id"], str) or not obj["task_id"]:
            obj["task_id"] = str(obj["task_id"] or "inline")
    try:
        record = TaskRecord.model_validate(obj)
    except ValidationError as exc:
        err = exc.errors()[0]
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown field (see docs/tasks.md for the fields a task takes)"
        raise InlineTaskError(message, _field_path(tuple(err["loc"])) or None) from None
    try:
        validate_instructions(record.instructions)
    except InstructionError as exc:
        raise InlineTaskError(str(exc), "instructions" + exc.field) from None
    return record.to_task(origin)


def load_task_file(path: str) -> dict[str, Task]:
    """Read and validate a task file; raises InputError naming file, line and field.

    A line is a task in codeloop's format (docs/tasks.md), or a row in a
    dataset's own test format (APPS / TACO, MBPP, AceCoder, CodeContests,
    LiveCodeBench: :mod:`codeloop.tasks.formats`), so a dataset exported to
    JSON Lines is read as it is. A ``.parquet`` file (or a folder written by
    ``datasets``' ``save_to_disk``) is read the same way row by row, errors
    naming the row (from 1); a row of a verl dataset (``reward_model.ground_truth``,
    ``extra_info``) is read as verl's reward function reads it."""
    from .tables import is_table, read_table

    table = is_table(path)
    tasks: dict[str, Task] = {}
    for number, obj in read_table(path) if table else read_jsonl(path):
        origin, fallback_id = (f"{path}, row {number}", f"row-{number}") if table \
            else (f"{path}:{number}", f"line-{number}")
        try:
            row = verl_record_row(obj)
            if row is not None:
                task = _verl_task(row, obj, fallback_id, origin)
            else:
                task = _dataset_row(obj, fallback_id, origin) or task_from_fields(obj, origin)
        except InlineTaskError as exc:
            raise _error(exc.message, path, number, table, exc.field) from None
        if task.task_id in tasks:
            raise _error(f"task_id {task.task_id!r} appears twice", path, number, table, "task_id")
        tasks[task.task_id] = task
    if not tasks:
        raise InputError("the file holds no tasks", path)
    return tasks


def _error(message: str, path: str, number: int, table: bool, field: str | None = None) -> InputError:
    return InputError(message, path, None if table else number, field, row=number if table else None)


def _row_id(row: dict[str, Any]) -> str | None:
    return next((str(row[k]) for k in ("task_id", "problem_id", "question_id", "name", "id") if row.get(k)), None)


def _dataset_row(obj: dict[str, Any], fallback_id: str, origin: str) -> Task | None:
    """The task of a row in a dataset's own format, or None when it is not one."""
    from .errors import TaskNotFound
    from .formats import detect, task_from_format

    if in_own_format(obj):
        return None  # codeloop's own format: its reader gives the better errors
    name = detect(obj)
    if name is None:
        return None
    task_id = _row_id(obj) or fallback_id
    try:
        return replace(task_from_format(obj, name, task_id=task_id), task_id=task_id, origin=origin)
    except TaskNotFound as exc:
        message = str(exc)
        raise InlineTaskError(message if message.startswith(name) else f"{name} format: {message}",
                              exc.field) from None


_GROUND_TRUTH = "reward_model.ground_truth"


def _verl_task(row: dict[str, Any], record: dict[str, Any], fallback_id: str, origin: str) -> Task:
    """The task of a verl dataset's row (:func:`~codeloop.tasks.labels.verl_record_row`); keys of ``extra_info``
    that are not task fields are left out, as verl's reward function leaves them out."""
    truth = (json_object(record.get("reward_model")) or {}).get("ground_truth")
    if in_own_format(row):
        fields = {k: v for k, v in row.items() if k in TaskRecord.model_fields}
        fields["task_id"] = _row_id(row) or fallback_id
        try:
            return task_from_fields(fields, origin)
        except InlineTaskError as exc:
            raise InlineTaskError(exc.message, _verl_field(exc.field, truth, record)) from None
    try:
        task = _dataset_row(row, fallback_id, origin)
    except InlineTaskError as exc:
        raise InlineTaskError(exc.message, _GROUND_TRUTH) from None
    if task is not None:
        return task
    if isinstance(truth, str) and truth.lstrip().startswith("{"):
        raise InlineTaskError("not a valid JSON object", _GROUND_TRUTH)
    if isinstance(truth, str):
        raise InlineTaskError(f"{truth!r} names a task but a task file must hold the tasks themselves: give "
                              "its tests, in codeloop's task format or a dataset's (docs/tasks.md)", _GROUND_TRUTH)
    raise InlineTaskError("no task: neither a task's 'test', 'asserts' or 'cases' nor a known dataset test "
                          "format (docs/tasks.md)", _GROUND_TRUTH)


def _verl_field(field: str | None, truth: Any, record: dict[str, Any]) -> str:
    """Where a field of a verl row's task sits: in the ground truth, or in ``extra_info``."""
    if field is None:
        return _GROUND_TRUTH
    root = re.split(r"[.\[]", field, maxsplit=1)[0]
    extra = json_object(record.get("extra_info")) or {}
    if root in extra and root not in (json_object(truth) or {}):
        return f"extra_info.{field}"
    return f"{_GROUND_TRUTH}.{field}"
