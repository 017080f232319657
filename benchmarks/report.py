"""What the benchmark scripts repeat around their results: the machine description, a timed phase with the CPU
it used, and writing the report.

Used by taco_speed.py and cpp_speed.py; not a benchmark itself.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import proccpu

ME = "load generator (this process)"  # proccpu's group for this process and its children


def _first(path: str, key: str) -> str:
    """The value of the first ``key: value`` line of ``path`` that starts with ``key`` ("" if none)."""
    try:
        return next(ln.split(":", 1)[1].strip() for ln in Path(path).read_text().splitlines() if ln.startswith(key))
    except (OSError, StopIteration):
        return ""


def machine(**extra) -> dict:
    """The machine a benchmark runs on: CPUs, memory, kernel, Python, the load average now and codeloop's
    version; ``extra`` (the versions of the tools a benchmark compares, ...) goes after Python's version."""
    import codeloop

    return {"cpus_online": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)),
            "cpu_model": _first("/proc/cpuinfo", "model name"), "memory": _first("/proc/meminfo", "MemTotal"),
            "kernel": platform.release(), "python": platform.python_version(), **extra,
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
            "codeloop": getattr(codeloop, "__version__", "?")}


def timed(fn, detail: bool = False) -> tuple[float, object, dict]:
    """Run ``fn()``: (wall seconds, its result, the CPU seconds used meanwhile: busy on the whole machine, by this
    process's tree, by other processes; with ``detail`` also the three other processes that used the most and
    the load average before)."""
    load = os.getloadavg()
    sampler = proccpu.CpuSampler({}, interval=0.2).start()
    t0 = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - t0
    acc = sampler.stop()
    cpu = {"machine_busy_cpu_s": round(acc.total_busy, 2), "this_tree_cpu_s": round(acc.groups.get(ME, 0.0), 2),
           "others_cpu_s": round(sum(o["cpu_s"] for o in acc.others), 2)}
    if detail:
        cpu.update(others=acc.others[:3], loadavg_before=[round(x, 2) for x in load])
    return seconds, result, cpu


def write_report(report: dict, out_path: Path, t_start: float, prefix: str = "") -> None:
    """Set ``report["total_seconds"]`` (since ``t_start``, a ``time.perf_counter()``), write the report as JSON
    to ``out_path`` and print the closing line (``prefix`` goes before its total)."""
    report["total_seconds"] = time.perf_counter() - t_start
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(report, indent=1, default=str))
    print(f"\n{prefix}total {report['total_seconds']:.0f} s; written {out_path}")
