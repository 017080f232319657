"""Package environments: pinned third-party packages a task's programs may import, built once, read-only.

A program is otherwise shown no installed package at all. An environment is
a folder of packages installed by pip from requirements (``numpy==2.1.3``,
a lock file's lines), keyed by the Python version and the resolved pins, so
the same requirements build once per machine whatever they are called. It
lives under ``$CODELOOP_CACHE/envs`` (default ``~/.cache/codeloop/envs``),
written only by :func:`build` (trusted work, on the host, before any program
runs); a worker for the environment puts it on ``sys.path``, imports the
environment's ``warm`` modules before it forks any sample, and binds the
folder read-only into the sandbox. Nothing is installed while judging.

Layout: ``envs/<key>/site/`` (the packages), ``envs/<key>/manifest.json``
(requirements, resolved pins, Python version, warm modules), and
``envs/names.json`` (a name to its key).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from typing import Callable, Sequence


class EnvironmentMissing(LookupError):
    """No environment of that name or key is built here; the message says how to build one."""


class BuildFailed(RuntimeError):
    """pip could not install the requirements (its last lines in the message)."""


@dataclass(frozen=True)
class Environment:
    """A built environment: its key, name, the folder on ``sys.path``, what it pins and what a worker imports first."""

    key: str
    name: str
    site: str
    python: str
    requirements: tuple[str, ...]
    resolved: tuple[str, ...]
    warm: tuple[str, ...]
    built_at: float

    def to_dict(self) -> dict:
        return {"key": self.key, "name": self.name, "python": self.python, "requirements": list(self.requirements),
                "resolved": list(self.resolved), "warm": list(self.warm), "built_at": self.built_at}


def root() -> str:
    """Where environments live: ``$CODELOOP_CACHE/envs``, else ``~/.cache/codeloop/envs``."""
    base = os.environ.get("CODELOOP_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "codeloop")
    return os.path.join(base, "envs")


def python_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def names() -> dict[str, str]:
    """Each environment name and the key it points at."""
    try:
        with open(os.path.join(root(), "names.json"), encoding="utf-8") as fh:
            found = json.load(fh)
        return found if isinstance(found, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_names(table: dict[str, str]) -> None:
    os.makedirs(root(), exist_ok=True)
    path = os.path.join(root(), "names.json")
    with open(path + ".tmp", "w", encoding="utf-8") as fh:
        json.dump(table, fh, indent=1, sort_keys=True)
    os.replace(path + ".tmp", path)


def _load(key: str) -> Environment | None:
    folder = os.path.join(root(), key)
    try:
        with open(os.path.join(folder, "manifest.json"), encoding="utf-8") as fh:
            m = json.load(fh)
        return Environment(m["key"], m["name"], os.path.join(folder, "site"), m["python"], tuple(m["requirements"]),
                           tuple(m["resolved"]), tuple(m["warm"]), float(m["built_at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def find(name_or_key: str) -> Environment:
    """The environment called (or keyed) ``name_or_key``. Raises EnvironmentMissing with the command that builds one."""
    key = names().get(name_or_key, name_or_key)
    found = _load(key) if key and "/" not in key and not key.startswith(".") else None
    if found is None:
        raise EnvironmentMissing(f"environment {name_or_key!r} is not built here (under {root()}); build it with: "
                                 f"codeloop env build REQUIREMENTS.txt --name {name_or_key}")
    if found.python != python_version():
        raise EnvironmentMissing(f"environment {name_or_key!r} was built for Python {found.python}, this is "
                                 f"{python_version()}; build it again with: codeloop env build REQUIREMENTS.txt "
                                 f"--name {name_or_key}")
    return found


def list_all() -> list[Environment]:
    """Every environment built here, newest first."""
    if not os.path.isdir(root()):
        return []
    found = [e for e in (_load(k) for k in os.listdir(root()) if not k.endswith(".json")) if e is not None]
    return sorted(found, key=lambda e: -e.built_at)


def remove(name_or_key: str) -> Environment:
    """Delete an environment (and the names pointing at it). Raises EnvironmentMissing."""
    env = _load(names().get(name_or_key, name_or_key))
    if env is None:
        raise EnvironmentMissing(f"environment {name_or_key!r} is not built here (under {root()})")
    shutil.rmtree(os.path.join(root(), env.key), ignore_errors=True)
    _write_names({n: k for n, k in names().items() if k != env.key})
    return env


def requirement_lines(text: str) -> list[str]:
    """The requirements of a requirements file's text: one per line, comments and blank lines dropped."""
    lines = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            lines.append(line)
    return lines


def build(requirements: Sequence[str], name: str, warm: Sequence[str] = (),
          on_line: Callable[[str], None] | None = None) -> Environment:
    """Install ``requirements`` (pip's syntax, one each) into a new environment called ``name``, or return
    the one already built with the same resolved pins. ``warm``: modules a worker imports before it forks
    samples (default: the top-level names of the requirements). ``on_line``: each line pip prints.
    The environment returned carries ``name`` (the manifest keeps the name it was first built under), and
    ``name`` resolves to it with :func:`find` afterwards. Raises BuildFailed."""
    if not requirements:
        raise BuildFailed("no requirements given")
    if not name or "/" in name or name.startswith("."):
        raise BuildFailed(f"{name!r} is not a usable environment name")
    named = _load(names().get(name, "")) if name in names() else None
    if named is not None and named.requirements == tuple(requirements) and named.python == python_version() \
            and (not warm or named.warm == tuple(warm)):
        return replace(named, name=name)  # built already from these very requirements: pip is not asked again
    os.makedirs(root(), exist_ok=True)
    work = tempfile.mkdtemp(prefix=".build-", dir=root())
    try:
        site, report = os.path.join(work, "site"), os.path.join(work, "report.json")
        with open(os.path.join(work, "requirements.txt"), "w", encoding="utf-8") as fh:
            fh.write("\n".join(requirements) + "\n")
        argv = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--progress-bar",
                "off", "--target", site, "--report", report, "-r", os.path.join(work, "requirements.txt")]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=dict(os.environ, PIP_NO_WARN_SCRIPT_LOCATION="1"))
        tail: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip()
            tail = (tail + [line])[-15:]
            if on_line is not None:
                on_line(line)
        if proc.wait() != 0:
            raise BuildFailed("pip could not install the requirements:\n" + "\n".join(tail))
        with open(report, encoding="utf-8") as fh:
            installed = json.load(fh).get("install", [])
        resolved = tuple(sorted(f"{i['metadata']['name'].lower()}=={i['metadata']['version']}" for i in installed))
        key = hashlib.sha256(json.dumps([python_version(), resolved]).encode()).hexdigest()[:16]
        existing = _load(key)
        if existing is None:
            modules = tuple(warm) if warm else tuple(_top_level(site))
            env = Environment(key, name, os.path.join(root(), key, "site"), python_version(), tuple(requirements),
                              resolved, modules, time.time())
            for folder, dirs, files in os.walk(site):  # read-only: programs get it bound read-only anyway
                for entry in files:
                    os.chmod(os.path.join(folder, entry), 0o444)
            final = os.path.join(root(), key)
            os.makedirs(final, exist_ok=True)
            os.replace(site, os.path.join(final, "site"))
            with open(os.path.join(final, "manifest.json"), "w", encoding="utf-8") as fh:
                json.dump(env.to_dict(), fh, indent=1)
            existing = env
        _write_names(dict(names(), **{name: key}))
        return replace(existing, name=name)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _top_level(site: str) -> list[str]:
    """The importable top-level packages pip put in ``site`` (from each distribution's top_level.txt or RECORD)."""
    names: set[str] = set()
    for entry in os.listdir(site):
        if not entry.endswith(".dist-info"):
            continue
        top = os.path.join(site, entry, "top_level.txt")
        if os.path.exists(top):
            with open(top, encoding="utf-8") as fh:
                names.update(n.strip() for n in fh if n.strip())
            continue
        record = os.path.join(site, entry, "RECORD")
        if os.path.exists(record):
            with open(record, encoding="utf-8") as fh:
                for row in fh:
                    first = row.split(",", 1)[0].split("/", 1)[0]
                    if first.endswith(".py"):
                        first = first[:-3]
                    if first.isidentifier() and not first.endswith(".dist-info"):
                        names.add(first)
    return sorted(n for n in names if not n.startswith("_"))


__all__ = ["BuildFailed", "Environment", "EnvironmentMissing", "build", "find", "list_all", "names", "remove",
           "requirement_lines", "root"]
