"""A precompiled ``bits/stdc++.h``, built once per machine and toolchain, shown read-only to the sandbox.

Contest code starts with ``#include <bits/stdc++.h>``; compiling that header
is most of a typical solution's compile time (about 1.2 s of 1.3 s here).
GCC uses ``bits/stdc++.h.gch`` from an include folder searched before the
system's when it was built with the same options, so the folder is built
here, on the host (trusted work: the system's own header), under the cache
folder (``$CODELOOP_CACHE``, else ``~/.cache/codeloop``), keyed by the
compiler's version and the options, and bound read-only into every sandbox.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile

from .languages import Language

HEADER = "bits/stdc++.h"


def cache_root() -> str:
    """The folder codeloop keeps its built artefacts in (created if missing)."""
    root = os.environ.get("CODELOOP_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "codeloop")
    return root


def headers_root() -> str:
    """The folder of precompiled headers, bound into every sandbox (created, maybe empty)."""
    path = os.path.join(cache_root(), "pch")
    os.makedirs(path, exist_ok=True)
    return os.path.realpath(path)


def _system_header(compiler: str) -> str | None:
    """Where the compiler finds bits/stdc++.h, or None."""
    try:
        done = subprocess.run([compiler, "-x", "c++", "-E", "-H", "-"], input=f"#include <{HEADER}>\n",
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in done.stderr.splitlines():
        path = line.lstrip(". ").strip()
        if path.endswith(HEADER):
            return path
    return None


def precompiled(lang: Language, version: str) -> str | None:
    """The include folder holding a precompiled bits/stdc++.h for ``lang``'s
    compile options, built now if it is not there yet; None when it cannot be
    (no such header, or the build failed: programs then compile without it)."""
    if lang.compile is None or not lang.compile[0].endswith("++"):
        return None
    options = [o for o in lang.compile[1:] if o.startswith(("-O", "-std="))]
    digest = hashlib.sha256(repr((version, options)).encode()).hexdigest()[:16]
    folder = os.path.join(headers_root(), digest)
    target = os.path.join(folder, HEADER + ".gch")
    if os.path.exists(target):
        return folder
    source = _system_header(lang.compile[0])
    if source is None:
        return None
    os.makedirs(os.path.dirname(target), exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=os.path.dirname(target), suffix=".part")
    os.close(fd)
    try:
        done = subprocess.run([lang.compile[0], *options, "-x", "c++-header", source, "-o", partial],
                              capture_output=True, timeout=300)
        if done.returncode != 0:
            return None
        os.chmod(partial, 0o644)
        os.replace(partial, target)  # whole or not at all: another process may be building it too
    except (OSError, subprocess.TimeoutExpired):
        return None
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return folder
