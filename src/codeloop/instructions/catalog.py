"""The built-in code instructions, in five groups: style and conventions,
logic and code patterns, documentation, error handling, library and API use."""

from __future__ import annotations

import ast
import sys
import tokenize
from typing import Any

from .base import Instruction, Param, Source, Violation, register


def _at(node: ast.AST, message: str, rule: str = "ast") -> Violation:
    return Violation(getattr(node, "lineno", 0), getattr(node, "col_offset", 0) + 1, message, rule)


def _n(default: int, doc: str, minimum: int = 1) -> Param:
    return Param("n", int, default, doc, minimum=minimum)


# -- style and conventions -----------------------------------------------------

@register
class MaxLineLength(Instruction):
    id, group = "style:max_line_length", "style"
    sentence = "Keep every line at most {n} characters long."
    params = (_n(79, "longest allowed line", 20),)
    ruff_rules = ("E501",)

    def ruff_settings(self) -> dict[str, Any]:
        return {"line-length": self.values["n"]}


@register
class SnakeCaseFunctions(Instruction):
    id, group = "style:snake_case_functions", "style"
    sentence = "Name every function in snake_case."
    ruff_rules = ("N802",)


@register
class SnakeCaseVariables(Instruction):
    id, group = "style:snake_case_variables", "style"
    sentence = "Name every variable and argument in snake_case."
    ruff_rules = ("N803", "N806")


@register
class PascalCaseClasses(Instruction):
    id, group = "style:pascal_case_classes", "style"
    sentence = "Name every class in PascalCase."
    ruff_rules = ("N801",)


@register
class StringQuotes(Instruction):
    id, group = "style:string_quotes", "style"
    sentence = "Write string literals with {quote} quotes."
    params = (Param("quote", str, "double", "the quote character to use", ("double", "single")),)

    def check(self, src: Source) -> list[Violation]:
        want = '"' if self.values["quote"] == "double" else "'"
        other = "'" if want == '"' else '"'
        found = []
        for tok in src.tokens:
            if tok.type != tokenize.STRING:
                continue
            body = tok.string.lstrip("rRbBuUfF")
            if body[:3] in ('"""', "'''"):
                continue  # docstrings and long strings are not in scope
            if body.startswith(other) and want not in body[1:-1]:
                found.append(Violation(tok.start[0], tok.start[1] + 1,
                                       f"string uses {self.values['quote'] == 'double' and 'single' or 'double'} quotes",
                                       "tokenize"))
        return found


@register
class UseFStrings(Instruction):
    id, group = "style:use_fstrings", "style"
    sentence = "Format strings with f-strings, not % or str.format()."

    def check(self, src: Source) -> list[Violation]:
        found = []
        for node in ast.walk(src.tree):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and \
                    isinstance(node.left, ast.Constant) and isinstance(node.left.value, str):
                found.append(_at(node, "%-formatting instead of an f-string"))
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format" \
                    and isinstance(node.func.value, ast.Constant) and isinstance(node.func.value.value, str):
                found.append(_at(node, "str.format() instead of an f-string"))
        return found


@register
class IndentWidth(Instruction):
    id, group = "style:indent_width", "style"
    sentence = "Indent with {n} spaces per level, never tabs."
    params = (_n(4, "spaces per indentation level"),)

    def check(self, src: Source) -> list[Violation]:
        found, levels = [], [0]
        for tok in src.tokens:
            if tok.type == tokenize.INDENT:
                width = len(tok.string)
                if "\t" in tok.string or width - levels[-1] != self.values["n"]:
                    found.append(Violation(tok.start[0], 1, f"indented by {tok.string!r}", "tokenize"))
                levels.append(width)
            elif tok.type == tokenize.DEDENT:
                levels.pop()
        return found


@register
class NoSemicolons(Instruction):
    id, group = "style:no_semicolons", "style"
    sentence = "Do not use semicolons; one statement per line."
    ruff_rules = ("E702", "E703")


@register
class MaxFunctionLength(Instruction):
    id, group = "style:max_function_length", "style"
    sentence = "Keep every function at most {n} lines long."
    params = (_n(30, "most lines in one function, its signature included"),)

    def check(self, src: Source) -> list[Violation]:
        return [_at(f, f"{f.name} is {(f.end_lineno or f.lineno) - f.lineno + 1} lines long") for f in src.functions()
                if (f.end_lineno or f.lineno) - f.lineno + 1 > self.values["n"]]


@register
class NoTrailingWhitespace(Instruction):
    id, group = "style:no_trailing_whitespace", "style"
    sentence = "Leave no trailing white space at the end of lines."
    ruff_rules = ("W291", "W293")


# -- logic and code patterns ---------------------------------------------------

@register
class UseComprehensions(Instruction):
    id, group = "logic:use_comprehensions", "logic"
    sentence = "Build lists with comprehensions, not with append() in a loop."
    ruff_rules = ("PERF401", "PERF402")


@register
class NoGlobalStatements(Instruction):
    id, group = "logic:no_global_statements", "logic"
    sentence = "Do not use global or nonlocal statements."

    def check(self, src: Source) -> list[Violation]:
        return [_at(n, f"{type(n).__name__.lower()} statement") for n in ast.walk(src.tree)
                if isinstance(n, (ast.Global, ast.Nonlocal))]


@register
class MaxBranches(Instruction):
    id, group = "logic:max_branches", "logic"
    sentence = "Give no function more than {n} branches."
    params = (_n(12, "most branches (if, for, while, try, with) in one function"),)
    ruff_rules = ("PLR0912",)

    def ruff_settings(self) -> dict[str, Any]:
        return {"lint.pylint.max-branches": self.values["n"]}


@register
class MaxArguments(Instruction):
    id, group = "logic:max_arguments", "logic"
    sentence = "Give no function more than {n} arguments."
    params = (_n(5, "most arguments of one function"),)
    ruff_rules = ("PLR0913",)

    def ruff_settings(self) -> dict[str, Any]:
        return {"lint.pylint.max-args": self.values["n"]}


@register
class MaxNestingDepth(Instruction):
    id, group = "logic:max_nesting_depth", "logic"
    sentence = "Nest blocks at most {n} levels deep inside a function."
    params = (_n(3, "deepest nesting of if/for/while/with/try inside a function"),)
    BLOCKS = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try, ast.Match)

    def check(self, src: Source) -> list[Violation]:
        found: list[Violation] = []

        def walk(node: ast.AST, depth: int) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    walk(child, 0)
                elif isinstance(child, self.BLOCKS):
                    if depth + 1 > self.values["n"]:
                        found.append(_at(child, f"nested {depth + 1} levels deep"))
                    walk(child, depth + 1)
                else:
                    walk(child, depth)

        walk(src.tree, 0)
        return found


@register
class MaxComplexity(Instruction):
    id, group = "logic:max_complexity", "logic"
    sentence = "Keep the cyclomatic complexity of every function at most {n}."
    params = (_n(10, "highest McCabe complexity of one function"),)
    ruff_rules = ("C901",)

    def ruff_settings(self) -> dict[str, Any]:
        return {"lint.mccabe.max-complexity": self.values["n"]}


@register
class NoWhileLoops(Instruction):
    id, group = "logic:no_while_loops", "logic"
    sentence = "Do not use while loops."

    def check(self, src: Source) -> list[Violation]:
        return [_at(n, "while loop") for n in ast.walk(src.tree) if isinstance(n, ast.While)]


@register
class NoRecursion(Instruction):
    id, group = "logic:no_recursion", "logic"
    sentence = "Do not write recursive functions."

    def check(self, src: Source) -> list[Violation]:
        found = []
        for f in src.functions():
            for n in ast.walk(f):
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == f.name:
                    found.append(_at(n, f"{f.name} calls itself"))
        return found


@register
class MaxReturns(Instruction):
    id, group = "logic:max_returns", "logic"
    sentence = "Give no function more than {n} return statements."
    params = (_n(3, "most return statements in one function"),)
    ruff_rules = ("PLR0911",)

    def ruff_settings(self) -> dict[str, Any]:
        return {"lint.pylint.max-returns": self.values["n"]}


@register
class NoLambda(Instruction):
    id, group = "logic:no_lambda", "logic"
    sentence = "Do not use lambda expressions; define named functions."

    def check(self, src: Source) -> list[Violation]:
        return [_at(n, "lambda expression") for n in ast.walk(src.tree) if isinstance(n, ast.Lambda)]


# -- documentation -------------------------------------------------------------

@register
class FunctionDocstrings(Instruction):
    id, group = "docs:function_docstrings", "docs"
    sentence = "Give every public function and method a docstring."
    ruff_rules = ("D102", "D103")


@register
class DocstringConvention(Instruction):
    id, group = "docs:docstring_convention", "docs"
    sentence = "Document every function's parameters in {style}-style docstrings."
    params = (Param("style", str, "google", "docstring convention", ("google", "numpy")),)

    def check(self, src: Source) -> list[Violation]:
        found = []
        for f in src.functions():
            names = [a.arg for a in f.args.posonlyargs + f.args.args + f.args.kwonlyargs if a.arg not in ("self", "cls")]
            if not names:
                continue
            doc = ast.get_docstring(f) or ""
            lines = [line.strip() for line in doc.splitlines()]
            if self.values["style"] == "google":
                ok = "Args:" in lines or "Arguments:" in lines
            else:
                ok = any(a == "Parameters" and b.startswith("---") for a, b in zip(lines, lines[1:]))
            if not ok:
                found.append(_at(f, f"{f.name}'s docstring has no {self.values['style']}-style parameter section"))
            elif not all(any(line.startswith(n) for line in lines) for n in names):
                found.append(_at(f, f"{f.name}'s docstring does not describe every parameter"))
        return found


@register
class TypeAnnotations(Instruction):
    id, group = "docs:type_annotations", "docs"
    sentence = "Annotate the types of every function's arguments and return value."
    ruff_rules = ("ANN001", "ANN201", "ANN202")


@register
class MinComments(Instruction):
    id, group = "docs:min_comments", "docs"
    sentence = "Write at least {n} comments explaining the code."
    params = (_n(1, "fewest # comments"),)
    conflicts = ("docs:no_comments",)

    def check(self, src: Source) -> list[Violation]:
        count = sum(t.type == tokenize.COMMENT for t in src.tokens)
        return [] if count >= self.values["n"] else [Violation(1, 1, f"{count} comments", "tokenize", True)]


@register
class NoComments(Instruction):
    id, group = "docs:no_comments", "docs"
    sentence = "Write no # comments."
    conflicts = ("docs:min_comments",)

    def check(self, src: Source) -> list[Violation]:
        return [Violation(t.start[0], t.start[1] + 1, "comment", "tokenize") for t in src.tokens
                if t.type == tokenize.COMMENT]


@register
class ModuleDocstring(Instruction):
    id, group = "docs:module_docstring", "docs"
    sentence = "Begin the module with a docstring."
    ruff_rules = ("D100",)


# -- error handling ------------------------------------------------------------

@register
class NoBareExcept(Instruction):
    id, group = "errors:no_bare_except", "errors"
    sentence = "Never write a bare except: clause."
    ruff_rules = ("E722",)


@register
class NoBroadExcept(Instruction):
    id, group = "errors:no_broad_except", "errors"
    sentence = "Catch specific exceptions, never Exception or BaseException."
    ruff_rules = ("BLE001",)


@register
class NoGenericRaise(Instruction):
    id, group = "errors:no_generic_raise", "errors"
    sentence = "Raise specific exception types, never a plain Exception."
    ruff_rules = ("TRY002",)


@register
class HandleErrors(Instruction):
    id, group = "errors:handle_errors", "errors"
    sentence = "Handle errors with at least one try/except block."

    def check(self, src: Source) -> list[Violation]:
        tries = (ast.Try, getattr(ast, "TryStar", ast.Try))
        ok = any(isinstance(n, tries) and getattr(n, "handlers", None) for n in ast.walk(src.tree))
        return [] if ok else [Violation(1, 1, "no try/except block", "ast", True)]


@register
class NoAssert(Instruction):
    id, group = "errors:no_assert", "errors"
    sentence = "Do not use assert statements for checks; raise exceptions."
    ruff_rules = ("S101",)


@register
class NoSilentExcept(Instruction):
    id, group = "errors:no_silent_except", "errors"
    sentence = "Never silence an exception with except: pass."
    ruff_rules = ("S110", "S112")

    def ruff_settings(self) -> dict[str, Any]:
        return {"lint.flake8-bandit.check-typed-exception": True}


# -- library and API use -------------------------------------------------------

def _imports(src: Source) -> list[tuple[ast.AST, str]]:
    out: list[tuple[ast.AST, str]] = []
    for n in ast.walk(src.tree):
        if isinstance(n, ast.Import):
            out += [(n, a.name) for a in n.names]
        elif isinstance(n, ast.ImportFrom) and n.module and not n.level:
            out.append((n, n.module))
    return out


@register
class BannedImports(Instruction):
    id, group = "api:banned_imports", "api"
    sentence = "Do not import {modules}."
    params = (Param("modules", list, ["os"], "modules that must not be imported (a package bans its submodules)"),)

    def check(self, src: Source) -> list[Violation]:
        banned = self.values["modules"]
        return [_at(n, f"imports {name}") for n, name in _imports(src)
                if any(name == b or name.startswith(b + ".") for b in banned)]


@register
class RequiredImport(Instruction):
    id, group = "api:required_import", "api"
    sentence = "Use the {module} module."
    params = (Param("module", str, "itertools", "module the code must import"),)

    def clash(self, other: Instruction) -> str | None:
        if other.id == "api:banned_imports" and self.values["module"] in other.values["modules"]:
            return f"{self.values['module']} is both required and banned"
        return None

    def check(self, src: Source) -> list[Violation]:
        want = self.values["module"]
        ok = any(name == want or name.startswith(want + ".") for _, name in _imports(src))
        return [] if ok else [Violation(1, 1, f"{want} is not imported", "ast", True)]


@register
class NoPrint(Instruction):
    id, group = "api:no_print", "api"
    sentence = "Do not call print(); return values instead."
    ruff_rules = ("T201",)


@register
class BannedCalls(Instruction):
    id, group = "api:banned_calls", "api"
    sentence = "Do not call {names}."
    params = (Param("names", list, ["eval", "exec"], "functions that must not be called (plain or dotted names)"),)

    def check(self, src: Source) -> list[Violation]:
        def dotted(node: ast.AST) -> str | None:
            if isinstance(node, ast.Name):
                return node.id
            if isinstance(node, ast.Attribute):
                base = dotted(node.value)
                return f"{base}.{node.attr}" if base else node.attr
            return None

        banned = set(self.values["names"])
        return [_at(n, f"calls {dotted(n.func)}") for n in ast.walk(src.tree)
                if isinstance(n, ast.Call) and dotted(n.func) in banned]


@register
class NoStarImports(Instruction):
    id, group = "api:no_star_imports", "api"
    sentence = "Do not use wildcard imports (from module import *)."
    ruff_rules = ("F403",)


@register
class StdlibOnly(Instruction):
    id, group = "api:stdlib_only", "api"
    sentence = "Use only the Python standard library."

    def clash(self, other: Instruction) -> str | None:
        if other.id == "api:required_import" and other.values["module"].split(".")[0] not in sys.stdlib_module_names:
            return f"{other.values['module']} is not in the standard library"
        return None

    def check(self, src: Source) -> list[Violation]:
        stdlib = sys.stdlib_module_names
        return [_at(n, f"{name} is not in the standard library") for n, name in _imports(src)
                if name.split(".")[0] not in stdlib]


@register
class UsePathlib(Instruction):
    id, group = "api:use_pathlib", "api"
    sentence = "Work with file paths through pathlib, not os.path or open()."
    ruff_rules = ("PTH",)
