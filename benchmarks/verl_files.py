"""verl's own code, loaded from its installed files without importing the ``verl`` package.

``import verl`` runs verl/__init__.py, which imports torch, ray and
tensordict; the reward code codeloop is compared with (the in-process APPS
harness ``utils/reward_score/prime_code``, the SandboxFusion client
``utils/reward_score/sandbox_fusion``) needs only the standard library,
numpy and requests. So such a folder is loaded as a package of its own, by
path, and a single module (``utils/import_utils``, the loader of custom
reward functions) as a module of its own; of a module whose own imports
need torch (``trainer/ppo/reward``), the functions that do not are compiled
from its source. The code that runs is verl's, as shipped (``pip install
--no-deps verl==0.9.1``). Used by benchmarks/taco_speed.py and the tests
that run verl's code.
"""

from __future__ import annotations

import __future__
import ast
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any


def verl_folder() -> Path | None:
    """The installed ``verl`` package's folder, or None when verl is not installed."""
    spec = importlib.util.find_spec("verl")  # a top-level package is found without being imported
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def load_verl_package(*parts: str) -> ModuleType | None:
    """verl's package at ``verl/<parts...>`` (e.g. ``"utils", "reward_score", "prime_code"``), or
    None when verl is not installed or has no such folder. Loaded once per process."""
    root = verl_folder()
    if root is None:
        return None
    folder = root.joinpath(*parts)
    if not (folder / "__init__.py").is_file():
        return None
    name = "verl_" + "_".join(parts) + "_loaded_by_path"
    if name not in sys.modules:
        pkg = importlib.util.spec_from_file_location(name, folder / "__init__.py",
                                                     submodule_search_locations=[str(folder)])
        assert pkg is not None and pkg.loader is not None
        module = importlib.util.module_from_spec(pkg)
        sys.modules[name] = module  # its relative imports resolve inside this package
        pkg.loader.exec_module(module)
    return sys.modules[name]


def load_verl_module(*parts: str) -> ModuleType | None:
    """verl's module ``verl/<parts...>.py`` (e.g. ``"utils", "import_utils"``) loaded by path as a
    module of its own (its imports must not be relative), or None when verl or the file is missing.
    Loaded once per process."""
    root = verl_folder()
    path = root.joinpath(*parts).with_suffix(".py") if root is not None else None
    if path is None or not path.is_file():
        return None
    name = "verl_" + "_".join(parts) + "_loaded_by_path"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def verl_functions(parts: tuple[str, ...], names: list[str], namespace: dict[str, Any]) -> dict[str, Any] | None:
    """The top-level functions ``names`` of ``verl/<parts...>.py``, compiled from verl's source as
    shipped (its file and line numbers in tracebacks) into a namespace of their own, for a module
    whose top-level imports need torch. ``namespace`` holds what they use of the module's imports
    (their annotations are not evaluated: compiled as the file is, with ``from __future__ import
    annotations``). None when verl or the file is missing; LookupError when a function is."""
    root = verl_folder()
    path = root.joinpath(*parts).with_suffix(".py") if root is not None else None
    if path is None or not path.is_file():
        return None
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = [node for node in tree.body
             if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in names]
    missing = set(names) - {node.name for node in found}
    if missing:
        raise LookupError(f"{path} has no top-level function {', '.join(sorted(missing))}")
    code = compile(ast.Module(body=found, type_ignores=[]), str(path), "exec",
                   flags=__future__.annotations.compiler_flag, dont_inherit=True)
    scope = {"__name__": "verl_" + "_".join(parts) + "_functions", **namespace}
    exec(code, scope)
    return {name: scope[name] for name in names}


def verl_without_its_init() -> bool:
    """Make ``import verl.tools...`` load verl's own files without running ``verl/__init__.py`` and
    ``verl/utils/__init__.py`` (which import torch): both are registered as bare packages over their
    installed folders. False when verl is not installed. For tests that run verl's tool code."""
    import types

    root = verl_folder()
    if root is None:
        return False
    for name, folder in (("verl", root), ("verl.utils", root / "utils")):
        if name not in sys.modules:
            package = types.ModuleType(name)
            package.__path__ = [str(folder)]
            sys.modules[name] = package
    return True
