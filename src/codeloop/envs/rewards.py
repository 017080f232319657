"""Rewards of interactive episodes, as InterCode defines them: one named function per kind.

* ``bash``: the episode's changes to the working folder against the gold
  script's (run in a fresh session from the same files), and its last output
  against the gold's: a third for the changed paths (intersection over union
  of added, modified and removed files), a third for their contents (the
  share of the gold's changed files whose bytes the episode also left), a
  third for the output (difflib's similarity ratio of the two outputs).
* ``sql``: the rows of the episode's last query against the gold query's
  (run on a fresh copy of the database): intersection over union of the two
  row multisets; when the gold query orders its rows (``ORDER BY``), that
  times the share of rows in the same order (longest common subsequence).
* ``python``: the task's tests on the session's final state, run in the
  worker's judge (the tests never enter the session's process): the share of
  tests passed.

Each returns a :class:`Reward`: the value in [0, 1] and its parts.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from ..sandbox.limits import Limits
from ..sandbox.sessions import SessionPool
from ..types import Task, TaskKind
from ..verify.engine import fixed_judge_job
from .tasks import EnvTask


@dataclass(frozen=True)
class Reward:
    """An episode's reward in [0, 1], and what it is made of."""

    value: float
    parts: Mapping[str, float] = field(default_factory=dict)
    detail: str = ""


@dataclass
class Episode:
    """What a reward looks at: the session (still open), the working folder at the start, the last
    output or rows, and how to open a fresh session of the task for the gold solution (``fresh``;
    default: a sandboxed one from the reward's pool)."""

    task: EnvTask
    session: Any  # a sandboxed Session, or a PostgresSession for sql on a real server
    start_files: dict[str, str]
    last_output: str = ""
    last_rows: tuple[tuple[Any, ...], ...] | None = None
    fresh: Callable[[], Any] | None = None


RewardFn = Callable[[SessionPool, Episode], Reward]
REWARDS: dict[str, RewardFn] = {}


def register(kind: str) -> Callable[[RewardFn], RewardFn]:
    def add(fn: RewardFn) -> RewardFn:
        REWARDS[kind] = fn
        return fn
    return add


def changes(before: Mapping[str, str], after: Mapping[str, str]) -> dict[str, str | None]:
    """Each path added, modified or removed between two snapshots, with its new digest (None: removed)."""
    out: dict[str, str | None] = {p: d for p, d in after.items() if before.get(p) != d}
    out.update({p: None for p in before if p not in after})
    return out


def iou(a: Sequence[Any], b: Sequence[Any]) -> float:
    """Intersection over union of two multisets; 1 when both are empty."""
    ca, cb = Counter(a), Counter(b)
    union = sum((ca | cb).values())
    return 1.0 if union == 0 else sum((ca & cb).values()) / union


def _lcs(a: Sequence[Any], b: Sequence[Any]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def _fresh(pool: SessionPool, episode: Episode) -> Any:
    if episode.fresh is not None:
        return episode.fresh()
    task = episode.task
    return pool.open(task.kind, files=task.session_files(), setup=task.setup(),
                     limits=Limits(time_limit=600.0, memory_mb=1024))


@register("bash")
def bash_reward(pool: SessionPool, episode: Episode) -> Reward:
    mine = changes(episode.start_files, episode.session.snapshot())
    with _fresh(pool, episode) as gold_session:
        start = gold_session.snapshot()
        gold_run = gold_session.step(episode.task.gold, cpu=30.0, wall=60.0)
        gold = changes(start, gold_session.snapshot())
    paths = iou(list(mine), list(gold))
    contents = 1.0 if not gold else sum(1 for p, d in gold.items() if p in mine and mine[p] == d) / len(gold)
    gold_out = gold_run.stdout.strip()
    output = 1.0 if gold_out == episode.last_output.strip() else difflib.SequenceMatcher(
        None, episode.last_output.strip(), gold_out).ratio()
    value = (paths + contents + output) / 3
    return Reward(round(value, 6), {"paths": paths, "contents": contents, "output": output})


_ORDERED = re.compile(r"\border\s+by\b", re.I)


@register("sql")
def sql_reward(pool: SessionPool, episode: Episode) -> Reward:
    with _fresh(pool, episode) as gold_session:
        gold = gold_session.query(episode.task.gold)
    if gold.error is not None:
        raise ValueError(f"task {episode.task.task_id}: the gold query fails: {gold.error.get('message')}")
    mine = list(episode.last_rows or ())
    rows = list(gold.rows)
    overlap = iou(mine, rows)
    order = 1.0
    if _ORDERED.search(episode.task.gold) and (mine or rows):
        order = _lcs(mine, rows) / max(len(mine), len(rows))
    return Reward(round(overlap * order, 6), {"rows": overlap, "order": order})


@register("python")
def python_reward(pool: SessionPool, episode: Episode) -> Reward:
    task = Task(task_id=episode.task.task_id, kind=TaskKind.ASSERTS, asserts=episode.task.tests,
                entry_point=episode.task.entry_point or _entry_point(episode.task.tests))
    result = pool.judge(episode.session, fixed_judge_job(task, 10.0), guard=30.0)
    if "broken_task" in result or result.get("status") == "infra_error":
        raise ValueError(f"task {task.task_id}: its tests could not run: {result.get('broken_task') or result}")
    value = (result.get("tests_passed") or 0) / len(task.asserts) if task.asserts else 0.0
    failure = result.get("failure") or {}
    return Reward(round(value, 6), {"tests": value}, str(failure.get("message") or "")[:500])


def _entry_point(tests: Sequence[str]) -> str:
    """The function the tests call first (the judge reaches it through the split)."""
    for test in tests:
        match = re.search(r"\b([A-Za-z_]\w*)\s*\(", test.replace("assert", " ", 1))
        if match:
            return match.group(1)
    return "main"


def reward_of(pool: SessionPool, episode: Episode) -> Reward:
    """The episode's reward by its task's kind."""
    return REWARDS[episode.task.kind](pool, episode)
