"""JSON Lines, read and written one way everywhere.

Inputs (tasks, samples) are read strictly: a line that is not a JSON object
is an :class:`InputError` naming the file and line. Journals that codeloop
itself appends to as work finishes (results, trajectories) may end in a line
cut short by an interruption: :func:`read_journal` skips such lines, so that
work runs again instead of the file becoming unreadable.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any, Iterable, Iterator


class InputError(ValueError):
    """Bad input: a message that names where (file:line, or "file, row N" for
    a table such as Parquet, ``row`` counting from 1) and what (field)."""

    def __init__(self, message: str, path: str | os.PathLike[str] | None = None, line: int | None = None,
                 field: str | None = None, *, row: int | None = None) -> None:
        where = ":".join(str(x) for x in (path, line) if x is not None)
        if row is not None:
            where = f"{where}, row {row}" if where else f"row {row}"
        what = f"field '{field}': " if field else ""
        super().__init__(f"{where}: {what}{message}" if where else f"{what}{message}")
        self.path, self.line, self.field, self.row = path, line, field, row


def read_jsonl(path: str | os.PathLike[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; InputError for a line
    that is not a JSON object, or a file that cannot be read."""
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


def read_journal(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Every JSON object in a journal codeloop wrote; nothing if it does not
    exist. Lines that do not parse (cut short by a crash) are skipped."""
    p = Path(path)
    if not p.exists():
        return
    with p.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                yield obj


def dumps(obj: Any) -> str:
    """One JSON line (no newline), keeping non-ASCII text readable."""
    return json.dumps(obj, ensure_ascii=False)


def append(fh: IO[str], obj: Any) -> None:
    """Append one line and flush it to the OS, so a crash loses nothing written."""
    fh.write(dumps(obj) + "\n")
    fh.flush()


def write_atomic(path: str | os.PathLike[str], rows: Iterable[Any]) -> None:
    """Write every row as a line to ``path`` through a temporary file and a rename."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(dumps(row) + "\n")
    os.replace(tmp, p)


def json_object(value: Any) -> dict[str, Any] | None:
    """``value`` as a dict: a dict as it is, or JSON text of one; None otherwise
    (datasets and trainers carry nested objects either way)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None
