"""Rewrite a test's assert statements so each one is judged and counted.

``assert A == B`` becomes: evaluate A and B into the judge's own variables,
compare them there, and tell the recorder the outcome with both values. Every
other ``assert X`` is evaluated and recorded the same way. A failed assert no
longer stops the test, so the judge learns how many tests pass (a reward
signal) and keeps the first failure's details; an exception that means the
candidate is gone (time out, killed) still stops it at once.

In a probe task only (``Task.probes``, which codeloop sets on the task it
builds for selection by agreement, MBR-exec), a bare expression that calls
the candidate, written where the asserts are (``f([1, 2])``, no ``assert``),
is a probe: nothing is checked and it is not a test, its value (or the
exception it raised) is reported. In any other task such a call just runs.
"""

from __future__ import annotations

import ast
from typing import Any

RECORDER = "__cl_rec"
FATAL = "__cl_fatal"


def _mentions(node: ast.AST, names: set[str]) -> bool:
    return any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in names for n in ast.walk(node)
    )


class _Builder:
    """New nodes placed at one statement's position: only the new nodes get it; the
    statement's own expressions keep theirs (and are not walked: a test's literals
    can be most of its nodes)."""

    def __init__(self, node: ast.stmt) -> None:
        self.line = node.lineno
        self.where: dict[str, Any] = {"lineno": node.lineno, "col_offset": node.col_offset,
                                      "end_lineno": node.end_lineno, "end_col_offset": node.end_col_offset}

    def name(self, ident: str, ctx: ast.expr_context) -> ast.Name:
        return ast.Name(ident, ctx, **self.where)

    def call(self, method: str, *args: ast.expr) -> ast.Expr:
        """``RECORDER.method(line, *args)`` as a statement."""
        func = ast.Attribute(self.name(RECORDER, ast.Load()), method, ast.Load(), **self.where)
        return ast.Expr(ast.Call(func, [ast.Constant(self.line, **self.where), *args], [], **self.where), **self.where)

    def guarded(self, body: list[ast.stmt], on_error: str) -> ast.Try:
        """``body`` in a try-block: what means the candidate is gone passes through (FATAL);
        any other exception goes to ``RECORDER.on_error(line, exc)``."""
        handler_fatal = ast.ExceptHandler(self.name(FATAL, ast.Load()), None, [ast.Raise(**self.where)], **self.where)
        handler_other = ast.ExceptHandler(self.name("BaseException", ast.Load()), "__cl_exc",
                                          [self.call(on_error, self.name("__cl_exc", ast.Load()))], **self.where)
        return ast.Try(body=body, handlers=[handler_fatal, handler_other], orelse=[], finalbody=[], **self.where)


def _recorded(node: ast.Assert, names: set[str]) -> ast.stmt:
    """The assert as a try-block that records its outcome."""
    b = _Builder(node)
    test = node.test
    body: list[ast.stmt]
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
        left, right = test.left, test.comparators[0]
        swap = _mentions(right, names) and not _mentions(left, names)
        actual, expected = (right, left) if swap else (left, right)
        body = [ast.Assign([b.name("__cl_actual", ast.Store())], actual, **b.where),
                ast.Assign([b.name("__cl_expected", ast.Store())], expected, **b.where),
                b.call("compare", b.name("__cl_actual", ast.Load()), b.name("__cl_expected", ast.Load()))]
    else:
        body = [b.call("truth", test)]
    return b.guarded(body, "error")


def _probed(node: ast.Expr) -> ast.stmt:
    """A probe as a try-block that reports its value, or the exception it raised."""
    b = _Builder(node)
    return b.guarded([b.call("observe", node.value)], "observe_raised")


_BODIES = ("body", "orelse", "finalbody", "handlers", "cases")


def _rewrite(statements: list[ast.stmt], names: set[str]) -> None:
    """Rewrite the asserts among ``statements`` and in every block nested in
    them, in place. Only statements are visited: an assert is a statement,
    and a test's expressions (long literal lists, say) are most of its nodes."""
    for i, node in enumerate(statements):
        if isinstance(node, ast.Assert):
            statements[i] = _recorded(node, names)
            continue
        for field in _BODIES:
            block = getattr(node, field, None)
            if isinstance(block, list):
                for inner in block:
                    if isinstance(inner, (ast.ExceptHandler, ast.match_case)):
                        _rewrite(inner.body, names)
                if block and isinstance(block[0], ast.stmt):
                    _rewrite(block, names)


def rewrite_asserts(source: str, filename: str, candidate_names: set[str], probes_from: int | None = None) -> object:
    """Compile ``source`` with every assert turned into a recorded check (see :func:`rewrite_test`)."""
    return rewrite_test(source, filename, candidate_names, probes_from)[0]


def rewrite_test(source: str, filename: str, candidate_names: set[str],
                 probes_from: int | None = None) -> tuple[object, int]:
    """Compile ``source`` with every assert turned into a recorded check, and count its probes.

    ``candidate_names`` are the names through which the test calls the
    candidate (``candidate`` for HumanEval, the entry point for MBPP-style
    asserts); they tell which side of ``==`` is the actual value. With
    ``probes_from`` (a probe task only), each top-level expression statement
    from that line on that calls the candidate is a probe (see the module's
    docstring); lines before it (a task's setup) are left as they are.
    Returns the code and the number of probes (which are not tests).
    Raises SyntaxError when the test itself does not parse.
    """
    tree = ast.parse(source, filename)
    probes = 0
    if probes_from is not None:
        body: list[ast.stmt] = []
        for node in tree.body:
            if isinstance(node, ast.Expr) and node.lineno >= probes_from and _mentions(node.value, candidate_names):
                body.append(_probed(node))
                probes += 1
            else:
                body.append(node)
        tree.body = body
    _rewrite(tree.body, candidate_names)
    return compile(tree, filename, "exec", dont_inherit=True), probes
