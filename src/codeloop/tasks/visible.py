"""Visible tests: the examples a task's prompt shows, turned into asserts.

A refinement loop may show the model what these tests say (they are in its
prompt already); the task's own tests stay hidden and only judge. Examples
are read from the docstring in three common forms: doctest (``>>> f(1)``
then ``2``), ``f(1) == 2`` lines, and arrows (``f(1) ➞ 2``, ``f(1) => 2``,
``f(1) -> 2``). Each candidate assert must parse as Python and call the entry
point; anything else is skipped.
"""

from __future__ import annotations

import ast
import doctest
import re
from dataclasses import replace

from .. import pyparse
from ..types import IOCase, Task, TaskKind

ARROWS = ("➞", "=>", "->", "→")


def _calls(expr: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == name for n in ast.walk(expr))


def _assert_for(call_src: str, want_src: str, name: str) -> str | None:
    call_src, want_src = call_src.strip().rstrip(",;"), want_src.strip().rstrip(".,;")
    try:
        call = pyparse.parse(call_src, mode="eval").body
        pyparse.parse(want_src, mode="eval")
    except SyntaxError:
        return None
    if not _calls(call, name):
        return None
    return f"assert {call_src} == {want_src}"


def example_asserts(prompt: str, entry_point: str) -> list[str]:
    """Asserts for the examples in ``entry_point``'s docstring inside ``prompt``."""
    try:
        tree = pyparse.parse(prompt)
    except SyntaxError:
        return []
    doc = next((ast.get_docstring(n) or "" for n in ast.walk(tree)
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == entry_point), "")
    found: list[str] = []
    try:
        examples = doctest.DocTestParser().get_examples(doc)
    except ValueError:
        examples = []
    for ex in examples:
        a = _assert_for(ex.source, ex.want, entry_point)
        if a:
            found.append(a)
    for line in doc.splitlines():
        line = line.strip()
        if line.startswith(">>>"):
            continue
        try:
            node = pyparse.parse(line, mode="eval").body
        except SyntaxError:
            node = None
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq) \
                and _calls(node.left, entry_point):
            found.append(f"assert {line}")
            continue
        for arrow in ARROWS:
            left, sep, right = line.partition(arrow)
            if sep:
                a = _assert_for(left, right, entry_point)
                if a:
                    found.append(a)
                break
    return list(dict.fromkeys(found))  # without repeats, in order


# "Input" / "Output" headings of a contest statement's examples: "Sample Input 1", "-----Input-----", "Input:"
_HEADING = r"^[ \t]*(?:-{3,}[ \t]*)?(?:sample|example)?[ \t]*{word}(?:[ \t]*\d+)?[ \t]*:?[ \t]*(?:-{3,})?[ \t]*$"
_INPUT = re.compile(_HEADING.replace("{word}", "input"), re.I | re.M)
_OUTPUT = re.compile(_HEADING.replace("{word}", "output"), re.I | re.M)
# where the examples begin: an "Examples" heading, or the first "Sample Input"
_EXAMPLES = re.compile(r"^[ \t-]*(?:examples?|samples?|sample tests?)[ \t\d:-]*$|^[ \t-]*(?:sample|example)[ \t]*input",
                       re.I | re.M)
_SECTION_END = re.compile(r"^[ \t]*(?:-{3,}.*|note:?|explanation:?|examples?:?|constraints:?)[ \t]*$", re.I | re.M)


def example_cases(prompt: str, at_most: int = 10) -> list[IOCase]:
    """The worked examples of a contest statement: text under an "Input"
    heading followed by text under an "Output" heading (Codeforces' "Sample
    Input 1", APPS's "Input" under ``-----Examples-----``). When the statement
    has an "Examples" heading or a "Sample Input", only what follows it is
    read: the statement's own "Input" and "Output" sections describe the
    format and are not examples."""
    begin = _EXAMPLES.search(prompt)
    text = prompt[begin.start():] if begin is not None else prompt
    found: list[IOCase] = []
    for start in _INPUT.finditer(text):
        rest = text[start.end():]
        out = _OUTPUT.search(rest)
        if out is None or _INPUT.search(rest[:out.start()]):
            continue
        given = rest[:out.start()]
        after = rest[out.end():]
        ends = [m.start() for m in (_INPUT.search(after), _SECTION_END.search(after)) if m is not None]
        expected = after[:min(ends)] if ends else after
        if given.strip() and expected.strip():
            found.append(IOCase(given.strip() + "\n", expected.strip() + "\n"))
    return list(dict.fromkeys(found))[:at_most]


def visible_task(task: Task) -> Task:
    """A task whose tests are ``task``'s prompt examples: asserts from a
    function's docstring, or for a whole program the statement's example
    inputs and outputs. A prompt that shows none leaves a test that only
    checks the program loads (defines the entry point; or runs on empty input
    without failing)."""
    if task.kind is TaskKind.STDIO:
        cases = tuple(example_cases(task.prompt)) or (IOCase("", None),)
        return replace(task, task_id=f"{task.task_id}#visible", cases=cases, reference=None, time_limit=None,
                       time_limit_per_test=task.time_limit_per_test or 3.0, stop_on_failure=False, origin="visible")
    asserts = example_asserts(task.prompt, task.entry_point) if task.entry_point else []
    if not asserts:
        asserts = [f"assert callable({task.entry_point or 'main'})"]
    return Task(task_id=f"{task.task_id}#visible", kind=TaskKind.ASSERTS, prompt=task.prompt,
                entry_point=task.entry_point, asserts=tuple(asserts), time_limit=3.0, origin="visible")


def call_in(assert_source: str, entry_point: str) -> str | None:
    """The call of ``entry_point`` an assert checks, without what it expects:
    ``assert f(1) == 2`` gives ``f(1)``; any other assert, its first call of
    the entry point. None when it makes none (or does not parse)."""
    try:
        body = pyparse.parse(assert_source.strip()).body
    except SyntaxError:
        return None
    if len(body) != 1 or not isinstance(body[0], ast.Assert):
        return None
    test = body[0].test
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
        for side in (test.left, test.comparators[0]):
            if _calls(side, entry_point):
                return ast.unparse(side)
    call = next((n for n in ast.walk(test) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
                 and n.func.id == entry_point), None)
    return ast.unparse(call) if call is not None else None


def probe_task(task: Task, asserts: list[str] | tuple[str, ...] = (), inputs: list[str] | tuple[str, ...] = ()) -> Task:
    """The inputs a selection by agreement (MBR-exec) runs every candidate on, as
    a task with no expected outputs: the prompt's examples plus the calls made
    by ``asserts`` (a function; say the model's own tests) or plus the stdin
    ``inputs`` (a whole program). Built from the prompt and what is given,
    never from ``task``'s own tests. Its verdicts carry what each sample
    returned (``values``, one per probe: the task says ``probes``, the only
    kind of task whose bare calls are recorded) or printed (``runs``, one per
    input: a case with no expected output is only run, in any task)."""
    visible = visible_task(task)
    if task.kind is TaskKind.STDIO:
        given = [c.input for c in visible.cases] + [i if i.endswith("\n") else i + "\n" for i in inputs]
        cases = tuple(IOCase(i, None) for i in dict.fromkeys(given))
        return replace(visible, task_id=f"{task.task_id}#probes", cases=cases, origin="probes")
    calls = [c for c in (call_in(a, task.entry_point) for a in (*visible.asserts, *asserts)) if c is not None]
    # with no call to make, the task only checks the program loads: every sample that does agrees
    return replace(visible, task_id=f"{task.task_id}#probes", asserts=tuple(dict.fromkeys(calls)) or visible.asserts,
                   origin="probes", probes=True)


def probe_inputs(probes: Task) -> tuple[str, ...]:
    """What a :func:`probe_task` runs each sample on: its stdin inputs, or its calls
    (the ``assert callable(f)`` of a prompt with nothing to call runs none)."""
    if probes.kind is TaskKind.STDIO:
        return tuple(c.input for c in probes.cases)
    return tuple(p for p in probes.asserts if not p.startswith("assert "))
