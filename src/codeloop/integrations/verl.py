"""verl's custom reward function: point ``custom_reward_function.path`` at this
file (or, verl 0.9.1, at ``pkg://codeloop.integrations.verl``) and
``custom_reward_function.name`` at ``compute_score`` (one sample per
call, verl's naive reward manager) or ``compute_score_batch`` (lists, verl's
batch reward manager; samples run concurrently).

``ground_truth`` names the task: a task id known to the scorer (HumanEval by
default, or ``CODELOOP_TASKS``), or the task itself in the JSONL task format,
as a dict or JSON text, or the test format of verl's own code data
(``{"inputs", "outputs", "fn_name"?}``, see :mod:`codeloop.tasks.formats`). The result always has the same keys (verl gathers
them per key): ``score`` (the reward, ``CODELOOP_REWARD`` or "pass"), ``acc``
(1.0 if passed), ``tests_fraction``, ``infra_error`` (1.0 when the evaluator
failed; verl cannot skip a sample, so ``score`` is then 0.0: filter on this
key), ``syntax_error``, ``timeout``.
"""

from __future__ import annotations

import os
from typing import Any

# Absolute imports: verl loads this file by path as a top-level module, where a
# package-relative import fails (tests/test_trainer_files.py loads it that way).
from codeloop.scoring import Scorer, score_rows
from codeloop.scoring.shapes import VERL_KEYS as KEYS  # noqa: F401 - the keys every result has
from codeloop.scoring.shapes import verl_result
from codeloop.tasks.rows import row_from_label
from codeloop.integrations.default import default_scorer


def compute_score(data_source: Any, solution_str: str, ground_truth: Any, extra_info: dict | None = None,
                  scorer: Scorer | None = None, reward: str | None = None, **kwargs: Any) -> dict[str, float]:
    """Score one solution; returns a dict with the keys in :data:`KEYS`."""
    return compute_score_batch([data_source], [solution_str], [ground_truth], [extra_info], scorer=scorer,
                               reward=reward)[0]


def compute_score_batch(data_sources: list, solution_strs: list[str], ground_truths: list,
                        extra_infos: list | None = None, scorer: Scorer | None = None, reward: str | None = None,
                        **kwargs: Any) -> list[dict[str, float]]:
    """Score a batch concurrently; one dict per solution, same keys for all."""
    reward = reward or os.environ.get("CODELOOP_REWARD", "pass")
    extras = extra_infos if extra_infos is not None else [None] * len(solution_strs)
    rows = [row_from_label(truth, extra) for truth, extra in zip(ground_truths, extras)]
    verdicts = score_rows(scorer or default_scorer(), rows, list(solution_strs))
    return [verl_result(v, reward) for v in verdicts]
