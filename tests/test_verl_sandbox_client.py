"""verl's own SandboxFusion client, unchanged, against ``codeloop serve`` on loopback.

verl scores code (data sources ``codecontests``, ``apps``, ``codeforces``,
``taco``) by calling ``verl.utils.reward_score.sandbox_fusion.compute_score``
with the URL of a SandboxFusion ``/run_code``; that runs every test case of a
sample as one request from a thread pool (``check_correctness``), retries only
504 (twice, after 1 s and 2 s; a 429 is not retried), and scores a case whose
request failed or timed out (compile + run + 10 s) as an error, so a correct
sample refused or kept waiting too long behind endless loops loses its reward. Its reward loop scores a batch's samples concurrently
(one asyncio task each, through the event loop's default thread pool) with a
shared semaphore (``reward.sandbox_fusion.max_concurrent``, 64 by default).

This test does the same: 24 samples (18 correct programs, 6 endless loops, 3
stdin/stdout cases each) through verl's ``compute_score`` with verl's default
timeout (10 s) and ``continuous=True`` as verl's ``default_compute_score``
passes it, against ``codeloop serve --workers 2`` started as a subprocess;
no correct sample may be scored below 1.0 (every case "success"), and no loop
above 0.

verl is installed without its dependencies (``pip install --no-deps
verl==0.9.1``): importing the ``verl`` package runs verl/__init__.py, which
imports torch, ray, tensordict and more, so ``pytest.importorskip("verl")``
would skip even with verl installed. The client itself
(verl/utils/reward_score/sandbox_fusion/) needs only the standard library and
requests, so that package is loaded from verl's installed files by path;
the code that runs is verl's, as shipped.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("requests")  # verl's client speaks HTTP through requests
httpx = pytest.importorskip("httpx")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import servers  # noqa: E402

pytestmark = pytest.mark.sandbox

VERL_MAX_CONCURRENT = 64  # verl's reward.sandbox_fusion.max_concurrent default


def load_verl_sandbox_fusion() -> ModuleType:
    """verl's sandbox_fusion package from its installed files (benchmarks/verl_files.py)."""
    from verl_files import load_verl_package

    module = load_verl_package("utils", "reward_score", "sandbox_fusion")
    if module is None:
        pytest.skip("verl is not installed, or has no SandboxFusion client (pip install --no-deps verl==0.9.1)")
    return module


@pytest.fixture(scope="module")
def verl_sf() -> ModuleType:
    return load_verl_sandbox_fusion()


@pytest.fixture(scope="module")
def run_code_url() -> Iterator[str]:
    server = servers.Server("codeloop serve", servers.codeloop_serve_command(workers=2))
    try:
        yield server.wait_ready() + "/run_code"
    finally:
        server.stop()


# (program, three (stdin, expected stdout) cases)
PROGRAMS: list[tuple[str, list[tuple[str, str]]]] = [
    ("a, b = map(int, input().split())\nprint(a + b)\n", [("1 2\n", "3"), ("-5 5\n", "0"), ("100 23\n", "123")]),
    ("s = input()\nprint(s[::-1])\n", [("abc\n", "cba"), ("racecar\n", "racecar"), ("ab\n", "ba")]),
    ("import sys\nnums = list(map(int, sys.stdin.read().split()))[1:]\nprint(max(nums), min(nums))\n",
     [("3\n1 5 2\n", "5 1"), ("1\n7\n", "7 7"), ("4\n-1 -2 -3 -4\n", "-1 -4")]),
    ("n = int(input())\na, b = 0, 1\nfor _ in range(n):\n    a, b = b, a + b\nprint(a)\n",
     [("10\n", "55"), ("1\n", "1"), ("30\n", "832040")]),
    (("from collections import Counter\nc = Counter(input().split())\n"
      "w, k = min(c.items(), key=lambda t: (-t[1], t[0]))\nprint(w, k)\n"),
     [("a b a\n", "a 2"), ("x y z\n", "x 1"), ("q q r r r\n", "r 3")]),
    ("n = int(input())\nfor i in range(1, n + 1):\n    print('Fizz' * (i % 3 == 0) + 'Buzz' * (i % 5 == 0) or i)\n",
     [("5\n", "1\n2\nFizz\n4\nBuzz"), ("3\n", "1\n2\nFizz"), ("1\n", "1")]),
]
LOOP = "import sys\nsys.stdin.read()\nwhile True:\n    pass\n"


def batch() -> list[dict[str, Any]]:
    """24 samples in verl's shape (a fenced completion, test cases as JSON-able dicts): 18 correct, 6 loops."""
    samples = []
    for i in range(24):
        program, cases = PROGRAMS[i % len(PROGRAMS)]
        loops = i % 4 == 3
        code = LOOP if loops else program
        samples.append({"loops": loops, "completion": f"Here is my solution:\n```python\n{code}```\n",
                        "test_cases": {"inputs": [c[0] for c in cases], "outputs": [c[1] for c in cases]}})
    return samples


def test_verl_scores_every_correct_sample_while_loops_hold_the_sandbox(verl_sf: ModuleType, run_code_url: str) -> None:
    samples = batch()
    assert sum(s["loops"] for s in samples) == 6
    semaphore = threading.Semaphore(VERL_MAX_CONCURRENT)

    async def score_batch() -> list[tuple[float, list[dict]]]:
        # verl's reward loop: one task per sample, each running the (synchronous) score function in the
        # loop's default executor
        loop = asyncio.get_running_loop()

        def score(sample: dict[str, Any]) -> tuple[float, list[dict]]:
            return verl_sf.compute_score(run_code_url, semaphore, 1024, sample["completion"], sample["test_cases"],
                                         continuous=True)

        return list(await asyncio.gather(*[loop.run_in_executor(None, score, s) for s in samples]))

    started = time.monotonic()
    results = asyncio.run(score_batch())
    elapsed = time.monotonic() - started
    report = []
    for i, (s, (score, metadata)) in enumerate(zip(samples, results)):
        statuses = [m.get("status") for m in metadata]
        errors = [m.get("api_request_error") for m in metadata if m.get("api_request_error")]
        report.append(f"#{i} loops={s['loops']} score={score} statuses={statuses} errors={errors[:1]}")
    detail = "\n".join(report) + f"\n({elapsed:.1f} s)"
    for s, (score, metadata) in zip(samples, results):
        if s["loops"]:
            # a loop scores nothing whether its case came back as a time-out or its request outlived
            # verl's own time-out; only the reward is asserted
            assert score == 0.0, detail
        else:
            assert score == 1.0, detail
            assert all(m.get("status") == "success" for m in metadata), detail


CPP_SUM = "#include <bits/stdc++.h>\nint main() { long long a, b; std::cin >> a >> b; std::cout << a + b << std::endl; }\n"


@pytest.mark.skipif(__import__("shutil").which("g++") is None, reason="g++ is not installed")
def test_verl_checks_cpp_and_nodejs_programs_through_run_code(verl_sf: ModuleType, run_code_url: str) -> None:
    """verl's check_correctness with language="cpp" / "nodejs", as its callers pass a language: each test is a
    /run_code request with SandboxFusion's fields; a compile error fails every test."""
    in_outs = {"inputs": ["1 2\n", "-5 5\n", "100 23\n"], "outputs": ["3", "0", "123"]}
    right, _ = verl_sf.utils.check_correctness(run_code_url, in_outs, CPP_SUM, timeout=10, language="cpp")
    wrong, _ = verl_sf.utils.check_correctness(run_code_url, in_outs, CPP_SUM.replace("a + b", "a + b + (a > 50)"), timeout=10,
                                                language="cpp")
    broken, meta = verl_sf.utils.check_correctness(run_code_url, in_outs, "int main() { return }", timeout=10,
                                                    language="cpp")
    js = "const [a, b] = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/).map(Number);\nconsole.log(a + b);\n"
    node, _ = verl_sf.utils.check_correctness(run_code_url, in_outs, js, timeout=10, language="nodejs")
    assert right == [True, True, True] and node == [True, True, True]
    assert wrong == [True, True, False]
    assert all(r is not True for r in broken), meta
