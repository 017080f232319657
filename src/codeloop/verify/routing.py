"""Which judge a task goes to: the standard-library one, or its package environment's.

A task naming a package environment (:mod:`codeloop.sandbox.environments`)
is judged on workers of that environment (its packages on ``sys.path``,
imported before samples are forked, the folder bound read-only); the others
on the default judge. The environments' pools start on first use and close
with :meth:`EnvironmentJudges.close`.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Callable

from ..sandbox.environments import Environment, EnvironmentMissing
from ..sandbox.environments import find as find_environment
from ..types import Task, Verdict, evaluator_failure
from .engine import Judge


class EnvironmentJudges:
    """``default`` for tasks without an environment; ``make(environment)`` builds the judge (and its pool)
    of each environment named, once. Thread-safe."""

    def __init__(self, default: Judge, make: Callable[[Environment], Judge]) -> None:
        self.default, self._make = default, make
        self._by_key: dict[str, Judge] = {}
        self._lock = threading.Lock()

    def for_task(self, task: Task) -> Judge:
        """The judge for ``task``. Raises EnvironmentMissing when its environment is not built here."""
        if task.environment is None:
            return self.default
        env = find_environment(task.environment)
        with self._lock:
            found = self._by_key.get(env.key)
            if found is None:
                found = self._by_key[env.key] = self._make(env)
            return found

    def submit(self, task: Task, program: str, code: str | None = None) -> Future[Verdict]:
        """Judge on the right workers; a task whose environment is missing gets an evaluator failure saying
        how to build it (never a verdict against the program)."""
        try:
            judge = self.for_task(task)
        except EnvironmentMissing as exc:
            missing: Future[Verdict] = Future()
            missing.set_result(evaluator_failure(str(exc), self.default.pool.isolation))
            return missing
        return judge.submit(task, program, code)

    def close(self) -> None:
        """Close every environment's judge and pool (not the default's: its owner closes it)."""
        with self._lock:
            others, self._by_key = list(self._by_key.values()), {}
        for judge in others:
            judge.close()
            judge.pool.close()
