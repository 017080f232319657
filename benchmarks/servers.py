"""Starting and stopping the servers the service benchmarks talk to, on loopback only.

Used by serve_vs_sandboxfusion.py and soak.py; not a benchmark itself. The
``codeloop serve`` command line lives in :func:`codeloop_serve_command` alone,
so a change of the server's flags is made in one place (check
``codeloop serve --help``).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
LOOPBACK = "127.0.0.1"


# what a server started on port 0 prints once bound: codeloop serve's own line, or uvicorn's at log level info
ANNOUNCED = re.compile(rb"(?:listening|Uvicorn running) on (http://\S+)")


def free_port() -> int:
    """A port free a moment ago, for a test that needs one nobody listens on. Never start a server on it:
    anything on the host may take it before the server binds it (port 0 and :class:`Server` instead)."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def codeloop_serve_command(workers: int | None = None, extra: str = "") -> list[str]:
    """The one place that knows ``codeloop serve``'s flags. On loopback no token is needed; the port is
    the system's pick (0), announced on stderr; every other setting is the server's default unless
    ``workers`` or ``extra`` (more flags, split on spaces) say otherwise."""
    exe = str(Path(sys.executable).with_name("codeloop"))
    cmd = [exe, "serve", "--host", LOOPBACK, "--port", "0"]
    return cmd + (["--workers", str(workers)] if workers is not None else []) + extra.split()


def sandboxfusion_like_command(python: str) -> list[str]:
    """The stand-in for SandboxFusion's server (see sandboxfusion_like.py), on a port of the system's pick."""
    return [sys.executable, str(HERE / "sandboxfusion_like.py"), "--port", "0", "--python", python]


class Server:
    """A server process on loopback: started, waited for, stopped (SIGINT, then SIGKILL).

    ``cmd`` starts it on port 0 and it prints the URL it bound (:data:`ANNOUNCED`); :meth:`wait_ready`
    reads that from its log, then waits for ``/healthz``. A port chosen here and handed over would race
    with every other socket on the host (a CI run lost a whole test module to that once).
    """

    def __init__(self, name: str, cmd: list[str], log: Path | None = None, env: dict[str, str] | None = None,
                 ready_path: str = "/healthz") -> None:
        self.name, self.cmd, self.ready_path = name, cmd, ready_path
        self.url = ""
        # a file, not a pipe: nobody reads it while the benchmark runs, and a full pipe would stall the server
        self._own_log = log is None  # a log made here is removed at stop()
        if log is None:
            handle, name_ = tempfile.mkstemp(prefix="server-", suffix=".log")
            os.close(handle)
            log = Path(name_)
        self.log_path = log
        self._log = open(log, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=self._log, stdin=subprocess.DEVNULL, env=env)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def port(self) -> int:
        """The port announced (after :meth:`wait_ready`)."""
        return int(self.url.rsplit(":", 1)[1])

    def log_tail(self, chars: int = 2000) -> str:
        return self.log_path.read_bytes()[-chars:].decode(errors="replace")

    def wait_ready(self, timeout: float = 120.0) -> str:
        """Wait until the server answers ``ready_path`` with 200; its URL (also :attr:`url`). RuntimeError, with the
        log's tail, if it exits first or is not ready within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} before answering "
                                   f"(log {self.log_path}):\n{self.log_tail()}")
            if not self.url:
                found = ANNOUNCED.search(self.log_path.read_bytes())
                self.url = found.group(1).decode() if found else ""
            try:
                if self.url and httpx.get(self.url + self.ready_path, timeout=2).status_code == 200:
                    return self.url
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer {self.ready_path} within {timeout:.0f} s "
                           f"(log {self.log_path}):\n{self.log_tail()}")

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
        self._log.close()
        if self._own_log:
            self.log_path.unlink(missing_ok=True)


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
