"""Reward functions for TRL's ``GRPOTrainer`` (``reward_funcs=[...]``).

TRL calls ``f(prompts=..., completions=..., completion_ids=..., **columns)``
where every other dataset column arrives as a keyword argument, one value per
completion, and expects one float (or None, which it masks) per completion.
The dataset names each row's task with a ``task_id`` column (HumanEval's ids
by default) or carries the task inline (``test`` / ``asserts`` / ``cases``,
``entry_point``, ``prompt``, ``reference``, ``instructions``).

    from codeloop.integrations.trl import reward_function
    trainer = GRPOTrainer(model=..., reward_funcs=[reward_function("coderl")], ...)

Evaluator failures give None, never 0. Batches run concurrently on the
scorer's warm pool.
"""

from __future__ import annotations

from typing import Any, Callable

from .. import rewards
from .scoring import Scorer, TaskNotFound, completion_text, default_scorer


def _rows(n: int, columns: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [{} for _ in range(n)]
    for key, values in columns.items():
        if isinstance(values, (list, tuple)) and len(values) == n:
            for row, value in zip(rows, values):
                row[key] = value
    return rows


def _items(scorer: Scorer, completions: list, columns: dict[str, Any]) -> list:
    items = []
    for row, completion in zip(_rows(len(completions), columns), completions):
        try:
            items.append((scorer.task_for(row), completion_text(completion)))
        except TaskNotFound:
            items.append(None)
    return items


def reward_function(reward: str = "pass", scorer: Scorer | None = None) -> Callable[..., list[float | None]]:
    """A synchronous TRL reward function scoring with the named reward
    (see :mod:`codeloop.rewards`; weighted mixes like ``"pass=1,instructions=0.5"``
    work too). Rows with no resolvable task get None."""
    fn = rewards.parse(reward)

    def codeloop_reward(prompts: list | None = None, completions: list | None = None,
                        completion_ids: list | None = None, **columns: Any) -> list[float | None]:
        s = scorer or default_scorer()
        items = _items(s, completions or [], columns)
        judged = iter(s.judge_many([it for it in items if it is not None]))
        return [None if it is None else fn(next(judged)) for it in items]

    codeloop_reward.__name__ = f"codeloop_{reward.replace('=', '_').replace(',', '_').replace('.', '_')}"
    return codeloop_reward


def async_reward_function(reward: str = "pass", scorer: Scorer | None = None) -> Callable[..., Any]:
    """The same as an ``async def`` (TRL awaits async reward functions, so
    verification overlaps with the trainer's other reward functions)."""
    fn = rewards.parse(reward)

    async def codeloop_reward(prompts: list | None = None, completions: list | None = None,
                              completion_ids: list | None = None, **columns: Any) -> list[float | None]:
        s = scorer or default_scorer()
        items = _items(s, completions or [], columns)
        judged = iter(await s.ajudge_many([it for it in items if it is not None]))
        return [None if it is None else fn(next(judged)) for it in items]

    codeloop_reward.__name__ = f"codeloop_async_{reward.replace('=', '_').replace(',', '_').replace('.', '_')}"
    return codeloop_reward


# Ready-made functions for the common rewards.
pass_reward = reward_function("pass")
coderl_reward = reward_function("coderl")
fraction_reward = reward_function("fraction")
