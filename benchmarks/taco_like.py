"""A TACO-like set of stdin/stdout problems with candidate replies, for taco_speed.py.

Not a benchmark itself. Deterministic for a given seed.

Problem ``i`` takes the algorithm, the programs and the input generator of
``stdin_programs.PROBLEMS[i % 11]`` (pair counts, maximum subarray, a sieve,
word counts, Fibonacci mod p, medians, grid sums, palindromes, gcd, k
smallest, a sorted listing of several KiB) and gets its own 20 tests drawn
from that generator with its own random stream, so problems sharing an
algorithm have different tests. Expected outputs come from running the
correct program once, here, in this process.

Candidates per problem (each a model-style reply: a sentence, then the code
in a ```python fence, as verl hands ``solution_str`` to its scorer):

* ``correct``: the correct program;
* ``wrong``: the problem's buggy program (off-by-one, wrong start value, wrong
  order); run here on all 20 tests, so it is known which tests it fails
  (usually all, sometimes only some);
* ``crash``: a program raising a known exception;
* ``slow``: the correct program after a busy loop of ``slow_iters``
  iterations in a function (about 10-20 ms per test, 0.2-0.4 s a sample):
  slow but well within any time limit.

Plus ``loops`` endless loops (read stdin, then ``while True: pass``), on the
first problems. The ground truth is verl's shape for its ``taco`` / ``apps``
/ ``codecontests`` data sources: ``{"inputs": [20 str], "outputs": [20 str]}``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import stdin_programs as sp

KINDS = ("correct", "wrong", "crash", "slow")


@dataclass
class Sample:
    index: int
    problem: str  # e.g. "p07-median"
    kind: str  # correct / wrong / crash / slow / loop
    reply: str
    ground_truth: dict
    expected_pass: bool
    failing_tests: list[int] = field(default_factory=list)  # tests this program fails (known for wrong/crash)

    @property
    def code(self) -> str:
        return self.reply.split("```python")[-1].split("```")[0]


def reply(code: str, kind: str) -> str:
    intro = {"correct": "Read the input, compute the answer directly.",
             "wrong": "A straightforward approach should work here.",
             "crash": "Here is a short solution.",
             "slow": "A simple (not the fastest) solution.",
             "loop": "Iterate until the answer stabilises."}[kind]
    return f"{intro}\n\n```python\n{code}```\n\nThis reads from standard input and prints the result.\n"


def slow_version(code: str, iters: int) -> str:
    # The busy loop sits in a function, so it costs the same under both harnesses: verl's wraps the whole
    # program in a function (module-level names become fast locals), codeloop runs it as a script.
    return (f"def _warm_up():\n    s = 0\n    for i in range({iters}):\n        s += i\n    return s\n\n\n"
            "_warm_up()\n" + code)


def same_output(got: str, want: str) -> bool:
    """Whitespace-separated tokens equal (what both harnesses accept for these integer outputs)."""
    return got.split() == want.split()


def build(n_problems: int = 40, tests: int = 20, loops: int = 2, seed: int = 10,
          slow_iters: int = 400_000, kinds: tuple[str, ...] = KINDS) -> list[Sample]:
    samples: list[Sample] = []
    for i in range(n_problems):
        base = sp.PROBLEMS[i % len(sp.PROBLEMS)]
        rng = random.Random(f"{seed}:{i}")
        inputs, outputs = [], []
        for _ in range(tests):
            stdin = base.make_input(rng)
            out, err = sp.run_here(base.correct, stdin)
            if err is not None:
                raise AssertionError(f"{base.name}: the correct program raised {err}")
            inputs.append(stdin)
            outputs.append(out)
        truth = {"inputs": inputs, "outputs": outputs}
        name = f"p{i:02d}-{base.name}"
        for kind in kinds:
            failing: list[int] = []
            if kind in ("correct", "slow"):
                code = base.correct if kind == "correct" else slow_version(base.correct, slow_iters)
            else:
                code = base.wrong if kind == "wrong" else base.crash
                for t, (x, y) in enumerate(zip(inputs, outputs)):
                    got, err = sp.run_here(code, x)
                    if err is not None or not same_output(got, y):
                        failing.append(t)
            samples.append(Sample(0, name, kind, reply(code, kind), truth, not failing, failing))
        if i < loops:
            samples.append(Sample(0, name, "loop", reply(sp.LOOP, "loop"), truth, False, list(range(tests))))
    random.Random(seed).shuffle(samples)
    for k, s in enumerate(samples):
        s.index = k
    return samples
