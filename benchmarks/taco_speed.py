"""Speed and agreement on a TACO-like set: verl's in-process APPS harness and codeloop, in one run (issue 10).

    .venv/bin/python benchmarks/taco_speed.py [--repeat 1] [--workers 2] [--no-loops] [--no-breakdown]

The set (taco_like.py, fixed seed): 40 stdin/stdout problems with 20 tests
each, in verl's ground-truth shape ``{"inputs": [...], "outputs": [...]}``
(no ``fn_name``), data source ``taco``; per problem four replies (correct,
wrong, crashing, slow-but-finishing), each a model-style reply with the code
in a ```python fence: 160 samples. The "with loops" set adds 2 endless loops
(162 samples), judged in a batch of its own, because with verl's fixed
timeouts one loop costs about 105 s (see below) and would swamp the rest.

Side A, verl 0.9.1's harness, called as verl calls it. ``default_compute_score``
sends the data sources codecontests / apps / codeforces / taco, when no
``sandbox_fusion_url`` is set, to ``prime_code.compute_score(solution_str,
ground_truth, continuous=True)`` and returns ``float(res[0])``. We load
``verl/utils/reward_score/prime_code/`` by path (importing ``verl`` needs
torch) and call exactly that. What prime_code does per sample: one
``check_correctness`` over all tests (a ``multiprocessing.Manager`` server
process plus a forked process that execs the program in-process, per-test
``signal.alarm(5)``, join timeout 6 s); if any test fails, ten more
``check_correctness`` calls, one per test for the first 10 tests (alarm 10 s
each) for the continuous score. An endless loop therefore costs 5 s + 10 x 10 s.

Concurrency, as verl 0.9.1's reward loop runs a rule-based score
(experimental/reward_loop/reward_loop.py and reward_manager/naive.py; the
trainer always goes through ``RewardLoopManager``): ``reward.num_workers``
Ray actors (``RewardLoopWorker``, default 8; here ``--workers``, 2 for 2
cores), the batch split into that many contiguous chunks
(``padded_data.chunk(num_workers)``), and in each actor every sample of its
chunk started at once (``asyncio.gather``), each scored by
``loop.run_in_executor(None, compute_score)``, i.e. on asyncio's default
thread pool (min(32, cpus + 4) = 6 threads on 2 cores). Reproduced here with
``--workers`` processes started with ``spawn`` (fresh interpreters, like Ray
actors), started and warmed before the clock starts (actors live for the
whole training run), each running that same asyncio gather over its chunk.
Tokenizer decoding and Ray transport are left out. (The legacy
``workers/reward_manager/naive.py`` would score one sample at a time in the
driver: slower than what is measured here.)

Side B, codeloop: ``codeloop.integrations.verl.compute_score_batch`` with
``scorer=LocalScorer({}, workers=N)``, the same replies and ground truths.
"cold" = creating the scorer + the first batch (the pool's start-up
included); "steady" = the same batch again on the warm scorer (what every
training step after the first sees). The ratio is verl / codeloop steady;
the cold ratio is printed too.

Verdicts: codeloop's ``acc`` against verl's all-tests-pass (prime_code
returns ``True`` from its full check only when every test passed; its
continuous score can still be 1.0 when only tests past the 10th fail, and
that is counted as not passing). Disagreements are listed with both
harnesses' own reasons. CPU: machine-wide busy CPU seconds during each
phase (from /proc/stat) and the part used by this process's tree (verl's
workers and their children, or codeloop's pool), via proccpu.py.

Then the same batch with options in extra_info that run a sample as verl's harness does
(``stop_on_failure``; then also ``tests_in_one_process``), each timed on its second run (the first
warms its tasks, which are new: the options are part of a task's key), and the programs' own CPU
time: each program run in this process on its tests with no harness, all tests and up to its first
failure; "harness CPU" is a side's machine-wide busy CPU minus that.

``--breakdown`` (default on): where codeloop's time goes, measured on the
correct programs: the same 40 samples with 1 test and with 20 tests each, on
both harnesses, giving a per-sample and a per-test cost.

Results also go to benchmarks/out/taco_speed.json.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import multiprocessing
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import taco_like  # noqa: E402
from report import machine, timed, write_report

DATA_SOURCE = "taco"


# -- verl's side -------------------------------------------------------------------------------------

def load_prime_code():
    """verl's prime_code package from its installed files (verl_files.py)."""
    from verl_files import load_verl_package

    module = load_verl_package("utils", "reward_score", "prime_code")
    if module is None:
        raise SystemExit("verl is not installed (pip install --no-deps verl==0.9.1)")
    return module


def verl_default_compute_score(prime, data_source, solution_str, ground_truth, extra_info=None):
    """verl.utils.reward_score.default_compute_score's branch for code data sources, no sandbox_fusion_url.
    Returns (verl's score, whether prime_code's full check passed every test)."""
    assert data_source in ["codecontests", "apps", "codeforces", "taco"]
    res = prime.compute_score(solution_str, ground_truth, continuous=True)
    if isinstance(res, dict):
        return res, False
    score = float(res) if isinstance(res, int | float | bool) else float(res[0])
    return score, (res[0] is True)


async def _score_chunk(loop, prime, chunk):
    # RewardLoopWorker.compute_score_batch: one task per sample, gathered; NaiveRewardManager.run_single:
    # a sync compute_score goes to loop.run_in_executor(None, ...)
    async def one(ds, sol, gt):
        return await loop.run_in_executor(None, lambda: verl_default_compute_score(prime, ds, sol, gt))
    return await asyncio.gather(*[asyncio.create_task(one(*item)) for item in chunk])


def verl_worker(conn) -> None:
    # A Ray actor on Linux uses Python's default start method, fork; a process started with "spawn"
    # inherits "spawn" as its default, under which prime_code's children could not unpickle their target.
    multiprocessing.set_start_method("fork", force=True)
    prime = load_prime_code()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    conn.send("ready")
    while True:
        chunk = conn.recv()
        if chunk is None:
            break
        conn.send(loop.run_until_complete(_score_chunk(loop, prime, chunk)))
    conn.close()


class VerlWorkers:
    def __init__(self, n: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conns, self.procs = [], []
        for _ in range(n):
            parent, child = ctx.Pipe()
            p = ctx.Process(target=verl_worker, args=(child,))  # not daemonic: prime_code starts processes
            p.start()
            self.conns.append(parent)
            self.procs.append(p)
        for c in self.conns:
            assert c.recv() == "ready"

    def score(self, items: list[tuple]) -> list[tuple[float, bool]]:
        n = len(self.conns)
        size = -(-len(items) // n)  # DataProto.chunk after padding to a multiple of n: contiguous chunks
        chunks = [items[i * size:(i + 1) * size] for i in range(n)]
        for c, chunk in zip(self.conns, chunks):
            c.send(chunk)
        out = []
        for c in self.conns:
            out.extend(c.recv())
        return out

    def close(self) -> None:
        for c in self.conns:
            c.send(None)
        for p in self.procs:
            p.join(10)
            if p.is_alive():
                p.kill()


# -- measuring -----------------------------------------------------------------------------------------

def verl_items(samples):
    return [(DATA_SOURCE, s.reply, s.ground_truth) for s in samples]


def codeloop_batch(scorer, samples, **options):
    """``options`` go in every sample's extra_info: ``stop_on_failure``, ``tests_in_one_process``."""
    from codeloop.integrations.verl import compute_score_batch
    extra = dict(options) if options else None
    return compute_score_batch([DATA_SOURCE] * len(samples), [s.reply for s in samples],
                               [s.ground_truth for s in samples], [extra] * len(samples), scorer=scorer)


def programs_own_cpu(samples, stop_on_failure: bool) -> float:
    """CPU seconds the programs themselves take on their tests, each run here in-process (no harness
    at all): what any harness must spend at least. With ``stop_on_failure`` a program's tests stop at its
    first failing one (verl's full check does; codeloop does when asked)."""
    total = 0.0
    for s in samples:
        for stdin, want in zip(s.ground_truth["inputs"], s.ground_truth["outputs"]):
            t0 = time.thread_time()
            got, err = taco_like.sp.run_here(s.code, stdin)
            total += time.thread_time() - t0
            if stop_on_failure and (err is not None or not taco_like.same_output(got, want)):
                break
    return total


def _verl_version() -> str:
    try:
        from importlib.metadata import version
        return version("verl")
    except Exception:  # noqa: BLE001
        return "?"


def disagreements(samples, verl_res, cl_res, scorer, prime) -> list[dict]:
    from codeloop.scoring import score_rows
    from codeloop.tasks.rows import row_from_label
    out = []
    for s, (vscore, vpass), c in zip(samples, verl_res, cl_res):
        ours = c["acc"] == 1.0
        if ours == vpass:
            continue
        v = score_rows(scorer, [row_from_label(s.ground_truth, None)], [s.reply])[0]
        res, meta = prime.apps_check_correctness(in_outs=copy.deepcopy(s.ground_truth), generation=s.code,
                                                 timeout=5, debug=False)
        out.append({"index": s.index, "problem": s.problem, "kind": s.kind, "expected_pass": s.expected_pass,
                    "codeloop_acc": c["acc"], "codeloop_status": v.status.value if v else None,
                    "codeloop_tests_passed": v.tests_passed if v else None,
                    "codeloop_failure": str(v.failure)[:300] if v and v.failure else None,
                    "verl_score": vscore, "verl_all_pass": vpass, "verl_full_check": [str(r) for r in res],
                    "verl_meta": str(list(meta)[:1])[:300]})
    return out


def summary_line(name, n, seconds, cpu) -> str:
    return (f"  {name:<34} {seconds:8.2f} s  {n / seconds:7.2f} samples/s   CPU: machine {cpu['machine_busy_cpu_s']:7.2f} s, "
            f"this tree {cpu['this_tree_cpu_s']:7.2f} s, other processes {cpu['others_cpu_s']:5.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=2, help="verl reward-loop workers and codeloop pool workers")
    ap.add_argument("--repeat", type=int, default=1, help="timed runs of each side on the no-loop set (median)")
    ap.add_argument("--problems", type=int, default=40)
    ap.add_argument("--tests", type=int, default=20)
    ap.add_argument("--loops", type=int, default=2, help="endless loops in the with-loops batch (0: skip it)")
    ap.add_argument("--no-loops", action="store_true", help="skip the with-loops batch (saves ~2 minutes)")
    ap.add_argument("--no-breakdown", action="store_true")
    ap.add_argument("--slow-iters", type=int, default=400_000)
    ap.add_argument("--seed", type=int, default=10)
    ap.add_argument("--out", type=Path, default=HERE / "out" / "taco_speed.json")
    args = ap.parse_args()
    t_start = time.perf_counter()
    report: dict = {"machine": machine(verl=_verl_version()), "args": {k: str(v) for k, v in vars(args).items()}}
    print("machine:", json.dumps(report["machine"]))

    t0 = time.perf_counter()
    everything = taco_like.build(args.problems, args.tests, args.loops, args.seed, args.slow_iters)
    plain = [s for s in everything if s.kind != "loop"]
    loops = [s for s in everything if s.kind == "loop"]
    print(f"set: {args.problems} problems x {args.tests} tests, {len(plain)} samples "
          f"{dict(Counter(s.kind for s in plain))}, + {len(loops)} endless loops; built in "
          f"{time.perf_counter() - t0:.1f} s (expected outputs from running the correct programs here)")

    prime = load_prime_code()
    from codeloop.scoring.local import LocalScorer

    # start-up of both sides
    t0 = time.perf_counter()
    verl = VerlWorkers(args.workers)
    verl_start = time.perf_counter() - t0
    warm = plain[:1]
    verl.score(verl_items(warm * args.workers))  # first call in each worker: imports done lazily by prime_code

    scorer = None

    def cold():
        nonlocal scorer
        scorer = LocalScorer({}, workers=args.workers)
        return codeloop_batch(scorer, plain)

    runs: dict[str, list] = {"verl": [], "codeloop_steady": []}
    cl_cold_s, cl_res, cl_cold_cpu = timed(cold)
    print(f"verl workers start-up (not timed below, like Ray actors): {verl_start:.2f} s")
    print(f"codeloop cold (LocalScorer start-up + first batch of {len(plain)}): {cl_cold_s:.2f} s")
    verl_res = None
    for r in range(args.repeat):
        order = ["verl", "codeloop"] if r % 2 == 0 else ["codeloop", "verl"]
        for side in order:
            if side == "verl":
                s, verl_res, cpu = timed(lambda: verl.score(verl_items(plain)))
                runs["verl"].append((s, cpu))
            else:
                s, res, cpu = timed(lambda: codeloop_batch(scorer, plain))
                runs["codeloop_steady"].append((s, cpu))
                if [x["acc"] for x in res] != [x["acc"] for x in cl_res]:
                    print("  note: codeloop's verdicts changed between runs")
                cl_res = res

    def med(name):
        seconds = statistics.median(s for s, _ in runs[name])
        cpu = min(runs[name], key=lambda sc: abs(sc[0] - seconds))[1]
        return seconds, cpu

    v_s, v_cpu = med("verl")
    c_s, c_cpu = med("codeloop_steady")
    print(f"\nno endless loops: {len(plain)} samples, median of {args.repeat} run(s) each, alternating")
    print(summary_line("verl prime_code (reward loop)", len(plain), v_s, v_cpu))
    print(summary_line("codeloop steady (warm scorer)", len(plain), c_s, c_cpu))
    print(summary_line("codeloop cold (start-up + batch)", len(plain), cl_cold_s, cl_cold_cpu))
    print(f"  ratio verl / codeloop: {v_s / c_s:.2f}x steady, {v_s / cl_cold_s:.2f}x cold   "
          f"(CPU ratio, this tree: {v_cpu['this_tree_cpu_s'] / max(c_cpu['this_tree_cpu_s'], 1e-9):.2f}x)")
    agree = sum((c["acc"] == 1.0) == vp for c, (_, vp) in zip(cl_res, verl_res))
    expected_ok = sum((c["acc"] == 1.0) == s.expected_pass for c, s in zip(cl_res, plain))
    verl_expected_ok = sum(vp == s.expected_pass for (_, vp), s in zip(verl_res, plain))
    verl_one_not_all = sum(1 for sc, vp in verl_res if sc == 1.0 and not vp)
    print(f"  verdicts agree on {agree}/{len(plain)}; match the known outcome: codeloop {expected_ok}, "
          f"verl {verl_expected_ok}; verl score 1.0 without all tests passing: {verl_one_not_all}")
    by_kind = Counter((s.kind, c["acc"] == 1.0, vp) for s, c, (_, vp) in zip(plain, cl_res, verl_res))
    print("  (kind, codeloop pass, verl pass): " + ", ".join(f"{k}: {n}" for k, n in sorted(by_kind.items())))
    dis = disagreements(plain, verl_res, cl_res, scorer, prime)
    for d in dis:
        print("  DISAGREE", json.dumps(d)[:800])
    # The same batch with the options that run it the way verl's harness does: each sample stopping at its first
    # failing test, and then its tests one after another in one (sandboxed) process
    variants = {"stop_on_failure": {"stop_on_failure": True},
                "stop_on_failure + tests_in_one_process": {"stop_on_failure": True, "tests_in_one_process": True}}
    own_all, own_stop = programs_own_cpu(plain, False), programs_own_cpu(plain, True)
    v_over = v_cpu["machine_busy_cpu_s"] - own_stop  # verl runs each program up to its first failure
    c_over = c_cpu["machine_busy_cpu_s"] - own_all
    print(f"  the programs' own CPU (run here, no harness): {own_all:.2f} s all tests, {own_stop:.2f} s up to the "
          f"first failure; harness CPU beyond it: verl {v_over:.2f} s, codeloop {c_over:.2f} s "
          f"({v_over / max(c_over, 1e-9):.2f}x)")
    report["overhead"] = {"programs_own_cpu_all_tests": own_all, "programs_own_cpu_to_first_failure": own_stop,
                          "verl_harness_cpu": v_over, "codeloop_harness_cpu": c_over,
                          "ratio": v_over / max(c_over, 1e-9)}
    for label, options in variants.items():
        vs, vres, vcpu = timed(lambda: codeloop_batch(scorer, plain, **options))
        vs2, vres, vcpu2 = timed(lambda: codeloop_batch(scorer, plain, **options))  # the first run warms its tasks
        over = vcpu2["machine_busy_cpu_s"] - own_stop
        agree_v = sum((c["acc"] == 1.0) == vp for c, (_, vp) in zip(vres, verl_res))
        print(summary_line(f"codeloop, {label}", len(plain), vs2, vcpu2))
        print(f"    ratio verl / codeloop: {v_s / vs2:.2f}x; harness CPU beyond the programs' own: {over:.2f} s "
              f"({v_over / max(over, 1e-9):.2f}x less than verl's); verdicts agree on {agree_v}/{len(plain)}")
        report[f"no_loops, {label}"] = {"codeloop_s": vs2, "cpu": vcpu2, "ratio": v_s / vs2, "harness_cpu": over,
                                         "harness_ratio": v_over / max(over, 1e-9), "agree": agree_v}
    report["no_loops"] = {"samples": len(plain), "verl_runs": runs["verl"], "codeloop_steady_runs": runs["codeloop_steady"],
                          "codeloop_cold": [cl_cold_s, cl_cold_cpu], "verl_s": v_s, "codeloop_steady_s": c_s,
                          "ratio_steady": v_s / c_s, "ratio_cold": v_s / cl_cold_s, "agree": agree,
                          "disagreements": dis, "verl_score_1_not_all_pass": verl_one_not_all,
                          "per_sample": [{"index": s.index, "problem": s.problem, "kind": s.kind,
                                          "expected": s.expected_pass, "codeloop": c, "verl_score": sc,
                                          "verl_all_pass": vp} for s, c, (sc, vp) in zip(plain, cl_res, verl_res)]}

    if loops and not args.no_loops:
        batch = sorted(plain + loops, key=lambda s: s.index)  # the loops at their shuffled places
        print(f"\nwith endless loops: {len(batch)} samples ({len(loops)} loops at positions "
              f"{[s.index for s in loops]}), one run each")
        vl_s, vl_res, vl_cpu = timed(lambda: verl.score(verl_items(batch)))
        cl_s, cll_res, cll_cpu = timed(lambda: codeloop_batch(scorer, batch))
        print(summary_line("verl prime_code (reward loop)", len(batch), vl_s, vl_cpu))
        print(summary_line("codeloop steady (warm scorer)", len(batch), cl_s, cll_cpu))
        agree_l = sum((c["acc"] == 1.0) == vp for c, (_, vp) in zip(cll_res, vl_res))
        loop_out = [(s.index, c["acc"], c["timeout"], vr) for s, c, vr in zip(batch, cll_res, vl_res) if s.kind == "loop"]
        print(f"  ratio verl / codeloop: {vl_s / cl_s:.2f}x; verdicts agree on {agree_l}/{len(batch)}; "
              f"loops (index, codeloop acc, codeloop timeout, verl (score, all pass)): {loop_out}")
        report["with_loops"] = {"samples": len(batch), "verl_s": vl_s, "verl_cpu": vl_cpu, "codeloop_steady_s": cl_s,
                                "codeloop_cpu": cll_cpu, "ratio": vl_s / cl_s, "agree": agree_l, "loops": loop_out}

    if not args.no_breakdown:
        # Where the time goes: the 40 correct programs with 1 test and with all tests, both harnesses.
        correct = [s for s in plain if s.kind == "correct"]
        one = [copy.copy(s) for s in correct]
        for s in one:
            s.ground_truth = {"inputs": s.ground_truth["inputs"][:1], "outputs": s.ground_truth["outputs"][:1]}
        rows = {}
        for label, subset in (("1 test", one), (f"{args.tests} tests", correct)):
            vs, _, _ = timed(lambda: verl.score(verl_items(subset)))
            cs, _, _ = timed(lambda: codeloop_batch(scorer, subset))
            rows[label] = (vs, cs)
        n = len(correct)
        print(f"\nbreakdown on the {n} correct programs (wall seconds for the batch, {args.workers} workers):")
        for label, (vs, cs) in rows.items():
            print(f"  {label:<9} verl {vs:6.2f} s   codeloop {cs:6.2f} s")
        (v1, c1), (vn, cn) = rows["1 test"], rows[f"{args.tests} tests"]
        k = args.tests - 1
        print(f"  => per sample (fixed) ~ verl {v1 / n * args.workers * 1000:.0f} ms, codeloop "
              f"{c1 / n * args.workers * 1000:.0f} ms of a worker; per extra test ~ verl "
              f"{(vn - v1) / n / k * args.workers * 1000:.1f} ms, codeloop {(cn - c1) / n / k * args.workers * 1000:.1f} ms "
              "(the tests' own run time included: the same programs on both sides)")
        kinds = {}
        for kind in taco_like.KINDS:
            subset = [s for s in plain if s.kind == kind]
            cs, _, _ = timed(lambda: codeloop_batch(scorer, subset))
            kinds[kind] = cs
        print(f"  codeloop per kind ({args.problems} samples each): " + ", ".join(f"{k} {v:.2f} s" for k, v in kinds.items()))
        report["breakdown"] = {"by_tests": rows, "codeloop_by_kind": kinds}

    verl.close()
    if scorer is not None:
        scorer.close()
    write_report(report, args.out, t_start)


if __name__ == "__main__":
    main()
