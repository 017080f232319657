"""Generated stdin/stdout programs with known outcomes, for the service benchmarks.

Used by serve_vs_sandboxfusion.py and soak.py; not a benchmark itself.

Eleven small competitive-programming problems (pair counts, maximum
subarray, a sieve, word frequencies, Fibonacci modulo a prime, medians, grid
sums, palindromes, gcd/lcm, k smallest, a sorted listing whose output runs to
several KiB). Each has a correct program, a wrong one (a realistic bug: an
off-by-one, the wrong initial value, the wrong order) and a crashing one (an
exception of a known type), and an input generator. What each program prints
is found by running it here, in this process, on its input: the programs are
ours, not a model's. A wrong program is only used on an input where its
output differs from the correct one's.
"""

from __future__ import annotations

import contextlib
import io
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Kind = Literal["correct", "wrong", "crash", "loop"]


@dataclass(frozen=True)
class Problem:
    name: str
    make_input: Callable[[random.Random], str]
    correct: str
    wrong: str
    crash: str
    error: str  # the exception type the crashing program raises


@dataclass(frozen=True)
class Program:
    kind: Kind
    problem: str
    code: str
    stdin: str
    stdout: str | None  # what it prints (None for a loop: nothing is expected)
    reference: str | None  # what the correct program prints on the same input (the "expected output")
    error: str | None = None  # for a crash, the exception's type name expected in stderr

    def to_dict(self) -> dict:
        return {"kind": self.kind, "problem": self.problem, "code": self.code, "stdin": self.stdin,
                "stdout": self.stdout, "reference": self.reference, "error": self.error}


def _ints(rng: random.Random, n: int, lo: int, hi: int) -> str:
    return " ".join(str(rng.randint(lo, hi)) for _ in range(n))


def _pairs_input(rng: random.Random) -> str:
    n = rng.randint(150, 320)
    return f"{n} {rng.randint(2, 9)}\n{_ints(rng, n, 1, 1000)}\n"


def _kadane_input(rng: random.Random) -> str:
    n = rng.randint(2000, 6000)
    return f"{n}\n{_ints(rng, n, -100, 100)}\n"


def _sieve_input(rng: random.Random) -> str:
    return f"{rng.randint(20000, 80000)}\n"


WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu"]


def _words_input(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(300, 1500))) + "\n"


def _fib_input(rng: random.Random) -> str:
    return f"{rng.randint(2000, 30000)}\n"


def _median_input(rng: random.Random) -> str:
    n = rng.randrange(501, 3001, 2)
    return f"{n}\n{_ints(rng, n, 0, 500)}\n"


def _grid_input(rng: random.Random) -> str:
    r, c = rng.randint(20, 60), rng.randint(20, 60)
    return f"{r} {c}\n" + "".join(_ints(rng, c, 0, 99) + "\n" for _ in range(r))


def _palindrome_input(rng: random.Random) -> str:
    return "".join(rng.choice("abc") for _ in range(rng.randint(150, 400))) + "\n"


def _gcd_input(rng: random.Random) -> str:
    g = rng.randint(2, 60)
    n = rng.randint(5, 40)
    return f"{n}\n" + " ".join(str(g * rng.randint(1, 500)) for _ in range(n)) + "\n"


def _ksmallest_input(rng: random.Random) -> str:
    n = rng.randint(1000, 5000)
    return f"{n} {rng.randint(5, 50)}\n{_ints(rng, n, -10000, 10000)}\n"


def _listing_input(rng: random.Random) -> str:
    n = rng.randint(800, 2500)
    return f"{n}\n{_ints(rng, n, 0, 10 ** 6)}\n"


PROBLEMS: list[Problem] = [
    Problem("pairs", _pairs_input,
            "n, k = map(int, input().split())\na = list(map(int, input().split()))\nc = 0\n"
            "for i in range(n):\n    for j in range(i + 1, n):\n        if (a[i] + a[j]) % k == 0:\n"
            "            c += 1\nprint(c)\n",
            "n, k = map(int, input().split())\na = list(map(int, input().split()))\nc = 0\n"
            "for i in range(n):\n    for j in range(i, n):\n        if (a[i] + a[j]) % k == 0:\n"
            "            c += 1\nprint(c)\n",
            "n, k = map(int, input().split())\na = list(map(int, input().split()))\nc = 0\n"
            "for i in range(n):\n    for j in range(i + 1, n + 1):\n        if (a[i] + a[j]) % k == 0:\n"
            "            c += 1\nprint(c)\n",
            "IndexError"),
    Problem("kadane", _kadane_input,
            "import sys\ndata = sys.stdin.read().split()\nn = int(data[0])\na = list(map(int, data[1:1 + n]))\n"
            "best = cur = a[0]\nfor x in a[1:]:\n    cur = max(x, cur + x)\n    best = max(best, cur)\nprint(best)\n",
            "import sys\ndata = sys.stdin.read().split()\nn = int(data[0])\na = list(map(int, data[1:n]))\n"
            "best = cur = a[0]\nfor x in a[1:]:\n    cur = max(x, cur + x)\n    best = max(best, cur)\nprint(best - 1)\n",
            "import sys\ndata = sys.stdin.read().split()\nn = int(data[0])\na = list(map(int, data[1:1 + n]))\n"
            "best = cur = int(data[-1] + 'x')\nprint(best)\n",
            "ValueError"),
    Problem("sieve", _sieve_input,
            "n = int(input())\nis_p = bytearray([1]) * (n + 1)\nis_p[0] = is_p[1] = 0\n"
            "for i in range(2, int(n ** 0.5) + 1):\n    if is_p[i]:\n"
            "        is_p[i * i::i] = bytearray(len(range(i * i, n + 1, i)))\nprint(sum(is_p))\n",
            "n = int(input())\nis_p = bytearray([1]) * (n + 1)\nis_p[0] = 0\n"
            "for i in range(2, int(n ** 0.5) + 1):\n    if is_p[i]:\n"
            "        is_p[i * i::i] = bytearray(len(range(i * i, n + 1, i)))\nprint(sum(is_p))\n",
            "n = int(input())\nis_p = bytearray([1]) * (n + 1)\nstep = n // (n - n)\nprint(step)\n",
            "ZeroDivisionError"),
    Problem("words", _words_input,
            "from collections import Counter\nc = Counter(input().split())\n"
            "for w, k in sorted(c.items(), key=lambda t: (-t[1], t[0]))[:3]:\n    print(w, k)\n",
            "from collections import Counter\nc = Counter(input().split())\n"
            "for w, k in sorted(c.items(), key=lambda t: (t[1], t[0]))[:3]:\n    print(w, k)\n",
            "from collections import Counter\nc = Counter(input().split())\nd = dict(c)\nprint(d['omega'])\n",
            "KeyError"),
    Problem("fib", _fib_input,
            "n = int(input())\nM = 10 ** 9 + 7\na, b = 0, 1\nfor _ in range(n):\n    a, b = b, (a + b) % M\nprint(a)\n",
            "n = int(input())\nM = 10 ** 9 + 7\na, b = 0, 1\nfor _ in range(n - 1):\n    a, b = b, (a + b) % M\n"
            "print(a)\n",
            "n = int(input())\nassert n < 0, 'n must be negative'\nprint(n)\n",
            "AssertionError"),
    Problem("median", _median_input,
            "n = int(input())\na = sorted(map(int, input().split()))\nprint(a[n // 2], len(set(a)))\n",
            "n = int(input())\na = list(map(int, input().split()))\nprint(a[n // 2], len(set(a)))\n",
            "n = int(input())\na = sorted(map(int, input().split()))\nprint('median: ' + a[n // 2])\n",
            "TypeError"),
    Problem("grid", _grid_input,
            "import sys\nr, c = map(int, sys.stdin.readline().split())\n"
            "g = [list(map(int, sys.stdin.readline().split())) for _ in range(r)]\n"
            "print(max(sum(row) for row in g), max(sum(g[i][j] for i in range(r)) for j in range(c)))\n",
            "import sys\nr, c = map(int, sys.stdin.readline().split())\n"
            "g = [list(map(int, sys.stdin.readline().split())) for _ in range(r)]\n"
            "print(max(sum(row) for row in g), max(sum(g[i][j] for i in range(r - 1)) for j in range(c)))\n",
            "import sys\nr, c = map(int, sys.stdin.readline().split())\n"
            "g = [list(map(int, sys.stdin.readline().split())) for _ in range(r)]\nprint(g[r][0])\n",
            "IndexError"),
    Problem("palindrome", _palindrome_input,
            "s = input().strip()\nbest = 0\nfor center in range(2 * len(s) - 1):\n"
            "    lo, hi = center // 2, (center + 1) // 2\n"
            "    while lo >= 0 and hi < len(s) and s[lo] == s[hi]:\n        lo -= 1\n        hi += 1\n"
            "    best = max(best, hi - lo - 1)\nprint(best)\n",
            "s = input().strip()\nbest = 0\nfor center in range(len(s)):\n    lo, hi = center, center\n"
            "    while lo >= 0 and hi < len(s) and s[lo] == s[hi]:\n        lo -= 1\n        hi += 1\n"
            "    best = max(best, hi - lo - 1)\nprint(best + 1)\n",
            "s = input().strip()\nm = None\nprint(m.group(0), s)\n",
            "AttributeError"),
    Problem("gcd", _gcd_input,
            "import math\nfrom functools import reduce\ninput()\na = list(map(int, input().split()))\n"
            "g = reduce(math.gcd, a)\nprint(g, sum(x // g for x in a))\n",
            "import math\nfrom functools import reduce\ninput()\na = list(map(int, input().split()))\n"
            "g = reduce(math.gcd, a[1:])\nprint(g, sum(x // g for x in a) + 1)\n",
            "import math\ninput()\na = list(map(int, input().split()))\nprint(math.sqrt(-min(a)))\n",
            "ValueError"),
    Problem("ksmallest", _ksmallest_input,
            "import heapq\nn, k = map(int, input().split())\na = list(map(int, input().split()))\n"
            "print(sum(heapq.nsmallest(k, a)))\n",
            "import heapq\nn, k = map(int, input().split())\na = list(map(int, input().split()))\n"
            "print(sum(heapq.nlargest(k, a)))\n",
            "import heapq\nn, k = map(int, input().split())\nh = []\nprint(heapq.heappop(h))\n",
            "IndexError"),
    Problem("listing", _listing_input,
            "import sys\ndata = sys.stdin.read().split()\na = sorted(map(int, data[1:]))\n"
            "sys.stdout.write('\\n'.join(map(str, a)) + '\\n')\n",
            "import sys\ndata = sys.stdin.read().split()\na = sorted(map(int, data[1:]), reverse=True)\n"
            "sys.stdout.write('\\n'.join(map(str, a)) + '\\n')\n",
            "import sys\ndata = sys.stdin.read().split()\na = sorted(data[1:], key=int)\nsys.stdout.write(sum(a))\n",
            "TypeError"),
]

LOOP = "import sys\ndata = sys.stdin.read()\nwhile True:\n    pass\n"


def run_here(code: str, stdin: str) -> tuple[str, str | None]:
    """What ``code`` prints on ``stdin`` and the name of the exception it ends with (None if none)."""
    out = io.StringIO()
    saved = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(code, "<program>", "exec"), {"__name__": "__main__"})
        return out.getvalue(), None
    except Exception as exc:  # noqa: BLE001 - the crashing programs are meant to raise
        return out.getvalue(), type(exc).__name__
    finally:
        sys.stdin = saved


def make(kind: Kind, problem: Problem, rng: random.Random) -> Program:
    for _ in range(50):
        stdin = problem.make_input(rng)
        reference, err = run_here(problem.correct, stdin)
        if err is not None:
            raise AssertionError(f"{problem.name}: the correct program raised {err}")
        if kind == "correct":
            return Program(kind, problem.name, problem.correct, stdin, reference, reference)
        if kind == "loop":
            return Program(kind, problem.name, LOOP, stdin, None, reference)
        if kind == "wrong":
            printed, err = run_here(problem.wrong, stdin)
            if err is None and printed.rstrip("\n") != reference.rstrip("\n"):
                return Program(kind, problem.name, problem.wrong, stdin, printed, reference)
            continue
        printed, err = run_here(problem.crash, stdin)
        if err != problem.error:
            raise AssertionError(f"{problem.name}: the crashing program raised {err}, not {problem.error}")
        return Program(kind, problem.name, problem.crash, stdin, printed, reference, err)
    raise AssertionError(f"{problem.name}: no input on which the wrong program differs")


def mix(n: int, loops: int, seed: int, weights: tuple[float, float, float] = (0.62, 0.21, 0.17)) -> list[Program]:
    """``n`` programs, ``loops`` of them endless, the rest correct / wrong / crashing by ``weights``; shuffled."""
    rng = random.Random(seed)
    kinds: list[Kind] = ["loop"] * loops
    rest = n - loops
    counts = [round(rest * w) for w in weights]
    counts[0] += rest - sum(counts)
    for k, c in zip(("correct", "wrong", "crash"), counts):
        kinds += [k] * c  # type: ignore[list-item]
    rng.shuffle(kinds)
    return [make(k, rng.choice(PROBLEMS), rng) for k in kinds]


def check_run_code(p: Program, answer: dict) -> str | None:
    """None if a /run_code answer reports what ``p`` really does, else what differs."""
    run = answer.get("run_result") or {}
    status, run_status, rc = answer.get("status"), run.get("status"), run.get("return_code")
    if p.kind == "loop":
        if status == "Failed" and run_status == "TimeLimitExceeded":
            return None
        return f"loop came back as {status}/{run_status}"
    if p.kind in ("correct", "wrong"):
        if (status, run_status, rc) != ("Success", "Finished", 0):
            return f"{p.kind} program came back as {status}/{run_status}/rc={rc}: {str(run.get('stderr'))[-200:]!r}"
        if run.get("stdout") != p.stdout:
            return f"stdout differs ({len(run.get('stdout') or '')} chars, expected {len(p.stdout or '')})"
        return None
    if (status, run_status, rc) != ("Failed", "Finished", 1):
        return f"crash came back as {status}/{run_status}/rc={rc}"
    if p.error not in (run.get("stderr") or ""):
        return f"stderr lacks {p.error}: {str(run.get('stderr'))[-200:]!r}"
    if run.get("stdout") != p.stdout:
        return "stdout differs"
    return None


def verl_score(p: Program, answer: dict) -> bool:
    """The pass/fail verl would take from this answer: Success, Finished and stdout equal to the
    expected output, trailing newlines aside."""
    run = answer.get("run_result") or {}
    return (answer.get("status") == "Success" and run.get("status") == "Finished"
            and str(run.get("stdout") or "").rstrip("\n") == str(p.reference or "").rstrip("\n"))
