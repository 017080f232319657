"""OpenRLHF's reward function: ``--remote_rm_url /path/to/this/file.py`` with
``--label_key`` naming the dataset column that holds each prompt's task (a
task id, or the task in the JSONL task format as JSON text).

OpenRLHF calls ``reward_func(queries, prompts, labels)`` where each query is
the prompt followed by the response, chat template and special tokens left
in; the response is the query minus its prompt, with the template's markers
stripped. Returns ``{"rewards", "scores", "extra_logs"}``: rewards from the
named reward (``CODELOOP_REWARD``, default "pass"), scores in [0, 1] (the
fraction of tests passed), and per-sample logs. Torch tensors when torch is
installed (as OpenRLHF expects), else lists. An evaluator failure scores 0
with ``infra_error`` 1 in the logs: OpenRLHF cannot skip a sample.
"""

from __future__ import annotations

import os
from typing import Any

from .. import rewards
from ..extract import strip_special_tokens
from .scoring import Scorer, TaskNotFound, default_scorer


def response_of(query: str, prompt: str) -> str:
    """The model's response inside an OpenRLHF query (prompt + response)."""
    if prompt and query.startswith(prompt):
        return strip_special_tokens(query[len(prompt):])
    cleaned_prompt = strip_special_tokens(prompt).strip()
    cleaned = strip_special_tokens(query)
    if cleaned_prompt and cleaned_prompt in cleaned:
        return cleaned.split(cleaned_prompt, 1)[1]
    return cleaned


def _label_row(label: Any) -> dict[str, Any]:
    if isinstance(label, dict):
        return label
    if isinstance(label, str) and label.lstrip().startswith("{"):
        return {"task": label}
    return {"task_id": label}


def reward_func(queries: list[str], prompts: list[str], labels: list[Any], scorer: Scorer | None = None,
                reward: str | None = None, **kwargs: Any) -> dict[str, Any]:
    """Score a batch of OpenRLHF queries concurrently."""
    s = scorer or default_scorer()
    fn = rewards.parse(reward or os.environ.get("CODELOOP_REWARD", "pass"))
    fraction = rewards.get("fraction")
    items = []
    for query, prompt, label in zip(queries, prompts, labels):
        try:
            items.append((s.task_for(_label_row(label)), response_of(query, prompt)))
        except TaskNotFound:
            items.append(None)
    judged = iter(s.judge_many([it for it in items if it is not None]))
    verdicts = [None if it is None else next(judged) for it in items]
    values = [(fn(v) if v is not None else None) for v in verdicts]
    out_rewards = [0.0 if x is None else float(x) for x in values]
    out_scores = [0.0 if v is None or v.status == "infra_error" else float(fraction(v) or 0.0) for v in verdicts]
    logs = {
        "pass": [float(bool(v and v.passed)) for v in verdicts],
        "infra_error": [float(v is None or v.status == "infra_error") for v in verdicts],
    }
    try:
        import torch
    except ImportError:
        return {"rewards": out_rewards, "scores": out_scores, "extra_logs": logs}
    return {"rewards": torch.tensor(out_rewards), "scores": torch.tensor(out_scores),
            "extra_logs": {k: torch.tensor(v) for k, v in logs.items()}}
