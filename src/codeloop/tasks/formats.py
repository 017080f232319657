"""Tasks from the test formats RL datasets carry, read as their harnesses read them.

A registry of named readers (:data:`FORMATS`), each turning one dataset row
(or a trainer's label: verl's ``ground_truth``, an OpenRLHF label) into a
:class:`~codeloop.types.Task`. :func:`detect` tells a row's format by its
fields; :func:`task_from_format` reads it. So far:

* ``apps``: APPS, TACO, PRIME / Eurus, PrimeIntellect, and verl's code data
  sources (``codecontests``, ``apps``, ``codeforces``, ``taco``,
  ``primeintellect``): ``{"inputs": [...], "outputs": [...], "fn_name"?}``,
  bare or as JSON text under ``input_output``. Without ``fn_name`` each test
  is stdin/stdout (an input or output given as a list of lines is joined);
  with it, each input is the JSON list of arguments of one call to
  ``fn_name`` and the output is its expected value, often wrapped in a
  one-element list (APPS accepts the value or the list, and so does this;
  tuples count as lists); an input given as text holds one JSON argument
  per line, its output JSON text (LiveCodeBench's encoding, which verl's
  ``prime_code`` uses). Outputs are compared by ``float`` with APPS's
  numeric tolerances (relative 1e-5, absolute 1e-8): tokens in order, so
  unlike APPS's cascade a missing line or a reordered line fails (the
  cascade itself is the ``apps`` comparator, for results comparable with
  published ones). ``fn_name`` must name a top-level function: LeetCode's
  ``class Solution`` is not read yet (the row is refused with that reason).

A call-based task becomes an ``asserts`` task whose expected values sit in
its setup, which runs in the judge process only: the program never sees them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from ..compare import check_spec
from ..types import IOCase, Task, TaskKind
from .errors import TaskNotFound

APPS_COMPARE = {"name": "float", "rel_tol": 1e-5, "abs_tol": 1e-8}


@dataclass(frozen=True)
class Format:
    """A named reader: ``read(fields, task_id) -> Task``; ``fields`` says which row fields mark it."""

    name: str
    read: Callable[[Mapping[str, Any], str], Task]
    marks: Callable[[Mapping[str, Any]], bool]


FORMATS: dict[str, Format] = {}


def detect(row: Mapping[str, Any]) -> str | None:
    """The name of the format whose fields ``row`` has, or None."""
    return next((f.name for f in FORMATS.values() if f.marks(row)), None)


def task_from_format(row: Mapping[str, Any], name: str | None = None, task_id: str = "row") -> Task:
    """The task of a row in format ``name`` (None: detected). Raises TaskNotFound
    saying what is missing or malformed."""
    name = name or detect(row)
    if name is None or name not in FORMATS:
        raise TaskNotFound(f"no known test format in the row's fields ({', '.join(sorted(map(str, row)))[:200]})")
    return FORMATS[name].read(row, task_id)


# -- apps ------------------------------------------------------------------------------------------


def _apps_fields(row: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """``{"inputs", "outputs", "fn_name"?}`` of a row: bare, or under ``input_output`` (JSON text or object)."""
    inner = row.get("input_output")
    if isinstance(inner, str):
        try:
            inner = json.loads(inner)
        except ValueError:
            return None
    if isinstance(inner, Mapping):
        row = inner
    if isinstance(row.get("inputs"), list) and isinstance(row.get("outputs"), list):
        return row
    return None


def _text(value: Any, what: str, i: int) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(x, str) for x in value):
        return "\n".join(value) + ("\n" if value else "")
    raise TaskNotFound(f"apps format: {what}[{i}] is a {type(value).__name__}, not text or a list of lines")


def _read_apps(row: Mapping[str, Any], task_id: str) -> Task:
    fields = _apps_fields(row)
    if fields is None:
        raise TaskNotFound("apps format: no 'inputs' and 'outputs' lists (bare or under 'input_output')")
    inputs, outputs = fields["inputs"], fields["outputs"]
    if not inputs or len(inputs) != len(outputs):
        raise TaskNotFound(f"apps format: {len(inputs)} inputs and {len(outputs)} outputs; they must pair up")
    compare = check_spec(row.get("compare") or fields.get("compare") or APPS_COMPARE)
    fn_name = fields.get("fn_name")
    if fn_name:
        return _call_based(task_id, str(fn_name), inputs, outputs)
    cases = tuple(IOCase(_text(x, "inputs", i), _text(y, "outputs", i)) for i, (x, y) in enumerate(zip(inputs, outputs)))
    return Task(task_id=task_id, kind=TaskKind.STDIO, cases=cases, compare=compare, origin="apps")


CALL_SETUP = '''import json as _json

_CASES = _json.loads({data!r})


def _plain(value):
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {{k: _plain(v) for k, v in value.items()}}
    return value


def _same(got, want):
    # APPS's rule: the value, or the value wrapped in a one-element list; tuples are lists
    got, want = _plain(got), _plain(want)
    return got == want or (isinstance(want, list) and len(want) == 1 and got == want[0])
'''


def _call_based(task_id: str, fn_name: str, inputs: list[Any], outputs: list[Any]) -> Task:
    if not fn_name.isidentifier():
        raise TaskNotFound(f"apps format: fn_name {fn_name!r} is not a function name (class Solution methods "
                           "are not read yet)")
    cases = []
    for i, (args, want) in enumerate(zip(inputs, outputs)):
        if isinstance(args, str):
            # LiveCodeBench's encoding, which verl's prime_code uses: one JSON argument per line, the
            # expected value as JSON text
            try:
                args = [json.loads(line) for line in args.splitlines() if line.strip()]
                want = json.loads(want) if isinstance(want, str) else want
            except ValueError as exc:
                raise TaskNotFound(f"apps format: test {i} is neither JSON lists nor JSON lines: {exc}") from None
        if not isinstance(args, list):
            args = [args]
        cases.append([args, want])
    setup = CALL_SETUP.format(data=json.dumps(cases))
    asserts = tuple(f"assert _same({fn_name}(*_CASES[{i}][0]), _CASES[{i}][1])" for i in range(len(cases)))
    return Task(task_id=task_id, kind=TaskKind.ASSERTS, entry_point=fn_name, setup=setup, asserts=asserts,
                origin="apps")


FORMATS["apps"] = Format("apps", _read_apps, lambda row: _apps_fields(row) is not None)

__all__ = ["FORMATS", "Format", "detect", "task_from_format", "APPS_COMPARE"]
