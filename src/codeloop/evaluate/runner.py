"""``codeloop eval``'s engine: judge many samples on the pool and summarise.

UI-free: the CLI passes callbacks for progress. Every sample goes through the
one :class:`~codeloop.verify.engine.Judge`; time limits come from each task's
reference (EvalPlus's rule, see :class:`~codeloop.verify.limits.TimePolicy`),
timed only for tasks where a program outlasts the policy's floors, unless a
fixed ``timeout`` is given.
"""

from __future__ import annotations

import json
import queue
import resource
import time
from collections import Counter
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from ..sandbox.pool import SandboxPool
from ..verify.routing import EnvironmentJudges
from ..types import STATUSES, Isolation, Status, Task, Verdict
from ..verify.engine import Judge
from ..verify.limits import TimeLimits, TimePolicy
from .passk import pass_at_ks
from .samples import Sample
from .store import ResultStore


@dataclass
class EvalConfig:
    """How to run an evaluation: workers, isolation, the time policy (a fixed
    limit, or limits from each task's reference), the load limit and memory
    of a sample, retries of evaluator failures, the k of pass@k, and whether
    to count the cost of passing programs."""

    workers: int = 2
    isolation: Isolation = "full"
    policy: TimePolicy = field(default_factory=TimePolicy)
    load_limit: float = 1.0
    memory_mb: int = 1024
    output_bytes: int = 1 << 20
    retries: int = 2
    ks: tuple[int, ...] = (1, 10, 100)
    efficiency: bool = False


def summary_path(out: str | Path) -> Path:
    """Where the summary of a results file goes: results.jsonl -> results.summary.json."""
    out = Path(out)
    stem = out.name[: -len(".jsonl")] if out.name.endswith(".jsonl") else out.name
    return out.with_name(stem + ".summary.json")


def verdict_record(sample: Sample, verdict: Verdict) -> dict[str, Any]:
    """The results.jsonl line for one sample."""
    return {"index": sample.index, "task_id": sample.task_id, **verdict.to_dict(), "fingerprint": sample.fingerprint}


def summarise(results: Iterable[tuple[str, Verdict]], ks: tuple[int, ...], extra: dict[str, Any]) -> dict[str, Any]:
    """pass@k (infra errors left out, as they say nothing of the program),
    counts per status, and the efficiency and instruction figures when there are any."""
    results = list(results)
    statuses = Counter(v.status for _, v in results)
    per_task: dict[str, list[int]] = {}
    for task_id, v in results:
        if v.status is not Status.INFRA_ERROR:
            n_c = per_task.setdefault(task_id, [0, 0])
            n_c[0] += 1
            n_c[1] += v.passed
    verdicts = [v for _, v in results]
    return {
        "samples": len(results),
        "tasks": len({t for t, _ in results}),
        "passed": sum(v.passed for v in verdicts),
        **pass_at_ks([(n, c) for n, c in per_task.values()], ks),
        "statuses": {s.value: statuses.get(s, 0) for s in STATUSES},
        "infra_errors": statuses.get(Status.INFRA_ERROR, 0),
        "isolation": sorted({v.isolation for v in verdicts}),
        **_efficiency_summary(verdicts),
        **_instruction_summary(verdicts),
        **extra,
    }


def _efficiency_summary(verdicts: list[Verdict]) -> dict[str, Any]:
    costs = [v.cost for v in verdicts if v.cost is not None]
    if not costs:
        return {}
    ratios = sorted(c.ratio for c in costs if c.ratio is not None)
    return {"efficiency": {
        "method": costs[0].method, "measured": len(ratios), "unmeasured": len(costs) - len(ratios),
        "median_ratio": ratios[len(ratios) // 2] if ratios else None,
        "mean_ratio": round(sum(ratios) / len(ratios), 4) if ratios else None,
        "note": "ratio = reference cost / program cost, over passing programs; above 1 is cheaper"}}


def _instruction_summary(verdicts: list[Verdict]) -> dict[str, Any]:
    judged = [v for v in verdicts if v.instructions]
    if not judged:
        return {}
    results = [i for v in judged for i in v.instructions or ()]
    by_id: dict[str, list[int]] = {}
    for i in results:
        counts = by_id.setdefault(i.id, [0, 0])
        counts[0] += 1
        counts[1] += i.passed
    all_followed = [all(i.passed for i in v.instructions or ()) for v in judged]
    return {"instructions": {
        "samples": len(judged),
        "instruction_level": round(sum(i.passed for i in results) / len(results), 4),
        "all_followed": round(sum(all_followed) / len(judged), 4),
        "passed_and_all_followed": round(sum(a and v.passed for a, v in zip(all_followed, judged)) / len(judged), 4),
        "by_id": {k: round(v[1] / v[0], 4) for k, v in sorted(by_id.items())}}}


def evaluate(tasks: dict[str, Task], samples: list[Sample], out: str | Path, cfg: EvalConfig,
             on_start: Callable[[int, int], None] | None = None,
             on_result: Callable[[dict[str, Any]], None] | None = None,
             on_phase: Callable[[str], None] | None = None, pool: SandboxPool | None = None) -> dict[str, Any]:
    """Judge ``samples``, streaming results to ``out``; returns the summary (also
    written next to ``out``). Resumes from what ``out`` already holds.

    ``pool``: workers started by the caller (who closes them), say before
    reading the samples so that they boot meanwhile; else a pool of
    ``cfg.workers`` is made and closed here.

    Raises IsolationUnavailable when namespaces cannot be made and
    ``cfg.isolation`` is "full". Evaluator failures never raise: they are
    results (status ``infra_error``). Ctrl-C cancels what has not started
    and keeps what has finished.
    """
    store = ResultStore(out)
    done = store.load_done(samples)
    pending = [s for s in samples if s.index not in done]
    if on_start:
        on_start(len(samples), len(done))
    started = time.monotonic()
    cpu_before = _own_cpu()
    limits = TimeLimits(cfg.policy)
    phases: dict[str, float] = {}
    judged: dict[int, Verdict] = {}
    restarts = 0
    own = pool is None
    if pending:
        if pool is None:
            pool = SandboxPool(cfg.workers, cfg.isolation)
        try:
            pool.check()
            phases["boot"] = round(time.monotonic() - started, 3)
            if on_phase:
                on_phase("judging and measuring" if cfg.efficiency else "judging")
            judge = Judge(pool, limits, load_limit=cfg.load_limit, memory_mb=cfg.memory_mb, retries=cfg.retries,
                          efficiency=cfg.efficiency, output_bytes=cfg.output_bytes)
            judges = EnvironmentJudges(judge, lambda environment: Judge(
                SandboxPool(cfg.workers, cfg.isolation, environment=environment), limits, load_limit=cfg.load_limit,
                memory_mb=cfg.memory_mb, retries=cfg.retries, efficiency=cfg.efficiency,
                output_bytes=cfg.output_bytes))
            futures: dict[Future[Verdict], Sample] = {}
            finished: queue.SimpleQueue[Future[Verdict]] = queue.SimpleQueue()
            try:
                for s in pending:
                    fut = judges.submit(s.task_for(tasks[s.task_id]), s.program, s.code)
                    futures[fut] = s
                    fut.add_done_callback(finished.put)
                for _ in range(len(futures)):
                    fut = finished.get()
                    verdict = fut.result()
                    rec = verdict_record(futures[fut], verdict)
                    done[rec["index"]] = rec
                    judged[rec["index"]] = verdict
                    store.add(rec)
                    if on_result:
                        on_result(rec)
            except BaseException:
                for fut in futures:
                    fut.cancel()
                raise
            finally:
                store.close()
                judge.close()
                judges.close()
            restarts = pool.restarts
            phases["judging"] = round(time.monotonic() - started - phases["boot"], 3)
        finally:
            if own:
                pool.close()
    elapsed = time.monotonic() - started
    records = [done[s.index] for s in samples]
    store.finish(records)
    summary = summarise(((r["task_id"], judged.get(r["index"]) or Verdict.from_dict(r)) for r in records), cfg.ks, {
        "judged_now": len(pending), "resumed": len(samples) - len(pending),
        "seconds": round(elapsed, 3), "phases": phases,
        "breakdown": breakdown(judged.values(), cfg.workers, phases.get("judging", 0.0)),
        "orchestrator_cpu_seconds": round(_own_cpu() - cpu_before, 3),
        "samples_per_second": round(len(pending) / elapsed, 2) if pending and elapsed > 0 else None,
        "workers": cfg.workers, "worker_restarts": restarts,
        "time_limits": {"mode": "fixed" if cfg.policy.fixed is not None else "calibrated",
                        **{k: v for k, v in asdict(cfg.policy).items() if k != "fixed"},
                        "tasks_timed": len(limits.record.seconds) + len(limits.record.failed),
                        "reference_failed": dict(limits.record.failed)},
        "results": str(out),
    })
    summary_path(out).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def breakdown(verdicts: Iterable[Verdict], workers: int, judging_seconds: float) -> dict[str, Any]:
    """Where the workers' time went while judging, summed over samples (seconds).

    ``worker_seconds`` is the judging wall time times the workers. Within a
    sample: ``spawn`` (the zygote making the candidate), ``load`` (the
    candidate setting itself up and loading the program, until it said
    ready), ``tests`` (the tests' run: test code, calls and the program's own
    work), ``calibration`` (the judge timing references). ``between_samples``
    is the rest: killing and reaping candidates, reports, idle gaps.
    """
    spawn = load = tests = calibration = window = 0.0
    calls = samples = 0
    for v in verdicts:
        samples += 1
        window += v.wall_seconds or 0.0
        tests += v.test_seconds or 0.0
        if v.timing is not None:
            spawn += v.timing.spawn or 0.0
            load += v.timing.load or 0.0
            calls += v.timing.calls or 0
            calibration += v.timing.calibration or 0.0
    worker_seconds = workers * judging_seconds
    return {"samples": samples, "worker_seconds": round(worker_seconds, 3), "spawn": round(spawn, 3),
            "load": round(load, 3), "tests": round(tests, 3), "calls": calls, "calibration": round(calibration, 3),
            "between_samples": round(max(0.0, worker_seconds - window), 3)}


def _own_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
