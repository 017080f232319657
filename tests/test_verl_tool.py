"""verl's multi-turn tool path, as verl 0.9.1 runs it, with codeloop's code interpreter tool.

verl builds tools with its own ``initialize_tools_from_config`` from a YAML
file, and its tool agent loop calls ``create(create_kwargs=...)``,
``execute(instance_id, args, agent_data=...)`` and ``release(instance_id)``
around each call. verl's files are loaded as installed (``--no-deps``), its
package ``__init__`` (which imports torch) skipped.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from verl_files import verl_without_its_init  # noqa: E402

pytestmark = pytest.mark.sandbox

CONFIG = """
tools:
  - class_name: codeloop.integrations.verl_tool.CodeInterpreterTool
    config:
      type: native
      kind: python
      step_cpu: 2
      step_wall: 10
      workers: 1
"""


@pytest.fixture(scope="module")
def tool(tmp_path_factory):
    if not verl_without_its_init():
        pytest.skip("verl is not installed")
    pytest.importorskip("omegaconf")
    from verl.tools.tool_registry import initialize_tools_from_config

    path = tmp_path_factory.mktemp("verl") / "tools.yaml"
    path.write_text(CONFIG)
    (built,) = initialize_tools_from_config(str(path))
    return built


def _call(tool, code: str, create_kwargs: dict | None = None, reward: bool = False):
    """One tool call as verl's ToolAgentLoop makes it (create, execute, release), optionally asking the reward."""
    async def go():
        instance_id, _ = await tool.create(create_kwargs=create_kwargs or {})
        try:
            response, step_reward, metrics = await tool.execute(instance_id, {"code": code}, agent_data=None)
            final = await tool.calc_reward(instance_id) if reward else None
        finally:
            await tool.release(instance_id)
        return response, step_reward, metrics, final
    return asyncio.run(go())


def test_verl_builds_the_tool_from_its_config(tool):
    from verl.tools.schemas import OpenAIFunctionToolSchema

    schema = tool.get_openai_tool_schema()
    assert isinstance(schema, OpenAIFunctionToolSchema) and tool.name == "code_interpreter"
    assert schema.function.parameters.required == ["code"]


def test_a_call_runs_in_the_sandbox_and_answers_as_a_tool_response(tool):
    from verl.tools.schemas import ToolResponse

    response, step_reward, metrics, _ = _call(tool, "import os\nprint(os.getpid())\nsum(range(10))")
    assert isinstance(response, ToolResponse) and response.text == "1\n45" and step_reward == 0.0
    assert metrics["ok"] is True
    failed, *_ = _call(tool, "1 / 0")
    assert "ZeroDivisionError" in failed.text
    slow, _, metrics, _ = _call(tool, "while True:\n    pass")
    assert "cpu limit" in slow.text and metrics["limit"] == "cpu"


def test_files_in_and_a_reward_from_tests_on_the_final_state(tool):
    kwargs = {"files": {"data.txt": "3 4\n"}, "tests": ["assert area(2, 5) == 10", "assert area(2, 2) == 4"]}
    code = "a, b = map(int, open('data.txt').read().split())\ndef area(w, h):\n    return w * h\narea(a, b)"
    response, _, _, reward = _call(tool, code, kwargs, reward=True)
    assert response.text == "12" and reward == 1.0
    _, _, _, wrong = _call(tool, "def area(w, h):\n    return w + h", kwargs, reward=True)
    assert wrong == 0.5
