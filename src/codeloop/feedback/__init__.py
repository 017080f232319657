"""Feedback text: a verdict rendered for the model's next attempt.

``render(verdict, preset="first_failure", cap=2000, hidden=True)``. Presets
are registered by name in :data:`PRESETS`; ``codeloop feedback --list`` (and
:func:`describe`) say what each shows.

Hidden tests stay hidden: with ``hidden=True`` (the default, right for a
benchmark's tests) no preset shows a test's source, its input, the expected
value, or the program's answer to it; only what the program itself did
(exception type and its own lines, the time limit it ran over, instruction
violations in its code) and how many tests passed. Presets whose names end in
``_reveal_hidden`` show everything even then: use them only on purpose.
Use ``hidden=False`` for tests the model may see (say, the prompt's examples).

Every preset keeps to ``cap`` characters, and says so when it cut.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..types import Verdict

DEFAULT_CAP = 2000
VALUE_CAP = 600


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    render: Callable[[Verdict, bool], str]
    reveals_hidden: bool = False


PRESETS: dict[str, Preset] = {}


def register(name: str, description: str,
             reveals_hidden: bool = False) -> Callable[[Callable[[Verdict, bool], str]], Callable[[Verdict, bool], str]]:
    """Decorator: add a renderer ``(verdict, hidden) -> text`` under ``name``."""
    if reveals_hidden != name.endswith("_reveal_hidden"):
        raise ValueError("a preset that shows hidden tests must be named '..._reveal_hidden', and only it")

    def add(fn: Callable[[Verdict, bool], str]) -> Callable[[Verdict, bool], str]:
        PRESETS[name] = Preset(name, description, fn, reveals_hidden)
        return fn

    return add


def cut(text: str, cap: int) -> str:
    """``text`` in at most ``cap`` characters, ending with a note when it was cut."""
    if len(text) <= cap:
        return text
    note = f"\n[feedback cut: {len(text)} characters, {cap} shown]"
    if cap <= len(note):
        return note[:cap]
    return text[: cap - len(note)] + note


def render(verdict: Verdict, preset: str = "first_failure", cap: int = DEFAULT_CAP, hidden: bool = True) -> str:
    """Feedback text for ``verdict``; raises KeyError for an unknown preset name."""
    try:
        p = PRESETS[preset]
    except KeyError:
        raise KeyError(f"unknown feedback preset {preset!r}; known: {', '.join(sorted(PRESETS))}") from None
    return cut(p.render(verdict, hidden), cap)


def describe() -> list[tuple[str, str]]:
    """(name, description) of every preset."""
    return [(p.name, p.description) for p in PRESETS.values()]


from . import presets  # noqa: E402,F401  (registers the built-in presets)

__all__ = ["PRESETS", "Preset", "register", "render", "describe", "cut"]
