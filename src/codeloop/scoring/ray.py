"""Verification spread over a Ray cluster: one warm sandbox pool per actor.

    from codeloop.scoring.ray import RayScorer
    scorer = RayScorer(address="auto", actors=4)       # or address=None: this machine's Ray
    f = reward_function("coderl", scorer=scorer)        # same adapters, same results

Each actor holds a :class:`~codeloop.scoring.local.LocalScorer` (its own warm
workers) on whichever node Ray places it; ``spread=True`` (the default) asks
Ray to put them on different nodes. Rows are resolved here; the tasks travel
with the work, in the JSONL task format, so actors need no task table and time
each task by its content key.

A batch is split into chunks, and a chunk only goes to a live actor: one that
has been placed and whose pool has started. Each live actor has one chunk of
the batch at a time and takes the next when it is done, so a slow node takes
fewer. A chunk whose actor is lost (its node died, its process was killed, or
it held a chunk longer than ``chunk_timeout``) goes back to the queue for
the actors that are alive, and a fresh actor is asked for in its place: a lost
node costs retries, not results. An actor that is not ready within
``place_timeout`` (no node has the CPUs for it, or its pool cannot start
there) is given up. Nothing waits without end: when no actor is left, each
sample not yet judged gets an ``infra_error`` verdict that says why (never a
score against the program), and the verdicts already in are kept. There is
no fallback to a pool in this process: the driver is usually a trainer, and
sandboxing its samples there is not what was asked for. The next batch asks
for actors again, so a cluster that got its nodes back is used again.

On a real cluster (Ray 2.60), with codeloop installed on every node. Ray
2.60 authenticates with a token, and every process must agree: ``ray start
--head`` turns token mode on by itself only when it finds a token, ``ray start
--address`` and a driver that names the head's address only when
``RAY_AUTH_MODE=token`` is set (a driver with ``address="auto"`` also when it
finds a token). A process without the mode or the token is refused: ``ray
start`` with ``AuthenticationError``, a driver with ``ConnectionError``
after about 20 s (its log says ``InvalidAuthToken``). Ray reads the token
from ``RAY_AUTH_TOKEN``, else the file named by ``RAY_AUTH_TOKEN_PATH``, else
``~/.ray/auth_token``. So set both everywhere::

    head$    ray get-auth-token --generate     # prints a new token, saved in ~/.ray/auth_token
    all$     export RAY_AUTH_MODE=token RAY_AUTH_TOKEN=<that token>    # head, workers, driver
    head$    ray start --head --port=6379 --num-cpus=8
    worker$  ray start --address=HEAD:6379 --num-cpus=8
    driver$  RayScorer(address="auto", actors=<pools>, workers_per_actor=<CPUs per pool>)

``address="auto"`` finds a Ray started by ``ray start`` on the driver's own
machine (or the one in ``RAY_ADDRESS``); elsewhere give ``"HEAD:6379"``.
``address=None`` joins a Ray running on this machine, else starts a local one
(which Ray 2.60 starts with token mode on, writing ``~/.ray/auth_token`` if
it is missing).

Each actor asks Ray for ``workers_per_actor`` CPUs. Ray's default placement
packs actors onto the first nodes while they are lightly loaded (two actors
on two 4-CPU nodes both land on one); ``spread=True`` uses Ray's ``"SPREAD"``
strategy, which spreads them over the nodes that have room (best effort: on
the same two nodes, one each). One actor per node is certain only when each
node has CPUs for exactly one (``--num-cpus`` equal to ``workers_per_actor``
and ``actors`` equal to the nodes).
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Sequence

from ..tasks import load_benchmark, load_task_file
from ..tasks.rows import resolve_row
from ..types import Task, Verdict, evaluator_failure
from . import Row

# The longest single wait: pending actors and the other batches' losses are
# looked at again at least this often, whatever the deadlines.
_TICK = 1.0
# ray.get on a result ray.wait has already fetched should not block; this only
# bounds it should the object store disagree.
_GET_TIMEOUT = 60.0
_RAY_ID = re.compile(r"\b[0-9a-f]{24,}\b")


class PoolActorBody:
    """What each Ray actor runs: a local scorer over tasks sent inline."""

    def __init__(self, workers: int) -> None:
        from .local import LocalScorer

        self.scorer = LocalScorer({}, workers=workers)

    def ready(self) -> int:
        """Wait for the pool to start; this process's id. Raises
        IsolationUnavailable when the node cannot sandbox."""
        self.scorer.check()
        return os.getpid()

    def judge(self, items: list[tuple[dict[str, Any], str]]) -> list[dict[str, Any]]:
        from ..tasks.jsonl import task_from_fields

        pairs = [(task_from_fields(record, origin="inline"), reply) for record, reply in items]
        return [v.to_dict() for v in self.scorer.judge_many(pairs)]

    def pid(self) -> int:
        return os.getpid()


@dataclass(eq=False)
class _Slot:
    """One actor of the pool: its handle, the call that says it is ready, and
    the time by which it must be."""

    handle: Any
    ready: Any
    deadline: float
    live: bool = False


@dataclass(eq=False)
class _Flight:
    """A chunk sent to an actor, and the time by which it must come back."""

    chunk: int
    slot: _Slot
    deadline: float


class _Batch:
    """One ``judge_many`` call: the chunks waiting, those out, what came back."""

    def __init__(self, chunks: list[list[tuple[dict[str, Any], str]]], retries: int) -> None:
        self.chunks, self.retries = chunks, retries
        self.waiting: deque[int] = deque(range(len(chunks)))
        self.tries = [0] * len(chunks)
        self.out: dict[Any, _Flight] = {}
        self.results: dict[int, list[Verdict]] = {}

    def done(self) -> bool:
        return len(self.results) == len(self.chunks)

    def busy(self, slot: _Slot) -> bool:
        return any(f.slot is slot for f in self.out.values())

    def finish(self, idx: int, verdicts: list[Verdict]) -> None:
        self.results[idx] = verdicts

    def fail(self, idx: int, message: str) -> None:
        """Every sample of the chunk gets an infra_error verdict: the evaluator's fault, never scored."""
        self.results[idx] = [evaluator_failure(message, attempts=self.tries[idx] + 1)] * len(self.chunks[idx])

    def again(self, idx: int, why: str) -> None:
        """Queue a chunk whose actor was lost; past ``retries`` its samples fail instead."""
        if self.tries[idx] >= self.retries:
            self.fail(idx, f"the Ray actors judging this sample were lost {self.tries[idx] + 1} times "
                           f"(the last: {why})")
            return
        self.tries[idx] += 1
        self.waiting.appendleft(idx)  # first in line: it has waited longest

    def recall(self, slot: _Slot, why: str) -> None:
        """Queue again every chunk out on a lost actor; their results are not waited for."""
        for ref, flight in list(self.out.items()):
            if flight.slot is slot:
                del self.out[ref]
                self.again(flight.chunk, why)

    def fail_rest(self, message: str) -> None:
        """Every chunk not back yet fails with ``message``."""
        for idx in range(len(self.chunks)):
            if idx not in self.results:
                self.fail(idx, message)
        self.waiting.clear()
        self.out.clear()

    def verdicts(self) -> list[Verdict]:
        return [v for idx in range(len(self.chunks)) for v in self.results[idx]]


class RayScorer:
    """What the trainer adapters need of a scorer, done by Ray actors.

    ``address``: a running cluster ("auto", "HOST:PORT") or None to start a
    local Ray with ``num_cpus`` CPUs (or join one already running on this
    machine). ``actors``: how many pools, each of ``workers_per_actor``
    workers and as many CPUs. ``tasks``: the tasks rows may name by id
    (default: ``tasks_path``'s, else HumanEval). ``chunk``: samples per
    remote call. ``retries``: how many times a chunk is sent again after its
    actor was lost. ``place_timeout``: seconds an actor may take to be placed
    and start its pool before it is given up. ``chunk_timeout``: seconds a
    chunk may take, counted from when it is sent (with several batches at
    once, that includes waiting behind theirs), before its actor is killed
    as stuck; None for no bound (then a stuck but living actor is waited
    for). Keep it above ``chunk`` x the slowest sample's time limit /
    ``workers_per_actor``. ``spread``: ask Ray to place the actors on
    different nodes (best effort, see the module's notes).

    Raises ValueError for a count or time out of range, and what
    ``ray.init`` raises: ``ConnectionError`` when no cluster answers at
    ``address``, or when it wants a token this process lacks (set
    ``RAY_AUTH_MODE=token`` and the token, see the module's notes).
    """

    def __init__(self, address: str | None = None, actors: int = 2, workers_per_actor: int = 1,
                 tasks_path: str | None = None, chunk: int = 16, retries: int = 3, num_cpus: int | None = None,
                 tasks: dict[str, Task] | None = None, place_timeout: float = 60.0,
                 chunk_timeout: float | None = 900.0, spread: bool = True) -> None:
        _check_settings(actors, workers_per_actor, chunk, retries, place_timeout, chunk_timeout)
        import ray

        self.ray = ray
        if not ray.is_initialized():
            ray.init(address=address, num_cpus=num_cpus, include_dashboard=False, log_to_driver=False,
                     ignore_reinit_error=True)
        self.tasks = tasks if tasks is not None else load_task_file(tasks_path) if tasks_path \
            else load_benchmark("humaneval")
        self.actor_cls = ray.remote(max_restarts=0, max_task_retries=0)(PoolActorBody)
        self.size, self.workers_per_actor, self.spread = actors, workers_per_actor, spread
        self.chunk, self.retries = chunk, retries
        self.place_timeout, self.chunk_timeout = place_timeout, chunk_timeout
        self.workers = actors * workers_per_actor
        self._lock = threading.Lock()
        self._slots: list[_Slot] = []
        # why the last actors went, for the verdicts when none is left
        self._why: deque[str] = deque(maxlen=3)
        self._closed = False
        self._top_up()

    @property
    def actors(self) -> list[Any]:
        """The handles of the actors in the pool now, ready or still starting."""
        with self._lock:
            return [s.handle for s in self._slots]

    def resolve(self, row: Row) -> Task:
        return resolve_row(self.tasks, row)

    def judge_many(self, items: Sequence[tuple[Task, str]]) -> list[Verdict]:
        """Judge a batch across the live actors; verdicts in order.

        Never raises and never waits without end: a chunk of a lost actor is
        sent again (``retries`` times), and a sample no actor could judge (or
        left waiting when Ray itself failed) gets an ``infra_error`` verdict
        saying why; the verdicts already in are kept. Each wait is bounded: for an actor to be
        ready by ``place_timeout``, for a chunk by ``chunk_timeout`` per send
        (if not None), and a chunk is sent at most ``retries`` + 1 times.
        Thread-safe: batches may run at once.
        """
        if not items:
            return []
        payload = [(t.to_record(), reply) for t, reply in items]
        batch = _Batch([payload[i:i + self.chunk] for i in range(0, len(payload), self.chunk)], self.retries)
        try:
            self._run(batch)
        except Exception as exc:  # noqa: BLE001 - Ray itself failed (say, its head was lost): keep what is back
            batch.fail_rest(f"Ray failed while this sample waited: {_describe(exc)}")
        return batch.verdicts()

    def _run(self, batch: _Batch) -> None:
        """Hand out chunks and take them in until all are back or no actor is left."""
        self._top_up()
        while not batch.done():
            self._settle_pending()
            if not self._pool():
                batch.fail_rest(f"no Ray actor was left to judge this sample: {self._reasons()}")
                return
            self._dispatch(batch)
            self._wait(batch)

    async def ajudge_many(self, items: Sequence[tuple[Task, str]]) -> list[Verdict]:
        return await asyncio.get_running_loop().run_in_executor(None, self.judge_many, items)

    def close(self) -> None:
        """Kill the actors (Ray itself is left running); later batches end as infra_error."""
        with self._lock:
            slots, self._slots, self._closed = self._slots, [], True
            self._note("the scorer was closed")
        for s in slots:
            self._kill(s)

    # -- the pool ---------------------------------------------------------------

    def _new_slot(self) -> _Slot:
        strategy = "SPREAD" if self.spread else "DEFAULT"
        handle: Any = self.actor_cls.options(num_cpus=self.workers_per_actor, scheduling_strategy=strategy) \
            .remote(self.workers_per_actor)
        return _Slot(handle, handle.ready.remote(), time.monotonic() + self.place_timeout)

    def _top_up(self) -> None:
        """Ask for actors in place of those given up, so nodes that came back are used."""
        with self._lock:
            while not self._closed and len(self._slots) < self.size:
                self._slots.append(self._new_slot())

    def _pool(self) -> list[_Slot]:
        with self._lock:
            return list(self._slots)

    def _settle_pending(self) -> None:
        """Mark the actors that became ready live; give up those that failed to
        start or are past their deadline."""
        pending = [s for s in self._pool() if not s.live]
        if not pending:
            return
        ready, _ = self.ray.wait([s.ready for s in pending], num_returns=len(pending), timeout=0)
        now = time.monotonic()
        for slot in pending:
            if slot.ready in ready:
                self._start(slot)
            elif now > slot.deadline:
                self._drop(slot, f"an actor was not ready within {self.place_timeout:g} s and was given up "
                                 f"(no node had {self.workers_per_actor} CPU free for it, or its pool could not "
                                 "start)", replace=False)

    def _start(self, slot: _Slot) -> None:
        try:
            self.ray.get(slot.ready, timeout=_GET_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - whatever stopped it, this actor cannot judge
            self._drop(slot, f"an actor could not start ({_describe(exc)})", replace=False)
            return
        with self._lock:
            slot.live = True

    def _drop(self, slot: _Slot, why: str, replace: bool) -> None:
        """Take an actor out of the pool and kill it; ``replace``: ask for a
        fresh one (only for an actor that was live, so one that can never
        start is not asked for again and again within a batch)."""
        with self._lock:
            if slot not in self._slots:
                return  # another batch got there first
            self._note(why)
            if replace and slot.live:
                self._slots[self._slots.index(slot)] = self._new_slot()
            else:
                self._slots.remove(slot)
        self._kill(slot)

    def _note(self, why: str) -> None:
        """Keep why an actor went (the caller holds the lock)."""
        if why not in self._why:
            self._why.append(why)

    def _reasons(self) -> str:
        with self._lock:
            return "; ".join(self._why)

    def _kill(self, slot: _Slot) -> None:
        try:
            self.ray.kill(slot.handle)
        except Exception:  # noqa: BLE001 - already gone
            pass

    # -- one batch --------------------------------------------------------------

    def _dispatch(self, batch: _Batch) -> None:
        """One chunk to each live actor that has none of this batch."""
        for slot in self._pool():
            if not batch.waiting:
                return
            if slot.live and not batch.busy(slot):
                idx = batch.waiting.popleft()
                ref = slot.handle.judge.remote(batch.chunks[idx])
                deadline = time.monotonic() + self.chunk_timeout if self.chunk_timeout is not None else float("inf")
                batch.out[ref] = _Flight(idx, slot, deadline)

    def _wait(self, batch: _Batch) -> None:
        """Wait for a chunk, an actor becoming ready, or the nearest deadline,
        then take in every chunk that is back and kill the actors of those overdue."""
        pending = [s for s in self._pool() if not s.live]
        refs = [*batch.out, *(s.ready for s in pending)]
        deadlines = [f.deadline for f in batch.out.values()] + [s.deadline for s in pending]
        timeout = max(0.0, min([_TICK, *(d - time.monotonic() for d in deadlines)]))
        if refs:
            self.ray.wait(refs, num_returns=1, timeout=timeout)
        if batch.out:
            back, _ = self.ray.wait(list(batch.out), num_returns=len(batch.out), timeout=0)
            for ref in back:
                self._land(batch, ref)
        self._expire(batch)

    def _land(self, batch: _Batch, ref: Any) -> None:
        flight = batch.out.pop(ref, None)
        if flight is None:
            return  # recalled: its actor was lost while this was in the same wait
        try:
            dicts = self.ray.get(ref, timeout=_GET_TIMEOUT)
        except self.ray.exceptions.RayTaskError as exc:
            # The actor is alive and its judge raised: sending it again would raise again.
            batch.fail(flight.chunk, f"the Ray actor could not judge this chunk: {_describe(exc)}")
        except self.ray.exceptions.RayError as exc:
            why = f"an actor was lost ({_describe(exc)})"
            self._drop(flight.slot, why, replace=True)
            batch.again(flight.chunk, why)
            batch.recall(flight.slot, why)
        except Exception as exc:  # noqa: BLE001 - the result could not be read; the actor may be fine
            batch.fail(flight.chunk, f"the Ray actor's result could not be read: {_describe(exc)}")
        else:
            self._take(batch, flight.chunk, dicts)

    def _take(self, batch: _Batch, idx: int, dicts: Any) -> None:
        try:
            verdicts = [Verdict.from_dict(d) for d in dicts]
        except (KeyError, TypeError, ValueError) as exc:
            batch.fail(idx, f"the Ray actor's verdicts are not readable: {exc}")
            return
        if len(verdicts) != len(batch.chunks[idx]):
            batch.fail(idx, f"the Ray actor sent {len(verdicts)} verdicts for {len(batch.chunks[idx])} samples")
        else:
            batch.finish(idx, verdicts)

    def _expire(self, batch: _Batch) -> None:
        now = time.monotonic()
        for flight in [f for f in batch.out.values() if now > f.deadline]:
            if batch.busy(flight.slot):  # not recalled already with an earlier one of its actor
                why = f"an actor held a chunk over {self.chunk_timeout:g} s and was killed as stuck"
                self._drop(flight.slot, why, replace=True)
                batch.recall(flight.slot, why)


def _check_settings(actors: int, workers_per_actor: int, chunk: int, retries: int, place_timeout: float,
                    chunk_timeout: float | None) -> None:
    if actors < 1 or workers_per_actor < 1 or chunk < 1:
        raise ValueError("actors, workers_per_actor and chunk must be at least 1")
    if retries < 0:
        raise ValueError("retries must not be negative")
    if not place_timeout > 0 or (chunk_timeout is not None and not chunk_timeout > 0):
        raise ValueError("place_timeout and chunk_timeout must be positive")


def _describe(exc: BaseException) -> str:
    """An exception in one short line: Ray's carry whole tracebacks, and ids
    that would make the same loss read as many."""
    cause = getattr(exc, "cause", None)
    shown = cause if isinstance(cause, BaseException) else exc
    first = next((line.strip() for line in str(shown).splitlines() if line.strip()), "")
    text = f"{type(shown).__name__}: {_RAY_ID.sub('...', first)}"
    return text if len(text) <= 160 else text[:157] + "..."
