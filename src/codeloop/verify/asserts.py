"""Rewrite a test's assert statements so each one is judged and counted.

``assert A == B`` becomes: evaluate A and B into the judge's own variables,
compare them there, and tell the recorder the outcome with both values. Every
other ``assert X`` is evaluated and recorded the same way. A failed assert no
longer stops the test, so the judge learns how many tests pass (a reward
signal) and keeps the first failure's details; an exception that means the
candidate is gone (time out, killed) still stops it at once.
"""

from __future__ import annotations

import ast

RECORDER = "__cl_rec"
FATAL = "__cl_fatal"


def _mentions(node: ast.AST, names: set[str]) -> bool:
    return any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in names for n in ast.walk(node)
    )


class _AssertRewriter(ast.NodeTransformer):
    def __init__(self, candidate_names: set[str]) -> None:
        self.names = candidate_names

    def visit_Assert(self, node: ast.Assert) -> ast.AST:
        line = node.lineno
        rec = lambda attr: ast.Attribute(ast.Name(RECORDER, ast.Load()), attr, ast.Load())  # noqa: E731
        test = node.test
        if (
            isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)
        ):
            left, right = test.left, test.comparators[0]
            swap = _mentions(right, self.names) and not _mentions(left, self.names)
            actual, expected = (right, left) if swap else (left, right)
            body = [
                ast.Assign([ast.Name("__cl_actual", ast.Store())], actual),
                ast.Assign([ast.Name("__cl_expected", ast.Store())], expected),
                ast.Expr(ast.Call(rec("compare"), [ast.Constant(line), ast.Name("__cl_actual", ast.Load()),
                                                   ast.Name("__cl_expected", ast.Load())], [])),
            ]
        else:
            body = [ast.Expr(ast.Call(rec("truth"), [ast.Constant(line), test], []))]
        handler_fatal = ast.ExceptHandler(ast.Name(FATAL, ast.Load()), None, [ast.Raise()])
        handler_other = ast.ExceptHandler(
            ast.Name("BaseException", ast.Load()), "__cl_exc",
            [ast.Expr(ast.Call(rec("error"), [ast.Constant(line), ast.Name("__cl_exc", ast.Load())], []))],
        )
        new = ast.Try(body=body, handlers=[handler_fatal, handler_other], orelse=[], finalbody=[])
        return ast.copy_location(new, node)


def rewrite_asserts(source: str, filename: str, candidate_names: set[str]) -> object:
    """Compile ``source`` with every assert turned into a recorded check.

    ``candidate_names`` are the names through which the test calls the
    candidate (``candidate`` for HumanEval, the entry point for MBPP-style
    asserts); they tell which side of ``==`` is the actual value.
    Raises SyntaxError when the test itself does not parse.
    """
    tree = _AssertRewriter(candidate_names).visit(ast.parse(source, filename))
    ast.fix_missing_locations(tree)
    return compile(tree, filename, "exec")
