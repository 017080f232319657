"""codeloop's execution feedback as verl's interaction, built and called as verl 0.6.0 does.

verl 0.9.1 (the version the other verl tests run) removed interactions; 0.6.0
is the last release with ``BaseInteraction``. Its wheel is fetched from the
package registry by ``.ci/run`` (``--no-deps`` into ``.venv/wheels``) and its
interaction registry is loaded from the wheel by path: it builds the
interaction from a YAML config as verl does, and the calls below are the ones
its tool agent loop makes (``start_interaction(request_id,
**interaction_kwargs)``, then ``generate_response(request_id, messages,
**interaction_kwargs)`` after each model turn).
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.sandbox

WHEELS = Path(sys.prefix) / "wheels"
CONFIG = """
interaction:
  - name: codeloop
    class_name: codeloop.integrations.verl_interaction.ExecutionFeedbackInteraction
    config: {feedback: first_failure}
"""
TRUTH = {"inputs": ["2 3\n", "10 -4\n"], "outputs": ["5\n", "6\n"]}
RIGHT = "```python\na, b = map(int, input().split())\nprint(a + b)\n```"
WRONG = "```python\na, b = map(int, input().split())\nprint(a - b)\n```"


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    wheel = next(iter(sorted(WHEELS.glob("verl-0.6.0-*.whl"))), None)
    if wheel is None:
        pytest.skip(f"verl 0.6.0's wheel is not in {WHEELS} (.ci/run fetches it)")
    pytest.importorskip("omegaconf")
    folder = tmp_path_factory.mktemp("verl060")
    with zipfile.ZipFile(wheel) as whl:
        names = [n for n in whl.namelist() if n.startswith("verl/interactions/")]
        whl.extractall(folder, names)
    path = folder / "verl/interactions/utils/interaction_registry.py"
    spec = importlib.util.spec_from_file_location("verl060_interaction_registry", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, folder


def test_verl_builds_the_interaction_and_drives_it_turn_by_turn(registry, tmp_path):
    module, folder = registry
    config = tmp_path / "interaction.yaml"
    config.write_text(CONFIG)
    interactions = module.initialize_interactions_from_config(str(config))
    interaction = interactions["codeloop"]
    base = (folder / "verl/interactions/base.py").read_text()
    for method in ("start_interaction", "generate_response", "calculate_score", "finalize_interaction"):
        assert f"def {method}(" in base and callable(getattr(interaction, method))

    kwargs = {"name": "codeloop", "ground_truth": TRUTH}

    async def rollout():
        request_id = "req-1"
        await interaction.start_interaction(request_id, **kwargs)
        messages = [{"role": "user", "content": "Add the two numbers."}, {"role": "assistant", "content": WRONG}]
        first = await interaction.generate_response(request_id, messages, **kwargs)
        messages += [{"role": "user", "content": first[1]}, {"role": "assistant", "content": RIGHT}]
        second = await interaction.generate_response(request_id, messages, **kwargs)
        score = await interaction.calculate_score(request_id)
        await interaction.finalize_interaction(request_id)
        return first, second, score

    first, second, score = asyncio.run(rollout())
    terminate, text, turn_score, metrics = first
    assert not terminate and turn_score == 0.0 and metrics["status"] == "failed"
    assert "did not pass" in text and "2 3" not in text  # hidden tests: what they hold is not shown
    assert second[0] is True and second[2] == 1.0 and score == 1.0
