"""What a run records: each attempt, and each task's trajectory of attempts.

A :class:`Trajectory` owns the rule that picks its answer (per strategy, see
:data:`PICK_RULES`): the strategy uses it to choose the final attempt, and the
refinement curve uses it to say what the answer was after each round, so the
two can never disagree. Records serialise to the JSON lines of a run folder's
``trajectories.jsonl`` and read back from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from .types import NO_PROGRAM, Failure, Status, Verdict, failure_from_dict, failure_to_dict


@dataclass(frozen=True)
class Brief:
    """A verdict, cut to what a trajectory keeps."""

    status: Status
    tests_passed: int | None = None
    tests_total: int | None = None
    failure: Failure | None = None
    wall_seconds: float | None = None

    @property
    def passed(self) -> bool:
        return self.status is Status.PASSED

    @property
    def fraction(self) -> float:
        """Share of tests passed; -1 for code that does not compile or is not there."""
        if self.status in NO_PROGRAM:
            return -1.0
        return (self.tests_passed or 0) / max(1, self.tests_total or 1)

    @classmethod
    def of(cls, v: Verdict) -> "Brief":
        return cls(v.status, v.tests_passed, v.tests_total, v.failure, v.wall_seconds)

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status.value, "passed": self.passed, "tests_passed": self.tests_passed,
                "tests_total": self.tests_total,
                "failure": failure_to_dict(self.failure) if self.failure is not None else None,
                "wall_seconds": self.wall_seconds}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Brief":
        status = Status(d["status"])
        f = d.get("failure")
        return cls(status, d.get("tests_passed"), d.get("tests_total"),
                   failure_from_dict(f, status) if isinstance(f, Mapping) else None, d.get("wall_seconds"))


@dataclass(frozen=True)
class Attempt:
    """One reply of the model and what became of it."""

    id: int
    parent: int | None
    round: int
    reply: str
    program: str
    extracted: str                 # how the code was found: "solution", "completion" or "none"
    visible: Brief                 # on the prompt's examples (the model may see these)
    hidden: Brief                  # on the task's own tests (they only judge)
    feedback: str | None           # what the model was shown next, if anything
    prompt_tokens: int = 0
    completion_tokens: int = 0
    sandbox_seconds: float = 0.0
    generated: Brief | None = None  # best-of-n: on the model's own generated tests

    def to_dict(self) -> dict[str, Any]:
        d = {"id": self.id, "parent": self.parent, "round": self.round, "reply": self.reply,
             "program": self.program, "extracted": self.extracted, "visible": self.visible.to_dict(),
             "hidden": self.hidden.to_dict(), "feedback": self.feedback, "prompt_tokens": self.prompt_tokens,
             "completion_tokens": self.completion_tokens, "sandbox_seconds": self.sandbox_seconds}
        if self.generated is not None:
            d["generated"] = self.generated.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Attempt":
        gen = d.get("generated")
        return cls(int(d["id"]), d.get("parent"), int(d.get("round", 0)), str(d.get("reply", "")),
                   str(d.get("program", "")), str(d.get("extracted", "")), Brief.from_dict(d["visible"]),
                   Brief.from_dict(d["hidden"]), d.get("feedback"), int(d.get("prompt_tokens", 0)),
                   int(d.get("completion_tokens", 0)), float(d.get("sandbox_seconds", 0.0)),
                   Brief.from_dict(gen) if isinstance(gen, Mapping) else None)


PickRule = Callable[[Sequence[Attempt]], Attempt]


def _first(attempts: Sequence[Attempt]) -> Attempt:
    return attempts[0]


def _latest(attempts: Sequence[Attempt]) -> Attempt:
    return attempts[-1]


def _best_visible(attempts: Sequence[Attempt]) -> Attempt:
    """What a search that sees only the visible tests would pick: one that
    passes them, else the highest share passed; the earliest on a tie."""
    return max(attempts, key=lambda a: (a.visible.passed, a.visible.fraction, -a.id))


PICK_RULES: dict[str, PickRule] = {"first": _first, "latest": _latest, "best_visible": _best_visible}
STRATEGY_RULES = {"direct": "first", "refine": "latest", "interact": "latest", "tree": "best_visible",
                  "best-of-n": "first"}


@dataclass(frozen=True)
class Selection:
    """How best-of-n chose, by each selection rule, without the hidden tests.

    ``picks`` maps a rule's name (:data:`codeloop.loops.select.SELECTION_RULES`)
    to the candidate it chose; ``rule`` is the one whose pick is the answer.
    ``probe_inputs`` are what MBR-exec ran every candidate on (the prompt's
    examples and the generated inputs, as call expressions or stdin text).
    """

    generated_tests: tuple[str, ...]
    generated_tokens: tuple[int, int]
    picks: Mapping[str, int] = field(hash=False)
    rule: str
    oracle: bool          # some candidate passed the hidden tests
    random_pick: float    # the chance a random candidate passes them
    probe_inputs: tuple[str, ...] = ()

    @property
    def pick(self) -> int:
        return self.picks[self.rule]

    def to_dict(self) -> dict[str, Any]:
        return {"generated_tests": list(self.generated_tests), "generated_tokens": list(self.generated_tokens),
                "pick": self.pick, "picks": dict(self.picks), "rule": self.rule, "oracle": self.oracle,
                "random_pick": self.random_pick, "probe_inputs": list(self.probe_inputs)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Selection":
        """Also reads run folders from before MBR-exec (one pick: CodeT's)."""
        picks = {str(k): int(v) for k, v in (d.get("picks") or {"codet": d.get("pick", d.get("final") or 0)}).items()}
        rule = str(d.get("rule") or next(iter(picks)))
        tokens = tuple(d.get("generated_tokens") or (0, 0))
        return cls(tuple(d.get("generated_tests") or ()), (int(tokens[0]), int(tokens[1])), picks, rule,
                   bool(d.get("oracle")), float(d.get("random_pick", 0.0)), tuple(d.get("probe_inputs") or ()))


@dataclass(frozen=True)
class Sampling:
    """How a task's samples were obtained from the model: ``asked`` for in one
    call, ``received`` in the end, over ``requests`` requests to the model of
    which the first gave ``first`` (a server that ignores ``n`` gives one, and
    codeloop asks again for the rest)."""

    asked: int
    received: int
    requests: int
    first: int

    def to_dict(self) -> dict[str, int]:
        return {"asked": self.asked, "received": self.received, "requests": self.requests, "first": self.first}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Sampling":
        return cls(int(d["asked"]), int(d["received"]), int(d["requests"]), int(d["first"]))


@dataclass
class Trajectory:
    """A task's attempts under one strategy, and the attempt that is its answer."""

    task_id: str
    strategy: str
    attempts: list[Attempt] = field(default_factory=list)
    visible_tests: int = 0
    selection: Selection | None = None
    sampling: Sampling | None = None

    @property
    def distinct_programs(self) -> int:
        """How many different programs the first round's samples hold (copies count once)."""
        return len({a.program.strip() for a in self.attempts if a.round == 0})

    def pick(self, upto_round: int | None = None) -> Attempt | None:
        """The answer among the attempts made up to ``upto_round`` (all when None),
        by this strategy's rule (a best-of-n pick is the selection's)."""
        if self.selection is not None and upto_round is None:
            return self.attempts[self.selection.pick] if self.attempts else None
        made = [a for a in self.attempts if upto_round is None or a.round <= upto_round]
        if not made:
            return None
        return PICK_RULES[STRATEGY_RULES.get(self.strategy, "latest")](made)

    @property
    def final(self) -> int | None:
        chosen = self.pick()
        return chosen.id if chosen is not None else None

    @property
    def passed(self) -> bool:
        chosen = self.pick()
        return bool(chosen and chosen.hidden.passed)

    @property
    def prompt_tokens(self) -> int:
        return sum(a.prompt_tokens for a in self.attempts) + (self.selection.generated_tokens[0]
                                                              if self.selection else 0)

    @property
    def completion_tokens(self) -> int:
        return sum(a.completion_tokens for a in self.attempts) + (self.selection.generated_tokens[1]
                                                                  if self.selection else 0)

    @property
    def sandbox_seconds(self) -> float:
        return round(sum(a.sandbox_seconds for a in self.attempts), 4)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "task_id": self.task_id, "strategy": self.strategy, "attempts": [a.to_dict() for a in self.attempts],
            "final": self.final, "passed": self.passed, "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens, "sandbox_seconds": self.sandbox_seconds,
            "visible_tests": self.visible_tests,
            "samples": len(self.attempts), "passed_samples": sum(a.hidden.passed for a in self.attempts)}
        # Kept for readers of run folders: each strategy's own count of what it did.
        if self.strategy == "refine":
            d["rounds_used"] = len(self.attempts)
        elif self.strategy == "tree":
            d["nodes"] = len(self.attempts)
        if self.selection is not None:
            d.update(self.selection.to_dict(), picks_correct=self.picks_correct, pick_correct=self.passed)
        if self.sampling is not None:
            d["sampling"] = self.sampling.to_dict()
            d["distinct_programs"] = self.distinct_programs
        return d

    @property
    def picks_correct(self) -> dict[str, bool]:
        """Each selection rule's pick: did it pass the hidden tests?"""
        if self.selection is None:
            return {}
        return {rule: bool(0 <= i < len(self.attempts) and self.attempts[i].hidden.passed)
                for rule, i in self.selection.picks.items()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Trajectory":
        selection = Selection.from_dict(d) if "pick_correct" in d else None
        sampling = d.get("sampling")
        return cls(str(d["task_id"]), str(d["strategy"]), [Attempt.from_dict(a) for a in d.get("attempts", [])],
                   int(d.get("visible_tests", 0)), selection,
                   Sampling.from_dict(sampling) if isinstance(sampling, Mapping) else None)
