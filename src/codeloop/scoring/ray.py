"""Verification spread over a Ray cluster: one warm sandbox pool per actor.

    from codeloop.scoring.ray import RayScorer
    scorer = RayScorer(address="auto", actors=4)       # or address=None: a local Ray
    f = reward_function("coderl", scorer=scorer)        # same adapters, same results

Each actor holds a :class:`~codeloop.scoring.local.LocalScorer` (its own warm
workers) on whichever node Ray places it. Rows are resolved here; the tasks
travel with the work, in the JSONL task format, so actors need no task table
and time each task by its content key. A batch is split into chunks sent
round-robin to the actors; a chunk whose actor dies (its node is lost) is sent
again to another actor, restarted in its place: a lost node costs retries,
not results.

On a real cluster: start Ray on every node (``ray start --head`` on one,
``ray start --address=HEAD:6379`` on the others), install codeloop on each,
then ``RayScorer(address="auto", actors=<nodes x pools per node>,
workers_per_actor=<CPUs per pool>)``. Each actor asks Ray for
``workers_per_actor`` CPUs, so Ray spreads them over the nodes.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any, Sequence

from ..tasks import load_benchmark, load_task_file
from ..tasks.rows import resolve_row
from ..types import Task, Verdict
from . import Row


class PoolActorBody:
    """What each Ray actor runs: a local scorer over tasks sent inline."""

    def __init__(self, workers: int) -> None:
        from .local import LocalScorer

        self.scorer = LocalScorer({}, workers=workers)

    def judge(self, items: list[tuple[dict[str, Any], str]]) -> list[dict[str, Any]]:
        from ..tasks.jsonl import task_from_fields

        pairs = [(task_from_fields(record, origin="inline"), reply) for record, reply in items]
        return [v.to_dict() for v in self.scorer.judge_many(pairs)]

    def pid(self) -> int:
        return os.getpid()


class RayScorer:
    """What the trainer adapters need of a scorer, done by Ray actors.

    ``address``: a running cluster ("auto") or None to start a local Ray with
    ``num_cpus`` CPUs. ``tasks``: the tasks rows may name by id (default:
    ``tasks_path``'s, else HumanEval). ``chunk``: samples per remote call.
    ``retries``: how many times a chunk is sent again after its actor died.
    """

    def __init__(self, address: str | None = None, actors: int = 2, workers_per_actor: int = 1,
                 tasks_path: str | None = None, chunk: int = 16, retries: int = 3, num_cpus: int | None = None,
                 tasks: dict[str, Task] | None = None) -> None:
        import ray

        self.ray = ray
        if not ray.is_initialized():
            ray.init(address=address, num_cpus=num_cpus, include_dashboard=False, log_to_driver=False,
                     ignore_reinit_error=True)
        self.tasks = tasks if tasks is not None else load_task_file(tasks_path) if tasks_path \
            else load_benchmark("humaneval")
        self.actor_cls = ray.remote(max_restarts=0, max_task_retries=0)(PoolActorBody)
        self.workers_per_actor = workers_per_actor
        self.actors = [self._new_actor() for _ in range(actors)]
        self.chunk, self.retries = chunk, retries
        self.workers = actors * workers_per_actor
        self._next = 0
        self._lock = threading.Lock()

    def _new_actor(self) -> Any:
        return self.actor_cls.options(num_cpus=self.workers_per_actor).remote(self.workers_per_actor)

    def resolve(self, row: Row) -> Task:
        return resolve_row(self.tasks, row)

    def _pick(self, avoid: Any = None) -> Any:
        with self._lock:
            for _ in range(len(self.actors)):
                actor = self.actors[self._next % len(self.actors)]
                self._next += 1
                if actor is not avoid:
                    return actor
            return self.actors[0]

    def judge_many(self, items: Sequence[tuple[Task, str]]) -> list[Verdict]:
        """Judge a batch across the actors, in order; chunks of dead actors are retried.
        Raises RuntimeError when a chunk fails more than ``retries`` times."""
        payload = [(t.to_record(), reply) for t, reply in items]
        chunks = [payload[i:i + self.chunk] for i in range(0, len(payload), self.chunk)]
        pending = {}
        for idx, c in enumerate(chunks):
            actor = self._pick()
            pending[idx] = (actor, actor.judge.remote(c), 0)
        results: dict[int, list[dict[str, Any]]] = {}
        while pending:
            for idx, (actor, ref, tries) in list(pending.items()):
                try:
                    results[idx] = self.ray.get(ref)
                    del pending[idx]
                except (self.ray.exceptions.RayActorError, self.ray.exceptions.WorkerCrashedError) as exc:
                    if tries >= self.retries:
                        raise RuntimeError(f"a chunk failed {tries + 1} times: {exc}") from exc
                    self._replace(actor)
                    other = self._pick(avoid=actor)
                    pending[idx] = (other, other.judge.remote(chunks[idx]), tries + 1)
        return [Verdict.from_dict(d) for idx in range(len(chunks)) for d in results[idx]]

    async def ajudge_many(self, items: Sequence[tuple[Task, str]]) -> list[Verdict]:
        return await asyncio.get_running_loop().run_in_executor(None, self.judge_many, items)

    def _replace(self, dead: Any) -> None:
        with self._lock:
            if dead in self.actors:
                self.actors[self.actors.index(dead)] = self._new_actor()

    def close(self) -> None:
        for a in self.actors:
            try:
                self.ray.kill(a)
            except Exception:  # noqa: BLE001 - already gone
                pass
