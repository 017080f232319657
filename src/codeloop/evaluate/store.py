"""Results on disk: streamed as they finish, resumable, in input order at the end.

While a run goes, each result is appended (and flushed) to ``<out>.partial``
in the order samples finish, so an interrupted run loses nothing already
judged. When every sample has a result, ``<out>`` is written in input order
(atomically) and the partial file is removed. A rerun with the same ``--out``
reuses every stored result whose sample is unchanged (same index, task and
program fingerprint) and judges only the rest.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any

from .. import jsonl
from ..types import Status
from .samples import Sample


class ResultStore:
    """Append-only result journal plus the final ordered results file."""

    def __init__(self, out: str | os.PathLike[str]) -> None:
        self.out = Path(out)
        self.partial = self.out.with_name(self.out.name + ".partial")
        self._fh: IO[str] | None = None

    def load_done(self, samples: list[Sample]) -> dict[int, dict[str, Any]]:
        """Stored results that still match their sample; infra errors are retried."""
        by_index = {s.index: s for s in samples}
        done: dict[int, dict[str, Any]] = {}
        for path in (self.out, self.partial):
            for rec in jsonl.read_journal(path):
                index = rec.get("index")
                s = by_index.get(index) if isinstance(index, int) else None
                if s is not None and rec.get("fingerprint") == s.fingerprint \
                        and rec.get("status") != Status.INFRA_ERROR.value:
                    done[s.index] = rec
        return done

    def add(self, record: dict[str, Any]) -> None:
        """Append one result to the journal and flush it to the OS."""
        if self._fh is None:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.partial.open("a", encoding="utf-8")
        jsonl.append(self._fh, record)

    def finish(self, records: list[dict[str, Any]]) -> None:
        """Write every result in input order to ``out`` and drop the journal."""
        self.close()
        jsonl.write_atomic(self.out, sorted(records, key=lambda r: r["index"]))
        self.partial.unlink(missing_ok=True)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
