"""The error every input reader raises: it names the file, line and field."""

from __future__ import annotations


class InputError(ValueError):
    """Bad input: a message that names where (file:line) and what (field)."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        where = ":".join(str(x) for x in (path, line) if x is not None)
        what = f"field '{field}': " if field else ""
        super().__init__(f"{where}: {what}{message}" if where else f"{what}{message}")
        self.path, self.line, self.field = path, line, field
