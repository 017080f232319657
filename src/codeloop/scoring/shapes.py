"""The result shapes the trainers expect, from verdicts (the same for their
in-process adapters and for the HTTP service)."""

from __future__ import annotations

from typing import Any

from .. import rewards
from ..types import NO_PROGRAM, Status, Verdict

VERL_KEYS = ("score", "acc", "tests_fraction", "infra_error", "syntax_error", "timeout")


def verl_result(v: Verdict | None, reward: str) -> dict[str, float]:
    """verl's result dict for one verdict (None: no task), the same keys every time."""
    if v is None or v.status is Status.INFRA_ERROR:
        return {"score": 0.0, "acc": 0.0, "tests_fraction": 0.0, "infra_error": 1.0, "syntax_error": 0.0,
                "timeout": 0.0}
    value = rewards.parse(reward)(v)
    return {"score": float(value if value is not None else 0.0), "acc": float(v.passed),
            "tests_fraction": float(rewards.get("fraction")(v) or 0.0), "infra_error": 0.0,
            "syntax_error": float(v.status in NO_PROGRAM),
            "timeout": float(v.status is Status.TIMEOUT)}



def openrlhf_result(verdicts: list[Verdict | None], reward: str) -> dict[str, Any]:
    """OpenRLHF's reward dict, as lists, for one verdict per query."""
    fn = rewards.parse(reward)
    fraction = rewards.get("fraction")
    values = [fn(v) if v is not None else None for v in verdicts]
    return {
        "rewards": [0.0 if x is None else float(x) for x in values],
        "scores": [0.0 if v is None or v.status is Status.INFRA_ERROR else float(fraction(v) or 0.0)
                   for v in verdicts],
        "extra_logs": {
            "pass": [float(bool(v and v.passed)) for v in verdicts],
            "infra_error": [float(v is None or v.status is Status.INFRA_ERROR) for v in verdicts],
        },
    }
