"""The plain-data codec is the trust boundary: only exact builtin types come out."""

import math
import os

import json

import pytest

from codeloop.sandbox import wire

SAMPLES = [
    None, True, False, 0, -7, 10**40, 1.5, -0.0, "text", "ünï", b"\x00\xff", [1, [2, "x"]],
    (1, (2,)), {"a": 1, 2: [3], (1, 2): None}, {1, 2}, frozenset({"a"}), 3 + 4j, [], (), {},
]


@pytest.mark.parametrize("value", SAMPLES, ids=repr)
def test_round_trip_keeps_value_and_exact_types(value):
    back = wire.decode_value(wire.encode_value(value))
    assert back == value

    def types(v):
        if isinstance(v, (list, tuple, set, frozenset)):
            return (type(v), [types(x) for x in sorted(v, key=repr)] if isinstance(v, (set, frozenset))
                    else [types(x) for x in v])
        if isinstance(v, dict):
            return (dict, sorted((repr(types(k)), repr(types(x))) for k, x in v.items()))
        return type(v)

    assert types(back) == types(value)


def test_special_floats_survive():
    back = wire.decode_value(wire.encode_value([math.inf, -math.inf, math.nan]))
    assert back[0] == math.inf and back[1] == -math.inf and math.isnan(back[2])


def test_subclasses_are_reduced_to_their_base_content():
    class L(list):
        def __eq__(self, other):
            return True

    class F(float):
        def __eq__(self, other):
            return True

    class S(str):
        pass

    back = wire.decode_value(wire.encode_value([L([1]), F(2.5), S("s")]))
    assert [type(x) for x in back] == [list, float, str]
    assert back[0] != [9] and back[1] != 9.0


def test_non_plain_values_are_refused():
    with pytest.raises(wire.NotPlainData):
        wire.encode_value(object())
    with pytest.raises(wire.NotPlainData):
        wire.encode_value(x for x in [])


@pytest.mark.parametrize("tree", [
    {"$": "evil", "v": []},
    {"$": "tuple", "v": "notalist"},
    {"x": 1},
    {"$": "dict", "v": [[[1], 2]]},     # unhashable key
    {"$": "set", "v": [[1]]},           # unhashable element
    {"$": "bytes", "v": "zz"},
    {"$": "complex", "v": [1]},
])
def test_malformed_trees_are_rejected(tree):
    with pytest.raises(wire.WireError):
        wire.decode_value(tree)


def test_deep_nesting_is_rejected_not_crashing():
    deep = []
    for _ in range(wire.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(wire.NotPlainData):
        wire.encode_value(deep)


def test_frames_round_trip_and_limits():
    r, w = os.pipe()
    try:
        wire.write_frame(w, {"a": [1, 2]})
        assert wire.read_frame(r) == {"a": [1, 2]}
        wire.write_frame(w, "x" * 100)
        with pytest.raises(wire.FrameTooLarge):
            wire.read_frame(r, max_bytes=10)
    finally:
        os.close(r)
        os.close(w)


def test_read_frame_times_out_and_sees_closed_peer():
    import time

    r, w = os.pipe()
    with pytest.raises(wire.FrameTimeout):
        wire.read_frame(r, deadline=time.monotonic() + 0.05)
    os.close(w)
    with pytest.raises(wire.PeerClosed):
        wire.read_frame(r)
    os.close(r)


def test_numpy_values_cross_with_their_exact_types():
    np = pytest.importorskip("numpy")
    from codeloop.sandbox.wire import NotPlainData, WireError, decode_value, encode_value

    for value in (np.arange(6, dtype=np.int32).reshape(2, 3), np.array(["ab", "c"]), np.array([[True], [False]]),
                  np.float64(1.5), np.int8(-3), np.array([], dtype=np.float32), np.datetime64("2024-01-02")):
        back = decode_value(json.loads(json.dumps(encode_value(value))))
        assert type(back) is type(value) and back.dtype == value.dtype and np.array_equal(back, value)
        if isinstance(value, np.ndarray):
            assert back.shape == value.shape and back.flags.writeable

    class Liar(np.ndarray):
        def __eq__(self, other):
            return np.ones(np.shape(other), dtype=bool)

    crossed = decode_value(encode_value(np.zeros(3, dtype=np.int64).view(Liar)))
    assert type(crossed) is np.ndarray and not (crossed == np.arange(3)).all()  # its __eq__ stayed behind
    with pytest.raises(NotPlainData):
        encode_value(np.array([object()]))
    for bad in ({"$": "ndarray", "v": ["|O", [1], "AAAAAAAAAAA="]}, {"$": "ndarray", "v": ["<i8", [3], "AAAA"]},
                {"$": "ndarray", "v": ["<i8", [-1], ""]}, {"$": "npscalar", "v": ["<f8", [], "not base64!"]}):
        with pytest.raises(WireError):
            decode_value(bad)


def test_numpy_values_need_numpy_where_they_are_rebuilt(monkeypatch):
    np = pytest.importorskip("numpy")
    import sys

    from codeloop.sandbox.wire import WireError, decode_value, encode_value

    encoded = encode_value(np.arange(3))
    monkeypatch.setitem(sys.modules, "numpy", None)
    with pytest.raises(WireError, match="NumPy is not loaded here"):
        decode_value(encoded)


def test_pandas_values_cross_with_index_names_and_dtypes():
    pd = pytest.importorskip("pandas")
    from codeloop.sandbox.wire import NotPlainData, decode_value, encode_value

    frame = pd.DataFrame({"n": [1, 2], "s": ["p", "q"], "when": pd.to_datetime(["2024-01-01", "2024-02-01"])},
                         index=pd.Index([10, 20], name="id"))
    for value in (pd.Series([1.5, 2.0], index=["a", "b"], name="x"), frame, pd.Series([], dtype="float64"),
                  pd.DataFrame({3: [True], "mixed": [[1, 2]]})):
        back = decode_value(json.loads(json.dumps(encode_value(value))))
        assert type(back) is type(value) and back.equals(value) and back.index.name == value.index.name
        if isinstance(value, pd.DataFrame):
            assert list(back.columns) == list(value.columns) and back.dtypes.equals(value.dtypes)
        else:
            assert back.name == value.name and back.dtype == value.dtype
    for value in (pd.Series(["a"], dtype="category"), pd.Series([1], index=pd.MultiIndex.from_tuples([(1, 2)])),
                  pd.Series([object()])):
        with pytest.raises(NotPlainData):
            encode_value(value)


def pandas_values(pd, np):
    """Frames and Series whose every part ``pandas.testing``'s strict checks look at: labels' dtypes and names,
    RangeIndexes, frequencies, text dtypes (pandas 3's ``str`` by default)."""
    dates = pd.date_range("2024-01-01", periods=3, name="day")
    return {
        "int labels": pd.DataFrame(np.arange(6).reshape(2, 3)),
        "one int label": pd.DataFrame({1: [1]}),
        "text labels": pd.DataFrame({"a": [1], "b": ["x"]}),
        "mixed labels": pd.DataFrame({3: [True], "mixed": [[1, 2]]}),
        "float and bool labels": pd.concat([pd.DataFrame({1.5: [1]}), pd.DataFrame({True: [2]})], axis=1),
        "tuple labels": pd.DataFrame([[1, 2]], columns=pd.Index([(1, 2), (3, 4)], tupleize_cols=False)),
        "duplicate labels": pd.DataFrame([[1, 2]], columns=["a", "a"]),
        "named labels": pd.DataFrame({"a": [1]}).rename_axis(index="row", columns="col"),
        "date_range index": pd.DataFrame({"v": [1.0, 2.0, 3.0]}, index=dates),
        "two-hourly": pd.DataFrame({"h": range(3)}, index=pd.date_range("2024-03-01", periods=3, freq="2h")),
        "weekly": pd.Series(range(3), index=pd.date_range("2024-01-07", periods=3, freq="W"), name="w"),
        "business days": pd.Series(range(3), index=pd.bdate_range("2024-01-01", periods=3)),
        "month starts": pd.Series(range(3), index=pd.date_range("2024-01-01", periods=3, freq="MS")),
        "no freq dates": pd.DataFrame({"v": [1, 2]}, index=pd.to_datetime(["2024-01-05", "2024-01-01"])),
        "timedelta index": pd.Series([1, 2], index=pd.timedelta_range("1s", periods=2, freq="s")),
        "date labels": pd.DataFrame([[1, 2, 3]], columns=dates),
        "range index": pd.DataFrame({"a": [1, 2]}, index=pd.RangeIndex(5, 9, 2, name="r")),
        "empty range": pd.DataFrame(),
        "no rows": pd.DataFrame(columns=["a", "b"]),
        "no columns": pd.DataFrame(index=[1, 2]),
        "int32 index": pd.Series([1.5, 2.0], index=pd.Index(np.array([7, 8], dtype=np.int32), name="id")),
        "text index": pd.Series([1.5, 2.0], index=["a", "b"], name="x"),
        "tuple name": pd.Series([1], name=("a", 1)),
        "text with missing": pd.Series(["a", None, "c"]),
        "reset index": pd.DataFrame({"k": ["a", "b", "a"], "v": [1, 2, 3]}).groupby("k").sum().reset_index(),
        "groupby index": pd.DataFrame({"k": ["a", "b", "a"], "v": [1, 2, 3]}).groupby("k")["v"].sum(),
        "datetime column": pd.DataFrame({"when": pd.to_datetime(["2024-01-01", "2024-02-01"])}),
    }


PANDAS_CASES = [
    "int labels", "one int label", "text labels", "mixed labels", "float and bool labels", "tuple labels",
    "duplicate labels", "named labels", "date_range index", "two-hourly", "weekly", "business days",
    "month starts", "no freq dates", "timedelta index", "date labels", "range index", "empty range", "no rows",
    "no columns", "int32 index", "text index", "tuple name", "text with missing", "reset index", "groupby index",
    "datetime column"]


def test_the_pandas_cases_are_all_named():
    pd = pytest.importorskip("pandas")
    np = pytest.importorskip("numpy")
    assert sorted(pandas_values(pd, np)) == sorted(PANDAS_CASES)


@pytest.mark.parametrize("case", PANDAS_CASES)
def test_pandas_values_pass_pandas_own_strict_checks_after_crossing(case):
    """DS-1000-style checkers compare with ``pd.testing.assert_*_equal`` and its default (strict) checks: a
    correct program's value must still pass them once it has crossed."""
    pd = pytest.importorskip("pandas")
    np = pytest.importorskip("numpy")
    value = pandas_values(pd, np)[case]
    back = wire.decode_value(json.loads(json.dumps(wire.encode_value(value))))
    assert type(back) is type(value)
    if isinstance(value, pd.DataFrame):
        pd.testing.assert_frame_equal(back, value)
        assert type(back.columns) is type(value.columns) and back.columns.name == value.columns.name
    else:
        pd.testing.assert_series_equal(back, value)
    assert type(back.index) is type(value.index) and back.index.names == value.index.names
    assert getattr(back.index, "freq", None) == getattr(value.index, "freq", None)


def test_pandas_text_keeps_its_storage():
    """A python-backed and a pyarrow-backed text column have unequal dtypes: the storage crosses too."""
    pd = pytest.importorskip("pandas")
    for storage in ("python", "pyarrow"):
        if storage == "pyarrow":
            pytest.importorskip("pyarrow")
        value = pd.Series(["a", None], dtype=pd.StringDtype(storage))
        back = wire.decode_value(wire.encode_value(value))
        pd.testing.assert_series_equal(back, value)
        assert back.dtype.storage == storage


def test_pandas_values_that_do_not_cross_are_refused_not_mangled():
    pd = pytest.importorskip("pandas")
    holidays = pd.offsets.CustomBusinessDay(holidays=["2024-01-02"])
    for value in (pd.Series(["a"], dtype="category"), pd.Series([1], index=pd.MultiIndex.from_tuples([(1, 2)])),
                  pd.DataFrame([[1, 2]], columns=pd.MultiIndex.from_tuples([("a", 1), ("a", 2)])),
                  pd.DataFrame({"a": [1]}, index=pd.CategoricalIndex(["x"])),
                  pd.Series([1, 2], index=pd.period_range("2024-01", periods=2, freq="M")),
                  pd.Series([1, 2], index=pd.date_range("2024-01-01", periods=2, freq=holidays)),
                  pd.Series([1], index=pd.DatetimeIndex(["2024-01-01"], tz="UTC")),
                  pd.DataFrame(index=pd.RangeIndex(wire.MAX_RANGE_ITEMS + 1))):
        with pytest.raises(wire.NotPlainData):
            wire.encode_value(value)


def test_malformed_pandas_trees_are_rejected():
    pd = pytest.importorskip("pandas")
    np = pytest.importorskip("numpy")
    good = wire.encode_value(pd.DataFrame({"a": [1, 2]}, index=pd.date_range("2024-01-01", periods=2)))
    labels, columns, index = good["v"]
    scalar = wire.encode_value(np.int64(1))
    for bad in ([["range", [0, 2], None], columns, index],              # a range of two numbers
                [["range", [0, 2, 0], None], columns, index],           # step 0
                [["range", [0, 10**12, 1], None], columns, index],      # too many labels
                [["range", [0, 10**30, 1], None], columns, index],      # past int64
                [labels, [[columns[0][0], ["str", "nowhere"]]], index],  # no such storage
                [["range", [0, 2, 1], None], columns, index],           # two labels, one column
                [labels, [[scalar, None]], index],                      # a scalar for a column
                [labels, [[columns[0][0], ["str", 7]]], index],         # text of no storage
                [labels, columns, index[:2] + ["index", "not a freq"]],
                [labels, columns, index[:3] + ["3D"]],                  # dates that are not 3 days apart
                [labels, columns, ["index", labels, None, "D"]],        # a freq on labels of no dates
                [labels, columns, "index"]):
        with pytest.raises(wire.WireError):
            wire.decode_value({"$": "frame", "v": bad})
