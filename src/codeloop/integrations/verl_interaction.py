"""Execution feedback as verl's *interaction*: the user turn that answers each of the model's attempts.

verl 0.4 to 0.8 let a multi-turn rollout alternate model turns with an
interaction's (``actor_rollout_ref.rollout.multi_turn.interaction_config_path``)::

    interaction:
      - name: codeloop
        class_name: codeloop.integrations.verl_interaction.ExecutionFeedbackInteraction
        config: {feedback: first_failure, max_turn_score: 1.0}

Each sample's ``extra_info.interaction_kwargs`` names the interaction and
carries ``ground_truth`` (the task, in any form codeloop's verl reward reads:
a task id, a task in the JSONL format, or ``{"inputs", "outputs",
"fn_name"?}``). verl's tool agent loop calls ``start_interaction(request_id,
**interaction_kwargs)`` once, then ``generate_response(request_id, messages,
**interaction_kwargs)`` after every model turn: the last assistant message
is judged in the sandbox; passing ends the sequence with score 1, failing
answers with codeloop's feedback on the failure (on the task's hidden tests,
so what the tests hold is not shown unless ``reveal_tests`` is set) and
score 0. verl 0.9 removed interactions; this class has the methods of verl
0.6.0's ``BaseInteraction`` (tests/test_verl_interaction.py builds it with that
release's own registry).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from .. import feedback as feedback_mod
from ..scoring import Scorer, score_rows
from ..tasks.rows import row_from_label
from .default import default_scorer


class ExecutionFeedbackInteraction:
    """verl's ``BaseInteraction`` over codeloop's judge (see the module's docstring)."""

    def __init__(self, config: dict[str, Any], scorer: Scorer | None = None) -> None:
        self.config = dict(config or {})
        self.name: str = str(self.config.get("name", "codeloop"))
        self.preset = str(self.config.get("feedback", "first_failure"))
        self.reveal_tests = bool(self.config.get("reveal_tests", False))
        self.cap = int(self.config.get("max_feedback_chars", 1500))
        self._scorer = scorer
        self._instances: dict[str, dict[str, Any]] = {}

    async def start_interaction(self, instance_id: str | None = None, ground_truth: Any = None,
                                **kwargs: Any) -> str:
        instance_id = instance_id or str(uuid.uuid4())
        if ground_truth is None:
            raise ValueError("interaction_kwargs must carry 'ground_truth' (the task)")
        self._instances[instance_id] = {"row": row_from_label(ground_truth, kwargs.get("extra_info")), "score": 0.0}
        return instance_id

    async def generate_response(self, instance_id: str, messages: list[dict[str, Any]],
                                **kwargs: Any) -> tuple[bool, str, float, dict[str, Any]]:
        state = self._instances[instance_id]
        reply = next((str(m.get("content") or "") for m in reversed(messages) if m.get("role") == "assistant"), "")
        scorer = self._scorer or default_scorer()
        (verdict,) = await asyncio.to_thread(score_rows, scorer, [state["row"]], [reply])
        if verdict is None:  # the task could not be found: nothing to judge against, and nothing to say
            raise ValueError(f"the interaction's ground_truth names no task the scorer knows: {state['row']!r:.200}")
        state["score"] = 1.0 if verdict.passed else 0.0
        metrics = {"status": verdict.status.value, "tests_passed": verdict.tests_passed,
                   "tests_total": verdict.tests_total}
        if verdict.passed:
            return True, "Your code passed all the tests.", 1.0, metrics
        text = feedback_mod.render(verdict, self.preset, cap=self.cap, hidden=not self.reveal_tests)
        return False, f"Your code did not pass the tests.\n{text}\nFix it and reply with the complete code.", 0.0, \
            metrics

    async def calculate_score(self, instance_id: str, **kwargs: Any) -> float:
        return float(self._instances.get(instance_id, {}).get("score", 0.0))

    async def finalize_interaction(self, instance_id: str, **kwargs: Any) -> None:
        self._instances.pop(instance_id, None)
