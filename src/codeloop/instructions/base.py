"""What a code instruction is, and the parsed source every check reads.

An instruction is a class registered under ``group:name`` with typed
parameters, the sentence a prompt would use, a deterministic ``check`` that
returns violations with line and column, and the ids it conflicts with.
Checks read ruff's JSON diagnostics, the ``ast`` and the ``tokenize`` token
stream of the code; none reads raw text with patterns.
"""

from __future__ import annotations

import ast
import io
import json
import subprocess
import tokenize
from dataclasses import dataclass
from typing import Any, ClassVar

from .. import pyparse

MAX_SOURCE = 1 << 20


@dataclass(frozen=True)
class Violation:
    line: int
    column: int
    message: str
    rule: str
    program_wide: bool = False  # about the code as a whole (a count, a missing import), not one place

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "message": self.message, "rule": self.rule}


@dataclass(frozen=True)
class Param:
    """One parameter of an instruction: its type, default and allowed values."""

    name: str
    kind: type
    default: Any
    doc: str
    choices: tuple = ()
    minimum: int | None = None

    def coerce(self, value: Any) -> Any:
        """The value, checked; raises ValueError with a message fit for the user."""
        if self.kind is list:
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise ValueError("must be a list of names")
            return list(value)
        if self.kind is int and (not isinstance(value, int) or isinstance(value, bool)):
            raise ValueError("must be an integer")
        if self.kind is str and not isinstance(value, str):
            raise ValueError("must be a string")
        if self.choices and value not in self.choices:
            raise ValueError(f"must be one of {', '.join(map(str, self.choices))}")
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"must be at least {self.minimum}")
        return value


class Source:
    """The code under check, parsed once: lines, tokens, AST, ruff diagnostics."""

    def __init__(self, text: str, ruff_bin: str | None = None) -> None:
        if len(text) > MAX_SOURCE:
            raise ValueError(f"the code is over {MAX_SOURCE} characters")
        self.text = text
        self.ruff_bin = ruff_bin
        self._tree: ast.Module | None = None
        self._tokens: list[tokenize.TokenInfo] | None = None
        self._ruff: list[dict[str, Any]] | None = None

    @property
    def tree(self) -> ast.Module:
        """The AST; raises SyntaxError (or RecursionError, MemoryError) for code that does not parse."""
        if self._tree is None:
            self._tree = pyparse.parse(self.text)
        return self._tree

    @property
    def tokens(self) -> list[tokenize.TokenInfo]:
        if self._tokens is None:
            self._tokens = list(tokenize.generate_tokens(io.StringIO(self.text).readline))
        return self._tokens

    def functions(self) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
        return [n for n in ast.walk(self.tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]

    def run_ruff(self, rules: set[str], settings: dict[str, Any]) -> list[dict[str, Any]]:
        """ruff's diagnostics for ``rules`` (run once per source, with every
        setting the requested instructions need)."""
        if self._ruff is None:
            cmd = [self.ruff_bin or ruff_binary(), "check", "--isolated", "--no-cache", "--output-format", "json",
                   "--select", ",".join(sorted(rules)), "--stdin-filename", "solution.py", "--exit-zero"]
            for key, value in sorted(settings.items()):
                cmd += ["--config", f"{key} = {json.dumps(value)}"]
            proc = subprocess.run(cmd + ["-"], input=self.text, capture_output=True, text=True, timeout=60)
            if proc.returncode != 0:
                raise RuntimeError(f"ruff failed: {proc.stderr.strip()[:500]}")
            self._ruff = json.loads(proc.stdout or "[]")
        return self._ruff


def ruff_binary() -> str:
    """The ruff executable installed with the ``ruff`` package."""
    from ruff.__main__ import find_ruff_bin

    return find_ruff_bin()


class Instruction:
    """Base class; subclasses set the class attributes and ``check``."""

    id: ClassVar[str]
    group: ClassVar[str]
    sentence: ClassVar[str]  # the prompt's wording, with {param} fields
    params: ClassVar[tuple[Param, ...]] = ()
    conflicts: ClassVar[tuple[str, ...]] = ()
    ruff_rules: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **values: Any) -> None:
        self.values = values

    def ruff_settings(self) -> dict[str, Any]:
        """ruff configuration this instruction's rules need (``--config`` entries)."""
        return {}

    def clash(self, other: "Instruction") -> str | None:
        """Why this instruction, with its parameters, cannot hold together with
        ``other`` (beyond the ids in ``conflicts``), or None."""
        return None

    def describe(self) -> str:
        return self.sentence.format(**{k: ", ".join(v) if isinstance(v, list) else v for k, v in self.values.items()})

    def from_ruff(self, src: Source) -> list[Violation]:
        """Violations of this instruction's ruff rules."""
        found = []
        for d in src.run_ruff(set(), {}):  # already run with the union of rules
            if any(d["code"] == r or d["code"].startswith(r) for r in self.ruff_rules):
                loc = d.get("location") or {}
                found.append(Violation(loc.get("row", 0), loc.get("column", 0), d.get("message", ""), d["code"]))
        return found

    def check(self, src: Source) -> list[Violation]:
        return self.from_ruff(src)


REGISTRY: dict[str, type[Instruction]] = {}


def register(cls: type[Instruction]) -> type[Instruction]:
    """Class decorator: add an instruction to the registry under its id."""
    group = cls.id.split(":", 1)[0]
    if cls.id in REGISTRY or ":" not in cls.id or group != cls.group:
        raise ValueError(f"bad or duplicate instruction id {cls.id!r}")
    REGISTRY[cls.id] = cls
    return cls
