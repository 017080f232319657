"""Scorers: model replies in, verdicts out, for the trainer adapters and the service.

:class:`Scorer` is the protocol; :class:`~codeloop.scoring.local.LocalScorer`
(a warm pool on this machine), :class:`~codeloop.service.client.RemoteScorer`
(a ``codeloop serve`` elsewhere) and :class:`~codeloop.scoring.ray.RayScorer`
(pools in Ray actors) implement it. :func:`score_rows` is the one batching
routine every adapter uses: resolve each row's task, judge the rows that have
one together, and put the verdicts back in row order, None for a row without
a task.
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol, Sequence, runtime_checkable

from ..tasks.errors import TaskNotFound
from ..types import Task, Verdict

Row = Mapping[str, Any]


@runtime_checkable
class Scorer(Protocol):
    """What the adapters need of a scorer."""

    workers: int

    def resolve(self, row: Row) -> Task:
        """The task of a dataset row; raises TaskNotFound."""
        ...

    def judge_many(self, items: Sequence[tuple[Task, str]]) -> list[Verdict]:
        """Judge (task, model reply) pairs, code extracted from each reply; verdicts in order."""
        ...

    async def ajudge_many(self, items: Sequence[tuple[Task, str]]) -> list[Verdict]:
        """The same, without blocking the event loop."""
        ...

    def close(self) -> None: ...


def _split(scorer: Scorer, rows: Sequence[Row], replies: Sequence[str]) -> tuple[list[tuple[Task, str]], list[int]]:
    items, slots = [], []
    for i, (row, reply) in enumerate(zip(rows, replies)):
        try:
            items.append((scorer.resolve(row), reply))
        except TaskNotFound:
            continue
        slots.append(i)
    return items, slots


def _merge(n: int, slots: list[int], verdicts: Sequence[Verdict]) -> list[Verdict | None]:
    out: list[Verdict | None] = [None] * n
    for slot, verdict in zip(slots, verdicts):
        out[slot] = verdict
    return out


def score_rows(scorer: Scorer, rows: Sequence[Row], replies: Sequence[str]) -> list[Verdict | None]:
    """One verdict per row, in order; None for a row whose task cannot be
    found (that row only: the others are judged)."""
    items, slots = _split(scorer, rows, replies)
    return _merge(len(rows), slots, scorer.judge_many(items) if items else [])


async def ascore_rows(scorer: Scorer, rows: Sequence[Row], replies: Sequence[str]) -> list[Verdict | None]:
    """:func:`score_rows` for asyncio."""
    items, slots = _split(scorer, rows, replies)
    return _merge(len(rows), slots, await scorer.ajudge_many(items) if items else [])


__all__ = ["Row", "Scorer", "score_rows", "ascore_rows"]
