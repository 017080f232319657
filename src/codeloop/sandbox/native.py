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
import resource
import shutil
import time
from typing import Any, Mapping, NamedTuple

from . import wire
from .candidate import _seconds, answer_until_closed, supervised_run
from .languages import Language, language

FOLDER = "program"            # under the candidate's working folder (the sandbox's scratch space)
CAP_DIAGNOSTICS = 64 << 10    # what the compiler may print before it is stopped
CAP_REPORTED = 4000           # what of it the verdict keeps
COMPILER_TIMED_OUT = "the compiler ran past its time limit"  # how a compile error says so (read by the service)


def compile_program(lang: Language, program: str, folder: str, seconds: float | None = None,
                    include: str | None = None, memory_mb: int | None = None) -> dict[str, Any]:
    """Write ``program`` into ``folder`` and compile it, or check its syntax
    (``lang.check``; nothing to do for an interpreted language without one),
    with ``include`` (a folder of precompiled headers) searched first.
    Returns ``{"ready": True}`` or ``{"compile_error": ...}`` with the
    compiler's first errors, cut to the program's own file.

    ``seconds`` (default: the language's) bounds the compiler and the steps
    after it together, as CPU time, with twice that plus a second of wall time."""
    values = lang.values(folder, program, memory_mb)
    write_files(folder, {values["source"]: program})
    first = lang.compile or lang.check
    if first is None:
        return {"ready": True}
    limit = seconds if seconds is not None else lang.compile_seconds
    env = lang.environment(folder, memory_mb)
    argv = lang.argv(first, folder, program, memory_mb)
    if include is not None and lang.compile is not None:
        argv[1:1] = ["-I", include]
    started = time.monotonic()
    for step in (argv, *(lang.argv(more, folder, program, memory_mb) for more in lang.steps)):
        left = max(limit - (time.monotonic() - started), 0.01)
        result = run_command(step, "", CAP_DIAGNOSTICS, left, 2 * left + 1, env)
        if result.get("exit") != 0 or result.get("timeout"):
            return {"compile_error": _compile_error(lang, step, result, limit, values["source"])}
    return {"ready": True}


def _compile_error(lang: Language, argv: list[str], result: dict[str, Any], limit: float,
                   source: str) -> dict[str, Any]:
    text = result.get("stderr", "") + result.get("stdout", "")
    if result.get("timeout"):
        message = f"{COMPILER_TIMED_OUT} ({limit:g} s)"
    elif result.get("exit") == 127 and not text:
        message = f"the {lang.name} compiler ({argv[0]}) could not be started in the sandbox"
    else:
        message = first_errors(text, source)
    return {"message": message[:CAP_REPORTED], "line": _first_line(text, source), "formatted": text[-CAP_REPORTED:]}


def run_command(argv: list[str], stdin_text: str, out_cap: int, cpu_limit: float | None,
                wall_limit: float | None, env: Mapping[str, str] | None = None,
                address_space_mb: int | None = None) -> dict[str, Any]:
    """Run ``argv`` (its program found on PATH) as :func:`~codeloop.sandbox.candidate.supervised_run`
    runs a child, with ``env`` added to this process's variables (an empty value removes one) and
    its address space lowered to ``address_space_mb``."""
    def body() -> None:
        if address_space_mb is not None:
            space = address_space_mb << 20
            resource.setrlimit(resource.RLIMIT_AS, (space, space))
        for key, value in (env or {}).items():
            if value:
                os.environ[key] = value
            else:
                os.environ.pop(key, None)
        os.execv(shutil.which(argv[0]) or argv[0], argv)
    return supervised_run(body, stdin_text, out_cap, cpu_limit, wall_limit)


def place_files(files: Mapping[str, str]) -> None:
    """Write a task's files (name to base64 of the bytes; names relative, checked by
    :func:`codeloop.types.check_files` before they came here) into the working folder."""
    for name, content in files.items():
        if name.startswith("/") or ".." in name.split("/"):
            raise ValueError(f"file name {name!r} is not inside the working folder")
        folder = os.path.dirname(name)
        if folder:
            os.makedirs(folder, exist_ok=True)
        with open(name, "wb") as fh:
            fh.write(base64.b64decode(content))


def write_files(folder: str, files: Mapping[str, str]) -> None:
    """Write each file (name to text) into ``folder``, made if missing."""
    os.makedirs(folder, exist_ok=True)
    for name, text in files.items():
        with open(os.path.join(folder, name), "w", encoding="utf-8", errors="surrogatepass") as fh:
            fh.write(text)


def first_errors(diagnostics: str, source: str, lines: int = 12) -> str:
    """The compiler's report from its first error on, about the program's own file, a few lines of it."""
    name = re.escape(source)
    kept: list[str] = []
    ours = False  # an indented line (the source excerpt under a message) goes with the message above it
    for ln in diagnostics.splitlines():
        if not ln.startswith((" ", "\t")):
            ours = re.search(rf"(^|/){name}:\d+", ln) is not None and not ln.startswith("In file included from")
        if ours:
            kept.append(ln)
    start = next((i for i, ln in enumerate(kept) if re.search(r"\b(error|fatal error)\b", ln)), None)
    if start is None and not any(re.search(rf"{name}:\d+:\d+:", ln) for ln in kept):
        # not a compiler's "file:line[:column]: error" report (Node.js's and Bash's syntax checks): all of it
        kept = diagnostics.strip().splitlines()
    start = start or 0
    return "\n".join(_strip_folder(ln) for ln in kept[start:start + lines])[:CAP_REPORTED]


def _strip_folder(line: str) -> str:
    return re.sub(r"(^|\s)(?:\S*/)?" + FOLDER + r"/", r"\1", line)


def _first_line(diagnostics: str, source: str) -> int | None:
    """The line of the first error in the program's own file (Go's compiler does not say "error": its first line)."""
    where = rf"(?:^|/){re.escape(source)}:(?: line)? ?(\d+)(?::\d+)?(?::|$)"
    match = re.search(where + r" (?:fatal )?error", diagnostics, re.M) or re.search(where, diagnostics, re.M)
    return int(match.group(1)) if match else None


def _install(lang: Language, program: str, folder: str, binary: str) -> dict[str, Any]:
    """Put a program compiled earlier in place of compiling it again."""
    write_files(folder, {lang.values(folder, program)["source"]: program})
    exe = os.path.join(folder, "program")
    with open(exe, "wb") as fh:
        fh.write(base64.b64decode(binary))
    os.chmod(exe, 0o700)
    return {"ready": True, "cached": True}


class Runner(NamedTuple):
    """How each test runs the program: the command, its variables and its address-space limit (built once)."""

    argv: list[str]
    env: dict[str, str]
    address_space_mb: int | None


def runner(lang: Language, folder: str, memory_mb: int | None) -> Runner:
    return Runner(lang.argv(lang.run, folder, memory_mb=memory_mb), lang.environment(folder, memory_mb),
                  lang.address_space(memory_mb) if memory_mb is not None else None)


def answer(request: Any, lang: Language, run: Runner, memory_mb: int | None = None) -> dict[str, Any]:
    """The reply to one request: a run of the program on stdin (calls into it are Python's only),
    held to ``memory_mb`` (see :func:`out_of_memory`)."""
    if type(request) is not dict or "stdin" not in request:
        return {"exc": {"type": "TypeError", "name": "TypeError", "line": None, "traceback": "",
                        "message": f"a {lang.name} program is run on stdin; it has no functions to call"}}
    result = run_command(run.argv, str(request["stdin"]), request.get("cap", 1 << 20),
                         _seconds(request.get("cpu_limit")), _seconds(request.get("wall_limit")), run.env,
                         run.address_space_mb)
    if memory_mb is not None and out_of_memory(lang, result, memory_mb):
        result["memory"] = True
    elif result.get("exit") != 0 and (found := raised(lang, str(result.get("stderr", "")))) is not None:
        result["raised"] = found
    return {"ok": wire.encode_value(result)}


def raised(lang: Language, stderr: str) -> dict[str, str] | None:
    """The exception or panic that ended a run, from what its runtime printed: ``{"name", "message"}``
    (a panic's name is "panic"), or None when ``lang`` declares no pattern or none is found."""
    if lang.raised is None:
        return None
    match = re.search(lang.raised, stderr, re.M)
    if match is None:
        return None
    groups = match.groupdict()
    message = next((v for k, v in sorted(groups.items()) if k.startswith("message") and v is not None), "")
    return {"name": (groups.get("name") or "panic")[:200], "message": message.strip()[:2000]}


def out_of_memory(lang: Language, result: Mapping[str, Any], memory_mb: int) -> bool:
    """Whether a run went past its memory limit. Measured three ways, for
    runtimes that fail differently when memory runs out: its peak resident
    memory passed the limit (Go's and the JVM's heaps are held by their
    runtime, not by the address space); it failed and its runtime said it was
    out of memory (C++'s ``std::bad_alloc``, Rust's allocation failure, Java's
    ``OutOfMemoryError``, V8's heap limit, Go's and Bash's allocators); or a
    signal killed it with its peak within a tenth of the limit (C's
    ``malloc`` returned NULL and the program used it)."""
    peak_kb = result.get("maxrss_kb") or 0
    if peak_kb > memory_mb * 1024:
        return True
    exit_code = result.get("exit")
    if exit_code == 0 or result.get("timeout") or result.get("cut"):
        return False
    if lang.out_of_memory is not None and re.search(lang.out_of_memory, str(result.get("stderr", ""))):
        return True
    return type(exit_code) is int and exit_code < 0 and peak_kb >= memory_mb * 1024 * 0.9


MAX_SENT_BINARY = 8 << 20  # a compiled program larger than this is not sent back to be kept


def serve(program: str, language_name: str, req_fd: int, resp_fd: int, compile_seconds: float | None = None,
          binary: str | None = None, include: str | None = None, memory_mb: int | None = None) -> None:
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
        reply = compile_program(lang, program, folder, compile_seconds, include, memory_mb)
        exe = os.path.join(folder, "program")
        if "ready" in reply and lang.compiled and os.path.getsize(exe) <= MAX_SENT_BINARY:
            with open(exe, "rb") as fh:
                reply["binary"] = base64.b64encode(fh.read()).decode()
    run = runner(lang, folder, memory_mb)
    answer_until_closed(reply, req_fd, resp_fd, lambda request: answer(request, lang, run, memory_mb))
