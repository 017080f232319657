"""Results on disk: streamed as they finish, resumable, in input order at the end.

While a run goes, each result is appended (and flushed) to ``<out>.partial``
in the order samples finish, so an interrupted run loses nothing already
judged. When every sample has a result, ``<out>`` is written in input order
(atomically) and the partial file is removed. A rerun with the same ``--out``
reuses every stored result whose sample is unchanged (same index, task and
program fingerprint) and judges only the rest.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

from .samples import Sample


class ResultStore:
    """Append-only result journal plus the final ordered results file."""

    def __init__(self, out: str | os.PathLike) -> None:
        self.out = Path(out)
        self.partial = self.out.with_name(self.out.name + ".partial")
        self._fh = None

    def _read(self, path: Path) -> Iterable[dict[str, Any]]:
        if not path.exists():
            return
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue  # a line cut short by a crash: that sample runs again
                if isinstance(rec, dict) and isinstance(rec.get("index"), int):
                    yield rec

    def load_done(self, samples: list[Sample]) -> dict[int, dict[str, Any]]:
        """Stored results that still match their sample; infra errors are retried."""
        by_index = {s.index: s for s in samples}
        done: dict[int, dict[str, Any]] = {}
        for path in (self.out, self.partial):
            for rec in self._read(path):
                s = by_index.get(rec["index"])
                if s is not None and rec.get("fingerprint") == s.fingerprint and rec.get("status") != "infra_error":
                    done[s.index] = rec
        return done

    def add(self, record: dict[str, Any]) -> None:
        """Append one result to the journal and flush it to the OS."""
        if self._fh is None:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.partial.open("a", encoding="utf-8")
        self._fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._fh.flush()

    def finish(self, records: list[dict[str, Any]]) -> None:
        """Write every result in input order to ``out`` and drop the journal."""
        self.close()
        self.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.out.with_name(self.out.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            for rec in sorted(records, key=lambda r: r["index"]):
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        os.replace(tmp, self.out)
        self.partial.unlink(missing_ok=True)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
