"""The scorer the trainer adapters use unless given one.

Made on first use, closed at exit: a ``codeloop serve`` when ``CODELOOP_URL``
is set (with ``CODELOOP_TOKEN``), else a local pool over HumanEval, or over
the task file ``CODELOOP_TASKS``.
"""

from __future__ import annotations

import atexit
import os
import threading

from ..scoring import Scorer

_default: Scorer | None = None
_lock = threading.Lock()


def default_scorer() -> Scorer:
    """The process-wide scorer (see the module's text)."""
    global _default
    with _lock:
        if _default is None:
            tasks = None
            path = os.environ.get("CODELOOP_TASKS")
            if path:
                from ..tasks import load_task_file

                tasks = load_task_file(path)
            if os.environ.get("CODELOOP_URL"):
                from ..service.client import RemoteScorer

                _default = RemoteScorer(os.environ["CODELOOP_URL"], os.environ.get("CODELOOP_TOKEN"), tasks=tasks)
            else:
                from ..scoring.local import LocalScorer

                _default = LocalScorer(tasks)
            atexit.register(_default.close)
        return _default
