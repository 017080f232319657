"""C++ judging: codeloop (compile once, run per test) against compile-per-test, in one run (issue 11, point 5).

    .venv/bin/python benchmarks/cpp_speed.py [--problems 8] [--baseline-problems 4] [--tests 15] [--workers 2]
                                             [--skip-baseline] [--no-pch-baseline] [--skip-training] [--check]
                                             [--out PATH]

The set (cpp_problems.py, written for this benchmark, fixed seed): 8 stdin/stdout problems (range
sums, count of primes, sort and dedupe, maximum subarray, gcd of pairs, bracket matching, longest
increasing subsequence, Fibonacci mod a prime), each with ``--tests`` tests (15: 3 small, 9 medium,
3 large) whose expected outputs come from a Python reference, and five C++ solutions: accepted,
wrong (a subtle bug), too slow (passes the small and medium tests, far past 1 s on the large ones),
crashing (a signal) and non-compiling (a typo). All use ``#include <bits/stdc++.h>``, as contest code
does: compiling one takes about 1 s of CPU here, most of it parsing that header. Time limit per
test: 1 s. Outputs are compared as whitespace-separated tokens on both sides.

Every program gets a comment line naming this run (a random nonce) at its end, so nothing compiled
by an earlier run, or by an earlier phase of this run, can be reused by a compile cache, if
codeloop has one: each phase judges sources it has never seen (except where said).

Side A, compile-per-test, as SandboxFusion's CodeContests path, judge0, piston and open-r1's piston
path do (each test is a separate request that carries the source, compiles it and runs it): for
each sample and each test, ``g++ -O2 -std=c++17 -pipe`` into a fresh temporary folder (compile
limit 10 s), then the binary run on the test's input (``subprocess.run``, timeout = the time
limit, wall), stdout compared by tokens. Two concurrent workers (``ThreadPoolExecutor(--workers)``
over samples; each sample's tests one after another, all of them, no stop at the first failure),
on the host, no sandbox at all: what is measured is the least such an engine must spend. A compile
error fails every test, and each test compiles again. A sample passes when every test passes.

Side B, codeloop: ``LocalScorer({}, workers=--workers)``, tasks of kind stdio with
``language="cpp"``, ``time_limit_per_test=1.0`` (CPU; wall 2.5 s a test), compare "tokens"; every
sample submitted at once (``scorer.submit(task, program, raw=True)``), waited for together. The
program is compiled once in the sandbox (same flags, plus codeloop's precompiled bits/stdc++.h) and
run in a fresh process per test, all tests run. "cold" = creating the scorer (the pool's start-up)
+ the batch; "steady" = the same samples on the warm scorer with a new nonce, so new sources (what
every training step after the first sees); "repeat" = the steady sources once more (codeloop's
compile cache, keyed by source, has them all but the non-compiling ones: a compile error is not
kept, so those compile again). Ratios: side A / each of those; the headline is A / steady.

"A+pch" (skip with ``--no-pch-baseline``): side A again, every compile with ``-I`` codeloop's
folder of the precompiled bits/stdc++.h (the same .gch its sandbox uses). It splits the ratio:
A / A+pch is what the precompiled header alone gives a compile-per-test engine, A+pch / B steady
what compiling once (and the rest of codeloop) gives on top.

By default side A judges only the first ``--baseline-problems`` problems (4: 20 samples, 300
compiles per side-A run, about 3 minutes on 2 cores without the header, 1 with it): all 8 would
take about 6 minutes on that side alone. Both sides judge exactly the same samples for the ratio;
codeloop then judges all the problems once more (steady, new sources) for its own numbers.

Verdicts: the per-sample pass/fail of the two sides must agree; disagreements are listed with both
sides' reasons (test statuses, the first failure). Each is also checked against what the solution
was written to do (accepted passes, every other kind fails).

CPU: machine-wide busy CPU seconds in each phase (/proc/stat) and the part used by this process's
tree (side A's compilers and programs, or codeloop's pool), via proccpu.py; the load average
(os.getloadavg) before each phase, as someone else may be using the machine.

Compiles on codeloop's side, from its judge's counters read before and after each phase (when it
has them): the compiles, ``scorer.judge.compile_jobs`` (each new source is compiled once, on its
own, before its samples run; copies submitted together wait for that compile and reuse it, and a
compile error goes to every copy without compiling again), and of its compile cache
(``scorer.judge.compiled``) the lookups that found a compiled program and the programs newly kept
(JSON: also the lookups that did not; a sample looks up more than once, so lookups are not
compiles). Also the samples whose ``verdict.timing.load`` (hand-off to loaded, a compile included
when the sample compiled for itself) took at least 0.05 s: a compile with the precompiled header
takes 0.15-0.3 s, a program taken from the cache a few ms; so this counts the samples that did not
get a program compiled before them.

Then "a training-like batch", codeloop only: 8 samples per problem, some identical, as a GRPO group
holds (4 copies of the accepted solution, 2 of the wrong one, 1 slow, 1 crashing; shuffled within
the group), with one new nonce for the batch: 4 distinct sources per problem, none seen before.
Reported: wall time, verdict counts, the compiles and compile-cache counters, every
``verdict.timing`` field (mean, min, max) and any field a verdict has beyond those known when this
was written.

``--check``: the problem set on the host alone, each solution compiled once and run on every test,
per-test statuses and times printed, exit status 1 if any solution does not do what it was written to
(an accepted one fails, or a wrong / slow / crashing / non-compiling one passes).

Results also go to benchmarks/out/cpp_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import cpp_problems
from report import machine, timed, write_report

GXX = ("g++", "-O2", "-std=c++17", "-pipe")
COMPILE_LIMIT = 10.0
LOAD_COMPILED = 0.05  # a sample whose timing.load is at least this is counted as compiled (a cache hit: ~ms)
KNOWN_VERDICT_FIELDS = {"status", "passed", "tests_passed", "tests_total", "failure", "stdout", "stderr",
                        "test_seconds", "cpu_seconds", "wall_seconds", "time_limit", "isolation", "attempts",
                        "instructions", "cost", "test_results", "runs", "timing", "case_results"}


@dataclass
class Sample:
    index: int
    problem: str
    kind: str
    program: str
    cases: list[tuple[str, str]] = field(repr=False)

    @property
    def expected_pass(self) -> bool:
        return cpp_problems.EXPECTED_PASS[self.kind]


def salted(program: str, nonce: str) -> str:
    return program + f"// run {nonce}\n"


def make_samples(built, kinds_per_problem: list[str], nonce: str, start: int = 0) -> list[Sample]:
    out = []
    for problem, cases in built:
        for kind in kinds_per_problem:
            out.append(Sample(start + len(out), problem.name, kind, salted(problem.solutions[kind], nonce), cases))
    return out


def new_nonce() -> str:
    return f"{time.time_ns():x}-{random.SystemRandom().randrange(1 << 32):08x}"


def same_tokens(got: str, want: str) -> bool:
    return got.split() == want.split()


# -- side A: compile per test, on the host ---------------------------------------------------------

def host_compile(program: str, folder: str, include: str | None = None) -> tuple[str | None, str]:
    """Compile ``program`` in ``folder`` (``include``: a folder searched first, e.g. of precompiled
    headers): (the binary or None, the compiler's first error line)."""
    src = os.path.join(folder, "main.cpp")
    exe = os.path.join(folder, "program")
    with open(src, "w") as fh:
        fh.write(program)
    extra = ["-I", include] if include else []
    try:
        done = subprocess.run([GXX[0], *extra, *GXX[1:], "-o", exe, src], capture_output=True, text=True,
                              timeout=COMPILE_LIMIT, check=False)
    except subprocess.TimeoutExpired:
        return None, "compile timeout"
    if done.returncode != 0:
        first = next((ln for ln in done.stderr.splitlines() if "error" in ln), done.stderr.strip()[:200])
        return None, first.replace(folder + "/", "")
    return exe, ""


def host_run(exe: str, stdin: str, want: str, time_limit: float) -> tuple[str, float]:
    """Run ``exe`` on ``stdin``: (status, wall seconds); status passed, wrong, timeout, SIGxxx or exit N."""
    t0 = time.perf_counter()
    try:
        done = subprocess.run([exe], input=stdin, capture_output=True, text=True, timeout=time_limit, check=False)
    except subprocess.TimeoutExpired:
        return "timeout", time.perf_counter() - t0
    seconds = time.perf_counter() - t0
    if done.returncode < 0:
        try:
            return signal.Signals(-done.returncode).name, seconds
        except ValueError:
            return f"signal {-done.returncode}", seconds
    if done.returncode != 0:
        return f"exit {done.returncode}", seconds
    return ("passed" if same_tokens(done.stdout, want) else "wrong"), seconds


def judge_compile_per_test(sample: Sample, time_limit: float, include: str | None = None) -> dict:
    """One sample as a compile-per-test engine judges it: each test compiles the source again."""
    statuses, compile_s, run_s, first_error = [], 0.0, 0.0, ""
    for stdin, want in sample.cases:
        folder = tempfile.mkdtemp(prefix="cpp_speed_")
        try:
            t0 = time.perf_counter()
            exe, error = host_compile(sample.program, folder, include)
            compile_s += time.perf_counter() - t0
            if exe is None:
                statuses.append("compile_error")
                first_error = first_error or error
                continue
            status, seconds = host_run(exe, stdin, want, time_limit)
            run_s += seconds
            statuses.append(status)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return {"passed": all(s == "passed" for s in statuses), "statuses": statuses, "compile_s": compile_s,
            "run_s": run_s, "first_error": first_error}


def judge_compile_once(sample: Sample, time_limit: float) -> dict:
    """The --check mode: compiled once on the host, run on every test."""
    folder = tempfile.mkdtemp(prefix="cpp_check_")
    try:
        t0 = time.perf_counter()
        exe, error = host_compile(sample.program, folder)
        compile_s = time.perf_counter() - t0
        if exe is None:
            return {"passed": False, "statuses": ["compile_error"] * len(sample.cases), "compile_s": compile_s,
                    "run_s": 0.0, "first_error": error, "seconds": []}
        runs = [host_run(exe, stdin, want, time_limit) for stdin, want in sample.cases]
        statuses = [s for s, _ in runs]
        return {"passed": all(s == "passed" for s in statuses), "statuses": statuses, "compile_s": compile_s,
                "run_s": sum(t for _, t in runs), "first_error": "", "seconds": [round(t, 3) for _, t in runs]}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def side_a(samples: list[Sample], workers: int, time_limit: float, include: str | None = None) -> list[dict]:
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda s: judge_compile_per_test(s, time_limit, include), samples))


def codeloop_headers() -> str | None:
    """The folder of codeloop's precompiled bits/stdc++.h (built now if missing), as its judge finds it."""
    from codeloop.sandbox.headers import precompiled
    from codeloop.sandbox.languages import language, toolchain_version

    lang = language("cpp")
    return precompiled(lang, toolchain_version(lang) or "")


def a_reason(r: dict) -> str:
    counts = Counter(r["statuses"])
    text = ", ".join(f"{k} x{v}" for k, v in counts.most_common())
    return text + (f"; {r['first_error'][:160]}" if r["first_error"] else "")


# -- side B: codeloop ------------------------------------------------------------------------------

def make_tasks(built, time_limit: float) -> dict:
    from codeloop.compare import check_spec
    from codeloop.types import IOCase, Task, TaskKind

    tokens = check_spec("tokens")
    return {p.name: Task(task_id=f"cpp-{p.name}", kind=TaskKind.STDIO, language="cpp", time_limit_per_test=time_limit,
                         compare=tokens, cases=tuple(IOCase(i, o) for i, o in cases)) for p, cases in built}


def codeloop_batch(scorer, tasks: dict, samples: list[Sample]) -> list:
    futures = [scorer.submit(tasks[s.problem], s.program, raw=True) for s in samples]
    return [f.result() for f in futures]


def b_reason(v) -> str:
    text = v.status.value
    if v.case_results:
        counts = Counter(c.status.value for c in v.case_results)
        text += " (" + ", ".join(f"{k} x{n}" for k, n in counts.most_common()) + ")"
    if v.failure is not None:
        text += f"; {str(v.failure)[:200]}"
    return text


def timing_summary(verdicts) -> dict:
    """Every Timing field over a batch (mean, min, max), and fields a verdict has beyond the known ones."""
    fields: dict[str, list[float]] = {}
    extra: Counter = Counter()
    for v in verdicts:
        if v.timing is not None:
            for k, x in asdict(v.timing).items():
                if isinstance(x, (int, float)) and not isinstance(x, bool):
                    fields.setdefault(k, []).append(float(x))
                elif x is not None:
                    fields.setdefault(k + " (values)", []).append(x)  # type: ignore[arg-type]
        for k, x in v.to_dict().items():
            if k not in KNOWN_VERDICT_FIELDS and x is not None:
                extra[f"{k}={x!r}"[:80]] += 1
    out = {}
    for k, xs in fields.items():
        if k.endswith("(values)"):
            out[k] = dict(Counter(map(str, xs)).most_common(5))
        else:
            out[k] = {"mean": round(statistics.fmean(xs), 4), "min": round(min(xs), 4), "max": round(max(xs), 4),
                      "n": len(xs)}
    loads = fields.get("load", [])
    return {"timing": out, "compiled_by_load": sum(1 for x in loads if x >= LOAD_COMPILED),
            "with_load": len(loads), "extra_verdict_fields": dict(extra.most_common(10))}


# -- measuring ---------------------------------------------------------------------------------------

def summary_line(name: str, n: int, seconds: float, cpu: dict) -> str:
    return (f"  {name:<36} {seconds:7.2f} s  {n / seconds:6.2f} samples/s   CPU: machine {cpu['machine_busy_cpu_s']:7.2f} s, "
            f"this tree {cpu['this_tree_cpu_s']:7.2f} s, other processes {cpu['others_cpu_s']:6.2f} s; "
            f"load before {cpu['loadavg_before'][0]:.2f}")


def gxx_version() -> str:
    return subprocess.run([GXX[0], "--version"], capture_output=True, text=True, check=False).stdout.splitlines()[0]


def by_kind(samples: list[Sample], passed: list[bool]) -> str:
    counts: dict[str, list[int]] = {}
    for s, p in zip(samples, passed):
        c = counts.setdefault(s.kind, [0, 0])
        c[0] += p
        c[1] += 1
    return ", ".join(f"{k} {a}/{n}" for k, (a, n) in counts.items())


def unexpected(samples: list[Sample], passed: list[bool]) -> list[str]:
    return [f"#{s.index} {s.problem}/{s.kind}" for s, p in zip(samples, passed) if p != s.expected_pass]


# -- the modes --------------------------------------------------------------------------------------

def check(built, args) -> int:
    samples = make_samples(built, list(cpp_problems.KINDS), "check")
    t0 = time.perf_counter()
    with ThreadPoolExecutor(args.workers) as pool:
        results = list(pool.map(lambda s: judge_compile_once(s, args.time_limit), samples))
    print(f"host check: {len(samples)} solutions, each compiled once and run on {args.tests} tests, "
          f"{time.perf_counter() - t0:.1f} s")
    bad = 0
    for s, r in zip(samples, results):
        ok = r["passed"] == s.expected_pass
        bad += not ok
        runs = r.get("seconds") or []
        slowest = max(runs) if runs else 0.0
        print(f"  {'ok ' if ok else 'BAD'} {s.problem:<13} {s.kind:<13} compile {r['compile_s']:.2f} s, "
              f"slowest test {slowest:.3f} s: {a_reason(r)}")
        if s.kind == "accepted" and slowest > args.time_limit / 4:
            print(f"      note: the accepted solution's slowest test takes {slowest:.3f} s")
    print("every solution does what it was written to do" if not bad else f"{bad} solutions do not")
    return 1 if bad else 0


def compile_counts(scorer) -> dict | None:
    """codeloop's compile counters, those it has: programs compiled (``judge.compile_jobs``), and of its compile
    cache (``judge.compiled``) the lookups that found a compiled program, those that did not, programs kept."""
    judge = getattr(scorer, "judge", None)
    counts = {}
    if isinstance(getattr(judge, "compile_jobs", None), int):
        counts["compiles"] = judge.compile_jobs
    kept = getattr(judge, "compiled", None)
    if kept is not None and hasattr(kept, "hits"):
        counts.update(hits=kept.hits, misses=kept.misses, kept=len(kept))
    return counts or None


def counts_delta(before: dict | None, after: dict | None) -> dict | None:
    if before is None or after is None:
        return None
    return {k: after[k] - before[k] for k in after}


def compile_text(delta: dict | None) -> str:
    if delta is None:
        return "compiles: no counters found (scorer.judge.compile_jobs, scorer.judge.compiled)"
    parts = [f"{delta['compiles']} compiles" if "compiles" in delta else "compiles: not counted (no judge.compile_jobs)"]
    if "hits" in delta:
        parts.append(f"compile cache: {delta['hits']} lookups found a compiled program, "
                     f"{delta['kept']} programs newly kept")
    return "; ".join(parts)


def codeloop_phase(label: str, scorer_fn, tasks: dict, samples: list[Sample]):
    """Time one codeloop batch; ``scorer_fn`` returns the scorer (it may create it: counted in the time)."""
    holder = {}

    def run():
        scorer = holder["scorer"] = scorer_fn()
        holder["before"] = compile_counts(scorer)
        return codeloop_batch(scorer, tasks, samples)

    seconds, verdicts, cpu = timed(run, detail=True)
    delta = counts_delta(holder["before"], compile_counts(holder["scorer"]))
    tim = timing_summary(verdicts)
    print(summary_line(label, len(samples), seconds, cpu))
    print(f"    {compile_text(delta)}; timing.load >= {LOAD_COMPILED} s (compiled here) in "
          f"{tim['compiled_by_load']}/{tim['with_load']} samples")
    return seconds, verdicts, cpu, {"cache": delta, "timing": tim}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--problems", type=int, default=len(cpp_problems.PROBLEMS), help="problems (default all 8)")
    ap.add_argument("--baseline-problems", type=int, default=4,
                    help="problems judged by both sides (default 4, to keep the run short; the compile-per-test "
                         "side costs about 45 s of wall per problem on 2 cores)")
    ap.add_argument("--tests", type=int, default=15)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--time-limit", type=float, default=1.0, help="seconds per test")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--skip-baseline", action="store_true", help="codeloop only")
    ap.add_argument("--no-pch-baseline", action="store_true",
                    help="skip compile-per-test with codeloop's precompiled header (the split of the ratio)")
    ap.add_argument("--skip-training", action="store_true", help="no training-like batch")
    ap.add_argument("--check", action="store_true", help="only check the problem set on the host")
    ap.add_argument("--out", type=Path, default=HERE / "out" / "cpp_speed.json")
    args = ap.parse_args()
    t_start = time.perf_counter()

    t0 = time.perf_counter()
    built = cpp_problems.build(args.problems, args.tests, args.seed)
    build_s = time.perf_counter() - t0
    if args.check:
        raise SystemExit(check(built, args))

    report: dict = {"machine": machine(**{"g++": gxx_version()}), "args": {k: str(v) for k, v in vars(args).items()}}
    print("machine:", json.dumps(report["machine"]))
    input_mb = sum(len(i) + len(o) for _, cases in built for i, o in cases) / 1e6
    print(f"set: {len(built)} problems x {args.tests} tests ({input_mb:.1f} MB of inputs and outputs), 5 solutions "
          f"each; built in {build_s:.1f} s; time limit {args.time_limit:g} s a test")

    from codeloop.scoring.local import LocalScorer

    tasks = make_tasks(built, args.time_limit)
    n_base = 0 if args.skip_baseline else min(args.baseline_problems, len(built))
    base_built = built[:n_base]
    kinds = list(cpp_problems.KINDS)
    box: dict = {}

    def new_scorer():
        box["scorer"] = LocalScorer({}, workers=args.workers)
        return box["scorer"]

    def warm_scorer():
        return box["scorer"] if "scorer" in box else new_scorer()

    # -- side A and side B on the same samples -----------------------------------------------------
    if n_base:
        samples = make_samples(base_built, kinds, new_nonce())
        names = ", ".join(p.name for p, _ in base_built)
        print(f"\nboth sides: {n_base} problems ({names}) x 5 solutions = {len(samples)} samples, {args.tests} tests "
              f"each, {args.workers} workers" + (f" (side A judges only the first {n_base} of {len(built)} "
                                                 f"problems: --baseline-problems)" if n_base < len(built) else ""))
        a_s, a_res, a_cpu = timed(lambda: side_a(samples, args.workers, args.time_limit), detail=True)
        print(summary_line("A: compile-per-test (host, no sandbox)", len(samples), a_s, a_cpu))
        compiles = len(samples) * args.tests
        a_compile = sum(r["compile_s"] for r in a_res)
        a_run = sum(r["run_s"] for r in a_res)
        print(f"    {compiles} compiles, {a_compile:.1f} s of worker time compiling ({a_compile / compiles:.2f} s each), "
              f"{a_run:.1f} s running the programs")

        c_s, c_res, c_cpu, c_info = codeloop_phase("B: codeloop cold (new scorer + batch)", new_scorer, tasks, samples)
        steady_samples = [Sample(s.index, s.problem, s.kind, salted(s.program, new_nonce()), s.cases) for s in samples]
        s_s, s_res, s_cpu, s_info = codeloop_phase("B: codeloop steady (warm, new sources)", warm_scorer, tasks,
                                                   steady_samples)
        r_s, r_res, r_cpu, r_info = codeloop_phase("B: codeloop repeat (the same sources)", warm_scorer, tasks,
                                                   steady_samples)
        print(f"  ratio A / B: {a_s / s_s:.1f}x steady, {a_s / c_s:.1f}x cold, {a_s / r_s:.1f}x repeat; "
              f"machine CPU {a_cpu['machine_busy_cpu_s'] / max(s_cpu['machine_busy_cpu_s'], 0.01):.1f}x steady")

        pch = None
        if not args.no_pch_baseline:
            include = codeloop_headers()
            if include is None:
                print("  (no precompiled bits/stdc++.h could be built: the split of the ratio is skipped)")
            else:
                p_s, p_res, p_cpu = timed(lambda: side_a(samples, args.workers, args.time_limit, include),
                                            detail=True)
                p_compile = sum(r["compile_s"] for r in p_res)
                print(summary_line("A+pch: compile-per-test, codeloop's pch", len(samples), p_s, p_cpu))
                print(f"    {compiles} compiles with -I {include}: {p_compile / compiles:.2f} s each; so of the "
                      f"{a_s / s_s:.1f}x, the precompiled header gives {a_s / p_s:.1f}x and compiling once (and the "
                      f"rest of codeloop) {p_s / s_s:.1f}x")
                pch = {"include": include, "seconds": p_s, "cpu": p_cpu, "compile_worker_s": p_compile,
                       "passed": [r["passed"] for r in p_res], "ratio_to_steady": p_s / s_s,
                       "agree_with_A": sum(a["passed"] == r["passed"] for a, r in zip(a_res, p_res))}

        a_pass = [r["passed"] for r in a_res]
        c_pass = [v.passed for v in c_res]
        st_pass = [v.passed for v in s_res]
        rp_pass = [v.passed for v in r_res]
        agree = {name: sum(a == c for a, c in zip(a_pass, got))
                 for name, got in (("cold", c_pass), ("steady", st_pass), ("repeat", rp_pass))}
        print("  verdicts agree (pass/fail) with A on " + ", ".join(f"{v}/{len(samples)} ({k})" for k, v in agree.items())
              + (f", A+pch {pch['agree_with_A']}/{len(samples)}" if pch else ""))
        print(f"  passed by kind: A {by_kind(samples, a_pass)}; B {by_kind(samples, c_pass)}")
        dis = []
        for s, a, c, st, rp in zip(samples, a_res, c_res, s_res, r_res):
            if not a["passed"] == c.passed == st.passed == rp.passed:
                dis.append({"index": s.index, "problem": s.problem, "kind": s.kind, "compile_per_test": a_reason(a),
                            "codeloop_cold": b_reason(c), "codeloop_steady": b_reason(st),
                            "codeloop_repeat": b_reason(rp)})
        for d in dis:
            print(f"  DISAGREE #{d['index']} {d['problem']}/{d['kind']}: A: {d['compile_per_test']} | "
                  f"B cold: {d['codeloop_cold']} | steady: {d['codeloop_steady']} | repeat: {d['codeloop_repeat']}")
        for who, passed in (("A", a_pass), ("B", c_pass)):
            off = unexpected(samples, passed)
            if off:
                print(f"  not as written ({who}): {off}")
        statuses = Counter((s.kind, v.status.value) for s, v in zip(samples, s_res))
        print("  B statuses (steady): " + ", ".join(f"{k}/{st} x{n}" for (k, st), n in sorted(statuses.items())))
        per_kind_a = {k: round(statistics.fmean(r["compile_s"] + r["run_s"] for s, r in zip(samples, a_res)
                                                if s.kind == k), 2) for k in kinds}
        per_kind_b = {k: round(statistics.fmean(v.wall_seconds or 0.0 for s, v in zip(samples, s_res)
                                                if s.kind == k), 2) for k in kinds}
        print(f"  worker seconds per sample by kind: A {per_kind_a}; B steady (verdict wall_seconds) {per_kind_b}")
        print(f"  B steady timing fields: {s_info['timing']['timing']}" +
              (f"; other verdict fields: {s_info['timing']['extra_verdict_fields']}"
               if s_info["timing"]["extra_verdict_fields"] else ""))
        report["both_sides"] = {
            "problems": [p.name for p, _ in base_built], "samples": len(samples),
            "compile_per_test_s": a_s, "compile_per_test_cpu": a_cpu, "compiles": compiles,
            "compile_per_test_compile_worker_s": a_compile, "compile_per_test_run_worker_s": a_run,
            "codeloop_cold_s": c_s, "codeloop_cold_cpu": c_cpu, "codeloop_cold_info": c_info,
            "codeloop_steady_s": s_s, "codeloop_steady_cpu": s_cpu, "codeloop_steady_info": s_info,
            "codeloop_repeat_s": r_s, "codeloop_repeat_cpu": r_cpu, "codeloop_repeat_info": r_info,
            "ratio_steady": a_s / s_s, "ratio_cold": a_s / c_s, "ratio_repeat": a_s / r_s,
            "compile_per_test_with_pch": pch, "agree": agree, "disagreements": dis,
            "per_kind_worker_s": {"compile_per_test": per_kind_a, "codeloop_steady": per_kind_b},
            "per_sample": [{"index": s.index, "problem": s.problem, "kind": s.kind, "expected_pass": s.expected_pass,
                            "compile_per_test": {"passed": a["passed"], "statuses": a["statuses"],
                                                 "compile_s": round(a["compile_s"], 2), "run_s": round(a["run_s"], 2),
                                                 "first_error": a["first_error"]},
                            "codeloop_cold": {"status": c.status.value, "reason": b_reason(c),
                                              "wall_seconds": c.wall_seconds},
                            "codeloop_steady": {"status": st.status.value, "wall_seconds": st.wall_seconds,
                                                "timing": asdict(st.timing) if st.timing else None}}
                           for s, a, c, st in zip(samples, a_res, c_res, s_res)]}

    # -- codeloop on every problem -------------------------------------------------------------------
    if n_base < len(built):
        everything = make_samples(built, kinds, new_nonce())
        label = "B: codeloop steady (warm, new sources)" if "scorer" in box else "B: codeloop cold (new scorer + batch)"
        print(f"\ncodeloop on all {len(built)} problems: {len(everything)} samples")
        e_s, e_res, e_cpu, e_info = codeloop_phase(label, warm_scorer, tasks, everything)
        e_pass = [v.passed for v in e_res]
        print(f"  passed by kind: {by_kind(everything, e_pass)}; not as written: {unexpected(everything, e_pass) or 'none'}")
        for s, v in zip(everything, e_res):
            if v.passed != s.expected_pass:
                print(f"    #{s.index} {s.problem}/{s.kind}: {b_reason(v)}")
        statuses = Counter((s.kind, v.status.value) for s, v in zip(everything, e_res))
        print("  statuses: " + ", ".join(f"{k}/{st} x{n}" for (k, st), n in sorted(statuses.items())))
        report["codeloop_all"] = {"label": label, "samples": len(everything), "seconds": e_s, "cpu": e_cpu,
                                  "statuses": {f"{k}/{st}": n for (k, st), n in statuses.items()},
                                  "unexpected": unexpected(everything, e_pass), "info": e_info}

    # -- a training-like batch -------------------------------------------------------------------------
    if not args.skip_training:
        group = ["accepted"] * 4 + ["wrong"] * 2 + ["slow", "crash"]
        nonce = new_nonce()
        batch: list[Sample] = []
        rng = random.Random(args.seed)
        for p, cases in built:
            members = make_samples([(p, cases)], group, nonce, start=len(batch))
            rng.shuffle(members)
            batch.extend(members)
        distinct = len({s.program for s in batch})
        print(f"\na training-like batch, codeloop only: {len(built)} problems x 8 samples = {len(batch)} "
              f"({distinct} distinct sources, new to the scorer: per problem 4 copies of accepted, 2 of wrong, "
              f"1 slow, 1 crash)")
        t_s, t_res, t_cpu, t_info = codeloop_phase("B: codeloop (warm scorer)", warm_scorer, tasks, batch)
        t_pass = [v.passed for v in t_res]
        print(f"  passed by kind: {by_kind(batch, t_pass)}; not as written: {unexpected(batch, t_pass) or 'none'}")
        print(f"  timing fields: {t_info['timing']['timing']}")
        if t_info["timing"]["extra_verdict_fields"]:
            print(f"  other verdict fields: {t_info['timing']['extra_verdict_fields']}")
        per = {k: round(statistics.fmean(v.wall_seconds or 0.0 for s, v in zip(batch, t_res) if s.kind == k), 2)
               for k in dict.fromkeys(group)}
        print(f"  verdict wall_seconds by kind (mean): {per}")
        report["training_batch"] = {"samples": len(batch), "distinct_sources": distinct, "seconds": t_s, "cpu": t_cpu,
                                    "passed_by_kind": by_kind(batch, t_pass), "unexpected": unexpected(batch, t_pass),
                                    "info": t_info, "wall_seconds_by_kind": per}

    if "scorer" in box:
        box["scorer"].close()
    report["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    write_report(report, args.out, t_start, prefix=f"load average at end {report['loadavg_at_end']}; ")


if __name__ == "__main__":
    main()
