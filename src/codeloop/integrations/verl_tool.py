"""A code interpreter tool for verl's multi-turn rollouts, backed by codeloop's sandboxed sessions.

Declared in verl's tool config (``actor_rollout_ref.rollout.multi_turn.tool_config_path``)::

    tools:
      - class_name: codeloop.integrations.verl_tool.CodeInterpreterTool
        config: {type: native, kind: python, step_cpu: 5, step_wall: 20, workers: 2}

verl's ``initialize_tools_from_config`` builds it as it builds its own tools
(``cls(config=..., tool_schema=...)``), and its tool agent loop calls
``create`` / ``execute`` / ``release`` around every call (``calc_reward`` when a
reward is asked of the tool). Each instance is a session
(:mod:`codeloop.sandbox.sessions`): ``kind`` python (a notebook-like
interpreter), bash or sql; the model's ``code`` argument runs as one step and
the tool answers what it printed, its value or its error. ``create_kwargs``
may carry ``files`` (name to text, put in the working folder) and ``tests``
(asserts on the final state, calling ``entry_point``): ``calc_reward`` then is
the share of tests passed, judged through the split.

The methods match verl's ``BaseTool`` (verl 0.9.1); verl's ``ToolResponse``
and ``OpenAIFunctionToolSchema`` are imported from verl when the tool runs
(verl is the caller, so it is installed; codeloop does not depend on it).
"""

from __future__ import annotations

import asyncio
import base64
import threading
import uuid
from typing import Any

from ..envs.rewards import Episode, python_reward
from ..envs.tasks import EnvTask
from ..sandbox.limits import Limits
from ..sandbox.sessions import KINDS, Session, SessionPool

_POOL: SessionPool | None = None
_POOL_LOCK = threading.Lock()


def code_interpreter_schema(name: str = "code_interpreter", kind: str = "python") -> dict[str, Any]:
    """The OpenAI function-calling schema of the tool (``{"type": "function", "function": {...}}``)."""
    what = {"python": "Python code (a notebook cell: state is kept between calls in one session; the value of the "
                      "last expression is shown)",
            "bash": "a Bash script (run in the task's working folder)",
            "sql": "SQL (the rows of the last statement are shown)"}[kind]
    return {"type": "function", "function": {
        "name": name, "description": f"Run {what} in a sandbox and see what it printed, its result or its error.",
        "parameters": {"type": "object", "properties": {
            "code": {"type": "string", "description": f"The {kind} code to run."}}, "required": ["code"]}}}


def shared_pool(workers: int = 2) -> SessionPool:
    """The process's session pool, started on first use (sessions are cheap; workers are not)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            import atexit

            _POOL = SessionPool(workers)
            atexit.register(_POOL.close)
        return _POOL


class CodeInterpreterTool:
    """verl's ``BaseTool`` interface over a sandboxed session (see the module's docstring)."""

    def __init__(self, config: dict[str, Any], tool_schema: Any = None) -> None:
        from verl.tools.schemas import OpenAIFunctionToolSchema

        self.config = dict(config or {})
        self.kind = str(self.config.get("kind", "python"))
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        self.tool_schema = tool_schema or OpenAIFunctionToolSchema.model_validate(
            code_interpreter_schema(str(self.config.get("name", "code_interpreter")), self.kind))
        self.name = self.tool_schema.function.name
        self.step_cpu = float(self.config.get("step_cpu", 5.0))
        self.step_wall = float(self.config.get("step_wall", 20.0))
        self._workers = int(self.config.get("workers", 2))
        self._instances: dict[str, tuple[Session, dict[str, Any]]] = {}

    def get_openai_tool_schema(self) -> Any:
        return self.tool_schema

    async def create(self, instance_id: str | None = None, **kwargs: Any) -> tuple[str, Any]:
        from verl.tools.schemas import ToolResponse

        instance_id = instance_id or str(uuid.uuid4())
        options = dict(kwargs.get("create_kwargs") or {}, **{k: v for k, v in kwargs.items() if k != "create_kwargs"})
        files = {name: base64.b64encode(str(text).encode()).decode() for name, text in (options.get("files") or {}).items()}
        session = await asyncio.to_thread(shared_pool(self._workers).open, self.kind, files=files or None,
                                          setup={"schema": options["schema"]} if options.get("schema") else None,
                                          limits=Limits(time_limit=600.0, memory_mb=int(options.get("memory_mb", 1024))))
        self._instances[instance_id] = (session, options)
        return instance_id, ToolResponse()

    async def execute(self, instance_id: str, parameters: dict[str, Any], **kwargs: Any) -> tuple[Any, float, dict]:
        from verl.tools.schemas import ToolResponse

        session, _ = self._instances[instance_id]
        code = parameters.get("code")
        if not isinstance(code, str):
            return ToolResponse(text="the 'code' argument must be a string"), 0.0, {"ok": False}
        if session.closed:
            return ToolResponse(text="the session ended at a limit; start again"), 0.0, {"ok": False}
        result = await asyncio.to_thread(session.step, code, self.step_cpu, self.step_wall)
        return ToolResponse(text=result.text() or "(no output)"), 0.0, {
            "ok": result.ok, "limit": result.limit, "seconds": result.seconds}

    async def calc_reward(self, instance_id: str, **kwargs: Any) -> float:
        session, options = self._instances[instance_id]
        tests = tuple(options.get("tests") or ())
        if not tests or self.kind != "python" or session.closed:
            return 0.0
        task = EnvTask(str(options.get("task_id", instance_id)), "python", "", tests=tests,
                       entry_point=str(options.get("entry_point", "")))
        reward = await asyncio.to_thread(python_reward, shared_pool(self._workers), Episode(task, session, {}))
        return float(reward.value)

    async def release(self, instance_id: str, **kwargs: Any) -> None:
        found = self._instances.pop(instance_id, None)
        if found is not None and not found[0].closed:
            await asyncio.to_thread(found[0].close)
