"""Selection rules for best-of-n: which candidate is the answer, chosen without the hidden tests.

Every rule sees the same evidence, one :class:`Candidate` per sample, and
returns the index of its pick. Registered in :data:`SELECTION_RULES`:

* ``codet``: CodeT's dual agreement (Chen et al., 2022). Candidates that pass
  the same model-written tests form a cluster, scored by its size times the
  number of tests they pass; the pick is the best cluster's first member.
* ``mbr-exec``: MBR-exec (Shi et al., 2022). Every candidate runs on the same
  inputs (the prompt's examples and generated inputs, with no expected
  output); candidates whose outputs are identical on all of them form a
  group; the pick is the largest group's first member (on a tie, the group
  whose outputs hold fewer errors, then the earliest). A group whose every
  output is an error (a raise, a crash, a program that does not load) ranks
  below any group with an answer.

Only usable candidates (code was found and it compiles) are grouped; when
none is, the pick is the first candidate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Hashable, Sequence, TypeVar

from ..types import NO_PROGRAM, Status, Verdict

UNUSABLE = NO_PROGRAM | {Status.INFRA_ERROR}
K = TypeVar("K", bound=Hashable)
# how a run ended early: part of what the candidate "output", so a time-out never agrees with an answer
_ENDED = (Status.TIMEOUT, Status.MEMORY_LIMIT, Status.OUTPUT_LIMIT, Status.KILLED)


@dataclass(frozen=True)
class Outputs:
    """What a candidate did on the probe inputs, as comparable text, and how many of those texts are errors
    (counted where each output is made, never read back from the text: a right answer may print ``<b>``)."""

    texts: tuple[str, ...] = ()
    errors: int = 0  # raises, non-zero exits, a run that ended early or never ran a probe


@dataclass(frozen=True)
class Candidate:
    """What a selection rule may know of one sample."""

    usable: bool
    passed_generated: tuple[bool, ...] = ()  # each generated test, in order (CodeT)
    outputs: Outputs = Outputs()              # what it did on each probe input (MBR-exec)


def outputs_of(verdict: Verdict) -> Outputs:
    """A sample's outputs on a probe task: each probe's value (a function) or each run's stdout with its
    lines' trailing white space dropped and a non-zero exit noted (a program), then how the run ended if
    it ended early or ran no probe at all."""
    if verdict.values is not None:
        texts = list(verdict.values)
        # the recorder's note of a raise (observe_raised); a value's own text never starts so (strings are quoted)
        errors = sum(v.startswith("raised ") for v in texts)
    else:
        runs = verdict.runs or ()
        texts = ["\n".join(line.rstrip() for line in r.stdout.rstrip().splitlines())
                 + (f"\n<exit {r.exit}>" if r.exit not in (0, None) else "") for r in runs]
        errors = sum(r.exit not in (0, None) for r in runs)
    if verdict.status in _ENDED or (verdict.values is None and verdict.runs is None
                                    and verdict.status is not Status.PASSED):
        texts.append(f"<{verdict.status.value}>")  # it ended early, or never ran a probe (it failed to load)
        errors += 1
    return Outputs(tuple(texts), errors)


def _best_group(candidates: Sequence[Candidate], evidence: Callable[[Candidate], K],
                score: Callable[[K, list[int]], tuple[float, ...]]) -> int:
    """The first member of the best-scoring group of usable candidates that share their ``evidence``
    (the earliest group on a tie); 0 when none is usable."""
    groups: dict[K, list[int]] = {}
    for i, c in enumerate(candidates):
        if c.usable:
            groups.setdefault(evidence(c), []).append(i)
    if not groups:
        return 0
    return max(groups.items(), key=lambda kv: (*score(kv[0], kv[1]), -kv[1][0]))[1][0]


def codet(candidates: Sequence[Candidate]) -> int:
    return _best_group(candidates, lambda c: c.passed_generated,
                       lambda passed, members: (len(members) * sum(passed), len(members)))


def mbr_exec(candidates: Sequence[Candidate]) -> int:
    def score(outputs: Outputs, members: list[int]) -> tuple[float, ...]:
        # agreeing only on failing (say, a module that does not load) is no evidence of being right
        return (not (outputs.texts and outputs.errors == len(outputs.texts)), len(members), -outputs.errors)

    return _best_group(candidates, lambda c: c.outputs, score)


SelectionRule = Callable[[Sequence[Candidate]], int]
SELECTION_RULES: dict[str, SelectionRule] = {"codet": codet, "mbr-exec": mbr_exec}
