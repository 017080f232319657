"""Verifiable code instructions: a registry of named, deterministic checks.

Each instruction has an id ``group:name``, typed parameters, the sentence a
prompt would use, a ``check`` that returns violations with line and column,
and the ids it conflicts with. ``codeloop instructions`` lists them.

A task carries instructions as ``[{"id": "style:max_line_length", "n": 79}, ...]``;
:func:`check_instructions` judges code against them.
"""

from __future__ import annotations

import tokenize
from typing import Any

from . import catalog  # noqa: F401  (registers the built-in instructions)
from .base import REGISTRY, Instruction, Param, Source, Violation, register

GROUPS = {"style": "style and conventions", "logic": "logic and code patterns", "docs": "documentation",
          "errors": "error handling", "api": "library and API use"}


class InstructionError(ValueError):
    """A bad instruction spec; ``field`` names the offending key."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def build(spec: dict[str, Any]) -> Instruction:
    """An instruction from ``{"id": ..., **params}``, defaults filled in; raises InstructionError."""
    if not isinstance(spec, dict):
        raise InstructionError("must be an object with an 'id'", "")
    ident = spec.get("id")
    if ident not in REGISTRY:
        raise InstructionError(f"unknown instruction {ident!r} (see 'codeloop instructions')", "id")
    cls = REGISTRY[ident]
    known = {p.name: p for p in cls.params}
    values = {}
    for key, value in spec.items():
        if key == "id":
            continue
        if key not in known:
            raise InstructionError(f"{ident} takes no parameter {key!r}"
                                   + (f" (it takes {', '.join(known)})" if known else ""), key)
        try:
            values[key] = known[key].coerce(value)
        except ValueError as exc:
            raise InstructionError(str(exc), key) from None
    for name, p in known.items():
        values.setdefault(name, list(p.default) if isinstance(p.default, list) else p.default)
    return cls(**values)


def validate(specs: list[dict[str, Any]]) -> list[Instruction]:
    """Build every instruction of a task and check that they can hold together.

    Raises InstructionError whose field is ``[i].key``.
    """
    built = []
    for i, spec in enumerate(specs):
        try:
            built.append(build(spec))
        except InstructionError as exc:
            raise InstructionError(str(exc), f"[{i}]" + (f".{exc.field}" if exc.field else "")) from None
    for i, a in enumerate(built):
        for j, b in enumerate(built):
            if i < j and a.id == b.id:
                raise InstructionError(f"{a.id} is given twice", f"[{j}].id")
            if i != j and (b.id in a.conflicts or a.clash(b)):
                why = a.clash(b) or f"{a.id} conflicts with {b.id}"
                raise InstructionError(why, f"[{max(i, j)}].id")
    return built


def check_instructions(code: str, specs: list[dict[str, Any]], first_line: int = 0) -> list[dict[str, Any]]:
    """Judge ``code`` against each instruction; one result per instruction:
    ``{"id", "params", "sentence", "passed", "violations": [{line, column, message, rule}]}``.

    Violations on lines up to ``first_line`` (text the model did not write,
    such as a prompt its completion follows) are left out. Code that does not
    parse violates every instruction that reads its syntax tree.
    """
    built = validate(specs)
    try:
        src = Source(code)
    except ValueError as exc:
        return [_result(ins, [Violation(1, 1, str(exc), "size", True)]) for ins in built]
    rules = {r for ins in built for r in ins.ruff_rules}
    settings: dict[str, Any] = {}
    for ins in built:
        settings.update(ins.ruff_settings())
    if rules:
        src.run_ruff(rules, settings)
    results = []
    for ins in built:
        try:
            found = ins.check(src)
        except (SyntaxError, ValueError, RecursionError, MemoryError, IndentationError) as exc:
            found = [Violation(getattr(exc, "lineno", None) or 1, 1, f"the code does not parse: {exc}", "parse", True)]
        except tokenize.TokenError as exc:
            found = [Violation(1, 1, f"the code does not tokenize: {exc}", "parse", True)]
        found = [v for v in found if v.program_wide or v.line > first_line]
        results.append(_result(ins, found))
    return results


def _result(ins: Instruction, found: list[Violation]) -> dict[str, Any]:
    return {"id": ins.id, "params": dict(ins.values), "sentence": ins.describe(), "passed": not found,
            "violations": [v.to_dict() for v in found[:50]], "violation_count": len(found)}


def catalogue() -> list[dict[str, Any]]:
    """Every registered instruction: id, group, sentence, parameters, conflicts, ruff rules."""
    return [{"id": cls.id, "group": cls.group, "sentence": cls.sentence,
             "params": [{"name": p.name, "type": p.kind.__name__, "default": p.default, "doc": p.doc,
                         **({"choices": list(p.choices)} if p.choices else {})} for p in cls.params],
             "conflicts": list(cls.conflicts), "ruff": list(cls.ruff_rules)} for cls in REGISTRY.values()]


__all__ = ["REGISTRY", "GROUPS", "Instruction", "InstructionError", "Param", "Source", "Violation", "build",
           "check_instructions", "catalogue", "register", "validate"]
