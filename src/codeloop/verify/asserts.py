"""Rewrite a test's assert statements so each one is judged and counted.

``assert A == B`` becomes: evaluate A and B into the judge's own variables,
compare them there, and tell the recorder the outcome with both values. Every
other ``assert X`` is evaluated and recorded the same way. A failed assert no
longer stops the test, so the judge learns how many tests pass (a reward
signal) and keeps the first failure's details; an exception that means the
candidate is gone (time out, killed) still stops it at once.

A probe is a bare expression that calls the candidate, written where the
asserts are (``f([1, 2])``, no ``assert``): nothing is checked, its value
(or the exception it raised) is reported. Selection by agreement
(MBR-exec) runs candidates on inputs that have no expected output this way.
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


def _recorded(node: ast.Assert, names: set[str]) -> ast.stmt:
    """The assert as a try-block that records its outcome. Only the new
    nodes get the assert's position; its own expressions keep theirs (and are
    not walked: a test's literals can be most of its nodes)."""
    where: dict[str, Any] = {"lineno": node.lineno, "col_offset": node.col_offset,
             "end_lineno": node.end_lineno, "end_col_offset": node.end_col_offset}
    line = node.lineno

    def name(ident: str, ctx: ast.expr_context) -> ast.Name:
        return ast.Name(ident, ctx, **where)

    def call(method: str, *args: ast.expr) -> ast.Expr:
        func = ast.Attribute(name(RECORDER, ast.Load()), method, ast.Load(), **where)
        return ast.Expr(ast.Call(func, [ast.Constant(line, **where), *args], [], **where), **where)

    test = node.test
    body: list[ast.stmt]
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
        left, right = test.left, test.comparators[0]
        swap = _mentions(right, names) and not _mentions(left, names)
        actual, expected = (right, left) if swap else (left, right)
        body = [ast.Assign([name("__cl_actual", ast.Store())], actual, **where),
                ast.Assign([name("__cl_expected", ast.Store())], expected, **where),
                call("compare", name("__cl_actual", ast.Load()), name("__cl_expected", ast.Load()))]
    else:
        body = [call("truth", test)]
    handler_fatal = ast.ExceptHandler(name(FATAL, ast.Load()), None, [ast.Raise(**where)], **where)
    handler_other = ast.ExceptHandler(name("BaseException", ast.Load()), "__cl_exc",
                                      [call("error", name("__cl_exc", ast.Load()))], **where)
    return ast.Try(body=body, handlers=[handler_fatal, handler_other], orelse=[], finalbody=[], **where)


def _probed(node: ast.Expr) -> ast.stmt:
    """A probe as a try-block that reports its value, or the exception it raised."""
    where: dict[str, Any] = {"lineno": node.lineno, "col_offset": node.col_offset,
             "end_lineno": node.end_lineno, "end_col_offset": node.end_col_offset}

    def call(method: str, *args: ast.expr) -> ast.Expr:
        func = ast.Attribute(ast.Name(RECORDER, ast.Load(), **where), method, ast.Load(), **where)
        return ast.Expr(ast.Call(func, [ast.Constant(node.lineno, **where), *args], [], **where), **where)

    handler_fatal = ast.ExceptHandler(ast.Name(FATAL, ast.Load(), **where), None, [ast.Raise(**where)], **where)
    handler_other = ast.ExceptHandler(ast.Name("BaseException", ast.Load(), **where), "__cl_exc",
                                      [call("observe_raised", ast.Name("__cl_exc", ast.Load(), **where))], **where)
    return ast.Try(body=[call("observe", node.value)], handlers=[handler_fatal, handler_other], orelse=[],
                   finalbody=[], **where)


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
    """Compile ``source`` with every assert turned into a recorded check.

    ``candidate_names`` are the names through which the test calls the
    candidate (``candidate`` for HumanEval, the entry point for MBPP-style
    asserts); they tell which side of ``==`` is the actual value. With
    ``probes_from``, each top-level expression statement from that line on
    that calls the candidate is a probe (see the module's docstring); lines
    before it (a task's setup) are left as they are.
    Raises SyntaxError when the test itself does not parse.
    """
    tree = ast.parse(source, filename)
    if probes_from is not None:
        tree.body = [_probed(node) if isinstance(node, ast.Expr) and node.lineno >= probes_from
                     and _mentions(node.value, candidate_names) else node for node in tree.body]
    _rewrite(tree.body, candidate_names)
    return compile(tree, filename, "exec", dont_inherit=True)
