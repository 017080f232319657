"""verl's own code, loaded from its installed files without importing the ``verl`` package.

``import verl`` runs verl/__init__.py, which imports torch, ray and
tensordict; the reward code codeloop is compared with (the in-process APPS
harness ``utils/reward_score/prime_code``, the SandboxFusion client
``utils/reward_score/sandbox_fusion``) needs only the standard library,
numpy and requests. So such a folder is loaded as a package of its own, by
path: the code that runs is verl's, as shipped (``pip install --no-deps
verl==0.9.1``). Used by benchmarks/taco_speed.py and the tests that run
verl's code.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def load_verl_package(*parts: str) -> ModuleType | None:
    """verl's package at ``verl/<parts...>`` (e.g. ``"utils", "reward_score", "prime_code"``), or
    None when verl is not installed or has no such folder. Loaded once per process."""
    spec = importlib.util.find_spec("verl")  # a top-level package is found without being imported
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)
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
