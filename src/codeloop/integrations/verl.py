"""verl's custom reward function: point ``custom_reward_function.path`` at this
file and ``custom_reward_function.name`` at ``compute_score`` (one sample per
call, verl's naive reward manager) or ``compute_score_batch`` (lists, verl's
batch reward manager; samples run concurrently).

``ground_truth`` names the task: a task id known to the scorer (HumanEval by
default, or ``CODELOOP_TASKS``), or the task itself in the JSONL task format,
as a dict or JSON text. The result always has the same keys (verl gathers
them per key): ``score`` (the reward, ``CODELOOP_REWARD`` or "pass"), ``acc``
(1.0 if passed), ``tests_fraction``, ``infra_error`` (1.0 when the evaluator
failed; verl cannot skip a sample, so ``score`` is then 0.0: filter on this
key), ``syntax_error``, ``timeout``.
"""

from __future__ import annotations

import os
from typing import Any

from .. import rewards
from ..types import Verdict
from .scoring import Scorer, TaskNotFound, default_scorer

KEYS = ("score", "acc", "tests_fraction", "infra_error", "syntax_error", "timeout")


def _row(ground_truth: Any, extra_info: dict | None) -> dict[str, Any]:
    row: dict[str, Any] = dict(extra_info or {}) if isinstance(extra_info, dict) else {}
    if isinstance(ground_truth, dict):
        row.update(ground_truth)
    elif isinstance(ground_truth, str) and ground_truth.lstrip().startswith("{"):
        row["task"] = ground_truth
    elif isinstance(ground_truth, str):
        row["task_id"] = ground_truth
    return row


def _result(v: Verdict | None, reward: str) -> dict[str, float]:
    if v is None or v.status == "infra_error":
        return {"score": 0.0, "acc": 0.0, "tests_fraction": 0.0, "infra_error": 1.0, "syntax_error": 0.0, "timeout": 0.0}
    value = rewards.parse(reward)(v)
    return {"score": float(value if value is not None else 0.0), "acc": float(v.passed),
            "tests_fraction": float(rewards.get("fraction")(v) or 0.0), "infra_error": 0.0,
            "syntax_error": float(v.status in ("syntax_error", "no_code")), "timeout": float(v.status == "timeout")}


def compute_score(data_source: Any, solution_str: str, ground_truth: Any, extra_info: dict | None = None,
                  scorer: Scorer | None = None, reward: str | None = None, **kwargs: Any) -> dict[str, float]:
    """Score one solution; returns a dict with the keys in :data:`KEYS`."""
    return compute_score_batch([data_source], [solution_str], [ground_truth], [extra_info], scorer=scorer,
                               reward=reward)[0]


def compute_score_batch(data_sources: list, solution_strs: list[str], ground_truths: list,
                        extra_infos: list | None = None, scorer: Scorer | None = None, reward: str | None = None,
                        **kwargs: Any) -> list[dict[str, float]]:
    """Score a batch concurrently; one dict per solution, same keys for all."""
    s = scorer or default_scorer()
    reward = reward or os.environ.get("CODELOOP_REWARD", "pass")
    extra_infos = extra_infos or [None] * len(solution_strs)
    items = []
    for text, truth, extra in zip(solution_strs, ground_truths, extra_infos):
        try:
            items.append((s.task_for(_row(truth, extra)), text))
        except TaskNotFound:
            items.append(None)
    judged = iter(s.judge_many([it for it in items if it is not None]))
    return [_result(None if it is None else next(judged), reward) for it in items]
