"""The inside of an interactive session: a process that keeps state across steps.

A session's *kernel* is a sandboxed candidate (cloned like a sample's, with
its own PID and mount namespace, limits, no capabilities) that reads one
request at a time on descriptor 3 and answers each on descriptor 4; what the
step prints goes to its descriptors 1 and 2, which the session host reads.
Kinds, each one registered in :data:`KERNELS`:

* ``python``: one interpreter whose globals live across steps, as a
  notebook's do: a step is a cell; the value of its last expression is shown;
  an exception's traceback keeps the cell's own lines only.
* ``bash``: one ``bash`` process whose variables, functions and working
  folder live across steps; a step is a script sourced by it, with stdin from
  ``/dev/null``.
* ``sql``: one SQLite database, made fresh per episode from the task's
  schema and rows; a step is SQL, its observation the rows of the last
  statement.

Requests: ``{"code": str}`` runs a step; ``{"snapshot": true}`` lists the
working folder's files and their SHA-256 (Bash's reward); ``{"query": str}``
runs SQL and returns all its rows (SQL's reward); ``{"serve": true}`` ends a
Python episode: the kernel then answers the judge's calls into its final
state exactly as a sample's candidate does (the tests stay in the judge).
Replies: ``{"done": {...}}``.
The untrusted code runs in this process (Python, SQL) or its child (Bash), so
a reply can be forged by it: the host treats what a kernel says as the
program's own observation, never as a reward's ground truth beyond its own
state (see :mod:`codeloop.sandbox.sessions`).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import subprocess
import sys
import traceback
from typing import Any, Callable, Iterator

from . import wire

MAX_VALUE = 4000      # characters of a shown value
MAX_ROWS = 1000       # rows an SQL step returns
MAX_SNAPSHOT = 2000   # files a snapshot lists
WORKDIR = "/sandbox"


class _Interrupted(Exception):
    pass


def _reply(fd: int, message: dict[str, Any]) -> None:
    wire.write_frame(fd, {"done": message})


def _requests(req_fd: int) -> Iterator[Any]:
    """Each request on ``req_fd``, until the host closes the channel."""
    reader = wire.FrameReader(req_fd)
    while True:
        try:
            yield reader.read()
        except (wire.WireError, OSError):
            return


# -- python -------------------------------------------------------------------------------------------------------


def _python(req_fd: int, resp_fd: int, setup: dict[str, Any]) -> None:
    import ast
    import builtins
    import linecache

    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    cell = 0
    for request in _requests(req_fd):
        if isinstance(request, dict) and request.get("serve"):
            # The episode is over: the judge's tests call into the final state, as into a sample's program.
            from .candidate import answer, answer_until_closed

            answer_until_closed({"ready": True}, req_fd, resp_fd,
                                lambda call: answer(call, None, namespace, "<session>"))
        if not isinstance(request, dict) or "code" not in request:
            _reply(resp_fd, _other_request(request))
            continue
        cell += 1
        name = f"<cell {cell}>"
        source = str(request["code"])
        linecache.cache[name] = (len(source), None, source.splitlines(True), name)
        try:
            tree = ast.parse(source, name, "exec")
            last = None
            if tree.body and isinstance(tree.body[-1], ast.Expr):
                last = ast.Expression(tree.body[-1].value)
                tree.body.pop()
            exec(compile(tree, name, "exec", dont_inherit=True), namespace)
            value = eval(compile(last, name, "eval", dont_inherit=True), namespace) if last is not None else None
            _flush()
            shown = None if value is None else _shown(value)
            _reply(resp_fd, {"value": shown})
        except KeyboardInterrupt:
            _flush()
            _reply(resp_fd, {"interrupted": True})
        except BaseException as exc:  # noqa: BLE001 - the cell's own failure, shown as a notebook shows it
            _flush()
            _reply(resp_fd, {"error": _error_of(exc, name)})


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a cell closed or broke its own stream
            pass


def _shown(value: Any) -> str:
    try:
        text = repr(value)
    except Exception as exc:  # noqa: BLE001 - a value whose repr fails is shown as that failure
        text = f"<repr failed: {type(exc).__name__}>"
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE] + "..."


def _error_of(exc: BaseException, cell: str) -> dict[str, Any]:
    """The exception with only the frames of the session's own cells (not this kernel's)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<cell ")]
    lines = traceback.format_list(frames) + traceback.format_exception_only(type(exc), exc)
    text = "Traceback (most recent call last):\n" + "".join(lines) if frames else "".join(lines)
    return {"name": type(exc).__name__, "message": str(exc)[:MAX_VALUE], "traceback": text[-MAX_VALUE:]}


# -- bash ---------------------------------------------------------------------------------------------------------


def _bash(req_fd: int, resp_fd: int, setup: dict[str, Any]) -> None:
    status_r, status_w = os.pipe()
    shell = subprocess.Popen(["bash", "--noprofile", "--norc"], stdin=subprocess.PIPE, pass_fds=(status_w,),
                             cwd=WORKDIR, start_new_session=False)
    os.close(status_w)
    assert shell.stdin is not None
    status = os.fdopen(status_r, "rb", buffering=0)
    step = 0
    for request in _requests(req_fd):
        if not isinstance(request, dict) or "code" not in request:
            _reply(resp_fd, _other_request(request))
            continue
        step += 1
        script = os.path.join("/tmp", f".codeloop-step-{step}.sh")
        with open(script, "w", encoding="utf-8", errors="surrogatepass") as fh:
            fh.write(str(request["code"]) + "\n")
        # The end of a step is told on a descriptor of its own, with a nonce the step cannot know in advance.
        nonce = secrets.token_hex(8)
        line = f". {script} < /dev/null; printf '%s %d\\n' {nonce} $? >&{status_w}; rm -f {script}\n"
        try:
            shell.stdin.write(line.encode())
            shell.stdin.flush()
        except OSError:
            _reply(resp_fd, {"exit": None, "ended": "the shell exited"})
            return
        said = _read_line(status, nonce)
        if said is None:
            _reply(resp_fd, {"exit": None, "ended": "the shell exited"})
            return
        _reply(resp_fd, {"exit": said})


def _read_line(status: Any, nonce: str) -> int | None:
    buf = b""
    while True:
        chunk = status.read(1)
        if not chunk:
            return None
        if chunk != b"\n":
            buf += chunk
            continue
        parts = buf.decode(errors="replace").split()
        buf = b""
        if len(parts) == 2 and parts[0] == nonce and parts[1].lstrip("-").isdigit():
            return int(parts[1])


# -- sql ----------------------------------------------------------------------------------------------------------


def _sql(req_fd: int, resp_fd: int, setup: dict[str, Any]) -> None:
    import sqlite3

    db = sqlite3.connect(os.path.join(WORKDIR, "task.db"), isolation_level=None)
    if hasattr(db, "enable_load_extension"):  # builds without it cannot load extensions at all
        db.enable_load_extension(False)
    if setup.get("schema"):
        db.executescript(str(setup["schema"]))
    for request in _requests(req_fd):
        if not isinstance(request, dict) or ("code" not in request and "query" not in request):
            _reply(resp_fd, _other_request(request))
            continue
        text = str(request.get("code", request.get("query")))
        try:
            cursor = db.execute(text) if "query" in request else _execute_all(db, text)
            columns = [d[0] for d in cursor.description] if cursor is not None and cursor.description else []
            rows = cursor.fetchmany(MAX_ROWS + 1) if cursor is not None and columns else []
            _reply(resp_fd, {"columns": columns, "rows": [list(map(_cell, r)) for r in rows[:MAX_ROWS]],
                             "more": len(rows) > MAX_ROWS})
        except sqlite3.Error as exc:
            _reply(resp_fd, {"error": {"name": type(exc).__name__, "message": str(exc)[:MAX_VALUE]}})


def _execute_all(db: Any, text: str) -> Any:
    """Run each statement of ``text``; the cursor of the last (its rows are the observation)."""
    import sqlite3

    cursor, rest = None, text.strip()
    while rest:
        end = 1
        while end <= len(rest) and not sqlite3.complete_statement(rest[:end]):
            end += 1
        statement, rest = rest[:end], rest[end:].strip()
        cursor = db.execute(statement)
    return cursor


def _cell(value: Any) -> Any:
    return value if isinstance(value, (int, float, str)) or value is None else repr(value)


# -- shared -------------------------------------------------------------------------------------------------------


def _other_request(request: Any) -> dict[str, Any]:
    if isinstance(request, dict) and request.get("snapshot"):
        return {"files": snapshot(WORKDIR)}
    return {"error": {"name": "ValueError", "message": "unknown request"}}


def snapshot(root: str) -> dict[str, str]:
    """Each file under ``root`` (relative path) and the SHA-256 of its bytes; at most MAX_SNAPSHOT files."""
    found: dict[str, str] = {}
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(folder, name)
            if len(found) >= MAX_SNAPSHOT or os.path.islink(path) or not os.path.isfile(path):
                continue
            digest = hashlib.sha256()
            try:
                with open(path, "rb") as fh:
                    for block in iter(lambda: fh.read(1 << 16), b""):
                        digest.update(block)
            except OSError:
                continue
            found[os.path.relpath(path, root)] = digest.hexdigest()
    return found


KERNELS: dict[str, Callable[[int, int, dict[str, Any]], None]] = {"python": _python, "bash": _bash, "sql": _sql}


def serve(kind: str, req_fd: int, resp_fd: int, setup: dict[str, Any]) -> None:
    """Run a kernel of ``kind`` until its request channel closes. Never returns."""
    import signal

    try:
        os.chdir(WORKDIR)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a step over its limit is interrupted
        _reply(resp_fd, {"ready": True})
        KERNELS[kind](req_fd, resp_fd, setup)
    finally:
        os._exit(0)
