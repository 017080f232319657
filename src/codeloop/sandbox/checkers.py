"""Checker programs: a task's own program that says whether an output is right.

testlib's convention, which Codeforces and CodeContests' checkers follow: the
checker is run as ``checker INPUT OUTPUT ANSWER`` (three files: the test's
input, the program's output, the expected answer) and says by its exit
status: 0 accepted, 1 wrong answer, 2 presentation error, 3 the checker
failed, 7 partial points. It is the task's code, so it runs in the judge's
process tree (inside the worker's sandbox, never in the program's), compiled
once per source and kept for every later sample in that judge.

Headers the checker includes (``testlib.h``) come with the task: codeloop
ships none. Runs with what the judge's process already holds (it cannot
import once inside the sandbox): compiled and run as a program in another
language is (:mod:`codeloop.sandbox.native`), no subprocess module.
"""

from __future__ import annotations

import hashlib
import os
from typing import Mapping, NamedTuple

from .languages import language
from .native import compile_program, run_command, write_files

ACCEPTED, WRONG, PRESENTATION, FAILED, PARTIAL = 0, 1, 2, 3, 7
RUN_SECONDS = 10.0
COMPILE_SECONDS = 30.0

class Built(NamedTuple):
    """A checker ready to run: its command and the variables its language sets."""
    argv: list[str]
    env: dict[str, str]


_BUILT: dict[str, Built] = {}   # digest of (language, source, headers) -> the checker


class CheckerFailed(Exception):
    """The checker did not compile, crashed, hung or said it failed (exit 3): the task's fault."""


CAP = 1 << 20


def _folder() -> str:
    root = os.path.join("/tmp", f"codeloop-checkers-{os.getpid()}")
    os.makedirs(root, exist_ok=True)
    return root


def build(source: str, language_name: str, headers: Mapping[str, str]) -> Built:
    """The command that runs the checker, compiling it first (once per source), as a program
    is compiled (:func:`~codeloop.sandbox.native.compile_program`). Raises CheckerFailed."""
    lang = language(language_name)
    digest = hashlib.sha256(repr((lang.name, source, sorted(headers.items()))).encode()).hexdigest()[:24]
    if digest not in _BUILT:
        folder = os.path.join(_folder(), digest)
        write_files(folder, headers)
        compiled = compile_program(lang, source, folder, COMPILE_SECONDS)
        if "compile_error" in compiled:
            raise CheckerFailed(f"the task's checker did not compile: {compiled['compile_error']['message']}")
        _BUILT[digest] = Built(lang.argv(lang.run, folder, source), lang.environment(folder))
    return _BUILT[digest]


def check(checker: Built, case_input: str, output: str, answer: str) -> int:
    """Run the checker on one test; its verdict (ACCEPTED, WRONG, PRESENTATION, PARTIAL). Raises CheckerFailed."""
    work = os.path.join(_folder(), "run")
    files = {"input.txt": case_input, "output.txt": output, "answer.txt": answer}
    write_files(work, files)
    done = run_command([*checker.argv, *(os.path.join(work, name) for name in files)], "", CAP, RUN_SECONDS,
                       2 * RUN_SECONDS, checker.env)
    if done.get("timeout"):
        raise CheckerFailed(f"the task's checker ran past {RUN_SECONDS:g} s")
    if done.get("exit") in (ACCEPTED, WRONG, PRESENTATION, PARTIAL):
        return int(done["exit"])
    raise CheckerFailed(f"the task's checker failed (exit status {done.get('exit')}): "
                        + str(done.get("stderr", "")).strip()[-500:])
