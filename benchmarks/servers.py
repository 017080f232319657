"""Starting and stopping the servers the service benchmarks talk to, on loopback only.

Used by serve_vs_sandboxfusion.py and soak.py; not a benchmark itself. The
``codeloop serve`` command line lives in :func:`codeloop_serve_command` alone,
so a change of the server's flags is made in one place (check
``codeloop serve --help``).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def codeloop_serve_command(port: int, workers: int | None = None, extra: str = "") -> list[str]:
    """The one place that knows ``codeloop serve``'s flags. On loopback no token is needed;
    every other setting is the server's default unless ``workers`` or ``extra`` (more flags,
    split on spaces) say otherwise."""
    exe = str(Path(sys.executable).with_name("codeloop"))
    cmd = [exe, "serve", "--host", LOOPBACK, "--port", str(port)]
    return cmd + (["--workers", str(workers)] if workers is not None else []) + extra.split()


def sandboxfusion_like_command(port: int, python: str) -> list[str]:
    """The stand-in for SandboxFusion's server (see sandboxfusion_like.py)."""
    return [sys.executable, str(HERE / "sandboxfusion_like.py"), "--port", str(port), "--python", python]


class Server:
    """A server process on loopback: started, waited for, stopped (SIGINT, then SIGKILL)."""

    def __init__(self, name: str, cmd: list[str], port: int, log: Path | None = None) -> None:
        self.name, self.cmd, self.port = name, cmd, port
        self.url = f"http://{LOOPBACK}:{port}"
        self.log_path = log
        # a file, not a pipe: nobody reads it while the benchmark runs, and a full pipe would stall the server
        self._log = open(log, "wb") if log is not None else subprocess.DEVNULL
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=self._log, stdin=subprocess.DEVNULL)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} before answering "
                                   f"(log: {self.log_path})")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer /healthz within {timeout:.0f} s (log: {self.log_path})")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._log is not subprocess.DEVNULL:
            self._log.close()  # type: ignore[union-attr]


def children_map() -> dict[int, list[int]]:
    """Parent pid -> child pids, for every process on the host (host pids: the
    sandbox's PID namespaces do not hide their processes from the host's /proc)."""
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                rest = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        kids.setdefault(int(rest[1]), []).append(int(entry))
    return kids


def descendants(root: int) -> list[int]:
    kids = children_map()
    out, todo = [], list(kids.get(root, []))
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, []))
    return out


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""
