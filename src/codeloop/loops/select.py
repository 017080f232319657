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
  whose outputs hold fewer errors, then the earliest).

Only usable candidates (code was found and it compiles) are grouped; when
none is, the pick is the first candidate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from ..types import Status, Verdict

UNUSABLE = (Status.SYNTAX_ERROR, Status.NO_CODE, Status.INFRA_ERROR)
# how a run ended early: part of what the candidate "output", so a time-out never agrees with an answer
_ENDED = (Status.TIMEOUT, Status.MEMORY_LIMIT, Status.OUTPUT_LIMIT, Status.KILLED)


@dataclass(frozen=True)
class Candidate:
    """What a selection rule may know of one sample."""

    usable: bool
    passed_generated: tuple[bool, ...] = ()  # each generated test, in order (CodeT)
    outputs: tuple[str, ...] = ()            # what it did on each probe input, as text (MBR-exec)


def outputs_of(verdict: Verdict) -> tuple[str, ...]:
    """A sample's outputs on a probe task, as comparable text: each probe's
    value (a function) or each run's stdout with its lines' trailing white
    space dropped and a non-zero exit noted (a program), then how the run
    ended if it ended early."""
    if verdict.values is not None:
        out = list(verdict.values)
    else:
        out = ["\n".join(line.rstrip() for line in r.stdout.rstrip().splitlines())
               + (f"\n<exit {r.exit}>" if r.exit not in (0, None) else "") for r in verdict.runs or ()]
    if verdict.status in _ENDED:
        out.append(f"<{verdict.status.value}>")
    return tuple(out)


def codet(candidates: Sequence[Candidate]) -> int:
    clusters: dict[tuple[bool, ...], list[int]] = {}
    for i, c in enumerate(candidates):
        if c.usable:
            clusters.setdefault(c.passed_generated, []).append(i)
    if not clusters:
        return 0
    return max(clusters.items(), key=lambda kv: (len(kv[1]) * sum(kv[0]), len(kv[1]), -kv[1][0]))[1][0]


def mbr_exec(candidates: Sequence[Candidate]) -> int:
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, c in enumerate(candidates):
        if c.usable:
            groups.setdefault(c.outputs, []).append(i)
    if not groups:
        return 0

    def errors(outputs: tuple[str, ...]) -> int:  # a raise, a non-zero exit, a run that ended early
        return sum(o.startswith(("raised ", "<")) or "\n<exit " in o for o in outputs)

    return max(groups.items(), key=lambda kv: (len(kv[1]), -errors(kv[0]), -kv[1][0]))[1][0]


SelectionRule = Callable[[Sequence[Candidate]], int]
SELECTION_RULES: dict[str, SelectionRule] = {"codet": codet, "mbr-exec": mbr_exec}
