"""The candidate's side of a sample: load the program, then answer calls.

Runs inside the candidate's own sandboxed process, which holds no test code
and no expected value. Everything here is reachable by the program under test,
so nothing here is trusted: the judge decodes replies with its own strict
decoder and treats a missing or malformed reply as the candidate's failure.

Replies on the response channel, one frame each:
    {"ready": true} | {"syntax_error": {...}} | {"load_error": {...}}
    {"ok": <encoded value>} | {"exc": {"type", "message", "traceback"}}
"""

from __future__ import annotations

import builtins
import linecache
import os
import sys
import traceback
from typing import Any

from . import wire

CAP_MESSAGE = 2000
CAP_TRACEBACK = 4000


def describe_exception(exc: BaseException, filename: str) -> dict[str, Any]:
    """Type, message and the traceback trimmed to frames of ``filename``."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    lines = []
    for f in frames:
        lines.append(f'  File "{f.filename}", line {f.lineno}, in {f.name}')
        if f.line:
            lines.append(f"    {f.line.strip()}")
    try:
        message = str(exc)
    except Exception:  # a hostile __str__ must not break the reply
        message = "<unprintable message>"
    text = "\n".join(lines)
    return {
        "type": type(exc).__name__ if type(exc).__module__ == "builtins" else "Exception",
        "name": type(exc).__name__,
        "message": message[:CAP_MESSAGE],
        "traceback": text[-CAP_TRACEBACK:],
        "line": frames[-1].lineno if frames else None,
    }


def _reply(fd: int, message: dict) -> None:
    try:
        wire.write_frame(fd, message)
    except wire.PeerClosed:
        os._exit(0)


def _run_stdio(code: Any, stdin_text: str, out_cap: int) -> dict[str, Any]:
    """Run the program as __main__ in a child with real stdin/stdout pipes."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.dup2(in_r, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        for fd in (in_r, in_w, out_r, out_w, err_r, err_w):
            os.close(fd)
        sys.stdin = open(0, "r", closefd=False)
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", closefd=False)
        status = 0
        try:
            exec(code, {"__name__": "__main__", "__builtins__": builtins})
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:  # noqa: BLE001 - the program's own failure, shown on its stderr
            traceback.print_exc()
            status = 1
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(status)
    for fd in (in_r, out_w, err_w):
        os.close(fd)
    data = stdin_text.encode()
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(out_r, selectors.EVENT_READ, "out")
    sel.register(err_r, selectors.EVENT_READ, "err")
    if data:
        os.set_blocking(in_w, False)
        sel.register(in_w, selectors.EVENT_WRITE, "in")
    else:
        os.close(in_w)
    bufs = {"out": bytearray(), "err": bytearray()}
    cut = False
    open_fds = 2
    while open_fds:
        for key, _ in sel.select():
            if key.data == "in":
                try:
                    data = data[os.write(in_w, data[:65536]):]
                except BrokenPipeError:
                    data = b""
                if not data:
                    sel.unregister(in_w)
                    os.close(in_w)
                continue
            chunk = os.read(key.fd, 65536)
            if not chunk:
                sel.unregister(key.fd)
                os.close(key.fd)
                open_fds -= 1
                continue
            buf = bufs[key.data]
            buf += chunk
            if len(bufs["out"]) > out_cap:
                cut = True
                os.kill(pid, 9)
    _, status = os.waitpid(pid, 0)
    return {
        "stdout": bufs["out"][:out_cap].decode(errors="replace"),
        "stderr": bytes(bufs["err"][-CAP_TRACEBACK:]).decode(errors="replace"),
        "exit": os.waitstatus_to_exitcode(status),
        "cut": cut,
    }


def serve(program: str, filename: str, req_fd: int, resp_fd: int, as_main: bool) -> None:
    """Load ``program`` and answer the judge's requests until the channel closes.

    Never returns: the process exits when the judge is done.
    """
    linecache.cache[filename] = (len(program), None, program.splitlines(True), filename)
    try:
        code = compile(program, filename, "exec")
    except (SyntaxError, ValueError) as exc:
        info = {"message": str(exc)[:CAP_MESSAGE], "line": getattr(exc, "lineno", None),
                "offset": getattr(exc, "offset", None), "text": (getattr(exc, "text", None) or "")[:200]}
        _reply(resp_fd, {"syntax_error": info})
        os._exit(0)
    namespace: dict[str, Any] = {"__name__": "solution", "__builtins__": builtins}
    if not as_main:
        try:
            exec(code, namespace)
        except BaseException as exc:  # noqa: BLE001 - reported to the judge as the program's failure
            _reply(resp_fd, {"load_error": describe_exception(exc, filename)})
            os._exit(0)
    _reply(resp_fd, {"ready": True})
    while True:
        try:
            request = wire.read_frame(req_fd)
        except wire.WireError:
            os._exit(0)
        if "stdin" in request:
            _reply(resp_fd, {"ok": wire.encode_value(_run_stdio(code, request["stdin"], request.get("cap", 1 << 20)))})
            continue
        func = namespace.get(request.get("call"))
        if not callable(func):
            _reply(resp_fd, {"exc": {"type": "NameError", "name": "NameError",
                                     "message": f"the program does not define a function {request.get('call')!r}",
                                     "traceback": "", "line": None}})
            continue
        try:
            args = wire.decode_value(request.get("args", []))
            kwargs = wire.decode_value(request.get("kwargs", {"$": "dict", "v": []}))
            result = func(*args, **kwargs)
            reply = {"ok": wire.encode_value(result)}
        except wire.NotPlainData as exc:
            reply = {"exc": {"type": "TypeError", "name": "TypeError", "message": f"the return value: {exc}",
                             "traceback": "", "line": None}}
        except BaseException as exc:  # noqa: BLE001 - every failure of the program is a reply
            reply = {"exc": describe_exception(exc, filename)}
        _reply(resp_fd, reply)
