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
import re
from typing import Callable

PYTHON = "python"
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"  # the PATH programs and compilers see in the sandbox
DEFAULT_MEMORY_MB = 1024                        # for ``{memory_mb}`` when no limit is given


class Language:
    """One language: its names, its file, its commands, its toolchain.

    ``compile`` is the compiler's command, and ``steps`` further commands
    that turn its output into the one file ``{exe}`` (a jar), so a compiled
    program is always one file to keep and send back; for an interpreted
    language, ``check`` is a syntax check whose failure is a compile error,
    as Python's is. ``compile_seconds``: the default limit for compiling;
    ``package``: the Debian package that provides the toolchain, named in the
    error when it is missing; ``requires``: the programs that must be there
    (default: the compiler, else the interpreter); ``env``: variables set for
    compiling and running (values may hold placeholders).

    Memory: ``address_space_mb`` is what the runtime reserves beyond the
    program's own use (the JVM, Go and V8 map far more than they touch and
    do not start under a tight address-space limit): a run's address-space
    limit is its memory limit plus this, and the program's own limit is held
    by its runtime (``{memory_mb}`` in the run command: ``-Xmx``,
    ``--max-old-space-size``) and by its peak resident memory.
    ``compile_memory_mb`` is the compiler's address-space limit (javac is a
    JVM too), whatever the program's own. ``out_of_memory`` matches what the
    runtime prints when it runs out; ``raised`` finds, in what a failed run
    printed, the exception or panic that ended it (groups ``name``, optional,
    and ``message``).

    ``title`` is how a prompt names the language ("C++"); ``layout`` derives
    placeholders from the program's text (Java's source file is named after
    its public class). (A plain class: dataclasses would import inspect into
    every worker.)
    """

    __slots__ = ("name", "aliases", "source", "compile", "run", "version", "package", "compile_seconds", "steps",
                 "env", "address_space_mb", "out_of_memory", "layout", "compile_memory_mb", "check", "raised", "title", "requires")

    def __init__(self, name: str, aliases: tuple[str, ...], source: str, compile: tuple[str, ...] | None,
                 run: tuple[str, ...], version: tuple[str, ...], package: str, compile_seconds: float = 10.0,
                 steps: tuple[tuple[str, ...], ...] = (), env: dict[str, str] | None = None,
                 address_space_mb: int = 0, out_of_memory: str | None = None,
                 layout: Callable[[str], dict[str, str]] | None = None, compile_memory_mb: int = 2048,
                 check: tuple[str, ...] | None = None, raised: str | None = None, title: str = "",
                 requires: tuple[str, ...] = ()) -> None:
        self.name, self.aliases, self.source = name, aliases, source
        self.compile, self.run, self.version = compile, run, version
        self.package, self.compile_seconds, self.steps = package, compile_seconds, steps
        self.env = env or {}
        self.address_space_mb, self.out_of_memory, self.layout = address_space_mb, out_of_memory, layout
        self.compile_memory_mb, self.check, self.raised = compile_memory_mb, check, raised
        self.title = title or name.capitalize()  # how a prompt names it
        self.requires = requires or ((compile or run)[0],)

    def address_space(self, memory_mb: int) -> int:
        """A run's address-space limit (MiB) for a program held to ``memory_mb``, with room for its
        runtime's reservations."""
        return memory_mb + self.address_space_mb

    def supervisor_address_space(self, memory_mb: int) -> int:
        """The candidate's own limit (MiB): it compiles (the compiler needs more than most programs) and
        supervises; each run of the program lowers its own to :meth:`address_space` before it starts."""
        return max(self.address_space(memory_mb), self.compile_memory_mb)

    @property
    def compiled(self) -> bool:
        return self.compile is not None

    def values(self, folder: str, program: str = "", memory_mb: int | None = None) -> dict[str, str]:
        """The placeholders' values for ``program`` in ``folder``."""
        extra = self.layout(program) if self.layout is not None else {}
        source = extra.pop("source", self.source)
        return {"src": os.path.join(folder, source), "source": source, "exe": os.path.join(folder, "program"),
                "dir": folder, "memory_mb": str(memory_mb or DEFAULT_MEMORY_MB), **extra}

    def argv(self, template: tuple[str, ...], folder: str, program: str = "",
             memory_mb: int | None = None) -> list[str]:
        """``template`` with its placeholders filled for ``program`` in ``folder``."""
        values = self.values(folder, program, memory_mb)
        return [_fill(part, values) for part in template]

    def environment(self, folder: str, memory_mb: int | None = None) -> dict[str, str]:
        """The variables to set for compiling and running in ``folder``."""
        values = self.values(folder, "", memory_mb)
        return {key: _fill(value, values) for key, value in self.env.items()}


def _fill(text: str, values: dict[str, str]) -> str:
    """``text`` with each ``{name}`` of ``values`` replaced; other braces (a script's) are left as they are."""
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), text)


LANGUAGES: dict[str, Language] = {}


def register(language: Language) -> Language:
    LANGUAGES[language.name] = language
    return language


_JAVA_COMMENT_OR_TEXT = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)
_JAVA_TOKEN = re.compile(r"[{}]|\b(public\s+)?(?:(?:abstract|final|static|strictfp)\s+)*"
                         r"(class|interface|enum|record)\s+(\w+)|\bstatic\s+void\s+main\s*\(")


def java_layout(program: str) -> dict[str, str]:
    """Java's file name (its public top-level class, else ``Main``) and the
    top-level class whose ``main`` starts the program (the public class when
    no top-level class holds one that is seen). Read from the text with
    comments and strings removed, counting braces; what it cannot tell leaves
    ``Main``, and javac then says what is wrong."""
    text = _JAVA_COMMENT_OR_TEXT.sub(" ", program)
    depth, public, first, with_main, top = 0, None, None, None, None
    for match in _JAVA_TOKEN.finditer(text):
        token = match.group(0)
        if token == "{":
            depth += 1
        elif token == "}":
            depth = max(0, depth - 1)
        elif match.group(3) and depth == 0:
            top = match.group(3)
            first = first or top
            if match.group(1):
                public = top
        elif match.group(3) is None and with_main is None and top is not None:
            with_main = top
    name = public or "Main"
    return {"source": f"{name}.java", "main": with_main or public or first or "Main"}


# A TypeScript program is transpiled, not type-checked (as tsx and ts-node's transpile-only
# mode run it): a program is judged by what it does; syntax errors are compile errors.
_TS_TRANSPILE = """
let ts; try { ts = require("typescript"); } catch (e) { ts = require("/usr/share/nodejs/typescript"); }
const fs = require("fs"), [src, out] = process.argv.slice(-2);
const name = require("path").basename(src);
const r = ts.transpileModule(fs.readFileSync(src, "utf8"), {fileName: name, reportDiagnostics: true,
  compilerOptions: {target: ts.ScriptTarget.ES2020, module: ts.ModuleKind.CommonJS}});
const bad = (r.diagnostics || []).filter(d => d.category === ts.DiagnosticCategory.Error);
for (const d of bad) { const p = d.file ? d.file.getLineAndCharacterOfPosition(d.start) : {line: 0, character: 0};
  console.error(`${name}:${p.line + 1}:${p.character + 1}: error TS${d.code}: `
                + ts.flattenDiagnosticMessageText(d.messageText, "\\n")); }
if (bad.length) process.exit(1);
fs.writeFileSync(out, r.outputText);
"""
_V8_RAISED = r"^(?:Uncaught )?(?P<name>(?:[A-Z]\w*)?(?:Error|Exception))(?:: (?P<message>.*))?$"
_V8_OUT_OF_MEMORY = r"JavaScript heap out of memory|Allocation failed|RangeError: Array buffer allocation"
_NODE_RUN = ("node", "--max-old-space-size={memory_mb}", "--stack-size=65500")
_V8_RESERVE_MB = 1024      # V8 does not start under 1 GiB of address space (measured: Node.js 20)
_JVM_RESERVE_MB = 640      # beyond -Xmx: code cache, metaspace, class space, thread stacks (flags below)
_GO_RESERVE_MB = 1024      # Go's runtime reserves its page summaries up front (about 700 MiB, Go 1.19)

register(Language(PYTHON, ("python3", "py", "python3.11"), "solution.py", None, ("python3", "{src}"),
                  ("python3", "--version"), "python3"))
register(Language("cpp", ("c++", "cpp17", "cc", "cxx", "g++"), "main.cpp",
                  ("g++", "-O2", "-std=c++17", "-pipe", "-o", "{exe}", "{src}"), ("{exe}",),
                  ("g++", "--version"), "g++", out_of_memory=r"std::bad_alloc", title="C++"))
register(Language("c", ("gcc", "c11"), "main.c",
                  ("gcc", "-O2", "-std=gnu11", "-pipe", "-o", "{exe}", "{src}", "-lm"), ("{exe}",),
                  ("gcc", "--version"), "gcc", title="C"))
register(Language("javascript", ("nodejs", "js", "node"), "main.js", None, (*_NODE_RUN, "{src}"),
                  ("node", "--version"), "nodejs", address_space_mb=_V8_RESERVE_MB, check=("node", "--check", "{src}"),
                  raised=_V8_RAISED,
                  out_of_memory=_V8_OUT_OF_MEMORY, title="JavaScript"))
register(Language("typescript", ("ts",), "main.ts", ("node", "-e", _TS_TRANSPILE, "{src}", "{exe}"),
                  (*_NODE_RUN, "{exe}"), ("tsc", "--version"), "node-typescript", address_space_mb=_V8_RESERVE_MB,
                  requires=("tsc", "node"),
                  raised=_V8_RAISED,
                  out_of_memory=_V8_OUT_OF_MEMORY, title="TypeScript"))
_JVM_TOOL = ("-J-Xmx512m", "-J-XX:+UseSerialGC", "-J-XX:TieredStopAtLevel=1", "-J-XX:CompressedClassSpaceSize=64m",
             "-J-XX:ReservedCodeCacheSize=32m", "-J-XX:MaxMetaspaceSize=256m", "-J-XX:CICompilerCount=1",
             "-J-XX:-UsePerfData")  # javac and jar in 2 GiB of address space, and fast to start
register(Language("java", ("java17", "jdk"), "Main.java",
                  ("javac", *_JVM_TOOL, "-encoding", "UTF-8", "-nowarn", "-d", "{dir}/classes", "{src}"),
                  ("java", "-Xmx{memory_mb}m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                   "-XX:ReservedCodeCacheSize=32m", "-XX:CompressedClassSpaceSize=64m", "-XX:MaxMetaspaceSize=128m",
                   "-XX:-UsePerfData", "-XX:CICompilerCount=1", "-jar", "{exe}"),
                  ("java", "-version"), "openjdk-17-jdk-headless", compile_seconds=20.0, requires=("javac", "jar", "java"),
                  steps=(("jar", *_JVM_TOOL, "--create", "--file", "{exe}", "--main-class", "{main}",
                          "-C", "{dir}/classes", "."),),
                  env={"JAVA_TOOL_OPTIONS": "", "_JAVA_OPTIONS": ""}, address_space_mb=_JVM_RESERVE_MB,
                  out_of_memory=r"java\.lang\.OutOfMemoryError|insufficient memory for the Java Runtime",
                  layout=java_layout, raised=r'Exception in thread "[^"]*" (?P<name>[\w.$]+)(?:: (?P<message>.*))?'))
register(Language("rust", ("rs", "rustc"), "main.rs",
                  ("rustc", "--edition", "2021", "-O", "--error-format=short", "-o", "{exe}", "{src}"), ("{exe}",),
                  ("rustc", "--version"), "rustc", compile_seconds=20.0,
                  out_of_memory=r"memory allocation of \d+ bytes failed",
                  raised=r"panicked at '(?P<message>.*)', |panicked at [^\n]*:\n(?P<message2>.*)"))
register(Language("go", ("golang",), "main.go", ("go", "build", "-o", "{exe}", "{src}"), ("{exe}",),
                  ("go", "version"), "golang-go", compile_seconds=20.0,
                  env={"GOCACHE": "{dir}/.gocache", "GO111MODULE": "off", "CGO_ENABLED": "0", "GOPATH": "{dir}/.gopath",
                       "GOMEMLIMIT": "{memory_mb}MiB", "GOFLAGS": "", "GOTOOLCHAIN": "local"},
                  address_space_mb=_GO_RESERVE_MB, out_of_memory=r"fatal error: (?:runtime: )?out of memory",
                  raised=r"^(?P<name>panic|fatal error): (?P<message>.*)"))
register(Language("bash", ("sh", "shell"), "main.sh", None, ("bash", "{src}"), ("bash", "--version"), "bash",
                  check=("bash", "-n", "{src}"),
                  out_of_memory=r"x(?:m|re)alloc: .*cannot allocate|Cannot allocate memory"))

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

    found = shutil.which(lang.version[0], path=SANDBOX_PATH)
    if found is None:
        return None
    try:
        done = subprocess.run([found, *lang.version[1:]], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else None


def availability(lang: Language) -> tuple[bool, str]:
    """Whether programs in ``lang`` can be judged here, and the toolchain's
    version or why not (naming the Debian package to install). A toolchain
    must be installed on the sandbox's PATH (:data:`SANDBOX_PATH`) and inside
    the folders the sandbox shows programs (/usr, /bin, /lib: one under /root
    or /opt is invisible there, as rustup's is)."""
    import shutil

    from .rootfs import plan_root

    if lang.name == PYTHON:
        return True, "the sandbox's own interpreter"
    binds = plan_root().binds
    for tool in lang.requires:
        path = shutil.which(tool, path=SANDBOX_PATH)
        if path is None:
            return False, f"{tool} is not installed where the sandbox looks ({SANDBOX_PATH}): " \
                          f"apt-get install {lang.package}"
        real = os.path.realpath(path)
        if not any(real == b or real.startswith(b + "/") for b in binds):
            return False, f"{real} is outside what the sandbox shows programs (install Debian's {lang.package})"
    return True, toolchain_version(lang) or "installed (no version printed)"


__all__ = ["LANGUAGES", "Language", "PYTHON", "SANDBOX_PATH", "java_layout", "UnknownLanguage", "availability",
           "language", "register", "toolchain_version"]
