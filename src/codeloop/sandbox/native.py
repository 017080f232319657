"""The candidate's side for a program that is not Python: compile once, run per test.

Runs in the candidate's sandboxed process, like :mod:`codeloop.sandbox.candidate`,
and answers the same requests: it writes the program's source into a folder
of the sandbox's own scratch space, compiles it there (the compiler is a
child of this process, under the sample's limits: a hostile source is the
compiler's input, not the host's), and then runs the result, or the
language's interpreter on the source, in a fresh child for each stdin
request. Replies on the response channel:

    {"ready": true} | {"compile_error": {"message", "line", "formatted"}}
    {"ok": <encoded run reply, as for a Python program>} | {"exc": {...}}
"""

from __future__ import annotations

import base64
import os
import re
import shutil
from typing import Any, Mapping

from . import wire
from .candidate import _seconds, answer_until_closed, supervised_run
from .languages import Language, language

FOLDER = "program"            # under the candidate's working folder (the sandbox's scratch space)
CAP_DIAGNOSTICS = 64 << 10    # what the compiler may print before it is stopped
CAP_REPORTED = 4000           # what of it the verdict keeps


def compile_program(lang: Language, program: str, folder: str, seconds: float | None = None,
                    include: str | None = None) -> dict[str, Any]:
    """Write ``program`` into ``folder`` and compile it (nothing to do for an
    interpreted language), with ``include`` (a folder of precompiled headers)
    searched first. Returns ``{"ready": True}`` or ``{"compile_error": ...}``
    with the compiler's first errors, cut to the program's own file."""
    write_files(folder, {lang.source: program})
    if lang.compile is None:
        return {"ready": True}
    limit = seconds if seconds is not None else lang.compile_seconds
    argv = lang.argv(lang.compile, folder)
    if include is not None:
        argv[1:1] = ["-I", include]
    result = run_command(argv, "", CAP_DIAGNOSTICS, limit, 2 * limit + 1)
    if result.get("exit") == 0 and not result.get("timeout"):
        return {"ready": True}
    text = result.get("stderr", "") + result.get("stdout", "")
    if result.get("timeout"):
        message = f"the compiler ran past its time limit ({limit:g} s)"
    elif result.get("exit") == 127 and not text:
        message = f"the {lang.name} compiler ({argv[0]}) could not be started in the sandbox"
    else:
        message = first_errors(text, lang.source)
    return {"compile_error": {"message": message[:CAP_REPORTED], "line": _first_line(text, lang.source),
                              "formatted": text[-CAP_REPORTED:]}}


def run_command(argv: list[str], stdin_text: str, out_cap: int, cpu_limit: float | None,
                wall_limit: float | None) -> dict[str, Any]:
    """Run ``argv`` (its program found on PATH) as :func:`~codeloop.sandbox.candidate.supervised_run` runs a child."""
    def body() -> None:
        os.execv(shutil.which(argv[0]) or argv[0], argv)
    return supervised_run(body, stdin_text, out_cap, cpu_limit, wall_limit)


def write_files(folder: str, files: Mapping[str, str]) -> None:
    """Write each file (name to text) into ``folder``, made if missing."""
    os.makedirs(folder, exist_ok=True)
    for name, text in files.items():
        with open(os.path.join(folder, name), "w", encoding="utf-8", errors="surrogatepass") as fh:
            fh.write(text)


def first_errors(diagnostics: str, source: str, lines: int = 12) -> str:
    """The compiler's report from its first error on, about the program's own file, a few lines of it."""
    name = re.escape(source)
    kept = [ln for ln in diagnostics.splitlines() if re.search(rf"(^|/){name}:\d+", ln) or ln.startswith((" ", "\t"))]
    start = next((i for i, ln in enumerate(kept) if re.search(r"\b(error|fatal error)\b", ln)), 0)
    text = "\n".join(_strip_folder(ln) for ln in kept[start:start + lines])
    return text or diagnostics.strip()[:CAP_REPORTED]


def _strip_folder(line: str) -> str:
    return re.sub(r"^\S*/(" + FOLDER + r")/", "", line)


def _first_line(diagnostics: str, source: str) -> int | None:
    match = re.search(rf"(?:^|/){re.escape(source)}:(\d+)(?::\d+)?: (?:fatal )?error", diagnostics, re.M)
    return int(match.group(1)) if match else None


def _install(lang: Language, program: str, folder: str, binary: str) -> dict[str, Any]:
    """Put a program compiled earlier in place of compiling it again."""
    write_files(folder, {lang.source: program})
    exe = os.path.join(folder, "program")
    with open(exe, "wb") as fh:
        fh.write(base64.b64decode(binary))
    os.chmod(exe, 0o700)
    return {"ready": True, "cached": True}


def answer(request: Any, lang: Language, folder: str) -> dict[str, Any]:
    """The reply to one request: a run of the program on stdin (calls into it are Python's only)."""
    if type(request) is not dict or "stdin" not in request:
        return {"exc": {"type": "TypeError", "name": "TypeError", "line": None, "traceback": "",
                        "message": f"a {lang.name} program is run on stdin; it has no functions to call"}}
    argv = lang.argv(lang.run, folder)
    result = run_command(argv, str(request["stdin"]), request.get("cap", 1 << 20),
                         _seconds(request.get("cpu_limit")), _seconds(request.get("wall_limit")))
    return {"ok": wire.encode_value(result)}


MAX_SENT_BINARY = 8 << 20  # a compiled program larger than this is not sent back to be kept


def serve(program: str, language_name: str, req_fd: int, resp_fd: int, compile_seconds: float | None = None,
          binary: str | None = None, include: str | None = None) -> None:
    """Compile ``program`` (or take ``binary``, base64 of the program compiled
    from the same source earlier) and answer the judge's requests until the
    channel closes. Never returns.

    A program compiled here is sent back with the ready message, base64, so
    the orchestrator can keep it: nothing of the program has run in this
    process yet (the compiler ran in a child), so the bytes are the compiler's.
    """
    lang = language(language_name)
    folder = os.path.abspath(FOLDER)
    if binary is not None and lang.compiled:
        reply = _install(lang, program, folder, binary)
    else:
        reply = compile_program(lang, program, folder, compile_seconds, include)
        exe = os.path.join(folder, "program")
        if "ready" in reply and lang.compiled and os.path.getsize(exe) <= MAX_SENT_BINARY:
            with open(exe, "rb") as fh:
                reply["binary"] = base64.b64encode(fh.read()).decode()
    answer_until_closed(reply, req_fd, resp_fd, lambda request: answer(request, lang, folder))
