"""Task files that are tables: Parquet (verl's and most Hugging Face datasets'
on-disk format), and a folder written by ``datasets``' ``save_to_disk``.

Rows are read one record batch at a time, so a big file is never all in
memory, and come out as plain Python (dicts, lists, str, numbers). A null
field is left out of its row: in a table a column a row does not use is
null (a struct's missing keys too), and a row read from JSON Lines would
not have it at all. pyarrow is optional (``pip install 'codeloop[parquet]'``);
``datasets`` only for a saved dataset folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterator

from ..jsonl import InputError

PARQUET_SUFFIXES = (".parquet", ".pq")
BATCH_ROWS = 256
_PANDAS_INDEX = re.compile(r"__index_level_\d+__")


def is_table(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is read as a table: a Parquet file by its suffix, or a folder."""
    return str(path).lower().endswith(PARQUET_SUFFIXES) or Path(path).is_dir()


def read_table(path: str | os.PathLike[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number from 1, row) for each row of a Parquet file or a saved
    dataset folder; InputError for a file that cannot be read as one."""
    return _read_saved_dataset(path) if Path(path).is_dir() else _read_parquet(path)


def plain(value: Any) -> Any:
    """``value`` with every null field of a dict left out, at any depth (nulls in lists are kept)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def _row(record: dict[str, Any]) -> dict[str, Any]:
    return {k: plain(v) for k, v in record.items() if v is not None and not _PANDAS_INDEX.fullmatch(str(k))}


def _read_parquet(path: str | os.PathLike[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError("reading Parquet needs pyarrow: pip install 'codeloop[parquet]'", path) from None
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed with the ParquetFile below
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", path) from exc
    try:
        table = pq.ParquetFile(fh)
    except (pa.ArrowException, OSError) as exc:
        fh.close()
        raise InputError(f"not a Parquet file ({exc})", path) from exc
    number = 0
    with fh, table:
        try:
            for batch in table.iter_batches(batch_size=BATCH_ROWS):
                for record in batch.to_pylist(maps_as_pydicts="strict"):
                    number += 1
                    yield number, _row(record)
        except (pa.ArrowException, OSError) as exc:
            raise InputError(f"cannot read the rows after row {number} ({exc})", path) from exc


def _read_saved_dataset(path: str | os.PathLike[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    folder = Path(path)
    if (folder / "dataset_dict.json").is_file():
        splits = sorted(p.name for p in folder.iterdir() if (p / "state.json").is_file())
        raise InputError("a DatasetDict saved by datasets' save_to_disk: give one split's folder"
                         + (f" ({', '.join(str(folder / s) for s in splits)})" if splits else ""), path)
    if not (folder / "state.json").is_file():
        raise InputError("a folder is read only as a dataset saved by datasets' save_to_disk "
                         "(it has a state.json); give a .jsonl or .parquet file", path)
    try:
        import datasets
    except ImportError:
        raise InputError("reading a saved dataset folder needs the datasets package: pip install datasets",
                         path) from None
    try:
        dataset = datasets.load_from_disk(str(folder))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the saved dataset ({exc})", path) from exc
    for number, record in enumerate(dataset, start=1):
        yield number, _row(dict(record))
