"""Loops: how a model's attempts and the execution feedback are combined.

Each strategy is a function ``(ctx, task) -> trajectory`` registered in
:data:`STRATEGIES`:

* ``direct``: n samples, no feedback.
* ``refine``: up to R rounds; after a failing attempt the model sees the
  feedback from the *visible* tests (the prompt's examples) and tries again
  (Self-Debug, LeTI, MultiCodeIF's multi-turn protocol). Hidden tests judge
  every round but are never shown.
* ``best-of-n``: n samples; the model also writes tests; the pick is the
  candidate of the best CodeT cluster (candidates that pass the same generated
  tests, scored by cluster size x tests passed), without looking at hidden
  tests. Pick accuracy is reported against the oracle and a random pick.
* ``tree``: a small breadth-first tree search over attempts and feedback
  (CodeTree-like): each level expands the best nodes by visible-test pass rate.

A trajectory records every attempt: the reply, the program, the visible and
hidden verdicts, the feedback the model saw next, tokens and sandbox seconds.
"""

from __future__ import annotations

import ast
import random
from dataclasses import dataclass, field
from typing import Any, Callable

from .. import feedback as feedback_mod
from ..extract import extract_program, fenced_blocks, strip_special_tokens
from ..integrations.scoring import Scorer
from ..models import Model
from ..tasks.visible import visible_task
from ..types import Task, Verdict

SYSTEM = ("You are an expert Python programmer. Reply with one Python code block holding the complete function, "
          "with any imports it needs.")


def first_prompt(task: Task) -> str:
    return f"Complete the following Python function.\n```python\n{task.prompt}```"


def feedback_prompt(text: str) -> str:
    return (f"Your code did not pass the tests.\n{text}\n\nFix the function and reply with the complete corrected "
            "code in one Python code block.")


@dataclass
class LoopConfig:
    """Parameters of a run's strategy."""

    strategy: str = "refine"
    rounds: int = 3            # refine: attempts per task at most
    n: int = 4                 # direct and best-of-n: samples per task
    temperature: float = 0.2
    max_tokens: int = 384
    feedback_preset: str = "first_failure"
    feedback_cap: int = 1500
    tree_breadth: int = 2
    tree_depth: int = 2
    generated_tests: int = 5   # best-of-n: asserts asked of the model
    seed: int = 0


@dataclass
class Context:
    model: Model
    scorer: Scorer
    config: LoopConfig
    rng: random.Random = field(default_factory=lambda: random.Random(0))


def _brief(v: Verdict) -> dict[str, Any]:
    return {"status": v.status, "passed": v.passed, "tests_passed": v.tests_passed, "tests_total": v.tests_total,
            "failure": v.failure, "wall_seconds": v.wall_seconds}


class Attempts:
    """The growing list of a task's attempts, with the bookkeeping every strategy needs."""

    def __init__(self, ctx: Context, task: Task) -> None:
        self.ctx, self.task, self.visible = ctx, task, visible_task(task)
        self.items: list[dict[str, Any]] = []
        self.messages: dict[int, list[dict[str, str]]] = {}  # what each attempt was asked (not stored)

    def ask(self, messages: list[dict[str, str]], n: int = 1, seed: int | None = None) -> list[Any]:
        c = self.ctx.config
        return self.ctx.model.complete(messages, n=n, temperature=c.temperature, max_tokens=c.max_tokens, seed=seed)

    def add(self, completion: Any, messages: list[dict[str, str]], round_: int, parent: int | None = None) -> dict:
        ex = extract_program(completion.text, self.task.prompt, self.task.entry_point)
        reply = completion.text
        vis, hid = self.ctx.scorer.judge_many([(self.visible, reply), (self.task, reply)])
        fb = None
        if not vis.passed:
            fb = feedback_mod.render(vis, self.ctx.config.feedback_preset, cap=self.ctx.config.feedback_cap,
                                     hidden=False)
        self.messages[len(self.items)] = messages
        attempt = {"id": len(self.items), "parent": parent, "round": round_, "reply": reply,
                   "program": ex.program, "extracted": ex.kind, "visible": _brief(vis), "hidden": _brief(hid),
                   "feedback": fb, "prompt_tokens": completion.prompt_tokens,
                   "completion_tokens": completion.completion_tokens,
                   "sandbox_seconds": round((vis.wall_seconds or 0) + (hid.wall_seconds or 0), 4)}
        self.items.append(attempt)
        return attempt

    def trajectory(self, final: int | None, **extra: Any) -> dict[str, Any]:
        fin = self.items[final] if final is not None and self.items else None
        return {"task_id": self.task.task_id, "strategy": self.ctx.config.strategy, "attempts": self.items,
                "final": final, "passed": bool(fin and fin["hidden"]["passed"]),
                "prompt_tokens": sum(a["prompt_tokens"] for a in self.items),
                "completion_tokens": sum(a["completion_tokens"] for a in self.items),
                "sandbox_seconds": round(sum(a["sandbox_seconds"] for a in self.items), 4),
                "visible_tests": len(self.visible.asserts), **extra}


def _start(task: Task) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": first_prompt(task)}]


def direct(ctx: Context, task: Task) -> dict[str, Any]:
    at = Attempts(ctx, task)
    msgs = _start(task)
    for c in at.ask(msgs, n=ctx.config.n, seed=ctx.config.seed):
        at.add(c, msgs, 0)
    return at.trajectory(0, samples=len(at.items), passed_samples=sum(a["hidden"]["passed"] for a in at.items))


def refine(ctx: Context, task: Task) -> dict[str, Any]:
    at = Attempts(ctx, task)
    msgs = _start(task)
    for r in range(ctx.config.rounds):
        (c,) = at.ask(msgs, seed=ctx.config.seed + r)
        a = at.add(c, msgs, r, parent=at.items[-1]["id"] if at.items else None)
        if a["visible"]["passed"]:
            break
        msgs = msgs + [{"role": "assistant", "content": a["reply"]}, {"role": "user", "content": feedback_prompt(a["feedback"])}]
    return at.trajectory(len(at.items) - 1, rounds_used=len(at.items))


def _generated_tests(ctx: Context, task: Task) -> tuple[list[str], int, int]:
    ask = [{"role": "system", "content": "You write Python tests."},
           {"role": "user", "content": f"Write {ctx.config.generated_tests} assert statements, one per line, that "
                                       f"check the function `{task.entry_point}` below on different inputs. Reply "
                                       f"with a Python code block of asserts only.\n```python\n{task.prompt}```"}]
    (c,) = ctx.model.complete(ask, n=1, temperature=0.0, max_tokens=ctx.config.max_tokens)
    lines = []
    blocks = [b for _, b in fenced_blocks(strip_special_tokens(c.text))] or [c.text]
    for block in blocks:
        for line in block.splitlines():
            line = line.strip()
            try:
                node = ast.parse(line).body
            except SyntaxError:
                continue
            if len(node) == 1 and isinstance(node[0], ast.Assert) and any(
                    isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == task.entry_point
                    for n in ast.walk(node[0])):
                lines.append(line)
    return lines[: 3 * ctx.config.generated_tests], c.prompt_tokens, c.completion_tokens


def best_of_n(ctx: Context, task: Task) -> dict[str, Any]:
    at = Attempts(ctx, task)
    msgs = _start(task)
    for c in at.ask(msgs, n=ctx.config.n, seed=ctx.config.seed):
        at.add(c, msgs, 0)
    tests, pt, ct = _generated_tests(ctx, task)
    gen = Task(task_id=f"{task.task_id}#generated", kind="asserts", prompt=task.prompt,
               entry_point=task.entry_point, asserts=tests, time_limit=3.0, origin="generated") if tests else None
    signatures = []
    for a in at.items:
        if gen is None or a["extracted"] == "none":
            signatures.append(())
            continue
        v = ctx.scorer.judge(gen, a["reply"])
        signatures.append(tuple(v.test_results or ()))
        a["generated"] = _brief(v)
    # CodeT's dual agreement: candidates passing the same generated tests form
    # a cluster, scored by its size times the number of tests they pass.
    clusters: dict[tuple, list[int]] = {}
    for i, sig in enumerate(signatures):
        if at.items[i]["extracted"] != "none":
            clusters.setdefault(sig, []).append(i)
    if clusters:
        best = max(clusters.items(), key=lambda kv: (len(kv[1]) * sum(kv[0]), len(kv[1]), -kv[1][0]))
        pick = best[1][0]
    else:
        pick = 0
    hidden = [a["hidden"]["passed"] for a in at.items]
    return at.trajectory(pick, generated_tests=tests, generated_tokens=[pt, ct],
                         oracle=any(hidden), random_pick=sum(hidden) / len(hidden) if hidden else 0.0,
                         pick_correct=bool(hidden and hidden[pick]))


def tree(ctx: Context, task: Task) -> dict[str, Any]:
    at = Attempts(ctx, task)
    msgs = _start(task)
    frontier = [at.add(c, msgs, 0) for c in at.ask(msgs, n=ctx.config.tree_breadth, seed=ctx.config.seed)]
    score = lambda a: ((a["visible"]["tests_passed"] or 0) / max(1, a["visible"]["tests_total"] or 1)  # noqa: E731
                       if a["visible"]["status"] not in ("syntax_error", "no_code") else -1.0)
    for depth in range(1, ctx.config.tree_depth + 1):
        if any(a["visible"]["passed"] for a in at.items):
            break
        parents = sorted(frontier, key=score, reverse=True)[: ctx.config.tree_breadth]
        frontier = []
        for p in parents:
            child_msgs = at.messages[p["id"]] + [{"role": "assistant", "content": p["reply"]},
                                          {"role": "user", "content": feedback_prompt(p["feedback"] or "")}]
            (c,) = at.ask(child_msgs, seed=ctx.config.seed + 100 * depth + p["id"])
            frontier.append(at.add(c, child_msgs, depth, parent=p["id"]))
    best = max(at.items, key=lambda a: (a["visible"]["passed"], score(a), -a["id"]))
    return at.trajectory(best["id"], nodes=len(at.items))


STRATEGIES: dict[str, Callable[[Context, Task], dict[str, Any]]] = {
    "direct": direct, "refine": refine, "best-of-n": best_of_n, "tree": tree,
}
