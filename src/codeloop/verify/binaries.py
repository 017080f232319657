"""Compiled programs kept by the orchestrator, so the same source never compiles twice.

Content-addressed: the key is a digest of the language, its toolchain's
version, the compile command and the source. A program's bytes come back
from the candidate that compiled it, sent before anything of the program
ran there (see :mod:`codeloop.sandbox.native`), and are only ever written
here, in the orchestrator; a later sample of the same source is handed them
instead of compiling. Bounded by total size, least recently used first out.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import Mapping

from ..sandbox.languages import Language

DEFAULT_BYTES = 256 << 20


def program_key(lang: Language, toolchain: str, source: str, files: Mapping[str, str] | None = None) -> str:
    """The cache key of ``source`` compiled by ``lang``'s toolchain (``toolchain``: its version line),
    beside ``files`` (which the source may include)."""
    parts = [lang.name, toolchain, list(lang.compile or ()), [list(step) for step in lang.steps], source]
    if files:
        parts.append(sorted(files.items()))
    blob = json.dumps(parts, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()


class CompiledPrograms:
    """Base64 program bytes by key, at most ``max_bytes`` in all. Thread-safe."""

    def __init__(self, max_bytes: int = DEFAULT_BYTES) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, str] = OrderedDict()
        self._seconds: dict[str, float] = {}  # how long each kept program took to compile (and be sent back)
        self._size = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: str) -> str | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return found

    def put(self, key: str, binary: str, seconds: float | None = None) -> None:
        """Keep ``binary`` (base64) under ``key``, with the ``seconds`` its compile took when known."""
        if len(binary) > self.max_bytes:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = binary
            if seconds is not None:
                self._seconds[key] = seconds
            self._size += len(binary)
            while self._size > self.max_bytes:
                gone, dropped = self._items.popitem(last=False)
                self._seconds.pop(gone, None)
                self._size -= len(dropped)

    def compile_seconds(self, key: str) -> float | None:
        """How long the program kept under ``key`` took to compile, if it is kept and that is known."""
        with self._lock:
            return self._seconds.get(key)

    def __len__(self) -> int:
        return len(self._items)
