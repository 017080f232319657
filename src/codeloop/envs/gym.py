"""Interactive coding environments for gymnasium: code is the action, execution the observation.

``CodeEnv`` runs one task's episode at a time in a sandboxed session
(:mod:`codeloop.sandbox.sessions`): ``reset(seed, options)`` starts a fresh
session from a task (``options={"task_id": ...}``, else one drawn with the
seed) and observes the task's prompt; ``step(action)`` runs the action (a
Bash script, SQL, a Python cell) and observes what it printed, its value or
rows, or its error; the action ``submit`` ends the episode with the task's
reward (:mod:`codeloop.envs.rewards`); past the task's ``max_steps`` the
episode is truncated with reward 0. Observations are text, non-ASCII
characters escaped (gymnasium's ``Text`` space holds a fixed character set).

Registered ids: ``codeloop/Bash-v0``, ``codeloop/SQL-v0``, ``codeloop/Python-v0``
(the tasks that come with codeloop; pass ``tasks=`` a JSONL path for yours).
"""

from __future__ import annotations

import string
from typing import Any

import gymnasium
from gymnasium import spaces

from ..sandbox.limits import Limits
from ..sandbox.sessions import SessionPool
from .rewards import Episode, reward_of
from .tasks import EnvTask, bundled_tasks, load_env_tasks

SUBMIT = "submit"
MAX_TEXT = 8192
CHARSET = frozenset(string.printable)


def ascii_text(text: str, cap: int = MAX_TEXT) -> str:
    """``text`` within the observation space: ASCII (others escaped), at most ``cap`` characters."""
    text = text.encode("ascii", "backslashreplace").decode("ascii")
    text = "".join(c if c in CHARSET else " " for c in text)
    return text if len(text) <= cap else text[:cap - 9] + "\n...(cut)"


class CodeEnv(gymnasium.Env):
    """One kind's tasks as a gymnasium environment (see the module's docstring).

    ``pool``: a :class:`SessionPool` to share (else one worker is started and
    closed with the environment); ``step_cpu``/``step_wall``: each step's limits;
    ``postgres``: a :class:`~codeloop.envs.postgres.PostgresSessions` to run
    ``sql`` episodes on a real PostgreSQL server instead of SQLite in the sandbox.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(self, kind: str = "bash", tasks: str | None = None, pool: SessionPool | None = None,
                 step_cpu: float = 5.0, step_wall: float = 20.0, render_mode: str | None = None,
                 postgres: Any = None) -> None:
        found = load_env_tasks(tasks) if tasks is not None else bundled_tasks(kind)
        self.tasks: list[EnvTask] = [t for t in found.values() if t.kind == kind]
        if not self.tasks:
            raise ValueError(f"no {kind} tasks in {tasks or 'the bundled tasks'}")
        self.kind, self.step_cpu, self.step_wall, self.render_mode = kind, step_cpu, step_wall, render_mode
        self.observation_space = spaces.Text(max_length=MAX_TEXT, charset="".join(sorted(CHARSET)))
        self.action_space = spaces.Text(max_length=MAX_TEXT, charset="".join(sorted(CHARSET)))
        self.postgres = postgres
        self._own_pool = pool is None
        self.pool = pool if pool is not None else SessionPool(1)
        self.episode: Episode | None = None
        self.steps = 0
        self.last = ""

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        self._end_episode()
        wanted = (options or {}).get("task_id")
        if wanted is not None:
            task = next((t for t in self.tasks if t.task_id == wanted), None)
            if task is None:
                raise ValueError(f"no task {wanted!r}; known: {', '.join(t.task_id for t in self.tasks)}")
        else:
            task = self.tasks[int(self.np_random.integers(len(self.tasks)))]
        session = self._open(task)
        start = session.snapshot() if task.kind == "bash" else {}
        self.episode = Episode(task, session, start, fresh=lambda: self._open(task))
        self.steps = 0
        self.last = ascii_text(task.prompt)
        return self.last, {"task_id": task.task_id, "kind": task.kind, "max_steps": task.max_steps}

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        if self.episode is None:
            raise RuntimeError("call reset() before step()")
        episode = self.episode
        if action.strip() == SUBMIT:
            reward = reward_of(self.pool, episode)
            self._end_episode()
            self.last = ascii_text(f"submitted: reward {reward.value:g}")
            return self.last, float(reward.value), True, False, {"reward_parts": dict(reward.parts)}
        self.steps += 1
        session = episode.session
        if session.closed:  # a step hit a limit that ended it: the episode cannot go on
            self.last = "the session ended at a limit; submit to score what is left"
            return self.last, 0.0, False, self.steps >= episode.task.max_steps, {"alive": False}
        result = session.step(action, cpu=self.step_cpu, wall=self.step_wall)
        episode.last_output = result.stdout
        if result.columns or (episode.task.kind == "sql" and result.error is None):
            episode.last_rows = result.rows
        self.last = ascii_text(result.text() or "(no output)")
        truncated = self.steps >= episode.task.max_steps
        info = {"alive": result.alive, "limit": result.limit, "ok": result.ok}  # no timings: checkers want it determined
        if truncated:
            self._end_episode()
        return self.last, 0.0, False, truncated, info

    def _open(self, task: EnvTask) -> Any:
        if task.kind == "sql" and self.postgres is not None:
            return self.postgres.open(task.schema, statement_seconds=self.step_wall)
        return self.pool.open(task.kind, files=task.session_files(), setup=task.setup(),
                              limits=Limits(time_limit=600.0, memory_mb=1024))

    def render(self) -> str | None:
        return self.last if self.render_mode == "ansi" else None

    def _end_episode(self) -> None:
        if self.episode is not None and not self.episode.session.closed:
            self.episode.session.close()
        self.episode = None

    def close(self) -> None:
        self._end_episode()
        if self._own_pool:
            self.pool.close()


def register() -> None:
    """Register the bundled environments with gymnasium (done on import of this module)."""
    for kind, name in (("bash", "Bash"), ("sql", "SQL"), ("python", "Python")):
        env_id = f"codeloop/{name}-v0"
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, entry_point="codeloop.envs.gym:CodeEnv", kwargs={"kind": kind})


register()
