"""Rewards: numbers a trainer can optimise, computed from a verdict.

Each reward is a small function ``(verdict) -> float | None`` registered by
name in :data:`REWARDS`; :class:`Composite` adds weighted rewards. Every
reward returns None for ``infra_error`` (the evaluator failed, so there is
nothing to learn; TRL masks None), never 0.
"""

from __future__ import annotations

from typing import Callable

from ..types import Status, Verdict

RewardFn = Callable[[Verdict], "float | None"]
REWARDS: dict[str, RewardFn] = {}
DESCRIPTIONS: dict[str, str] = {}


def register(name: str, description: str) -> Callable[[RewardFn], RewardFn]:
    """Decorator: add a reward function under ``name``. It is wrapped so that an
    evaluator failure always gives None."""

    def add(fn: RewardFn) -> RewardFn:
        def guarded(v: Verdict) -> float | None:
            return None if v.status is Status.INFRA_ERROR else fn(v)

        guarded.__name__, guarded.__doc__ = fn.__name__, fn.__doc__
        REWARDS[name] = guarded
        DESCRIPTIONS[name] = description
        return guarded

    return add


def get(name: str) -> RewardFn:
    """The reward registered as ``name``; KeyError names the known ones."""
    try:
        return REWARDS[name]
    except KeyError:
        raise KeyError(f"unknown reward {name!r}; known: {', '.join(sorted(REWARDS))}") from None


@register("pass", "1 if every test passed, else 0.")
def binary_pass(v: Verdict) -> float:
    return 1.0 if v.passed else 0.0


@register("fraction", "Fraction of tests passed (0 when none ran).")
def fraction(v: Verdict) -> float:
    if v.passed:
        return 1.0
    return (v.tests_passed or 0) / v.tests_total if v.tests_total else 0.0


@register("first10", "PRIME's continuous score (verl's prime_code): the fraction of the first 10 tests passed. "
          "A time-out scores 0: codeloop keeps no per-test results past it.")
def first10(v: Verdict) -> float:
    if v.test_results:
        head = v.test_results[:10]
        return sum(head) / len(head)
    return 1.0 if v.passed else 0.0


CODERL_TIERS = {Status.PASSED: 1.0, Status.FAILED: -0.3, Status.SYNTAX_ERROR: -1.0, Status.NO_CODE: -1.0}


@register("coderl", "CodeRL's tiers: pass +1, wrong answer -0.3, runtime error (exception, time-out, "
          "limits, crash) -0.6, syntax error or no code -1.")
def coderl(v: Verdict) -> float:
    return CODERL_TIERS.get(v.status, -0.6)


EFFICIENCY_WEIGHT = 0.5
EFFICIENCY_CLIP = 2.0


@register("efficiency", "Correctness first (0 unless passed), then 1 + 0.5 x min(reference cost / own cost, 2) / 2: "
          "up to 1.5 for code at least twice as cheap as the reference; no efficiency credit for wrong "
          "code or without a cost measurement (ACECode-like).")
def efficiency(v: Verdict) -> float:
    if not v.passed:
        return 0.0
    ratio = v.cost.ratio if v.cost is not None else None
    if ratio is None:
        return 1.0
    return 1.0 + EFFICIENCY_WEIGHT * min(max(float(ratio), 0.0), EFFICIENCY_CLIP) / EFFICIENCY_CLIP


@register("instructions", "Fraction of the task's code instructions the program follows (1 when it has none).")
def instructions_fraction(v: Verdict) -> float:
    results = v.instructions or ()
    return sum(r.passed for r in results) / len(results) if results else 1.0


@register("instructions_all", "1 if the program follows every code instruction, else 0.")
def instructions_all(v: Verdict) -> float:
    return 1.0 if all(r.passed for r in v.instructions or ()) else 0.0


class Composite:
    """A weighted sum of named rewards, e.g. ``Composite({"pass": 1.0, "instructions": 0.5})``.

    None if any part is None (an evaluator failure). ``name`` joins the parts.
    """

    def __init__(self, weights: dict[str, float]) -> None:
        if not weights:
            raise ValueError("a composite reward needs at least one part")
        self.parts = [(get(name), float(w)) for name, w in weights.items()]
        self.weights = dict(weights)
        self.__name__ = "+".join(f"{w}*{n}" for n, w in weights.items())

    def __call__(self, v: Verdict) -> float | None:
        total = 0.0
        for fn, w in self.parts:
            value = fn(v)
            if value is None:
                return None
            total += w * value
        return total


def parse(spec: str) -> RewardFn:
    """A reward from text: a name (``coderl``) or weighted names (``pass=1,instructions=0.5``)."""
    if "=" not in spec and "," not in spec:
        return get(spec.strip())
    weights = {}
    for part in spec.split(","):
        name, _, weight = part.partition("=")
        try:
            weights[name.strip()] = float(weight) if weight else 1.0
        except ValueError:
            raise ValueError(f"bad weight in reward spec {spec!r}: {part!r}") from None
    return Composite(weights)


__all__ = ["REWARDS", "DESCRIPTIONS", "register", "get", "parse", "Composite"]
