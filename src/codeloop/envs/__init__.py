"""Interactive coding environments: tasks, episodes in sandboxed sessions, and their rewards.

:mod:`codeloop.envs.tasks` reads task files; :mod:`codeloop.envs.rewards`
scores an episode as InterCode does; :mod:`codeloop.envs.gym` (needs the
``envs`` extra, gymnasium) is the gymnasium environment.
"""
