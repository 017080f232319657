"""OpenRLHF's reward function: ``--remote_rm_url /path/to/this/file.py`` with
``--label_key`` naming the dataset column that holds each prompt's task
(OpenRLHF 0.11: ``--reward.remote_url`` and ``--data.label_key``): a task id,
the task in the JSONL task format as JSON text, or a dataset's test format
(see :mod:`codeloop.tasks.formats`).

OpenRLHF calls ``reward_func(queries, prompts, labels)`` where each query is
the prompt followed by the response, chat template and special tokens left
in; the response is the query minus its prompt, with the template's markers
stripped. Returns ``{"rewards", "scores", "extra_logs"}``: rewards from the
named reward (``CODELOOP_REWARD``, default "pass"), scores in [0, 1] (the
fraction of tests passed), and per-sample logs. Torch tensors when torch is
installed (as OpenRLHF expects), else lists. An evaluator failure, or a
label with no task, scores 0 with ``infra_error`` 1 in the logs for that row
only: OpenRLHF cannot skip a sample.
"""

from __future__ import annotations

import os
from typing import Any

# Absolute imports: OpenRLHF loads this file by path as a top-level module, where a
# package-relative import fails (tests/test_trainer_files.py loads it that way).
from codeloop.extract import response_of
from codeloop.scoring import Scorer, score_rows
from codeloop.scoring.shapes import openrlhf_result
from codeloop.tasks.rows import row_from_label
from codeloop.integrations.default import default_scorer


def reward_func(queries: list[str], prompts: list[str], labels: list[Any], scorer: Scorer | None = None,
                reward: str | None = None, **kwargs: Any) -> dict[str, Any]:
    """Score a batch of OpenRLHF queries concurrently."""
    rows = [row_from_label(label) for label in labels]
    replies = [response_of(q, p) for q, p in zip(queries, prompts)]
    out = openrlhf_result(score_rows(scorer or default_scorer(), rows, replies),
                          reward or os.environ.get("CODELOOP_REWARD", "pass"))
    try:
        import torch
    except ImportError:
        return out
    return {"rewards": torch.tensor(out["rewards"]), "scores": torch.tensor(out["scores"]),
            "extra_logs": {k: torch.tensor(v) for k, v in out["extra_logs"].items()}}
