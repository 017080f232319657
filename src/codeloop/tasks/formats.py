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
  published ones). ``fn_name`` names a top-level function or, when the
  program defines none by that name, a method of LeetCode's ``class
  Solution`` (one instance for all the tests, as LiveCodeBench's harness makes it).
  TACO's ``time_limit`` and ``memory_limit`` text ("2 seconds", "256
  megabytes") become each test's CPU limit and the memory limit.
* ``mbpp``: ``test_list`` (assert statements), ``test_setup_code`` or
  ``test_imports``; ``challenge_test_list`` is added when the row sets
  ``with_challenge`` (the usual evaluation leaves it out). The entry point is
  the first non-builtin function the asserts call.
* ``acecoder``: ``test_cases`` (or ``tests``), a list of asserts, read the same way.
* ``codecontests``: ``public_tests``, ``private_tests`` and
  ``generated_tests`` (``{"input": [...], "output": [...]}``), all judged,
  with the ``codecontests`` comparator; ``time_limit`` (a protobuf Duration
  or seconds: each test's own CPU limit) and ``memory_limit_bytes``.
* ``evalplus``: HumanEval+ and MBPP+ rows (``prompt``, ``entry_point``,
  ``canonical_solution``, ``base_input``, ``plus_input``, ``atol``): one
  call per input (``base_only`` leaves the plus inputs out); the expected
  value is the reference's answer, computed in the judge once per task, and
  compared as EvalPlus compares: equal, or for floats (and ``atol`` > 0)
  the same type and length and within ``atol`` + 1e-7 x |expected|.
  EvalPlus's hand-written oracles for a few tasks (HumanEval/32's
  ``find_zero``, some MBPP+ tasks) are not reproduced.
* ``livecodebench``: ``public_test_cases`` and ``private_test_cases`` (JSON
  text, or the private tests' base64 + zlib + pickle encoding, unpickled by
  an unpickler that admits plain data only), ``metadata.func_name`` for
  functional tests (one JSON argument per line), the ``lcb`` comparator for
  stdin tests.

A call-based task becomes an ``asserts`` task whose expected values sit in
its setup, which runs in the judge process only: the program never sees them.

A row (or ``extra_info``) may set ``time_limit_per_test`` (seconds),
``stop_on_failure`` (stop at the first failing test, as verl's and APPS's
harnesses do) and ``tests_in_one_process`` (run them one after another in
the one sandboxed process, as those harnesses do), and may cut its tests down: ``max_tests`` keeps the first N,
``longest_tests`` the N with the longest inputs (DeepCoder's choice for RL).
verl's ``extra_info`` is merged into the row, so either can come from there.
"""

from __future__ import annotations

import ast
import base64
import builtins
import io
import json
import math
import pickle
import zlib
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping

from .. import pyparse
from ..compare import check_spec
from ..jsonl import json_object
from ..sandbox.environments import EnvironmentMissing
from ..sandbox.environments import find as find_environment
from ..types import IN_PROCESS, INSERT, INTEGRITIES, TASK_MEMO, IOCase, Task, TaskKind, fill_template
from .errors import TaskNotFound

APPS_COMPARE = {"name": "float", "rel_tol": 1e-5, "abs_tol": 1e-8}


@dataclass(frozen=True)
class Format:
    """A named reader: ``read(row, task_id) -> Task``; ``marks(row)`` says whether a row's fields are this
    format's; ``over_task_fields``: a row it marks is its, even with a ``test``, ``asserts`` or ``cases`` field."""

    name: str
    read: Callable[[Mapping[str, Any], str], Task]
    marks: Callable[[Mapping[str, Any]], bool]
    over_task_fields: bool = False  # its rows also carry a field codeloop's own format names (HumanEval+'s test)


FORMATS: dict[str, Format] = {}


def detect(row: Mapping[str, Any]) -> str | None:
    """The name of the format whose fields ``row`` has, or None."""
    return next((f.name for f in FORMATS.values() if f.marks(row)), None)


def claims_over_task_fields(row: Mapping[str, Any]) -> str | None:
    """The name of a format whose rows also carry a field of codeloop's own
    task format and whose marks ``row`` has (HumanEval+ rows hold a ``test``), or None."""
    return next((f.name for f in FORMATS.values() if f.over_task_fields and f.marks(row)), None)


def task_from_format(row: Mapping[str, Any], name: str | None = None, task_id: str = "row") -> Task:
    """The task of a row in format ``name`` (None: detected), its tests cut down
    as the row's ``max_tests`` / ``longest_tests`` say (see :func:`subsample`).
    Raises TaskNotFound saying what is missing or malformed."""
    name = name or detect(row)
    if name is None or name not in FORMATS:
        raise TaskNotFound(f"no known test format in the row's fields ({', '.join(sorted(map(str, row)))[:200]})")
    task = subsample(FORMATS[name].read(row, task_id), row.get("max_tests"), row.get("longest_tests"))
    return _run_options(task, row)


def _run_options(task: Task, row: Mapping[str, Any]) -> Task:
    """A row's (or verl ``extra_info``'s) ``time_limit_per_test``, ``stop_on_failure``,
    ``tests_in_one_process``, ``environment`` and ``integrity``, over the format's: read here, for every
    format, so a bad value is refused when the row is read (as codeloop's own task format refuses it),
    not judged as something else. ``environment`` must name one built here (:func:`find_environment`)."""
    per_test = row.get("time_limit_per_test")
    if per_test is not None:
        if isinstance(per_test, bool) or not isinstance(per_test, (int, float)) or not 0 < per_test <= 60:
            raise TaskNotFound(f"time_limit_per_test must be a number of seconds in (0, 60], not {per_test!r}",
                               "time_limit_per_test")
        task = replace(task, time_limit_per_test=float(per_test))
    for name in ("stop_on_failure", "tests_in_one_process"):
        value = row.get(name)
        if value is not None:
            if not isinstance(value, bool):
                raise TaskNotFound(f"{name} must be true or false, not {value!r}", name)
            changes: dict[str, Any] = {name: value}
            task = replace(task, **changes)
    environment = row.get("environment")
    if environment is not None:
        if not isinstance(environment, str) or not environment:
            raise TaskNotFound(f"environment must be the name of a package environment, not {environment!r}",
                               "environment")
        try:
            find_environment(environment)
        except EnvironmentMissing as exc:
            raise TaskNotFound(str(exc), "environment") from None
        task = replace(task, environment=environment)
    integrity = row.get("integrity")
    if integrity is not None:
        if integrity not in INTEGRITIES:
            raise TaskNotFound(f"integrity must be one of {', '.join(map(repr, INTEGRITIES))}, not {integrity!r}",
                               "integrity")
        if integrity == IN_PROCESS and task.kind is TaskKind.STDIO:
            raise TaskNotFound(f"integrity {IN_PROCESS!r} is for check or assert tests (stdin/stdout runs are "
                               "in the program's process already)", "integrity")
        task = replace(task, integrity=integrity)
    return task


def subsample(task: Task, first: Any = None, longest: Any = None) -> Task:
    """``task`` with only its first ``first`` tests, or (stdin tasks) the
    ``longest`` tests with the longest inputs, in their order, as DeepCoder
    picks them for RL. Either is a positive integer or None (all tests).
    Raises TaskNotFound for anything else."""
    for name, value in (("max_tests", first), ("longest_tests", longest)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise TaskNotFound(f"{name} must be a positive integer, not {value!r}")
    if longest is not None:
        if task.kind is not TaskKind.STDIO:
            raise TaskNotFound("longest_tests applies to stdin/stdout tests only; use max_tests")
        keep = sorted(sorted(range(len(task.cases)), key=lambda i: -len(task.cases[i].input))[:longest])
        task = replace(task, cases=tuple(task.cases[i] for i in keep))
    if first is not None:
        task = replace(task, cases=task.cases[:first], asserts=task.asserts[:first])
    return task


# -- apps ------------------------------------------------------------------------------------------


def _apps_fields(row: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """``{"inputs", "outputs", "fn_name"?}`` of a row: bare, or under ``input_output`` (JSON text or object)."""
    row = json_object(row.get("input_output")) or row
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
    cases = tuple(IOCase(_text(x, "inputs", i), _text(y, "outputs", i))
                  for i, (x, y) in enumerate(zip(inputs, outputs)))
    return Task(task_id=task_id, kind=TaskKind.STDIO, cases=cases, compare=compare, origin="apps",
                time_limit_per_test=limit_seconds(row.get("time_limit")),
                memory_limit=limit_megabytes(row.get("memory_limit")))


_SECONDS = {"second": 1.0, "seconds": 1.0, "sec": 1.0, "s": 1.0, "millisecond": 0.001, "milliseconds": 0.001,
            "ms": 0.001}
_MEGABYTES = {"megabyte": 1, "megabytes": 1, "mb": 1, "mib": 1, "kilobytes": 1 / 1024, "kb": 1 / 1024,
              "gigabyte": 1024, "gigabytes": 1024, "gb": 1024}


def _amount(value: Any, units: Mapping[str, float]) -> float | None:
    """A number from TACO's limit text ("2 seconds", "256 megabytes", "None") or a bare number; None if absent."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) if value > 0 else None
    if not isinstance(value, str) or value.strip().lower() in ("", "none", "null"):
        return None
    parts = value.strip().lower().split()
    try:
        number = float(parts[0])
    except (ValueError, IndexError):
        raise TaskNotFound(f"a limit that is not a number and a unit: {value!r}") from None
    unit = parts[1] if len(parts) > 1 else next(iter(units))
    if unit not in units or len(parts) > 2 or number <= 0:
        raise TaskNotFound(f"a limit that is not a number and a unit: {value!r}")
    return number * units[unit]


def limit_seconds(value: Any) -> float | None:
    """TACO's ``time_limit`` ("1 second", "2.5 seconds", "None"): the per-test limit, at most 60 s."""
    seconds = _amount(value, _SECONDS)
    return min(seconds, 60.0) if seconds is not None else None


def limit_megabytes(value: Any) -> int | None:
    """TACO's ``memory_limit`` ("256 megabytes", "None") in MiB, within 16 to 65536."""
    mb = _amount(value, _MEGABYTES)
    return max(16, min(65536, math.ceil(mb))) if mb is not None else None


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
        raise TaskNotFound(f"apps format: fn_name {fn_name!r} is not a function or method name")
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
    return Task(task_id=task_id, kind=TaskKind.ASSERTS, prompt=HARNESS_IMPORTS, entry_point=fn_name, setup=setup,
                asserts=asserts, origin="apps")


# What APPS's, verl's prime_code and LiveCodeBench's harnesses put in front of a call-based program, so that
# LeetCode-style code using List[int] or Counter without importing them runs there. The prompt of a call-based
# task: a whole solution gets the prompt's imports in front (codeloop.extract).
HARNESS_IMPORTS = "".join(f"from {m} import *\n" for m in (
    "string", "re", "datetime", "collections", "heapq", "bisect", "copy", "math", "random", "statistics",
    "itertools", "functools", "operator", "io", "sys", "json", "builtins", "typing")) + "".join(
    f"import {m}\n" for m in ("string", "re", "datetime", "collections", "heapq", "bisect", "copy", "math",
                              "random", "statistics", "itertools", "functools", "operator", "io", "sys", "json"))


FORMATS["apps"] = Format("apps", _read_apps, lambda row: _apps_fields(row) is not None)


# -- assert lists: MBPP, AceCoder ------------------------------------------------------------------


def _entry_point(asserts: list[str]) -> str:
    """The function the asserts test: the first name they call that is not a builtin (MBPP and
    AceCoder name no entry point; AceCoder's own harness takes the text after ``assert``)."""
    for source in asserts:
        try:
            tree = pyparse.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and not hasattr(builtins, node.func.id):
                return node.func.id
    raise TaskNotFound("no function called in the asserts")


def _assert_list(value: Any, field: str) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(a, str) for a in value):
        raise TaskNotFound(f"'{field}' must be a non-empty list of assert statements")
    return value


def _read_mbpp(row: Mapping[str, Any], task_id: str) -> Task:
    asserts = _assert_list(row.get("test_list"), "test_list")
    if row.get("with_challenge"):
        asserts = asserts + list(row.get("challenge_test_list") or [])
    setup = row.get("test_setup_code") or "\n".join(row.get("test_imports") or [])
    return Task(task_id=str(row.get("task_id", task_id)), kind=TaskKind.ASSERTS, prompt="",
                entry_point=_entry_point(asserts), setup=str(setup), asserts=tuple(asserts), origin="mbpp")


def _read_acecoder(row: Mapping[str, Any], task_id: str) -> Task:
    field = "test_cases" if "test_cases" in row else "tests"
    asserts = _assert_list(row.get(field), field)
    return Task(task_id=str(row.get("id", task_id)), kind=TaskKind.ASSERTS, entry_point=_entry_point(asserts),
                asserts=tuple(asserts), origin="acecoder")


def _all_asserts(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(a, str) and a.lstrip().startswith("assert")
                                                           for a in value)


FORMATS["mbpp"] = Format("mbpp", _read_mbpp,  # MBPP+ rows keep MBPP's test_list: theirs is the evalplus reader
                         lambda row: _all_asserts(row.get("test_list")) and "base_input" not in row)
FORMATS["acecoder"] = Format("acecoder", _read_acecoder,
                             lambda row: _all_asserts(row.get("test_cases")) or _all_asserts(row.get("tests")))


# -- HumanEval+ / MBPP+ (EvalPlus) ----------------------------------------------------------------

EVALPLUS_SETUP = '''import copy as _copy
import json as _json

_INPUTS = _json.loads({inputs!r})
_ATOL = {atol!r}
_reference_namespace = {{"__name__": "reference"}}
exec(compile({reference!r}, "reference.py", "exec"), _reference_namespace)
_reference = _reference_namespace[{entry_point!r}]


def _is_floats(x):
    if isinstance(x, float):
        return True
    return isinstance(x, (list, tuple)) and bool(x) and all(isinstance(i, float) for i in x)


def _close(out, exp, atol):
    # numpy.allclose's rule, element by element: |out - exp| <= atol + 1e-07 * |exp|
    if isinstance(exp, (list, tuple)):
        return isinstance(out, (list, tuple)) and len(out) == len(exp) and all(
            _close(o, e, atol) for o, e in zip(out, exp))
    try:
        return abs(out - exp) <= atol + 1e-07 * abs(exp)
    except TypeError:
        return False


class _Expected:
    """The reference's answer on test i, computed here (in the judge) once per task, compared as EvalPlus does."""

    def __init__(self, i):
        if i not in {memo}:
            {memo}[i] = _reference(*_copy.deepcopy(_INPUTS[i]))
        self.value = {memo}[i]

    def __eq__(self, out):
        exp = self.value
        if out == exp:
            return True
        atol = _ATOL or (1e-6 if _is_floats(exp) else 0)
        return atol != 0 and type(out) is type(exp) and _close(out, exp, atol)

    def __repr__(self):
        return repr(self.value)
'''


def _read_evalplus(row: Mapping[str, Any], task_id: str) -> Task:
    entry_point, prompt = row.get("entry_point"), str(row.get("prompt") or "")
    solution = row.get("canonical_solution")
    if not isinstance(entry_point, str) or not entry_point.isidentifier():
        raise TaskNotFound("evalplus format: 'entry_point' must name the function")
    if not isinstance(solution, str):
        raise TaskNotFound("evalplus format: 'canonical_solution' must be the reference's code")
    inputs = list(row.get("base_input") or [])
    if not row.get("base_only"):
        inputs += list(row.get("plus_input") or [])
    if not inputs or not all(isinstance(x, list) for x in inputs):
        raise TaskNotFound("evalplus format: 'base_input' (and 'plus_input') must be lists of argument lists")
    atol = row.get("atol") or 0
    if isinstance(atol, bool) or not isinstance(atol, (int, float)) or atol < 0:
        raise TaskNotFound(f"evalplus format: 'atol' must be a number >= 0, not {atol!r}")
    # EvalPlus's prompt holds the signature and the canonical solution its body; MBPP+'s solution is whole
    reference = solution if f"def {entry_point}" in solution else prompt + solution
    try:
        setup = EVALPLUS_SETUP.format(inputs=json.dumps(inputs), atol=float(atol), reference=reference,
                                      entry_point=entry_point, memo=TASK_MEMO)
    except (TypeError, ValueError) as exc:
        raise TaskNotFound(f"evalplus format: inputs that are not JSON data: {exc}") from None
    asserts = tuple(f"assert {entry_point}(*_INPUTS[{i}]) == _Expected({i})" for i in range(len(inputs)))
    return Task(task_id=str(row.get("task_id", task_id)), kind=TaskKind.ASSERTS, prompt=prompt,
                entry_point=entry_point, setup=setup, asserts=asserts, reference=reference, origin="evalplus")


FORMATS["evalplus"] = Format("evalplus", _read_evalplus,
                             lambda row: "canonical_solution" in row and "base_input" in row, over_task_fields=True)


# -- BigCodeBench ----------------------------------------------------------------------------------

# BigCodeBench's tests are a unittest module: a TestCases class whose methods call task_func. Here the module
# runs in the judge, its task_func the proxy into the sandboxed program, so the tests keep the split; a test
# that patches a module the program uses (unittest.mock) patches the judge's copy instead, and fails: such a
# row says "integrity": "in-process", and its tests then run in the program's process (verify/in_process.py).
BIGCODEBENCH_CHECK = """
def check(candidate):
    import unittest as _unittest
    globals()[{entry_point!r}] = candidate
    _suite = _unittest.defaultTestLoader.loadTestsFromTestCase(TestCases)
    _result = _unittest.TestResult()
    _suite.run(_result)
    _problems = _result.failures + _result.errors
    if _problems:
        _test, _trace = _problems[0]
        raise AssertionError(f"{{len(_problems)}} of {{_result.testsRun}} tests failed; first: "
                             f"{{_test.id().rsplit('.', 1)[-1]}}\\n{{_trace[-1500:]}}")
    if not _result.testsRun:
        raise AssertionError("TestCases holds no test")
"""


def _read_bigcodebench(row: Mapping[str, Any], task_id: str) -> Task:
    test, entry_point = row.get("test"), row.get("entry_point") or "task_func"
    prompt, solution = str(row.get("complete_prompt") or ""), row.get("canonical_solution")
    if not isinstance(test, str) or "class TestCases" not in test:
        raise TaskNotFound("bigcodebench format: 'test' must define a unittest class TestCases")
    if not isinstance(entry_point, str) or not entry_point.isidentifier():
        raise TaskNotFound("bigcodebench format: 'entry_point' must name the function")
    reference = prompt + solution if isinstance(solution, str) else None
    return Task(task_id=str(row.get("task_id", task_id)), kind=TaskKind.CHECK, prompt=prompt,
                entry_point=entry_point, test=test + BIGCODEBENCH_CHECK.format(entry_point=entry_point),
                reference=reference, origin="bigcodebench")


FORMATS["bigcodebench"] = Format("bigcodebench", _read_bigcodebench,
                                 lambda row: "complete_prompt" in row and "test" in row, over_task_fields=True)


# -- DS-1000 style -----------------------------------------------------------------------------------

# The program is the task's code context with the model's code at [insert]; the context leaves its answer in
# a global `result`. The judge runs the context with the reference's code itself (trusted, once per task: the
# expected value is kept in the judge's per-task memo) for the expected value, calls into the program for its
# `result` (which crosses the split as data), and compares the two with the task's check_result, as a rule with
# the library's own testing helpers. check_result gets a deep copy of the expected value where one can be made,
# so a checker that changes its argument does not change the next sample's.
DS1000_RESULT = "\n\n\ndef ds1000_result():\n    return result\n"
DS1000_CHECK = """
{checker}


def _ds1000_expected():
    import copy as _copy
    if "expected" not in {memo}:
        _namespace = {{"__name__": "reference"}}
        exec(compile({reference_program!r}, "reference.py", "exec", dont_inherit=True), _namespace)
        {memo}["expected"] = _namespace["result"]
    try:
        return _copy.deepcopy({memo}["expected"])
    except Exception:  # a value deepcopy cannot copy (a handle, say): the one value, as it is
        return {memo}["expected"]


def check(candidate):
    if check_result(candidate(), _ds1000_expected()) is False:
        raise AssertionError("the result does not match the reference's")
"""


def _read_ds1000(row: Mapping[str, Any], task_id: str) -> Task:
    context, reference, checker = row.get("code_context"), row.get("reference_code"), row.get("checker")
    if not isinstance(context, str) or INSERT not in context:
        raise TaskNotFound(f"ds1000 format: 'code_context' must be a program with {INSERT} where the code goes")
    if not isinstance(reference, str):
        raise TaskNotFound("ds1000 format: 'reference_code' must be the reference's code for the slot")
    if not isinstance(checker, str) or "def check_result" not in checker:
        raise TaskNotFound("ds1000 format: 'checker' must define check_result(result, expected)")
    template = context + DS1000_RESULT
    reference_program = fill_template(template, reference)
    return Task(task_id=str(row.get("task_id", task_id)), kind=TaskKind.CHECK, prompt=str(row.get("prompt") or ""),
                entry_point="ds1000_result", reference=reference_program, template=template, origin="ds1000",
                test=DS1000_CHECK.format(checker=checker, reference_program=reference_program, memo=TASK_MEMO))


FORMATS["ds1000"] = Format("ds1000", _read_ds1000, lambda row: "code_context" in row and "reference_code" in row)


# -- CodeContests -----------------------------------------------------------------------------------

CODECONTESTS_TESTS = ("public_tests", "private_tests", "generated_tests")


def _seconds(value: Any) -> float | None:
    """CodeContests' ``time_limit``: a protobuf Duration (``{"seconds", "nanos"}``) or a number of seconds."""
    if isinstance(value, Mapping):
        total = float(value.get("seconds") or 0) + float(value.get("nanos") or 0) / 1e9
        return total or None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None


def _read_codecontests(row: Mapping[str, Any], task_id: str) -> Task:
    cases: list[IOCase] = []
    for field in CODECONTESTS_TESTS:
        tests = row.get(field) or {}
        inputs, outputs = tests.get("input") or [], tests.get("output") or []
        if len(inputs) != len(outputs):
            raise TaskNotFound(f"codecontests format: {field} has {len(inputs)} inputs and {len(outputs)} outputs")
        cases += [IOCase(str(i), str(o)) for i, o in zip(inputs, outputs)]
    if not cases:
        raise TaskNotFound("codecontests format: no tests in public_tests, private_tests or generated_tests")
    memory = row.get("memory_limit_bytes")
    memory_mb = -(-int(memory) // (1 << 20)) if isinstance(memory, int) and memory > 0 else None
    time_limit = _seconds(row.get("time_limit"))
    return Task(task_id=str(row.get("name", task_id)), kind=TaskKind.STDIO, cases=tuple(cases),
                compare=check_spec(row.get("compare") or "codecontests"),
                time_limit_per_test=min(time_limit, 60.0) if time_limit else None,
                memory_limit=max(16, min(memory_mb, 65536)) if memory_mb else None, origin="codecontests")


FORMATS["codecontests"] = Format("codecontests", _read_codecontests,
                                 lambda row: any(isinstance(row.get(f), Mapping) for f in CODECONTESTS_TESTS))


# -- LiveCodeBench ----------------------------------------------------------------------------------


class _PlainData(pickle.Unpickler):
    """Unpickles plain data only: LiveCodeBench's private tests are a pickled string, and a pickle
    that names any class or function (the way a pickle runs code) is refused."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refused: the pickle names {module}.{name}, not plain data")


def _lcb_tests(value: Any, field: str) -> list[Mapping[str, Any]]:
    if isinstance(value, list):
        return value
    if not isinstance(value, str) or not value:
        return []
    try:
        return json.loads(value)
    except ValueError:
        pass
    try:  # base64, then zlib, then a pickled JSON text
        text = _PlainData(io.BytesIO(zlib.decompress(base64.b64decode(value)))).load()
        return json.loads(text)
    except (ValueError, zlib.error, pickle.UnpicklingError, EOFError, TypeError) as exc:
        raise TaskNotFound(f"livecodebench format: {field} is neither JSON nor its encoded form: {exc}") from None


def _read_livecodebench(row: Mapping[str, Any], task_id: str) -> Task:
    tests = _lcb_tests(row.get("public_test_cases"), "public_test_cases") + \
        _lcb_tests(row.get("private_test_cases"), "private_test_cases")
    if not tests:
        raise TaskNotFound("livecodebench format: no tests")
    kinds = {t.get("testtype") for t in tests}
    task_id = str(row.get("question_id", task_id))
    if kinds == {"functional"}:
        fn_name = (json_object(row.get("metadata")) or {}).get("func_name")
        if not fn_name:
            raise TaskNotFound("livecodebench format: functional tests need metadata.func_name")
        return _call_based(task_id, str(fn_name), [t["input"] for t in tests], [t["output"] for t in tests])
    if kinds != {"stdin"}:
        raise TaskNotFound(f"livecodebench format: test types {sorted(map(str, kinds))}; expected one kind")
    cases = tuple(IOCase(str(t["input"]), str(t["output"])) for t in tests)
    return Task(task_id=task_id, kind=TaskKind.STDIO, cases=cases, compare=check_spec(row.get("compare") or "lcb"),
                origin="livecodebench")


FORMATS["livecodebench"] = Format("livecodebench", _read_livecodebench,
                                  lambda row: "public_test_cases" in row)

__all__ = ["FORMATS", "Format", "claims_over_task_fields", "detect", "task_from_format", "APPS_COMPARE"]
