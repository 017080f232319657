"""Counting a test's checks and keeping its first failure (in the judge).

Pure: the recorder only sees values the judge already holds, and builds the
failure as JSON-able data tagged with its kind (the orchestrator reads it
back as a :data:`codeloop.types.Failure`).
"""

from __future__ import annotations

import array
import hashlib
import math
import sys
from typing import Any, Callable

CAP_VALUE = 1000
MAX_RESULTS = 1000


def capped_repr(value: Any, cap: int = CAP_VALUE) -> str:
    """repr() of a judge-side value, cut to ``cap`` characters with a marker."""
    text = repr(value)
    if len(text) <= cap:
        return text
    kept = max(0, cap - 32)  # room for the marker
    return text[:kept] + f"... [{len(text) - kept} more chars]"


def observed_text(value: Any, cap: int = CAP_VALUE) -> str:
    """A probe's value as text that two equal values share, whichever process made them.

    Sets and dicts are written in sorted order (their repr follows insertion
    order, and for strings the process's hash seed); a float with an integer
    value is written as the integer, and NaN as ``nan``, so values that
    compare equal read the same (``True`` and ``1`` do not). NumPy arrays and
    pandas objects are written in full, values exact (their repr shortens and
    rounds). Text past ``cap`` characters keeps its beginning and a digest of
    the whole.

    The judge runs this once per probe value per sample, so a value whose text
    cannot fit ``cap`` must not cost its whole text: a list, tuple or NumPy
    array of more than ``CAP_VALUE // 3`` items (each item takes at least one
    character and a separator) is written as its first items and a digest of
    all of them (see :func:`_long_sequence` and :func:`_long_array`), wherever
    it is. Limits: a long dict's or set's items are each written in full (to
    sort them), and a pandas object goes through ``to_dict``, item by item.
    """
    try:
        text = _canonical(value)
    except Exception:  # noqa: BLE001 - a value its own canonical form fails on reads as its repr
        text = repr(value)
    if len(text) <= cap:
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return text[: max(0, cap - 48)] + f"... [{len(text)} chars, sha256 {digest}]"


def _canonical(value: Any) -> str:
    kind = type(value)
    if kind is int or kind is str or kind is bool or value is None:  # the common leaves first
        return repr(value)
    if kind is float:
        if math.isnan(value):
            return "nan"
        return repr(int(value)) if value.is_integer() else repr(value)
    if kind is list or kind is tuple:
        if len(value) > _LONG:
            return _long_sequence(value)
        inner = ", ".join(_canonical(v) for v in value)
        return f"[{inner}]" if kind is list else f"({inner}{',' if len(value) == 1 else ''})"
    if kind is set or kind is frozenset:
        return "{" + ", ".join(sorted(_canonical(v) for v in value)) + "}" if value else "set()"
    if kind is dict:
        return "{" + ", ".join(sorted(f"{_canonical(k)}: {_canonical(v)}" for k, v in value.items())) + "}"
    module = kind.__module__.partition(".")[0]
    if module == "numpy" and hasattr(value, "tolist"):
        if kind.__name__ == "ndarray" and value.size > _LONG:
            long = _long_array(value)
            if long is not None:
                return long
        # repr shortens a large array and rounds its floats: two different arrays could read the same
        inner = _canonical(value.tolist())  # a NumPy scalar's is the plain value: np.float64(2.0) reads 2
        return f"array({inner}, {value.dtype})" if kind.__name__ == "ndarray" else inner
    if module == "pandas" and hasattr(value, "to_dict"):
        split = value.to_dict(orient="split") if kind.__name__ == "DataFrame" else value.to_dict()
        return f"{kind.__name__}({_canonical(split)})"
    return repr(value)


# Past this many items a sequence's text cannot fit CAP_VALUE (an item and its separator take 3 characters
# at least), so its text would be capped to a digest anyway: it is made as one from the start.
_LONG = CAP_VALUE // 3
_CHUNK = 4096       # items digested together
_HEAD = 200         # characters of a long value's first items that its text shows
_EXACT = 2.0 ** 53  # numbers of smaller magnitude are exact as float64, ints and floats alike


def _numeric_types() -> frozenset[type]:
    """Number types whose text is their float64 value's (when exact): int, float and, where NumPy is
    loaded, its integer and float scalars (a list of them crosses from a program as one of NumPy scalars,
    and must read as the equal list of plain numbers does). Not bool (True reads apart from 1)."""
    numpy = sys.modules.get("numpy")
    extra = () if numpy is None else (numpy.float16, numpy.float32, numpy.float64, numpy.int8, numpy.int16,
                                      numpy.int32, numpy.int64, numpy.uint8, numpy.uint16, numpy.uint32,
                                      numpy.uint64)
    return frozenset((int, float, *extra))


def _long_sequence(value: list[Any] | tuple[Any, ...]) -> str:
    """A long list or tuple as its first items and a sha256 of all of them, made a chunk at a time.

    Equal sequences read the same and unequal ones apart, as their full text would: a chunk whose items are
    all numbers of magnitude under 2**53 (NaN and infinities are not) is digested as their float64 bytes,
    -0.0 made 0.0, so 2 and 2.0 agree as their text does; any other chunk as its items' text. Chunks are
    cut at the same positions in sequences of one length, so equal sequences take the same ways."""
    numeric = _numeric_types()
    digest = hashlib.sha256(f"{type(value).__name__} {len(value)}".encode())
    for start in range(0, len(value), _CHUNK):
        chunk = value[start:start + _CHUNK]
        if all(type(x) in numeric and -_EXACT < x < _EXACT for x in chunk):
            data = array.array("d", [x + 0.0 for x in chunk]).tobytes()
            digest.update(b"F%d:" % len(data) + data)
        else:
            data = ", ".join(map(_canonical, chunk)).encode("utf-8", "surrogatepass")
            digest.update(b"T%d:" % len(data) + data)
    head = _first_items(value)
    opening, closing = ("[", "]") if type(value) is list else ("(", ")")
    return f"{opening}{head}... {len(value)} items, sha256 {digest.hexdigest()[:16]}{closing}"


def _first_items(items: Any) -> str:
    """The text of an iterable's first items, about _HEAD characters of it."""
    texts: list[str] = []
    size = 0
    for item in items:
        texts.append(_canonical(item))
        size += len(texts[-1]) + 2
        if size >= _HEAD:
            break
    return ", ".join(texts)[:_HEAD]


def _long_array(values: Any) -> str | None:
    """A long NumPy array as its dtype, shape, first items and a sha256 of its bytes; None for a dtype whose
    equal values may differ in bytes beyond what is made one here (objects; long doubles' padding).

    -0.0 and 0.0, and NaNs of any bits, are made one first (they read as one); a bool viewed from other
    bytes may hold 2 for True, so bools are made anew too."""
    numpy = sys.modules["numpy"]
    kind, size = values.dtype.kind, values.dtype.itemsize
    if kind in "iuUSMm":
        parts = [values]
    elif kind == "b":
        parts = [values != 0]
    elif kind == "f" and size in (2, 4, 8) or kind == "c" and size in (8, 16):
        parts = [numpy.where(numpy.isnan(p), numpy.nan, p) + 0.0
                 for p in ((values,) if kind == "f" else (values.real, values.imag))]
    else:
        return None
    digest = hashlib.sha256(repr((values.dtype.str, values.shape)).encode())
    for part in parts:
        digest.update(numpy.ascontiguousarray(part).tobytes())
    head = _first_items(values.flat[:_HEAD].tolist())  # no more items than _HEAD characters show
    return f"array([{head}... shape {values.shape}, sha256 {digest.hexdigest()[:16]}], {values.dtype})"


class CandidateRaised(Exception):
    """The candidate's code raised; carries its type, message and trimmed traceback."""

    def __init__(self, info: dict[str, Any]) -> None:
        super().__init__(f"{info.get('name', 'Exception')}: {info.get('message', '')}")
        self.info = info


class BrokenTask(Exception):
    """The task itself is broken (its test cannot run): an evaluator-side failure
    that no retry can fix."""


class StopTests(BaseException):
    """Raised by a recorder that stops at the first failure, once it has one.

    A BaseException so that a test's ``except Exception`` cannot swallow it."""


class Recorder:
    """Counts the test's checks and keeps the first failure.

    ``last_input`` tells, when asked, the last call made to the candidate (as
    text): it is rendered only for a failure.
    """

    def __init__(self, source_lines: list[str], last_input: Callable[[], str | None],
                 stop_on_failure: bool = False) -> None:
        self.lines, self.last_input, self.stop_on_failure = source_lines, last_input, stop_on_failure
        self.total = self.passed = 0
        self.results: list[bool] = []
        self.runs: list[dict[str, Any]] = []
        self.cases: list[list[Any]] = []  # stdio: [index, status, CPU seconds] per case run
        self.values: list[str] = []       # each probe's value, as observed_text
        self.gone = False                  # stdio: the candidate can answer no more
        self.status = "passed"
        self.failure: dict[str, Any] | None = None

    def _test_text(self, line: int | None) -> str | None:
        return self.lines[line - 1].strip() if line and 0 < line <= len(self.lines) else None

    def fail(self, status: str, kind: str, line: int | None, **details: Any) -> None:
        """Keep this failure if it is the first."""
        if self.failure is None:
            self.status = status
            self.failure = {"kind": kind, "test": self._test_text(line), "line": line,
                            "input": details.pop("input", None) or self.last_input(), **details}
            if self.stop_on_failure:
                raise StopTests

    def fail_with(self, status: str, failure: dict[str, Any]) -> None:
        """Keep this failure, already built, if it is the first."""
        if self.failure is None:
            self.status, self.failure = status, failure

    def count(self, ok: bool) -> None:
        self.total += 1
        self.passed += ok
        if len(self.results) < MAX_RESULTS:
            self.results.append(ok)

    # -- called by rewritten asserts -------------------------------------------
    def compare(self, line: int, actual: Any, expected: Any) -> None:
        ok = actual == expected
        self.count(ok)
        if not ok:
            self.fail("failed", "wrong_answer", line, expected=capped_repr(expected), actual=capped_repr(actual))

    def truth(self, line: int, value: Any) -> None:
        self.count(bool(value))
        if not value:
            self.fail("failed", "wrong_answer", line)

    def observe(self, line: int, value: Any) -> None:
        """A probe returned: keep its value. Nothing is checked, so it is not a test (not counted)."""
        if len(self.values) < MAX_RESULTS:
            self.values.append(observed_text(value))

    def observe_raised(self, line: int, exc: BaseException) -> None:
        """A probe raised: its value is the exception's type, and the exception is kept as the
        failure (status ``error``) if it is the first; not counted as a test either. A probe
        whose arguments cannot cross to the program is the probe's fault, whoever runs it: it
        is noted, and neither the program's failure nor a broken task. Only a probe task
        (``Task.probes``, built by codeloop) has probes."""
        if isinstance(exc, BrokenTask):
            if len(self.values) < MAX_RESULTS:
                self.values.append(f"<probe not run: {exc}>")
            return
        name = exc.info.get("type", "Exception") if isinstance(exc, CandidateRaised) else type(exc).__name__
        if len(self.values) < MAX_RESULTS:
            self.values.append(f"raised {name}")
        self.exception(exc, line)

    def error(self, line: int, exc: BaseException) -> None:
        self.count(False)
        self.exception(exc, line)

    def exception(self, exc: BaseException, line: int | None) -> None:
        """An exception that stopped a check: the program's own, or the test's
        on the program's answer. A broken task is not the program's failure."""
        if isinstance(exc, CandidateRaised):
            self.fail("error", "raised", line, exception=exc.info)
        elif isinstance(exc, BrokenTask):
            raise exc
        else:
            self.fail("failed", "unusable_result", line,
                      exception={"type": type(exc).__name__, "name": type(exc).__name__,
                                 "message": str(exc)[:2000], "traceback": ""})
