"""Loops: how a model's attempts and the execution feedback are combined.

Each strategy is a function ``(ctx, task) -> trajectory`` registered in
:data:`STRATEGIES`:

* ``direct``: n samples, no feedback.
* ``refine``: up to R rounds; after a failing attempt the model sees the
  feedback from the *visible* tests (the prompt's examples) and tries again
  (Self-Debug, LeTI, MultiCodeIF's multi-turn protocol). Hidden tests judge
  every round but are never shown.
* ``best-of-n``: n samples, and a pick among them made without the hidden
  tests, by each rule of :data:`codeloop.loops.select.SELECTION_RULES`: CodeT
  (the model also writes tests; candidates passing the same ones cluster) and
  MBR-exec (every candidate runs on the prompt's examples and generated
  inputs; candidates with identical outputs group). ``select`` names the rule
  whose pick is the answer; every rule's accuracy is reported against the
  oracle and a random pick.
* ``tree``: a small breadth-first tree search over attempts and feedback
  (CodeTree-like): each level expands the best nodes by visible-test pass rate.
* ``interact``: MINT's protocol: the model may reply with code to run, sees
  what it printed (in a sandboxed Python session kept across the turns), and
  ends with ``FINAL ANSWER`` and its solution, within R turns. Every turn's
  code is judged by the hidden tests too (so the curve shows each turn); the
  answer is the last turn's.

A trajectory (:mod:`codeloop.loops.records`) records every attempt: the reply,
the program, the visible and hidden verdicts, the feedback the model saw
next, tokens and sandbox seconds; it also owns the rule that picks the answer.
"""

from __future__ import annotations

import ast
import random
from dataclasses import dataclass, field, fields
from dataclasses import replace
from typing import Any, Callable, Mapping

from .. import feedback as feedback_mod
from .. import pyparse
from ..extract import extract_for_task, fenced_blocks, strip_special_tokens
from ..sandbox.languages import Language, language
from ..models import Completion, Model
from ..sandbox.sessions import SessionPool
from ..scoring.local import LocalScorer
from ..tasks.visible import probe_inputs, probe_task, visible_task
from ..types import Task, TaskKind
from ..records import Attempt, Brief, Sampling, Selection, Trajectory
from .select import SELECTION_RULES, UNUSABLE, Candidate, Outputs, outputs_of

SYSTEM = ("You are an expert Python programmer. Reply with one Python code block holding the complete function, "
          "with any imports it needs.")
Message = dict[str, str]


def _program_language(task: Task) -> Language | None:
    """The language a whole program for ``task`` is asked in (a stdin task), else None (a Python function)."""
    return language(task.language) if task.kind is TaskKind.STDIO else None


def system_prompt(task: Task) -> str:
    lang = _program_language(task)
    if lang is None:
        return SYSTEM
    return (f"You are an expert {lang.title} programmer. Reply with one {lang.title} code block holding a complete "
            "program that reads standard input and writes standard output.")


def first_prompt(task: Task) -> str:
    lang = _program_language(task)
    if lang is None:
        return f"Complete the following Python function.\n```python\n{task.prompt}```"
    return (f"Solve the following problem with a complete {lang.title} program that reads standard input and writes "
            f"standard output.\n\n{task.prompt.strip()}\n\nReply with the program in one ```{lang.name} code block.")


def feedback_prompt(text: str, task: Task | None = None) -> str:
    lang = _program_language(task) if task is not None else None
    what = "the function" if lang is None else "the program"
    title = "Python" if lang is None else lang.title
    return (f"Your code did not pass the tests.\n{text}\n\nFix {what} and reply with the complete corrected "
            f"code in one {title} code block.")


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
    generated_tests: int = 5   # best-of-n: asserts (or stdin inputs, for a program) asked of the model
    seed: int = 0
    select: str = "codet"      # best-of-n: the selection rule whose pick is the answer

    def __post_init__(self) -> None:
        """ValueError for a strategy or selection rule this version does not have (named, with the known ones),
        so a bad name fails before any model call, whether it came from a command line or a run folder."""
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}; known: {', '.join(STRATEGIES)}")
        if self.select not in SELECTION_RULES:
            raise ValueError(f"unknown selection rule {self.select!r}; known: {', '.join(SELECTION_RULES)}")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "LoopConfig":
        """The configuration a run folder's ``config.json`` names: a setting it predates takes
        its default (the run used it), one this version no longer has is dropped."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass
class Context:
    model: Model
    scorer: LocalScorer
    config: LoopConfig
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    sessions: SessionPool | None = None  # interact: where the model's code runs between answers


class Attempts:
    """A task's trajectory as it grows, with the bookkeeping every strategy needs."""

    def __init__(self, ctx: Context, task: Task) -> None:
        self.ctx, self.task, self.visible = ctx, task, visible_task(task)
        self.trajectory = Trajectory(task.task_id, ctx.config.strategy, visible_tests=len(self.visible.asserts))
        self.messages: dict[int, list[Message]] = {}  # what each attempt was asked (not stored)

    @property
    def items(self) -> list[Attempt]:
        return self.trajectory.attempts

    def ask(self, messages: list[Message], n: int = 1, seed: int | None = None) -> list[Completion]:
        """``n`` replies; the first ask for more than one is recorded as the trajectory's sampling."""
        c = self.ctx.config
        replies = self.ctx.model.complete(messages, n=n, temperature=c.temperature, max_tokens=c.max_tokens, seed=seed)
        if n > 1 and self.trajectory.sampling is None:
            self.trajectory.sampling = Sampling(n, len(replies), len({r.request for r in replies}),
                                                sum(r.request == 0 for r in replies))
        return replies

    def add(self, completion: Completion, messages: list[Message], round_: int, parent: int | None = None,
            shown: str | None = None) -> Attempt:
        """Judge a reply (visible and hidden tests) and record it; ``shown`` is what the model sees next
        instead of the visible tests' feedback (interact: what its code printed)."""
        _, ex = extract_for_task(self.task, completion.text)
        reply = completion.text
        vis, hid = self.ctx.scorer.judge_many([(self.visible, reply), (self.task, reply)])
        fb = shown
        if shown is None and not vis.passed:
            fb = feedback_mod.render(vis, self.ctx.config.feedback_preset, cap=self.ctx.config.feedback_cap,
                                     hidden=False)
        attempt = Attempt(id=len(self.items), parent=parent, round=round_, reply=reply, program=ex.program,
                          extracted=ex.kind, visible=Brief.of(vis), hidden=Brief.of(hid), feedback=fb,
                          prompt_tokens=completion.prompt_tokens, completion_tokens=completion.completion_tokens,
                          sandbox_seconds=round((vis.wall_seconds or 0) + (hid.wall_seconds or 0), 4))
        self.messages[attempt.id] = messages
        self.items.append(attempt)
        return attempt


def _start(task: Task) -> list[Message]:
    return [{"role": "system", "content": system_prompt(task)}, {"role": "user", "content": first_prompt(task)}]


def direct(ctx: Context, task: Task) -> Trajectory:
    at = Attempts(ctx, task)
    msgs = _start(task)
    for c in at.ask(msgs, n=ctx.config.n, seed=ctx.config.seed):
        at.add(c, msgs, 0)
    return at.trajectory


def refine(ctx: Context, task: Task) -> Trajectory:
    at = Attempts(ctx, task)
    msgs = _start(task)
    for r in range(ctx.config.rounds):
        (c,) = at.ask(msgs, seed=ctx.config.seed + r)
        a = at.add(c, msgs, r, parent=at.items[-1].id if at.items else None)
        if a.visible.passed:
            break
        msgs = msgs + [{"role": "assistant", "content": a.reply},
                       {"role": "user", "content": feedback_prompt(a.feedback or "", task)}]
    return at.trajectory


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
                node = pyparse.parse(line).body
            except SyntaxError:
                continue
            if len(node) == 1 and isinstance(node[0], ast.Assert) and any(
                    isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == task.entry_point
                    for n in ast.walk(node[0])):
                lines.append(line)
    return lines[: 3 * ctx.config.generated_tests], c.prompt_tokens, c.completion_tokens


def _generated_inputs(ctx: Context, task: Task) -> tuple[list[str], int, int]:
    """Stdin inputs the model writes for a whole program (MBR-exec runs every candidate on them)."""
    ask = [{"role": "system", "content": "You write test inputs for programs."},
           {"role": "user", "content": f"Write {ctx.config.generated_tests} different inputs for a program that "
                                       "solves the problem below, each exactly as the program reads it from standard "
                                       f"input, each in its own ``` block.\n\n{task.prompt.strip()}"}]
    (c,) = ctx.model.complete(ask, n=1, temperature=0.0, max_tokens=ctx.config.max_tokens)
    inputs = [b.strip("\n") + "\n" for _, b in fenced_blocks(strip_special_tokens(c.text)) if b.strip()]
    return [i for i in inputs if len(i) <= MAX_GENERATED_INPUT][: ctx.config.generated_tests], \
        c.prompt_tokens, c.completion_tokens


MAX_GENERATED_INPUT = 20_000


def best_of_n(ctx: Context, task: Task) -> Trajectory:
    """n samples, and each selection rule's pick among them (see the module's docstring)."""
    at = Attempts(ctx, task)
    msgs = _start(task)
    for c in at.ask(msgs, n=ctx.config.n, seed=ctx.config.seed):
        at.add(c, msgs, 0)
    # CodeT's tests are asserts on a function; a whole program gets generated stdin inputs for MBR-exec only
    tests: list[str] = []
    inputs: list[str] = []
    if task.kind is TaskKind.STDIO:
        inputs, pt, ct = _generated_inputs(ctx, task)
    else:
        tests, pt, ct = _generated_tests(ctx, task)
    gen = Task(task_id=f"{task.task_id}#generated", kind=TaskKind.ASSERTS, prompt=task.prompt,
               entry_point=task.entry_point, asserts=tuple(tests), time_limit=3.0, origin="generated") \
        if tests else None
    probes = probe_task(task, tests, inputs)
    found = [i for i, a in enumerate(at.items) if a.extracted != "none"]
    jobs = [(probes, at.items[i].reply) for i in found] + [(gen, at.items[i].reply) for i in found if gen is not None]
    verdicts = ctx.scorer.judge_many(jobs)
    on_probes = dict(zip(found, verdicts[: len(found)]))
    on_generated = dict(zip(found, verdicts[len(found):]))
    candidates = []
    for i, a in enumerate(at.items):
        probe = on_probes.get(i)
        passed_generated: tuple[bool, ...] = ()
        if i in on_generated:
            passed_generated = tuple(on_generated[i].test_results or ())
            at.items[i] = _with_generated(a, Brief.of(on_generated[i]))
        # usable: its code compiles, as its run on the visible tests found (not the probes' run, which a
        # probe the task cannot send, or a sandbox failure, may have cut short)
        candidates.append(Candidate(a.visible.status not in UNUSABLE, passed_generated,
                                    outputs_of(probe) if probe is not None else Outputs()))
    picks = {name: rule(candidates) for name, rule in SELECTION_RULES.items()}
    hidden = [a.hidden.passed for a in at.items]
    at.trajectory.selection = Selection(tuple(tests), (pt, ct), picks, ctx.config.select, any(hidden),
                                        sum(hidden) / len(hidden) if hidden else 0.0, probe_inputs(probes))
    return at.trajectory


def _with_generated(a: Attempt, brief: Brief) -> Attempt:
    return replace(a, generated=brief)


def tree(ctx: Context, task: Task) -> Trajectory:
    at = Attempts(ctx, task)
    msgs = _start(task)
    frontier = [at.add(c, msgs, 0) for c in at.ask(msgs, n=ctx.config.tree_breadth, seed=ctx.config.seed)]
    for depth in range(1, ctx.config.tree_depth + 1):
        if any(a.visible.passed for a in at.items):
            break
        parents = sorted(frontier, key=lambda a: a.visible.fraction, reverse=True)[: ctx.config.tree_breadth]
        frontier = []
        for p in parents:
            child_msgs = at.messages[p.id] + [{"role": "assistant", "content": p.reply},
                                              {"role": "user", "content": feedback_prompt(p.feedback or "", task)}]
            (c,) = at.ask(child_msgs, seed=ctx.config.seed + 100 * depth + p.id)
            frontier.append(at.add(c, child_msgs, depth, parent=p.id))
    return at.trajectory


INTERACT = ("You may run Python code before you answer: reply with one ```python block and you will see what it "
            "printed and the value of its last line. When you are sure, reply with FINAL ANSWER followed by the "
            "complete solution in one ```python block.")
FINAL = "FINAL ANSWER"


def interact(ctx: Context, task: Task) -> Trajectory:
    """MINT's turns: run code and see its output, or give the final answer (see the module's docstring)."""
    if ctx.sessions is None:
        raise ValueError("the interact strategy needs a session pool (Context.sessions)")
    at = Attempts(ctx, task)
    msgs = [{"role": "system", "content": system_prompt(task)},
            {"role": "user", "content": f"{first_prompt(task)}\n\n{INTERACT}"}]
    session = ctx.sessions.open("python")
    try:
        for turn in range(ctx.config.rounds):
            (c,) = at.ask(msgs, seed=ctx.config.seed + turn)
            parent = at.items[-1].id if at.items else None
            if FINAL in c.text.upper() or turn == ctx.config.rounds - 1:
                final = at.add(c, msgs, turn, parent=parent)
                at.items[-1] = replace(final, feedback=None)  # the answer: nothing is shown after it
                break
            blocks = [body for _, body in fenced_blocks(strip_special_tokens(c.text))]
            if not blocks:
                observation = f"No code block was found: reply with a ```python block to run code, or {FINAL}."
            else:
                if session.closed:  # the last step ended it at a limit: a fresh one, as a restarted kernel
                    session = ctx.sessions.open("python")
                observation = session.step(blocks[0], cpu=5.0, wall=15.0).text(ctx.config.feedback_cap) or "(no output)"
            at.add(c, msgs, turn, parent=parent, shown=f"Output:\n{observation}")
            msgs = msgs + [{"role": "assistant", "content": c.text},
                           {"role": "user", "content": f"Output:\n{observation}"}]
    finally:
        session.close()
    return at.trajectory


STRATEGIES: dict[str, Callable[[Context, Task], Trajectory]] = {
    "direct": direct, "refine": refine, "best-of-n": best_of_n, "tree": tree, "interact": interact,
}
# the strategies whose n samples are the result (pass@k, picks), not a search's starting points
SAMPLING_STRATEGIES = ("direct", "best-of-n")
