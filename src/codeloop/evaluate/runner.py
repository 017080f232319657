"""``codeloop eval``'s engine: judge many samples on the pool and summarise.

UI-free: the CLI passes callbacks for progress. Time limits come from each
task's reference solution measured in the same sandbox (EvalPlus's rule:
max(floor, factor x reference time)), unless a fixed ``timeout`` is given.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..sandbox.pool import Limits, SandboxPool
from ..types import STATUSES, Task, Verdict
from ..instructions import check_instructions
from ..verify.efficiency import METHOD, CostMeter, Unmeasurable
from ..verify.execute import time_reference, verify
from .passk import pass_at_ks
from .samples import Sample
from .store import ResultStore

CALIBRATION_LIMIT = 20.0
CALL_ALLOWANCE = 0.001  # seconds per call: a sandboxed round trip (about 0.3 ms here), with room to spare


@dataclass
class EvalConfig:
    """How to run an evaluation.

    ``timeout``: a fixed time limit (seconds) for every sample's tests; None
    calibrates per task as ``min(timeout_max, max(timeout_floor,
    timeout_factor * reference time) + calls * CALL_ALLOWANCE)``, and uses
    ``default_timeout`` for tasks without a reference (or whose reference
    fails). A calibrated task also bounds each call whose arguments match the
    reference's call at the same position: ``max(call_floor, timeout_factor *
    that call's time) + CALL_ALLOWANCE`` of CPU time of the program's main
    thread (per-input limits as in EvalPlus, in CPU time so that a program
    waiting on a process it started is not cut short).
    """

    workers: int = 2
    isolation: str = "full"
    timeout: float | None = None
    timeout_floor: float = 1.0
    call_floor: float = 0.05
    timeout_factor: float = 10.0
    timeout_max: float = 10.0
    default_timeout: float = 3.0
    load_limit: float = 1.0
    memory_mb: int = 1024
    retries: int = 2
    ks: tuple[int, ...] = (1, 10, 100)
    efficiency: bool = False


@dataclass
class Calibration:
    """Per-task time limits and what the reference solutions did."""

    limits: dict[str, float] = field(default_factory=dict)
    call_limits: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    reference_seconds: dict[str, float] = field(default_factory=dict)
    reference_failed: dict[str, str] = field(default_factory=dict)


def summary_path(out: str | Path) -> Path:
    """Where the summary of a results file goes: results.jsonl -> results.summary.json."""
    out = Path(out)
    stem = out.name[: -len(".jsonl")] if out.name.endswith(".jsonl") else out.name
    return out.with_name(stem + ".summary.json")


def _limits(cfg: EvalConfig, time_limit: float) -> Limits:
    return Limits(time_limit=time_limit, load_limit=cfg.load_limit, memory_mb=cfg.memory_mb)


def judge_sample(pool: SandboxPool, task: Task, program: str, limits: Limits, call_limits: Any = None,
                 meter: CostMeter | None = None, code: str | None = None) -> Verdict:
    """One sample: tests, then (with ``meter``) the cost of a passing program,
    then (if the task has any) the code instructions on the model's ``code``."""
    verdict = verify(pool, task, program, limits, call_limits=call_limits, record_calls=meter is not None, code=code)
    if meter is not None and verdict.passed and verdict.call_log is not None:
        try:
            verdict.cost = meter.cost(task, program, verdict.call_log)
        except Unmeasurable as exc:
            verdict.cost = {"method": METHOD, "error": str(exc)}
    verdict.call_log = None
    if task.instructions and verdict.status not in ("no_code", "infra_error"):
        verdict.instructions = check_instructions(program, task.instructions,
                                                  first_line=program.count("\n", 0, len(program) - len(code))
                                                  if code is not None and program.endswith(code) else 0)
    return verdict


def _run_all(pool: SandboxPool, jobs: list[tuple[Any, Task, str, Limits, Any]], workers: int,
             done: Callable[[Any, Verdict], None], meter: CostMeter | None = None,
             codes: dict[Any, str] | None = None) -> None:
    """Judge every (key, task, program, limits, call_limits) job on ``workers``
    threads; call ``done`` in the calling thread as each finishes. Ctrl-C
    cancels what is queued."""
    codes = codes or {}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="codeloop") as ex:
        futures = {ex.submit(judge_sample, pool, task, program, limits, calls, meter, codes.get(key)): key
                   for key, task, program, limits, calls in jobs}
        try:
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    done(futures[fut], fut.result())
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise


def derive_limits(cfg: EvalConfig, seconds: float, calls: int,
                  call_times: list[tuple[str, float]]) -> tuple[float, list[tuple[str, float]]]:
    """The whole test's wall-time limit and each call's CPU budget, from how
    long the reference took (in all, and call by call)."""
    limit = min(cfg.timeout_max, max(cfg.timeout_floor, cfg.timeout_factor * seconds) + calls * CALL_ALLOWANCE)
    budgets = [(key, round(max(cfg.call_floor, cfg.timeout_factor * t) + CALL_ALLOWANCE, 4)) for key, t in call_times]
    return round(limit, 3), budgets


def calibrate(pool: SandboxPool, tasks: list[Task], cfg: EvalConfig) -> Calibration:
    """Measure each task's reference solution and derive its time limit.

    ``check`` and ``asserts`` references run inside the judge (trusted code,
    timed without call overhead), and the limit allows ``CALL_ALLOWANCE`` per
    call on top; ``stdio`` references run sandboxed, like any program.
    """
    cal = Calibration()
    if cfg.timeout is not None:
        cal.limits = {t.task_id: cfg.timeout for t in tasks}
        return cal
    sandboxed, in_judge = [], []
    for t in tasks:
        if t.time_limit is not None:
            cal.limits[t.task_id] = t.time_limit
        elif not t.reference:
            cal.limits[t.task_id] = cfg.default_timeout
        elif t.kind == "stdio":
            sandboxed.append((t.task_id, t, t.reference, _limits(cfg, CALIBRATION_LIMIT), None))
        else:
            in_judge.append(t)

    def record(task_id: str, v: Verdict, calls: int = 0, call_times: list | None = None) -> None:
        if v.passed and v.test_seconds is not None:
            cal.reference_seconds[task_id] = v.test_seconds
            cal.limits[task_id], cal.call_limits[task_id] = derive_limits(cfg, v.test_seconds, calls, call_times or [])
        else:
            cal.reference_failed[task_id] = v.status
            cal.limits[task_id] = cfg.default_timeout

    _run_all(pool, sandboxed, cfg.workers, record)
    with ThreadPoolExecutor(max_workers=cfg.workers) as ex:
        for t, timing in zip(in_judge, ex.map(lambda t: time_reference(pool, t, CALIBRATION_LIMIT), in_judge)):
            record(t.task_id, timing.verdict, timing.calls, timing.call_times)
    return cal


def verdict_record(sample: Sample, verdict: Verdict) -> dict[str, Any]:
    """The results.jsonl line for one sample."""
    rec = {"index": sample.index, "task_id": sample.task_id, "passed": verdict.passed, "status": verdict.status}
    rec.update({k: v for k, v in verdict.to_dict().items() if k not in ("passed", "status")})
    rec["fingerprint"] = sample.fingerprint
    return rec


def summarise(records: list[dict[str, Any]], ks: tuple[int, ...], extra: dict[str, Any]) -> dict[str, Any]:
    """pass@k (infra errors left out, as they say nothing of the program) and counts per status."""
    statuses = Counter(r["status"] for r in records)
    per_task: dict[str, list[int]] = {}
    for r in records:
        if r["status"] != "infra_error":
            n_c = per_task.setdefault(r["task_id"], [0, 0])
            n_c[0] += 1
            n_c[1] += bool(r["passed"])
    return {
        "samples": len(records),
        "tasks": len({r["task_id"] for r in records}),
        "passed": sum(bool(r["passed"]) for r in records),
        **pass_at_ks([tuple(v) for v in per_task.values()], ks),
        "statuses": {s: statuses.get(s, 0) for s in STATUSES},
        "infra_errors": statuses.get("infra_error", 0),
        "isolation": sorted({r.get("isolation", "full") for r in records}),
        **_efficiency_summary(records),
        **_instruction_summary(records),
        **extra,
    }


def _efficiency_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    costs = [r["cost"] for r in records if r.get("cost")]
    if not costs:
        return {}
    ratios = sorted(c["ratio"] for c in costs if "ratio" in c)
    return {"efficiency": {
        "method": costs[0].get("method"), "measured": len(ratios), "unmeasured": len(costs) - len(ratios),
        "median_ratio": ratios[len(ratios) // 2] if ratios else None,
        "mean_ratio": round(sum(ratios) / len(ratios), 4) if ratios else None,
        "note": "ratio = reference cost / program cost, over passing programs; above 1 is cheaper"}}


def _instruction_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    judged = [r for r in records if r.get("instructions")]
    if not judged:
        return {}
    results = [i for r in judged for i in r["instructions"]]
    by_id: dict[str, list[int]] = {}
    for i in results:
        counts = by_id.setdefault(i["id"], [0, 0])
        counts[0] += 1
        counts[1] += bool(i["passed"])
    all_followed = [all(i["passed"] for i in r["instructions"]) for r in judged]
    return {"instructions": {
        "samples": len(judged),
        "instruction_level": round(sum(bool(i["passed"]) for i in results) / len(results), 4),
        "all_followed": round(sum(all_followed) / len(judged), 4),
        "passed_and_all_followed": round(sum(a and r["passed"] for a, r in zip(all_followed, judged)) / len(judged), 4),
        "by_id": {k: round(v[1] / v[0], 4) for k, v in sorted(by_id.items())}}}


def evaluate(tasks: dict[str, Task], samples: list[Sample], out: str | Path, cfg: EvalConfig,
             on_start: Callable[[int, int], None] | None = None,
             on_result: Callable[[dict[str, Any]], None] | None = None,
             on_phase: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Judge ``samples``, streaming results to ``out``; returns the summary (also
    written next to ``out``). Resumes from what ``out`` already holds.

    Raises IsolationUnavailable when namespaces cannot be made and
    ``cfg.isolation`` is "full". Infra errors never raise: they are results.
    """
    store = ResultStore(out)
    done = store.load_done(samples)
    pending = [s for s in samples if s.index not in done]
    if on_start:
        on_start(len(samples), len(done))
    started = time.monotonic()
    cal = Calibration()
    restarts = 0
    if pending:
        with SandboxPool(cfg.workers, cfg.isolation) as pool:
            pool.check()
            if on_phase:
                on_phase("calibrating time limits")
            needed = {s.task_id for s in pending}
            cal = calibrate(pool, [t for t in tasks.values() if t.task_id in needed], cfg)
            by_index = {s.index: s for s in pending}

            def record(index: int, verdict: Verdict) -> None:
                rec = verdict_record(by_index[index], verdict)
                done[index] = rec
                store.add(rec)
                if on_result:
                    on_result(rec)

            jobs = [(s.index, tasks[s.task_id], s.program, _limits(cfg, cal.limits[s.task_id]),
                     cal.call_limits.get(s.task_id)) for s in pending]
            meter = CostMeter(pool) if cfg.efficiency else None
            if on_phase:
                on_phase("judging and measuring" if meter else "judging")
            try:
                _run_all(pool, jobs, cfg.workers, record, meter, {s.index: s.code for s in pending})
            finally:
                store.close()
            restarts = pool.restarts
    elapsed = time.monotonic() - started
    records = [done[s.index] for s in samples]
    store.finish(records)
    summary = summarise(records, cfg.ks, {
        "judged_now": len(pending), "resumed": len(samples) - len(pending),
        "seconds": round(elapsed, 3),
        "samples_per_second": round(len(pending) / elapsed, 2) if pending and elapsed > 0 else None,
        "workers": cfg.workers, "worker_restarts": restarts,
        "time_limits": {"mode": "fixed" if cfg.timeout is not None else "calibrated",
                        "floor": cfg.timeout_floor, "call_floor": cfg.call_floor,
                        "factor": cfg.timeout_factor, "max": cfg.timeout_max,
                        "reference_failed": cal.reference_failed},
        "results": str(out),
    })
    summary_path(out).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary
