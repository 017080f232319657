"""The languages a program may be written in: one declared entry each.

An entry says how a program in that language becomes something to run
(``compile``, or nothing for an interpreted language), how it runs
(``run``), where its toolchain comes from, and the names people use for it
(SandboxFusion's and open-r1's ``language`` values, the labels of a
model's fenced code). Python is an entry too, but runs on the sandbox's own
warm interpreter, never through these commands.

Commands are argument lists with ``{src}`` (the source file), ``{exe}``
(the compiled program) and ``{dir}`` (the folder holding both), run inside
the sandbox: the compiler sees the program as untrusted input, under the
sample's limits. Kept free of imports beyond the standard library's
lightest: the sandbox's zygote imports it, and every candidate is forked from
that process.
"""

from __future__ import annotations

import os

PYTHON = "python"


class Language:
    """One language: its names, its file, its commands, its toolchain.

    ``compile_seconds``: the default limit for compiling (wall); ``package``:
    the Debian package that provides the toolchain, named in the error when
    it is missing. (A plain class: dataclasses would import inspect into
    every worker.)
    """

    __slots__ = ("name", "aliases", "source", "compile", "run", "version", "package", "compile_seconds")

    def __init__(self, name: str, aliases: tuple[str, ...], source: str, compile: tuple[str, ...] | None,
                 run: tuple[str, ...], version: tuple[str, ...], package: str, compile_seconds: float = 10.0) -> None:
        self.name, self.aliases, self.source = name, aliases, source
        self.compile, self.run, self.version = compile, run, version
        self.package, self.compile_seconds = package, compile_seconds

    @property
    def compiled(self) -> bool:
        return self.compile is not None

    def tool(self) -> str:
        """The program the toolchain is found by (the compiler, else the interpreter)."""
        return (self.compile or self.run)[0]

    def argv(self, template: tuple[str, ...], folder: str) -> list[str]:
        """``template`` with its placeholders filled for a program in ``folder``."""
        values = {"src": os.path.join(folder, self.source), "exe": os.path.join(folder, "program"), "dir": folder}
        return [part.format(**values) for part in template]


LANGUAGES: dict[str, Language] = {}


def register(language: Language) -> Language:
    LANGUAGES[language.name] = language
    return language


register(Language(PYTHON, ("python3", "py", "python3.11"), "solution.py", None, ("python3", "{src}"),
                  ("python3", "--version"), "python3"))
register(Language("cpp", ("c++", "cpp17", "cc", "cxx", "g++"), "main.cpp",
                  ("g++", "-O2", "-std=c++17", "-pipe", "-o", "{exe}", "{src}"), ("{exe}",),
                  ("g++", "--version"), "g++"))
register(Language("c", ("gcc", "c11"), "main.c",
                  ("gcc", "-O2", "-std=gnu11", "-pipe", "-o", "{exe}", "{src}", "-lm"), ("{exe}",),
                  ("gcc", "--version"), "gcc"))
register(Language("javascript", ("nodejs", "js", "node"), "main.js", None, ("node", "{src}"),
                  ("node", "--version"), "nodejs"))
register(Language("bash", ("sh", "shell"), "main.sh", None, ("bash", "{src}"), ("bash", "--version"), "bash"))

_BY_NAME = {alias: lang for lang in LANGUAGES.values() for alias in (lang.name, *lang.aliases)}


class UnknownLanguage(ValueError):
    """A language name no entry has; the message lists the known ones."""


def language(name: str) -> Language:
    """The entry for ``name`` or one of its aliases (case-insensitive). Raises UnknownLanguage."""
    found = _BY_NAME.get(name.strip().lower())
    if found is None:
        raise UnknownLanguage(f"unknown language {name!r}; known: {', '.join(sorted(LANGUAGES))}")
    return found


def toolchain_version(lang: Language) -> str | None:
    """The first line the toolchain prints of its version, or None when it is not installed here."""
    import shutil  # here, not at the top: the zygote imports this module
    import subprocess

    if shutil.which(lang.version[0]) is None:
        return None
    try:
        done = subprocess.run(list(lang.version), capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else None


def availability(lang: Language) -> tuple[bool, str]:
    """Whether programs in ``lang`` can be judged here, and the toolchain's
    version or why not (naming the Debian package to install). A toolchain
    must be installed and inside the folders the sandbox shows programs
    (/usr, /bin, /lib: one under /root or /opt is invisible there)."""
    import shutil

    from .rootfs import plan_root

    if lang.name == PYTHON:
        return True, "the sandbox's own interpreter"
    path = shutil.which(lang.tool())
    if path is None:
        return False, f"{lang.tool()} is not installed (apt-get install {lang.package})"
    real = os.path.realpath(path)
    if not any(real == b or real.startswith(b + "/") for b in plan_root().binds):
        return False, f"{real} is outside what the sandbox shows programs (install Debian's {lang.package})"
    return True, toolchain_version(lang) or "installed (no version printed)"


__all__ = ["LANGUAGES", "Language", "PYTHON", "UnknownLanguage", "availability", "language", "register", "toolchain_version"]
