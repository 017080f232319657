"""Interactive sessions against what an agent loop would otherwise use, in one run, as ratios.

Three ways to run an agent's code step by step, each measured here:

* codeloop's sessions (sandboxed kernels: own PID and mount namespace,
  limits, no network; :mod:`codeloop.sandbox.sessions`);
* ``python3 -c`` per step, a fresh interpreter each time, no state and no
  isolation (what a minimal harness does);
* a Jupyter kernel (``jupyter_client`` and ``ipykernel``, as notebook-backed
  tool servers run them; no isolation either), started per session.

Figures: (1) an episode's fixed cost: open a session, run one trivial step,
close it; (2) a step in a warm session; (3) 32 sessions at once, 10 steps
each, on the machine's cores. Needs ``pip install jupyter_client ipykernel``
for the Jupyter column (skipped, and said so, without them).

    .venv/bin/python benchmarks/session_speed.py [--episodes 40] [--steps 200]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import machine, write_report  # noqa: E402

from codeloop.sandbox.sessions import SessionPool  # noqa: E402

TRIVIAL = "x = 1\nx + 1"


def per_second(samples: list[float]) -> dict:
    return {"median_ms": round(statistics.median(samples) * 1000, 3), "mean_ms": round(statistics.mean(samples) * 1000, 3),
            "n": len(samples)}


def codeloop_episode(pool: SessionPool) -> float:
    started = time.perf_counter()
    with pool.open("python") as s:
        assert s.step(TRIVIAL).value == "2"
    return time.perf_counter() - started


def python_c_step() -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", "x = 1\nprint(x + 1)"], capture_output=True, text=True)
    assert done.stdout == "2\n"
    return time.perf_counter() - started


def jupyter_available() -> bool:
    try:
        import ipykernel  # noqa: F401
        import jupyter_client  # noqa: F401
    except ImportError:
        return False
    return True


def jupyter_episode() -> float:
    from jupyter_client.manager import start_new_kernel

    started = time.perf_counter()
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        reply = client.execute_interactive(TRIVIAL, timeout=60, output_hook=lambda msg: None)
        assert reply["content"]["status"] == "ok"
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return time.perf_counter() - started


def jupyter_steps(n: int) -> list[float]:
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3")
    out = []
    try:
        for _ in range(n):
            started = time.perf_counter()
            client.execute_interactive(TRIVIAL, timeout=60, output_hook=lambda msg: None)
            out.append(time.perf_counter() - started)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return out


def concurrent_sessions(pool: SessionPool, sessions: int, steps: int) -> dict:
    errors: list[str] = []

    def one(i: int) -> None:
        try:
            with pool.open("python") as s:
                for k in range(steps):
                    r = s.step(f"n = {i} * {k}\nn")
                    if r.value != str(i * k):
                        errors.append(f"session {i} step {k}: {r.text()!r}")
        except Exception as exc:  # noqa: BLE001 - counted in the report
            errors.append(repr(exc))

    started = time.perf_counter()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return {"sessions": sessions, "steps_each": steps, "wall_s": round(wall, 3), "errors": len(errors),
            "steps_per_s": round(sessions * steps / wall, 1), "first_errors": errors[:3]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=40)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/session_speed.json"))
    args = parser.parse_args()
    t_start = time.perf_counter()
    has_jupyter = jupyter_available()
    report: dict = {"machine": machine(jupyter="jupyter_client + ipykernel" if has_jupyter else "not installed")}
    with SessionPool(2) as pool:
        codeloop_episode(pool)  # the workers' first clone warms them
        episodes = {"codeloop": [codeloop_episode(pool) for _ in range(args.episodes)],
                    "python -c": [python_c_step() for _ in range(args.episodes)]}
        if has_jupyter:
            episodes["jupyter kernel"] = [jupyter_episode() for _ in range(max(3, args.episodes // 8))]
        with pool.open("python") as s:
            warm = []
            for _ in range(args.steps):
                started = time.perf_counter()
                s.step(TRIVIAL)
                warm.append(time.perf_counter() - started)
        steps = {"codeloop": warm, "python -c": episodes["python -c"]}
        if has_jupyter:
            steps["jupyter kernel"] = jupyter_steps(args.steps)
        report["concurrent"] = concurrent_sessions(pool, 32, 10)
    report["episode"] = {k: per_second(v) for k, v in episodes.items()}
    report["step"] = {k: per_second(v) for k, v in steps.items()}
    base = report["episode"]["codeloop"]["median_ms"]
    report["episode_ratio"] = {k: round(v["median_ms"] / base, 2) for k, v in report["episode"].items()}
    base = report["step"]["codeloop"]["median_ms"]
    report["step_ratio"] = {k: round(v["median_ms"] / base, 2) for k, v in report["step"].items()}
    print(f"{'':28}{'episode (open, step, close)':>30}{'warm step':>22}")
    for name in report["episode"]:
        e, s = report["episode"][name], report["step"][name]
        print(f"{name:28}{e['median_ms']:>18.2f} ms ({report['episode_ratio'][name]:>5.1f}x)"
              f"{s['median_ms']:>12.3f} ms ({report['step_ratio'][name]:>6.1f}x)")
    c = report["concurrent"]
    print(f"32 sessions at once, 10 steps each: {c['wall_s']} s, {c['steps_per_s']} steps/s, {c['errors']} errors")
    if not has_jupyter:
        print("(no Jupyter column: pip install jupyter_client ipykernel)")
    write_report(report, args.out, t_start)


if __name__ == "__main__":
    main()
