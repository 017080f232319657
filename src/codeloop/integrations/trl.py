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

from typing import Any, Awaitable, Callable

from .. import rewards
from ..extract import reply_text
from ..scoring import Scorer, ascore_rows, score_rows
from .default import default_scorer


def _rows(n: int, columns: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per completion from TRL's column-wise keyword arguments."""
    rows: list[dict[str, Any]] = [{} for _ in range(n)]
    for key, values in columns.items():
        if isinstance(values, (list, tuple)) and len(values) == n:
            for row, value in zip(rows, values):
                row[key] = value
    return rows


def _name(prefix: str, reward: str) -> str:
    return f"{prefix}{reward.replace('=', '_').replace(',', '_').replace('.', '_')}"


def reward_function(reward: str = "pass", scorer: Scorer | None = None) -> Callable[..., list[float | None]]:
    """A synchronous TRL reward function scoring with the named reward
    (see :mod:`codeloop.rewards`; weighted mixes like ``"pass=1,instructions=0.5"``
    work too). Rows with no resolvable task get None."""
    fn = rewards.parse(reward)

    def codeloop_reward(prompts: list | None = None, completions: list | None = None,
                        completion_ids: list | None = None, **columns: Any) -> list[float | None]:
        replies = [reply_text(c) for c in completions or []]
        verdicts = score_rows(scorer or default_scorer(), _rows(len(replies), columns), replies)
        return [None if v is None else fn(v) for v in verdicts]

    codeloop_reward.__name__ = _name("codeloop_", reward)
    return codeloop_reward


def async_reward_function(reward: str = "pass",
                          scorer: Scorer | None = None) -> Callable[..., Awaitable[list[float | None]]]:
    """The same as an ``async def`` (TRL awaits async reward functions, so
    verification overlaps with the trainer's other reward functions)."""
    fn = rewards.parse(reward)

    async def codeloop_reward(prompts: list | None = None, completions: list | None = None,
                              completion_ids: list | None = None, **columns: Any) -> list[float | None]:
        replies = [reply_text(c) for c in completions or []]
        verdicts = await ascore_rows(scorer or default_scorer(), _rows(len(replies), columns), replies)
        return [None if v is None else fn(v) for v in verdicts]

    codeloop_reward.__name__ = _name("codeloop_async_", reward)
    return codeloop_reward


# Ready-made functions for the common rewards.
pass_reward = reward_function("pass")
coderl_reward = reward_function("coderl")
fraction_reward = reward_function("fraction")
