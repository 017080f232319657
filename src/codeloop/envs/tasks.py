"""Interactive tasks: what an episode starts from and what it is judged against.

One JSONL line per task, in InterCode's spirit:

* ``task_id``, ``kind`` (``bash``, ``sql`` or ``python``), ``prompt`` (what the
  agent is asked), ``max_steps`` (default 10);
* ``files``: the working folder's files at the start (name to text), for
  ``bash`` and ``python``;
* ``schema``: SQL that builds the database (tables and rows), for ``sql``,
  loaded fresh for every episode;
* ``gold``: the reference solution: a Bash script or a SQL query whose result
  the episode is compared with (``bash``, ``sql``);
* ``tests``: assert statements on the final state, for ``python``, calling
  ``entry_point`` (default: the first function a test calls), which the judge
  reaches in the session through the split.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..jsonl import InputError, read_jsonl
from ..sandbox.sessions import KINDS


@dataclass(frozen=True)
class EnvTask:
    """One interactive task (see the module's docstring for the fields)."""

    task_id: str
    kind: str
    prompt: str
    files: Mapping[str, str] = field(default_factory=dict)
    schema: str = ""
    gold: str = ""
    tests: tuple[str, ...] = ()
    max_steps: int = 10
    entry_point: str = ""

    def session_files(self) -> dict[str, str]:
        """The files as a session takes them (name to base64)."""
        return {name: base64.b64encode(text.encode()).decode() for name, text in self.files.items()}

    def setup(self) -> dict[str, Any]:
        return {"schema": self.schema} if self.schema else {}


def _field(obj: dict[str, Any], name: str, kind: type, path: str, line: int, default: Any = None) -> Any:
    value = obj.get(name, default)
    if not isinstance(value, kind):
        raise InputError(f"must be a {kind.__name__}, got {type(value).__name__}", path, line, name)
    return value


def load_env_tasks(path: str) -> dict[str, EnvTask]:
    """The tasks of a JSONL file, by id. Raises InputError naming the file, line and field."""
    tasks: dict[str, EnvTask] = {}
    for line, obj in read_jsonl(path):
        task_id = _field(obj, "task_id", str, path, line)
        kind = _field(obj, "kind", str, path, line)
        if kind not in KINDS:
            raise InputError(f"unknown kind {kind!r}; known: {', '.join(KINDS)}", path, line, "kind")
        unknown = set(obj) - {"task_id", "kind", "prompt", "files", "schema", "gold", "tests", "max_steps", "entry_point"}
        if unknown:
            raise InputError("unknown field", path, line, sorted(unknown)[0])
        files = _field(obj, "files", dict, path, line, {})
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
            raise InputError("must map file names to text", path, line, "files")
        tests = _field(obj, "tests", list, path, line, [])
        task = EnvTask(task_id, kind, _field(obj, "prompt", str, path, line, ""), files,
                       _field(obj, "schema", str, path, line, ""), _field(obj, "gold", str, path, line, ""),
                       tuple(str(t) for t in tests), _field(obj, "max_steps", int, path, line, 10),
                       _field(obj, "entry_point", str, path, line, ""))
        if kind in ("bash", "sql") and not task.gold:
            raise InputError(f"a {kind} task needs its reference solution", path, line, "gold")
        if not 1 <= task.max_steps <= 100:
            raise InputError("must be 1 to 100", path, line, "max_steps")
        if kind == "python" and not task.tests:
            raise InputError("a python task needs tests on the final state", path, line, "tests")
        if task_id in tasks:
            raise InputError(f"task {task_id!r} appears twice", path, line, "task_id")
        tasks[task_id] = task
    return tasks


def bundled_tasks(kind: str) -> dict[str, EnvTask]:
    """The tasks of ``kind`` that come with codeloop (``codeloop/envs/data/KIND.jsonl``)."""
    from importlib import resources

    return load_env_tasks(str(resources.files("codeloop.envs") / "data" / f"{kind}.jsonl"))
