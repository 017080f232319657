"""Shared fixtures: a warm sandbox pool, task builders, and a PID-namespace guard."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codeloop.sandbox.pool import Limits, SandboxPool
from codeloop.types import Task
from codeloop.verify.execute import verify

CODELOOP = str(Path(sys.executable).with_name("codeloop"))


@pytest.fixture(scope="session")
def pool():
    with SandboxPool(2) as p:
        p.check()
        yield p


def check_task(test: str, entry_point: str = "f", prompt: str = "", **kw) -> Task:
    return Task(task_id="t", kind="check", prompt=prompt, entry_point=entry_point, test=test, **kw)


def asserts_task(asserts: list[str], entry_point: str = "f", **kw) -> Task:
    return Task(task_id="t", kind="asserts", entry_point=entry_point, asserts=asserts, **kw)


def run(pool, task: Task, program: str, time_limit: float = 2.0, **limits):
    return verify(pool, task, program, Limits(time_limit=time_limit, **limits))


def guarded(cmd: list[str], net: bool = False, **kw) -> subprocess.CompletedProcess:
    """Run ``cmd`` in a fresh PID namespace (with ``net``, a network namespace
    too; as root of a user namespace when not root), so that a program that
    escaped the sandbox still could not reach anything outside: the second
    guard around tests that run hostile code."""
    guard = ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc"] + (["--net"] if net else [])
    if os.geteuid() != 0:
        guard[1:1] = ["--user", "--map-root-user"]
    return subprocess.run(guard + cmd, capture_output=True, text=True, **kw)


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def pytest_configure(config):
    if shutil.which("unshare") is None:
        raise pytest.UsageError("the tests need util-linux's unshare for their PID-namespace guard")
