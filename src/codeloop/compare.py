"""Named ways to compare a program's output with the expected output.

A task says which one its stdin/stdout cases use (``compare`` in the task
format: a name, or ``{"name": ..., **params}``); the default is ``lines``.
The judge process runs them, so the expected output never enters the
program's process. Each is a small function registered under its name;
:data:`COMPARATORS` is the registry, :func:`check_spec` validates a task's
choice at load time, :func:`matches` applies it.

Every comparator but ``apps`` catches a missing or an extra line (or token):
open-r1's ``zip``-based comparison does not, which is a bug, not a format.
``apps`` follows APPS's cascade for stdin problems (``run_test`` in
hendrycks/apps ``eval/testing_util.py``, steps as docs/harness-comparisons.md
lists them), lax steps included, because published APPS results depend on
it: its last steps compare sets of per-line token sets, so the order and
repeats of lines are ignored there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Mapping

from .sandbox.checkers import COMPILE_SECONDS as CHECKER_COMPILE_SECONDS
from .sandbox.checkers import Built

Params = Mapping[str, Any]


@dataclass(frozen=True)
class Comparator:
    """One registered way to compare: its function and the parameters it takes (with defaults)."""

    name: str
    func: Callable[..., bool]
    params: Mapping[str, Any]
    doc: str
    needs_input: bool = False  # the function takes the case's input as a fourth argument
    validate: Callable[[Mapping[str, Any]], None] | None = None  # more checks of a spec, at load time
    prepare: Callable[[Mapping[str, Any]], None] | None = None   # slow set-up, in the judge, before the clock
    prepare_seconds: float = 0.0  # the longest ``prepare`` may take (a sample's guard allows for it)


COMPARATORS: dict[str, Comparator] = {}


def register(name: str, doc: str, *, needs_input: bool = False,
             validate: Callable[[Mapping[str, Any]], None] | None = None,
             prepare: Callable[[Mapping[str, Any]], None] | None = None, prepare_seconds: float = 0.0,
             **defaults: Any) -> Callable[[Callable[..., bool]], Callable[..., bool]]:
    """Register ``func(actual, expected, params) -> bool`` under ``name``
    (``func(actual, expected, params, input)`` with ``needs_input``)."""
    def add(func: Callable[..., bool]) -> Callable[..., bool]:
        COMPARATORS[name] = Comparator(name, func, dict(defaults), doc, needs_input, validate, prepare,
                                       prepare_seconds)
        return func
    return add


def check_spec(spec: Any) -> dict[str, Any]:
    """A task's ``compare`` as ``{"name": ..., **params}``, every default filled in.

    Raises ValueError naming what is wrong: an unknown name (the known ones
    listed), an unknown parameter, or a parameter of the wrong type.
    """
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
        raise ValueError("'compare' is a comparator's name or an object with a 'name'")
    comparator = COMPARATORS.get(spec["name"])
    if comparator is None:
        raise ValueError(f"unknown comparator {spec['name']!r}; known: {', '.join(sorted(COMPARATORS))}")
    params = {k: v for k, v in spec.items() if k != "name"}
    unknown = sorted(set(params) - set(comparator.params))
    if unknown:
        allowed = ", ".join(sorted(comparator.params)) or "none"
        raise ValueError(f"comparator {comparator.name!r} takes no parameter {', '.join(unknown)} "
                         f"(it takes: {allowed})")
    out: dict[str, Any] = {"name": comparator.name, **comparator.params}
    for key, value in params.items():
        default = comparator.params[key]
        if isinstance(default, bool) != isinstance(value, bool) or not isinstance(value, (type(default), int)):
            raise ValueError(f"comparator {comparator.name!r}: {key} must be a {type(default).__name__}")
        if isinstance(default, float) and (not math.isfinite(float(value)) or value < 0):
            raise ValueError(f"comparator {comparator.name!r}: {key} must be a finite number >= 0")
        out[key] = value
    if comparator.validate is not None:
        comparator.validate(out)
    return out


def prepare(spec: Mapping[str, Any] | None) -> None:
    """Do a comparator's slow set-up now (compiling a checker program), so that
    it is not charged to a program's time. Raises CheckerBroken."""
    if spec is not None and COMPARATORS[spec["name"]].prepare is not None:
        COMPARATORS[spec["name"]].prepare(spec)  # type: ignore[misc]


def prepare_seconds(spec: Mapping[str, Any] | None) -> float:
    """The longest :func:`prepare` may take for ``spec`` (0 for most comparators)."""
    return COMPARATORS[spec["name"]].prepare_seconds if spec is not None else 0.0


def matches(spec: Mapping[str, Any] | None, actual: str, expected: str, case_input: str = "") -> bool:
    """Whether ``actual`` passes against ``expected`` by ``spec`` (None: ``lines``);
    ``case_input`` is the case's stdin, for a checker. ``spec`` must come from :func:`check_spec`."""
    if spec is None:
        return _lines(actual, expected, {})
    comparator = COMPARATORS[spec["name"]]
    if comparator.needs_input:
        return comparator.func(actual, expected, spec, case_input)
    return comparator.func(actual, expected, spec)


# -- the comparators ---------------------------------------------------------------------------


@register("exact", "byte for byte")
def _exact(actual: str, expected: str, params: Params) -> bool:
    return actual == expected


@register("lines", "line by line, trailing white space of each line and trailing blank lines ignored (default)")
def _lines(actual: str, expected: str, params: Params) -> bool:
    return _stripped_right(actual) == _stripped_right(expected)


@register("tokens", "the white-space-separated tokens, in order; line breaks and spacing ignored",
          case_insensitive=False)
def _tokens(actual: str, expected: str, params: Params) -> bool:
    a, e = actual.split(), expected.split()
    if params.get("case_insensitive"):
        a, e = [t.casefold() for t in a], [t.casefold() for t in e]
    return a == e


@register("case_insensitive", "the tokens, in order, letter case ignored")
def _case_insensitive(actual: str, expected: str, params: Params) -> bool:
    return [t.casefold() for t in actual.split()] == [t.casefold() for t in expected.split()]


@register("float", "the tokens in order; two numbers match within abs_tol or rel_tol, other tokens must be "
          "equal (CodeContests: abs_tol 1e-5, case_insensitive)", abs_tol=1e-6, rel_tol=0.0, case_insensitive=False)
def _float(actual: str, expected: str, params: Params) -> bool:
    a, e = actual.split(), expected.split()
    if len(a) != len(e):
        return False
    fold = bool(params.get("case_insensitive"))
    abs_tol, rel_tol = float(params.get("abs_tol", 1e-6)), float(params.get("rel_tol", 0.0))
    for x, y in zip(a, e):
        if fold:
            x, y = x.casefold(), y.casefold()
        if x == y:
            continue
        fx, fy = _number(x), _number(y)
        if fx is None or fy is None or not math.isclose(fx, fy, rel_tol=rel_tol, abs_tol=abs_tol):
            return False
    return True


@register("codecontests", "CodeContests' OutputsMatch: tokens lower-cased, numbers within an absolute 1e-5")
def _codecontests(actual: str, expected: str, params: Params) -> bool:
    a, e = actual.lower().split(), expected.lower().split()
    if a == e:
        return True
    if len(a) != len(e):
        return False
    for x, y in zip(a, e):
        fx, fy = _number(x), _number(y)
        if fx is None or fy is None:
            if x != y:
                return False
        elif not abs(fx - fy) < 1e-5:  # strict, as theirs
            return False
    return True


@register("lcb", "LiveCodeBench's stdin check: stripped lines, same count; a line that differs must hold the "
          "same numbers as Decimals (no tolerance)")
def _lcb(actual: str, expected: str, params: Params) -> bool:
    a, e = _stripped_lines(actual), _stripped_lines(expected)
    if len(a) != len(e):
        return False
    for x, y in zip(a, e):
        if x == y:
            continue
        dx, dy = _decimals(x), _decimals(y)
        if dx is None or dy is None or dx != dy:
            return False
    return True


@register("apps", "APPS's cascade as its harness runs it (lax: its last steps compare sets of per-line token "
          "sets, so line order and repeats are ignored there)")
def _apps(actual: str, expected: str, params: Params) -> bool:
    out = actual.splitlines()
    # 1. the whole text, stripped; then with every line stripped
    if "\n".join(out).strip() == expected.strip():
        return True
    if "\n".join(line.strip() for line in out).strip() == expected.strip():
        return True
    # 3-4. expected split into lines, blank ones dropped, each stripped; output with and without blank lines
    want = [line.strip() for line in expected.split("\n") if line.strip()]
    if [line.strip() for line in out] == want or [line.strip() for line in out if line.strip()] == want:
        return True
    # 5. every line a single number: numpy.allclose's default tolerances
    got_nums, want_nums = _all_numbers(out), _all_numbers(want)
    if got_nums is not None and want_nums is not None and len(got_nums) == len(want_nums) \
            and all(abs(g - w) <= 1e-8 + 1e-5 * abs(w) for g, w in zip(got_nums, want_nums)):
        return True
    # 6. the set of per-line token sets
    got_sets = {frozenset(line.split()) for line in out if line.strip()}
    want_sets = {frozenset(line.split()) for line in want}
    if got_sets == want_sets:
        return True
    # 7. the same, every token a number rounded to 3 places
    got_round, want_round = _rounded_sets(out), _rounded_sets(want)
    return got_round is not None and got_round == want_round


# -- a checker function -------------------------------------------------------------------------

CHECKER_FUNCTION = "check"
_CHECKERS: dict[str, Callable[[str, str, str], Any]] = {}


class CheckerBroken(Exception):
    """The task's checker does not load: the task is broken, not the program."""


def _checker(source: str) -> Callable[[str, str, str], Any]:
    """The task's ``check(input, output, answer)``, loaded once per source. Runs
    its code, so only the judge calls it (inside the sandbox), never at load time."""
    func = _CHECKERS.get(source)
    if func is None:
        namespace: dict[str, Any] = {"__name__": "checker"}
        try:
            exec(compile(source, "checker.py", "exec", dont_inherit=True), namespace)
        except Exception as exc:  # noqa: BLE001 - the task's own code
            raise CheckerBroken(f"the task's checker raised {type(exc).__name__}: {exc}") from None
        func = namespace.get(CHECKER_FUNCTION)
        if not callable(func):
            raise CheckerBroken(f"the task's checker defines no {CHECKER_FUNCTION}(input, output, answer)")
        if len(_CHECKERS) > 256:
            _CHECKERS.clear()
        _CHECKERS[source] = func
    return func


def _validate_checker(spec: Mapping[str, Any]) -> None:
    """At load time, without running it: the source parses and defines ``check`` at its top level."""
    import ast

    source = spec.get("source")
    if not isinstance(source, str) or not source.strip():
        raise ValueError("comparator 'checker' needs 'source': Python code defining check(input, output, answer)")
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError) as exc:
        raise ValueError(f"comparator 'checker': its source does not compile: {exc}") from None
    if not any(isinstance(n, ast.FunctionDef) and n.name == CHECKER_FUNCTION for n in tree.body):
        raise ValueError(f"comparator 'checker': its source defines no {CHECKER_FUNCTION}(input, output, answer)")


@register("checker", "a Python function of the task, check(input, output, answer) -> bool, run in the judge "
          "(testlib's checker, in Python): for problems with more than one right answer; an exception while it "
          "reads the program's output counts as a wrong answer", needs_input=True, validate=_validate_checker,
          source="")
def _check_with_function(actual: str, expected: str, params: Params, case_input: str) -> bool:
    check = _checker(str(params["source"]))  # CheckerBroken: the task's fault, the judge's to report
    try:
        return bool(check(case_input, actual, expected))
    except Exception:  # noqa: BLE001 - as testlib: output the checker cannot read is the program's wrong answer
        return False


# -- a checker program (testlib's convention) ---------------------------------------------------


def _validate_checker_program(spec: Mapping[str, Any]) -> None:
    """At load time, without compiling or running it: a source, a known language, header files by plain name."""
    from .sandbox.languages import UnknownLanguage, language

    if not isinstance(spec.get("source"), str) or not spec["source"].strip():
        raise ValueError("comparator 'checker_program' needs 'source': the checker's code")
    try:
        language(str(spec.get("language")))
    except UnknownLanguage as exc:
        raise ValueError(f"comparator 'checker_program': {exc}") from None
    headers = spec.get("headers")
    if not isinstance(headers, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) and k and "/" not in k and not k.startswith(".")
            for k, v in headers.items()):
        raise ValueError("comparator 'checker_program': 'headers' maps plain file names to their text")


@register("checker_program", "the task's checker program, run as testlib's are: checker INPUT OUTPUT ANSWER, "
          "exit status 0 accepted, 1 wrong answer, 2 presentation error (wrong), 3 the checker failed (the task's "
          "fault); compiled once in the judge; 'headers' are files it includes (testlib.h comes with the task)",
          needs_input=True, validate=_validate_checker_program,
          prepare=lambda spec: _build_only(spec), prepare_seconds=CHECKER_COMPILE_SECONDS, source="",
          language="cpp", headers={})
def _check_with_program(actual: str, expected: str, params: Params, case_input: str) -> bool:
    from .sandbox.checkers import ACCEPTED, CheckerFailed, check

    try:
        return check(_checker_program(params), case_input, actual, expected) == ACCEPTED
    except CheckerFailed as exc:
        raise CheckerBroken(str(exc)) from None


def _build_only(params: Params) -> None:
    _checker_program(params)


def _checker_program(params: Params) -> Built:
    """The command running the task's checker program, compiled on first use (in the judge)."""
    from .sandbox.checkers import CheckerFailed, build

    try:
        return build(str(params["source"]), str(params["language"]), dict(params.get("headers") or {}))
    except CheckerFailed as exc:
        raise CheckerBroken(str(exc)) from None


# -- helpers -------------------------------------------------------------------------------------


def _stripped_right(text: str) -> list[str]:
    return [line.rstrip() for line in text.rstrip().splitlines()]


def _stripped_lines(text: str) -> list[str]:
    return [line.strip() for line in text.strip().split("\n")]


def _number(token: str) -> float | None:
    try:
        value = float(token)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _decimals(line: str) -> list[Decimal] | None:
    try:
        return [Decimal(t) for t in line.split()]
    except (InvalidOperation, ValueError):
        return None


def _all_numbers(lines: list[str]) -> list[float] | None:
    out = []
    for line in lines:
        value = _number(line.strip())
        if value is None:
            return None
        out.append(value)
    return out


def _rounded_sets(lines: list[str]) -> set[frozenset[float]] | None:
    out = set()
    for line in lines:
        if not line.strip():
            continue
        numbers = [_number(t) for t in line.split()]
        if any(n is None for n in numbers):
            return None
        out.add(frozenset(round(n, 3) for n in numbers if n is not None))
    return out


__all__ = ["COMPARATORS", "CheckerBroken", "Comparator", "check_spec", "matches", "prepare", "prepare_seconds", "register"]
