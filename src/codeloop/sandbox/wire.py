"""Messages between the processes of a sandbox worker, and the plain-data codec.

Frames are a 4-byte big-endian length followed by UTF-8 JSON. Values that
cross from the candidate to the judge go through :func:`encode_value` on the
sending side and :func:`decode_value` on the receiving side. The decoder is the
trust boundary: whatever bytes arrive, it yields only exact builtin types
(None, bool, int, float, complex, str, bytes, list, tuple, dict, set,
frozenset), so an object with a rigged ``__eq__`` can never reach the judge.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import select
import struct
import sys
import time
from typing import Any

MAX_DEPTH = 200
# Bytes asked of the kernel per read: under glibc's mmap threshold, so a read
# buffer comes from the heap instead of a fresh mapping that is then
# remapped and unmapped (which costs page faults on every read).
READ_CHUNK = 1 << 16
_HEADER = struct.Struct(">I")


class WireError(Exception):
    """A frame could not be read or decoded."""


class PeerClosed(WireError):
    """The other end closed the channel (the process exited or was killed)."""


class FrameTimeout(WireError):
    """No complete frame arrived before the deadline."""


class FrameTooLarge(WireError):
    """A frame announced more bytes than the reader accepts."""


def pack(message: Any) -> bytes:
    """Serialise a JSON-able message into one frame; ``bytes`` are taken as a
    JSON text already encoded (the caller vouches for it)."""
    body = message if isinstance(message, bytes) else json.dumps(message, separators=(",", ":"),
                                                                   allow_nan=True).encode()
    return _HEADER.pack(len(body)) + body


def write_frame(fd: int, message: Any) -> None:
    """Write one frame fully; raises PeerClosed if the reader has gone."""
    data = memoryview(pack(message))
    try:
        while data:
            data = data[os.write(fd, data):]
    except (BrokenPipeError, ConnectionResetError) as exc:
        raise PeerClosed(str(exc)) from exc


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    chunks: list[bytes] = []
    while n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise FrameTimeout("no reply before the deadline")
        chunk = os.read(fd, min(n, READ_CHUNK))
        if not chunk:
            raise PeerClosed("channel closed")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, deadline: float | None = None, max_bytes: int = 64 << 20) -> Any:
    """Read one frame and return its JSON value, reading no byte beyond it.

    ``deadline`` is a ``time.monotonic()`` value (None waits forever). Raises
    PeerClosed, FrameTimeout, FrameTooLarge, or WireError for bytes that are
    not JSON.
    """
    (size,) = _HEADER.unpack(_read_exact(fd, _HEADER.size, deadline))
    if size > max_bytes:
        raise FrameTooLarge(f"frame of {size} bytes exceeds the {max_bytes}-byte limit")
    return _loads(_read_exact(fd, size, deadline))


def _loads(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise WireError(f"malformed frame: {exc}") from exc


class FrameReader:
    """Frames from one channel, read ahead in large chunks: a frame that has
    arrived whole costs one ``read`` (and one ``select`` with a deadline)
    instead of two of each. Only for a channel this reader alone consumes."""

    def __init__(self, fd: int, max_bytes: int = 64 << 20) -> None:
        self.fd, self.max_bytes = fd, max_bytes
        self.buf = bytearray()

    def pending(self) -> Any:
        """The next frame if it is complete in the buffer, else None (no system call)."""
        buf = self.buf
        if len(buf) < 4:
            return None
        size = int.from_bytes(buf[:4], "big")
        if size > self.max_bytes:
            raise FrameTooLarge(f"frame of {size} bytes exceeds the {self.max_bytes}-byte limit")
        if len(buf) < 4 + size:
            return None
        body = bytes(buf[4:4 + size])
        del buf[:4 + size]
        return _loads(body)

    def wait(self, timeout: float | None) -> bool:
        """Whether bytes can be read within ``timeout`` seconds (None: wait forever)."""
        return bool(select.select([self.fd], [], [], timeout)[0])

    def fill(self) -> None:
        """Read what the channel holds (blocking if it holds nothing); PeerClosed at its end."""
        chunk = os.read(self.fd, READ_CHUNK)
        if not chunk:
            raise PeerClosed("channel closed")
        self.buf += chunk

    def read(self, deadline: float | None = None) -> Any:
        """The next frame; FrameTimeout if none is complete by ``deadline``
        (a ``time.monotonic()`` value, None for no deadline)."""
        while True:
            msg = self.pending()
            if msg is not None:
                return msg
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0 or not self.wait(left):
                    raise FrameTimeout("no reply before the deadline")
            self.fill()


# -- plain data ---------------------------------------------------------------

_TAGGED = {"tuple", "dict", "set", "frozenset", "bytes", "complex", "ndarray", "npscalar", "series", "frame"}
# NumPy values cross as their dtype, shape and bytes, rebuilt as exact NumPy types where NumPy is loaded
# (a package environment's workers import it before any sample; see sandbox/environments.py). Object and
# structured dtypes do not cross as bytes; an object array crosses item by item when each item is plain
# data (pandas keeps text in object columns). pandas Series and DataFrames cross as their index, column
# labels (an index too), names and columns, rebuilt where pandas is loaded.
_NUMPY_KINDS = set("biufcmMUS")
MAX_ARRAY_BYTES = 64 << 20
_PANDAS_TEXT = {"str", "string"}
# A RangeIndex crosses as its bounds, but is held to the item count an int64 index may have
MAX_RANGE_ITEMS = MAX_ARRAY_BYTES // 8


class NotPlainData(TypeError):
    """A value that is not plain data was offered for transfer."""


def encode_value(value: Any, _depth: int = 0) -> Any:
    """Turn plain data into a JSON-able tree.

    Subclasses of plain types are reduced to their base type's content (a
    ``list`` subclass becomes the list of its items), which is what makes
    overridden comparison methods harmless. Anything else raises NotPlainData.
    """
    if _depth > MAX_DEPTH:
        raise NotPlainData("value nested too deeply")
    t = type(value)
    # Exact builtin types first: the common case, and cheap.
    if value is None or t is bool or t is str or t is int or t is float:
        return value
    d = _depth + 1
    if t is list:
        return [encode_value(x, d) for x in value]
    # before the subclass checks: NumPy's float64 is a float, and would cross as a plain one
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, (numpy.ndarray, numpy.generic)):
        return _encode_numpy(numpy, value, _depth)
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(value, (pandas.Series, pandas.DataFrame)):
        return _encode_pandas(pandas, value, _depth)
    if isinstance(value, int):
        return int.__index__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, tuple):
        return {"$": "tuple", "v": [encode_value(x, d) for x in tuple.__iter__(value)]}
    if isinstance(value, list):
        return [encode_value(x, d) for x in list.__iter__(value)]
    if isinstance(value, dict):
        return {"$": "dict", "v": [[encode_value(k, d), encode_value(v, d)] for k, v in dict.items(value)]}
    if isinstance(value, frozenset):
        return {"$": "frozenset", "v": [encode_value(x, d) for x in frozenset.__iter__(value)]}
    if isinstance(value, set):
        return {"$": "set", "v": [encode_value(x, d) for x in set.__iter__(value)]}
    if isinstance(value, (bytes, bytearray)):
        return {"$": "bytes", "v": bytes(memoryview(value)).hex()}
    if isinstance(value, complex):
        # the base type's own descriptors: a subclass's overrides never run
        return {"$": "complex", "v": [complex.real.__get__(value), complex.imag.__get__(value)]}
    raise NotPlainData(f"a value of type {t.__name__} is not plain data")


def _encode_numpy(numpy: Any, value: Any, depth: int = 0) -> Any:
    """An array (a subclass as its base array's content) or a NumPy scalar: dtype, shape and bytes; an
    object array as its items, each plain data."""
    array = numpy.asarray(value)
    dtype = numpy.dtype(array.dtype)
    if dtype.kind == "O" and isinstance(value, numpy.ndarray):
        return {"$": "ndarray", "v": ["|O", list(array.shape), [encode_value(x, depth + 1) for x in array.ravel()]]}
    if dtype.kind not in _NUMPY_KINDS or dtype.fields is not None:
        raise NotPlainData(f"a NumPy value of dtype {dtype} is not plain data")
    if array.nbytes > MAX_ARRAY_BYTES:
        raise NotPlainData(f"a NumPy array of {array.nbytes} bytes is too large to cross")
    data = base64.b64encode(numpy.ascontiguousarray(array).tobytes()).decode()
    tag = "npscalar" if isinstance(value, numpy.generic) else "ndarray"
    return {"$": tag, "v": [dtype.str, list(array.shape), data]}


def _encode_pandas(pandas: Any, value: Any, depth: int) -> Any:
    """A Series (values, index, name) or a DataFrame (columns, their labels, index), each part plain data.

    Column labels cross as an index does, so that the rebuilt value passes ``pandas.testing``'s strict
    checks: the labels' dtype (int labels stay int64, pandas 3's text labels stay ``str``), their name,
    a RangeIndex as a range, and a DatetimeIndex's or TimedeltaIndex's ``freq``. MultiIndexes (rows or
    columns) and extension dtypes other than text (category, Int64, tz-aware, period...) do not cross:
    NotPlainData, never a value rebuilt differently."""
    numpy = sys.modules["numpy"]

    def column(series: Any) -> Any:
        """[values, None] for a NumPy dtype; [values as objects, [name, storage]] for pandas' text dtypes
        ("str", pandas 3's default for text, or "string"): the storage too, as a python-backed and a
        pyarrow-backed column have unequal dtypes. Works on an Index as on a Series."""
        if isinstance(series.dtype, numpy.dtype):
            return [_encode_numpy(numpy, series.to_numpy(copy=True), depth + 1), None]
        if str(series.dtype) in _PANDAS_TEXT:
            text = [str(series.dtype), str(series.dtype.storage)]
            # missing text as None, which crosses ("string"'s pd.NA would not) and either dtype reads back
            values = series.to_numpy(dtype=object, copy=True, na_value=None)
            return [_encode_numpy(numpy, values, depth + 1), text]
        raise NotPlainData(f"a pandas column of dtype {series.dtype} is not plain data")

    def index_tree(index: Any) -> Any:
        """["range", [start, stop, step], name] or ["index", values, name, freqstr or None]."""
        if getattr(index, "nlevels", 1) != 1:
            raise NotPlainData("a pandas MultiIndex is not plain data")
        name = encode_value(index.name, depth + 1)
        if isinstance(index, pandas.RangeIndex):
            if len(index) > MAX_RANGE_ITEMS:  # the limit an int64 index of as many items would meet
                raise NotPlainData(f"a pandas RangeIndex of {len(index)} items is too large to cross")
            return ["range", [int(index.start), int(index.stop), int(index.step)], name]
        values = column(index)  # first: an index of a dtype that does not cross is refused for that
        freq = index.freq if isinstance(index, (pandas.DatetimeIndex, pandas.TimedeltaIndex)) else None
        if freq is not None and pandas.tseries.frequencies.to_offset(index.freqstr) != freq:
            # e.g. a custom business day's holidays: its freqstr would rebuild another frequency
            raise NotPlainData(f"a pandas index of frequency {freq!r} does not cross (only frequencies that "
                               "their name rebuilds do)")
        return ["index", values, name, None if freq is None else str(index.freqstr)]

    if isinstance(value, pandas.Series):
        return {"$": "series", "v": [column(value), index_tree(value.index), encode_value(value.name, depth + 1)]}
    columns = [column(value.iloc[:, i]) for i in range(value.shape[1])]
    return {"$": "frame", "v": [index_tree(value.columns), columns, index_tree(value.index)]}


def _rebuild_pandas(tag: str, v: Any, depth: int) -> Any:
    pandas = sys.modules.get("pandas")
    if pandas is None:
        raise WireError("a pandas value came, but pandas is not loaded here (the task needs its environment)")
    numpy = sys.modules["numpy"]
    if type(v) is not list or len(v) != 3 or type(v[1 if tag == "frame" else 0]) is not list:
        raise WireError(f"malformed {tag}")

    def column(tree: Any) -> Any:
        """A 1-D NumPy array, or a pandas text array of the dtype and storage named."""
        text = tree[1] if type(tree) is list and len(tree) == 2 else "malformed"
        if text is not None and not (type(text) is list and len(text) == 2 and text[0] in _PANDAS_TEXT
                                     and type(text[1]) is str):
            raise WireError(f"malformed {tag} column")
        values = _rebuild(tree[0], depth + 1)
        if type(values) is not numpy.ndarray or values.ndim != 1:
            raise WireError(f"a {tag} column is not a 1-D array")
        if text is None:
            return values
        # "str" (pandas 3) marks missing text NaN, "string" pd.NA: the same storage, a different dtype
        if text[0] == "string":
            return pandas.array(values, dtype=pandas.StringDtype(text[1]))
        return pandas.array(values, dtype=pandas.StringDtype(text[1], na_value=numpy.nan))

    def index(tree: Any) -> Any:
        if type(tree) is list and len(tree) == 3 and tree[0] == "range" and type(tree[1]) is list \
                and len(tree[1]) == 3 and all(type(n) is int for n in tree[1]):
            built = pandas.RangeIndex(*tree[1], name=_rebuild(tree[2], depth + 1))
            if len(built) > MAX_RANGE_ITEMS:
                raise WireError(f"a RangeIndex of {len(built)} items is too large")
            return built
        if not (type(tree) is list and len(tree) == 4 and tree[0] == "index"
                and (tree[3] is None or type(tree[3]) is str)):
            raise WireError(f"malformed {tag} index")
        values, name, freq = column(tree[1]), _rebuild(tree[2], depth + 1), tree[3]
        if freq is None:
            # the dtype given, so object labels stay objects (never inferred anew) and tuples stay tuples
            return pandas.Index(values, dtype=values.dtype, name=name, tupleize_cols=False)
        kind = getattr(values.dtype, "kind", "")
        if kind not in ("M", "m"):
            raise WireError(f"a {tag} index of dtype {values.dtype} has no frequency")
        return (pandas.DatetimeIndex if kind == "M" else pandas.TimedeltaIndex)(values, freq=freq, name=name)

    if tag == "series":
        return pandas.Series(column(v[0]), index=index(v[1]), name=_rebuild(v[2], depth + 1))
    labels, rows = index(v[0]), index(v[2])
    if len(labels) != len(v[1]):
        raise WireError(f"a frame of {len(v[1])} columns came with {len(labels)} labels")
    frame = pandas.DataFrame({i: column(c) for i, c in enumerate(v[1])}, index=rows)
    frame.columns = labels
    return frame


def _rebuild_numpy(tag: str, v: Any, depth: int = 0) -> Any:
    numpy = sys.modules.get("numpy")
    if numpy is None:
        raise WireError("a NumPy value came, but NumPy is not loaded here (the task needs its environment)")
    if tag == "ndarray" and type(v) is list and len(v) == 3 and v[0] == "|O" and type(v[2]) is list \
            and type(v[1]) is list and all(type(n) is int and n >= 0 for n in v[1]):
        items = [_rebuild(x, depth + 1) for x in v[2]]
        count = 1
        for n in v[1]:
            count *= n
        if len(items) != count:
            raise WireError(f"an object array of {len(items)} items does not make shape {v[1]}")
        out = numpy.empty(count, dtype=object)
        for i, item in enumerate(items):  # one by one: a list item must stay one item
            out[i] = item
        return out.reshape(v[1])
    if not (type(v) is list and len(v) == 3 and type(v[0]) is str and type(v[1]) is list and type(v[2]) is str
            and all(type(n) is int and n >= 0 for n in v[1])):
        raise WireError(f"malformed {tag}")
    dtype = numpy.dtype(v[0])
    if dtype.kind not in _NUMPY_KINDS or dtype.fields is not None:
        raise WireError(f"a NumPy dtype that does not cross: {v[0]!r}")
    data = base64.b64decode(v[2], validate=True)
    count = 1
    for n in v[1]:
        count *= n
    if len(data) != count * dtype.itemsize or len(data) > MAX_ARRAY_BYTES:
        raise WireError(f"{tag}: {len(data)} bytes do not make shape {v[1]} of {dtype}")
    array = numpy.frombuffer(data, dtype=dtype).reshape(v[1]).copy()
    return array[()] if tag == "npscalar" else array


def _rebuild(node: Any, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise WireError("value nested too deeply")
    t = type(node)
    if node is None or t is bool or t is int or t is float or t is str:
        return node
    if t is list:
        return [_rebuild(x, depth + 1) for x in node]
    if t is dict and set(node) == {"$", "v"} and node["$"] in _TAGGED:
        tag, v = node["$"], node["v"]
        try:
            if tag in ("ndarray", "npscalar"):
                return _rebuild_numpy(tag, v, depth)
            if tag in ("series", "frame"):
                return _rebuild_pandas(tag, v, depth)
            if tag == "bytes" and type(v) is str:
                return bytes.fromhex(v)
            if tag == "complex" and type(v) is list and len(v) == 2 and all(type(x) is float for x in v):
                return complex(v[0], v[1])
            if type(v) is list:
                items = [_rebuild(x, depth + 1) for x in v]
                if tag == "tuple":
                    return tuple(items)
                if tag == "set":
                    return set(items)
                if tag == "frozenset":
                    return frozenset(items)
                if tag == "dict" and all(type(p) is list and len(p) == 2 for p in items):
                    return {k: val for k, val in items}
        # OverflowError: numbers past int64 (a range's bounds); ImportError: a text storage whose package
        # (pyarrow) is not here, which only a forged value names, as both ends share the environment
        except (TypeError, ValueError, OverflowError, ImportError, binascii.Error) as exc:
            raise WireError(f"malformed {tag}: {exc}") from exc
    raise WireError(f"not plain data: {str(node)[:80]}")


def decode_value(tree: Any) -> Any:
    """Rebuild a value from :func:`encode_value`'s output with exact builtin types.

    Raises WireError for anything that is not a well-formed encoding.
    """
    return _rebuild(tree)
