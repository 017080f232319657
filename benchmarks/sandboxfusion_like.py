"""A stand-in for SandboxFusion's server, for serve_vs_sandboxfusion.py: its
per-request-process design, reproduced (not copied) in one small file.

    python benchmarks/sandboxfusion_like.py --port 8081 [--python /path/to/python3]

Why a stand-in: PyPI's ``sandbox-fusion`` (0.3.7) is only the client SDK
(client.py, async_client.py, models.py); the server lives in the
bytedance/SandboxFusion repository and its Docker image, neither of which can
be fetched on this machine.

What is reproduced, from reading the server's sources (sandbox/server/
sandbox_api.py, sandbox/runners/major.py and base.py, sandbox/utils/
execution.py, sandbox/configs/local.yaml, the Makefile):

* one uvicorn process serving a FastAPI app (the Makefile's ``run-online``:
  ``uvicorn sandbox.server.server:app``, no ``--workers``), ``POST /run_code``
  with the same request fields (``compile_timeout``, ``run_timeout``, ``code``,
  ``stdin``, ``language``, ``files``, ``fetch_files``; anything else, such as
  the ``memory_limit_MB`` that verl sends, is ignored as there) and the same
  answer (``status`` Success / Failed / SandboxError, ``message``,
  ``compile_result``, ``run_result`` with ``status``, ``execution_time``,
  ``return_code``, ``stdout``, ``stderr``, plus ``executor_pod_name`` and
  ``files``);
* per request: a fresh temporary directory under /tmp, the code written to a
  ``.py`` file in it, and ``python FILE`` started through
  ``asyncio.create_subprocess_shell`` (so ``/bin/bash -c``) with the directory
  as working directory; stdin written and closed; ``asyncio.wait_for`` on the
  process's exit with ``run_timeout``; on time-out ``TimeLimitExceeded``; in
  every case the process tree killed afterwards if still there; stdout and
  stderr read only after the exit, up to 1 MiB each, without waiting;
* the status rule: a run that ended in Error gives SandboxError, a time-out or
  a non-zero exit gives Failed, anything else Success;
* the default configuration's isolation: ``isolation: none`` (no namespaces,
  no chroot, no cgroup, no memory limit, the server's own user and network),
  with ``cleanup_process`` and ``restore_bash`` off, and no bound on concurrent
  runs on this path.

Not reproduced: the other languages, ``files``/``fetch_files`` (refused with
SandboxError here, as codeloop does), the "lite" isolation mode
(overlayfs + cgroups + netns + chroot, which needs an image), the dataset
endpoints, and the conda runtime environment: the programs run under
``--python`` (default: the interpreter this runs on, the project's
virtualenv: the same CPython that codeloop's sandbox runs, started directly
rather than through a pyenv shim; the base interpreter's site-packages here
hold a .pth file that imports certifi at every start, 30 ms that a conda
runtime environment would not have).

One consequence of the design is kept on purpose: the output is read only
after the process exits, so a program that prints more than asyncio's pipe
buffer (about 128 KiB) blocks until ``run_timeout`` and comes back as
TimeLimitExceeded, as it would on SandboxFusion with isolation ``none``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

PYTHON = sys.executable
OUTPUT_CAP = 1 << 20


class RunCodeRequest(BaseModel):
    compile_timeout: float = 10
    run_timeout: float = 10
    code: str
    stdin: str | None = None
    language: str
    files: dict[str, str | None] = Field(default_factory=dict)
    fetch_files: list[str] = Field(default_factory=list)


async def _drain_now(stream: asyncio.StreamReader | None) -> str:
    """What the pipe already holds, without waiting for more (as SandboxFusion reads it)."""
    if stream is None:
        return ""
    try:
        data = await asyncio.wait_for(stream.read(OUTPUT_CAP), timeout=0.0001)
    except asyncio.TimeoutError:
        data = b""
    try:
        return data.decode()
    except UnicodeDecodeError as exc:
        return f"[DecodeError] {exc}"


def _kill_tree(pid: int) -> None:
    try:
        import psutil
    except ImportError:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
        return
    try:
        parent = psutil.Process(pid)
        for child in parent.children(recursive=True):
            child.kill()
        parent.kill()
    except psutil.Error:
        pass


async def run_program(python: str, code: str, stdin: str | None, timeout: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(dir="/tmp", ignore_cleanup_errors=True) as tmp:
        with tempfile.NamedTemporaryFile(mode="w", dir=tmp, suffix=".py", delete=False) as fh:
            fh.write(code)
        try:
            proc = await asyncio.create_subprocess_shell(
                f"{python} {fh.name}", stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                cwd=tmp, executable="/bin/bash")
            assert proc.stdin is not None
            if stdin is not None:
                proc.stdin.write(stdin.encode())
            proc.stdin.close()
            start = time.time()
            try:
                await asyncio.wait_for(proc.wait(), timeout=timeout)
                elapsed = time.time() - start
            except asyncio.TimeoutError:
                return {"status": "TimeLimitExceeded", "execution_time": time.time() - start, "return_code": None,
                        "stdout": await _drain_now(proc.stdout), "stderr": await _drain_now(proc.stderr)}
            finally:
                if _exists(proc.pid):
                    _kill_tree(proc.pid)
            return {"status": "Finished", "execution_time": elapsed, "return_code": proc.returncode,
                    "stdout": await _drain_now(proc.stdout), "stderr": await _drain_now(proc.stderr)}
        except Exception as exc:  # noqa: BLE001 - the server's own failure is the answer's SandboxError
            return {"status": "Error", "execution_time": None, "return_code": None, "stdout": None,
                    "stderr": f"exception on running command: {exc}"}


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def create_app(python: str = PYTHON) -> FastAPI:
    app = FastAPI(title="sandboxfusion-like")

    @app.post("/run_code")
    async def run_code(body: RunCodeRequest) -> dict[str, Any]:
        answer: dict[str, Any] = {"status": "Success", "message": "", "compile_result": None, "run_result": None,
                                  "executor_pod_name": None, "files": {}}
        if body.language.lower() not in ("python", "python3"):
            return {**answer, "status": "SandboxError", "message": f"language {body.language!r} is not reproduced"}
        if body.files or body.fetch_files:
            return {**answer, "status": "SandboxError", "message": "files are not reproduced"}
        run = await run_program(python, body.code, body.stdin, body.run_timeout)
        answer["run_result"] = run
        if run["status"] == "Error":
            answer["status"], answer["message"] = "SandboxError", run["stderr"] or ""
        elif run["status"] == "TimeLimitExceeded" or run["return_code"] != 0:
            answer["status"] = "Failed"
        return answer

    @app.get("/healthz")
    async def healthz() -> dict[str, bool]:
        return {"ok": True}

    return app


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8081)
    ap.add_argument("--python", default=PYTHON, help="the interpreter that runs each program")
    args = ap.parse_args()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("this stand-in isolates nothing: loopback only")
    import uvicorn

    from codeloop.service.http import listening_url  # only a URL's spelling: nothing of codeloop's server

    config = uvicorn.Config(create_app(args.python), host=args.host, port=args.port, log_level="warning")
    sock = config.bind_socket()
    # port 0 is the system's pick: say which (servers.py reads this line; it then waits for /healthz)
    print(f"sandboxfusion-like: listening on {listening_url(sock)}", file=sys.stderr, flush=True)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
