"""Shared fixtures: a warm pool and the judge on it, task builders, and a PID-namespace guard.

Tests come at two levels. Unit tests of the pure parts run anywhere. Tests
that run programs in the sandbox are marked ``sandbox`` (a module sets
``pytestmark = pytest.mark.sandbox``); they are skipped, with the reason,
where user namespaces cannot be made or util-linux's ``unshare`` (their
second guard) is missing, instead of the whole suite refusing to start.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codeloop.sandbox.pool import SandboxPool
from codeloop.types import Task, TaskKind, Verdict
from codeloop.verify.engine import Judge
from codeloop.verify.limits import TimeLimits, TimePolicy

CODELOOP = str(Path(sys.executable).with_name("codeloop"))


@functools.lru_cache(maxsize=1)
def sandbox_unavailable() -> str | None:
    """Why sandbox tests cannot run here, or None if they can."""
    if shutil.which("unshare") is None:
        return "util-linux's unshare is missing (the tests' second guard): apt-get install util-linux"
    probe = ["unshare", "--pid", "--fork", "--mount-proc", "--net", "true"]
    if os.geteuid() != 0:
        probe[1:1] = ["--user", "--map-root-user"]
    done = subprocess.run(probe, capture_output=True, text=True)
    if done.returncode != 0:
        return f"namespaces cannot be created here: {done.stderr.strip() or done.returncode}"
    return None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sandbox: runs programs in the sandbox (needs user namespaces and unshare)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        # a test that uses the pool, directly or through another fixture, runs programs
        if {"pool", "judge"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.sandbox)
    reason = sandbox_unavailable()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if "sandbox" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def pool():
    with SandboxPool(2) as p:
        p.check()
        yield p


@pytest.fixture(scope="session")
def judge(pool):
    j = Judge(pool)
    yield j
    j.close()


def check_task(test: str, entry_point: str = "f", prompt: str = "", **kw) -> Task:
    return Task(task_id="t", kind=TaskKind.CHECK, prompt=prompt, entry_point=entry_point, test=test, **kw)


def asserts_task(asserts: list[str], entry_point: str = "f", **kw) -> Task:
    return Task(task_id="t", kind=TaskKind.ASSERTS, entry_point=entry_point, asserts=tuple(asserts), **kw)


def run(pool: SandboxPool, task: Task, program: str, time_limit: float = 2.0, memory_mb: int = 1024,
        **limits) -> Verdict:
    """Judge ``program`` with a fixed time limit (no calibration) on ``pool``."""
    j = Judge(pool, TimeLimits(TimePolicy(fixed=time_limit)), memory_mb=memory_mb, **limits)
    try:
        return j.judge(task, program)
    finally:
        j.close()


def guarded(cmd: list[str], net: bool = False, **kw) -> subprocess.CompletedProcess:
    """Run ``cmd`` in a fresh PID namespace (with ``net``, a network namespace
    too; as root of a user namespace when not root), so that a program that
    escaped the sandbox still could not reach anything outside: the second
    guard around tests that run hostile code."""
    guard = ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc"] + (["--net"] if net else [])
    if os.geteuid() != 0:
        guard[1:1] = ["--user", "--map-root-user"]
    return subprocess.run(guard + cmd, capture_output=True, text=True, **kw)


def run_with_traps(tmp_path: Path, command: list[str], port: int, secret_name: str, secret: str,
                   timeout: float = 900) -> dict:
    """Run ``command`` through tests/guard_driver.py inside :func:`guarded` (a listener on ``port``, the
    secret in the environment); the driver's report: rc, listener_hit, processes_left, secret_printed,
    stderr, stdout. Fails the test if the guard itself failed."""
    spec = {"port": port, "secret": secret, "secret_name": secret_name, "command": command}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    proc = guarded([sys.executable, str(Path(__file__).parent / "guard_driver.py"), str(tmp_path / "spec.json")],
                   net=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
