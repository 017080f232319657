"""``ast.parse`` that is safe to call from many threads at once.

CPython 3.11 keeps the AST converter's recursion-depth counter in
interpreter-wide state, not per thread: two threads parsing at once can
raise ``SystemError: AST constructor recursion depth mismatch`` for input
that is perfectly valid (seen in ``codeloop serve`` under concurrent
batches). Every parse codeloop does in the orchestrator goes through
:func:`parse`, which holds one lock; parsing a model's reply takes well
under a millisecond, so the lock costs nothing measurable.
"""

from __future__ import annotations

import ast
import threading
from typing import Any

_LOCK = threading.Lock()


def parse(source: str, filename: str = "<unknown>", mode: str = "exec", **kwargs: Any) -> Any:
    """``ast.parse(source, filename, mode)`` under the process-wide parse lock.

    Raises what ``ast.parse`` raises (SyntaxError, ValueError for NUL bytes,
    RecursionError, MemoryError).
    """
    with _LOCK:
        return ast.parse(source, filename, mode, **kwargs)
