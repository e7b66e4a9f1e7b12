"""Conversions between reports and pandas rows (imported only when a frame is needed)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from fasttrial._corecheck import _core
from fasttrial.optimization._schema import BASE_FILLS, STATUSES, key_section
from fasttrial.optimization._table import Table
from fasttrial.optimization.metric import Metric


def row_frame(row: Mapping[str, Any]) -> pd.DataFrame:
    """One row -> a one-row frame indexed by ``name``, with pandas' nullable dtypes."""
    return build_frame([row])


def reference_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """What ``build_frame`` must equal: pandas' own inference, then ``convert_dtypes``.

    Slow (pandas infers every column of object data); kept for tests and as the
    definition of the dtypes.
    """
    return pd.DataFrame.from_records(rows).convert_dtypes().set_index("name")


# A key absent from a row (pandas fills NaN there); the same marker the column store uses.
_MISSING = _core.MISSING
_Missing = type(_MISSING)
_STRING_DTYPE = pd.Series(["x"], dtype=object).convert_dtypes().dtype
_STRING_ARRAY = _STRING_DTYPE.construct_array_type()
_ONE_STRING_CACHE: dict[str, Any] = {}
_ONE_STRING_CACHE_MAX = 4096
_NUMERIC = frozenset((float, int, _Missing))
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


def _strings(values: list[Any]) -> Any:
    if len(values) == 1:
        v = values[0]
        cached = _ONE_STRING_CACHE.get(v) if type(v) is str else None
        if cached is None:
            cached = _STRING_ARRAY._from_sequence(values, dtype=_STRING_DTYPE)
            if type(v) is str and len(v) <= 256 and len(_ONE_STRING_CACHE) < _ONE_STRING_CACHE_MAX:
                _ONE_STRING_CACHE[v] = cached
        # A copy shares the immutable buffer but not the wrapper a frame may modify.
        return cached.copy()
    return _STRING_ARRAY._from_sequence(values, dtype=_STRING_DTYPE)


_FALSE1 = np.zeros(1, dtype=bool)
_TRUE1 = np.ones(1, dtype=bool)


def _masked(cls: Any, data: Any, mask: Any) -> Any:
    # _simple_new skips the validation of the public constructor (~10 us a column);
    # the arrays made here are already of the right dtype and shape.
    simple = getattr(cls, "_simple_new", None)
    if simple is not None:
        return simple(data, mask)
    return cls(data, mask)


def _scalar_column(v: Any) -> Any:
    """``_column([v])`` for the common scalar types, without numpy reductions."""
    t = type(v)
    if t is float:
        if v != v:  # NaN: pandas gives an all-missing Int64 column
            return _masked(pd.arrays.IntegerArray, np.zeros(1, dtype=np.int64), _TRUE1.copy())
        if v.is_integer() and _INT64_MIN <= v < 2.0**63:
            return _masked(
                pd.arrays.IntegerArray, np.array([int(v)], dtype=np.int64), _FALSE1.copy()
            )
        return _masked(pd.arrays.FloatingArray, np.array([v], dtype=np.float64), _FALSE1.copy())
    if t is int and _INT64_MIN <= v <= _INT64_MAX:
        return _masked(pd.arrays.IntegerArray, np.array([v], dtype=np.int64), _FALSE1.copy())
    if t is str:
        return _strings([v])
    return None


def _column(values: list[Any]) -> Any:
    """One column of ``values`` (``_MISSING`` where a row lacks the key) as the array
    ``convert_dtypes`` would give for pandas' own inference of it."""
    if len(values) == 1:
        fast = _scalar_column(values[0])
        if fast is not None:
            return fast
    kinds = set(map(type, values))
    if kinds <= _NUMERIC:
        if (
            int in kinds
            and float in kinds
            and not all(_INT64_MIN <= v <= _INT64_MAX for v in values if type(v) is int)
        ):
            return _slow_column(values)  # an int float64 cannot hold: pandas keeps objects
        if int in kinds and float not in kinds:
            if _Missing not in kinds and all(_INT64_MIN <= v <= _INT64_MAX for v in values):
                return _masked(
                    pd.arrays.IntegerArray,
                    np.array(values, dtype=np.int64),
                    np.zeros(len(values), dtype=bool),
                )
            return _slow_column(values)
        data = np.array([math.nan if v is _MISSING else v for v in values], dtype=np.float64)
        mask = np.isnan(data)
        present = data[~mask]
        if (
            np.all(np.isfinite(present))
            and np.all(present == np.floor(present))
            and (present.size == 0 or (present.min() >= _INT64_MIN and present.max() < 2.0**63))
        ):
            ints = np.where(mask, 0.0, data).astype(np.int64)
            return _masked(pd.arrays.IntegerArray, ints, mask)
        return _masked(pd.arrays.FloatingArray, np.where(mask, 0.0, data), mask)
    if kinds == {bool}:
        return pd.arrays.BooleanArray(
            np.array(values, dtype=bool), np.zeros(len(values), dtype=bool)
        )
    if all(issubclass(k, str) for k in kinds - {_Missing}) and kinds != {_Missing}:
        return _strings([None if v is _MISSING else str(v) for v in values])
    return _slow_column(values)


def _slow_column(values: list[Any]) -> Any:
    plain = [math.nan if v is _MISSING else v for v in values]
    if len(plain) == 1 and isinstance(plain[0], (list, tuple, set, dict)):
        # One container: pandas would spread it over rows (or, through .iloc, store a
        # Series made of it); an object array holds it as the one value.
        cell = np.empty(1, dtype=object)
        cell[0] = plain[0]
        series = pd.Series(cell)
    else:
        series = pd.Series(plain)
    return series.convert_dtypes().array


_COLUMNS_CACHE: dict[tuple[str, ...], pd.Index] = {}
_COLUMNS_CACHE_MAX = 256


def _columns_index(names: list[str]) -> pd.Index:
    """The column Index for ``names``: building one costs ~120 us, and the reports of a run
    share a few column sets. Each frame gets its own copy (an Index's ``name`` can be set
    in place, which must not reach other frames)."""
    key = tuple(names)
    cached = _COLUMNS_CACHE.get(key)
    if cached is None:
        cached = pd.Index(names)
        if len(_COLUMNS_CACHE) < _COLUMNS_CACHE_MAX:
            _COLUMNS_CACHE[key] = cached
    return cached.copy()


def build_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Rows (dicts with a ``name`` key) -> a frame indexed by name, column by column.

    Equals ``reference_frame(rows)`` (same columns in first-seen order, same values,
    same nullable dtypes) without pandas inferring object data row by row.
    """
    order: dict[str, None] = {}
    for row in rows:
        for key in row:
            if key not in order:
                order[key] = None
    names = [k for k in order if k != "name"]
    arrays = [_column([row.get(k, _MISSING) for row in rows]) for k in names]
    index = pd.Index(_column([row.get("name", _MISSING) for row in rows]), name="name")
    return _frame_from_arrays(arrays, names, index)


# -- the columnar History's frames ------------------------------------------------------


def _num_array(data: np.ndarray, ints_only: bool) -> Any:
    """float64 values (NaN = missing) -> the array ``_column`` gives for them."""
    mask = np.isnan(data)
    if not mask.any():
        whole = ints_only or (np.isfinite(data).all() and (data == np.floor(data)).all())
        if whole and (data.size == 0 or (data.min() >= _INT64_MIN and data.max() < 2.0**63)):
            return _masked(pd.arrays.IntegerArray, data.astype(np.int64), mask)
        return _masked(pd.arrays.FloatingArray, data, mask)
    present = data[~mask]
    if (
        np.isfinite(present).all()
        and (present == np.floor(present)).all()
        and (present.size == 0 or (present.min() >= _INT64_MIN and present.max() < 2.0**63))
    ):
        ints = np.where(mask, 0.0, data).astype(np.int64)
        return _masked(pd.arrays.IntegerArray, ints, mask)
    return _masked(pd.arrays.FloatingArray, np.where(mask, 0.0, data), mask)


def _all_fillers(col: Any, n: int) -> bool:
    buf = col.buffer()
    filler = -1 if col.kind == _core.COL_STR else 2
    values = np.frombuffer(buf, dtype=np.dtype(buf.typecode), count=n)
    out = bool(n) and bool((values == filler).all())
    del values, buf  # release the buffer, or the column could not grow
    return out


def column_array(col: Any, n: int) -> Any:
    """A table column (padded to ``n`` rows) as the pandas array ``_column`` would give
    for its values, built from the buffers without visiting values in Python."""
    kind = col.kind
    if kind in (_core.COL_STR, _core.COL_BOOL) and _all_fillers(col, n):
        # No value in these rows: what pandas infers for an empty column, as _column does.
        return _column([_MISSING] * n)
    if kind == _core.COL_NUM:
        data = np.frombuffer(col.buffer(), dtype=np.float64, count=n).copy()
        return _num_array(data, col.seen == _core.NUM_INT)
    if kind == _core.COL_STR:
        buf = col.buffer()
        codes = np.frombuffer(buf, dtype=np.dtype(buf.typecode), count=n).astype(np.intp)
        del buf
        cats = _STRING_ARRAY._from_sequence(col.categories(), dtype=_STRING_DTYPE)
        return cats.take(codes, allow_fill=True)
    if kind == _core.COL_BOOL:
        raw = np.frombuffer(col.buffer(), dtype=np.uint8, count=n)
        return pd.arrays.BooleanArray(raw == 1, raw == 2)
    return _column(col.values())


def table_frame(
    table: Any,
    *,
    profiles: bool = True,
    configs: bool = True,
    summary: bool = True,
    metrics: bool = True,
) -> pd.DataFrame:
    """The frame of a ``History`` table: equal to ``build_frame`` of its rows with only the
    chosen sections, built column by column from the buffers."""
    shown = {
        "base": True,
        "profiles": profiles,
        "configs": configs,
        "summary": summary,
        "metrics": metrics,
    }
    n = table.n
    columns = table.padded()
    keys = table.keys
    chosen = [
        cid
        for cid in table.ordered_key_ids()
        if keys[cid] != "name" and shown[key_section(keys[cid])]
    ]
    arrays = [column_array(columns[cid], n) for cid in chosen]
    index = pd.Index(column_array(columns[table.key_ids["name"]], n), name="name")
    return _frame_from_arrays(arrays, [keys[c] for c in chosen], index)


def _frame_from_arrays(arrays: list[Any], names: list[str], index: pd.Index) -> pd.DataFrame:
    columns = _columns_index(names)
    from_arrays = getattr(pd.DataFrame, "_from_arrays", None)
    if from_arrays is not None:
        try:
            return from_arrays(arrays, columns=columns, index=index, verify_integrity=False)
        except TypeError:  # a pandas whose private signature changed: use the public path
            pass
    frame = pd.DataFrame(dict(zip(names, arrays, strict=True)), index=index, copy=False)
    frame.columns = columns
    return frame


_REQUIRED_COLUMNS = ("status",)


def _frame_column(arr: Any) -> Any:
    """One frame column (its array: numpy or a pandas extension array) -> a table column
    with the same values (NA -> missing), without going through a Series."""
    n = len(arr)
    dtype = arr.dtype
    if isinstance(dtype, pd.BooleanDtype) or dtype == np.dtype(bool):
        missing = np.asarray(pd.isna(arr), dtype=bool)
        truth = _as(arr, bool, False)
        raw = np.where(missing, 2, truth.astype(np.uint8))
        return _core.Column.from_parts(_core.COL_BOOL, n, np.ascontiguousarray(raw, np.uint8))
    if pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_float_dtype(dtype):
        base = getattr(dtype, "numpy_dtype", dtype)
        if base not in (np.dtype(np.int64), np.dtype(np.float64)):
            # Int32, Float32, UInt64...: kept as numpy scalars of that type, so df()
            # infers the same dtype again.
            return _numpy_scalar_column(arr, base)
        if base == np.dtype(np.int64):
            ints = _as(arr, np.int64, 0)
            if ints.size and ((ints > 2**53) | (ints < -(2**53))).any():
                return _object_column(arr)
            seen = _core.NUM_INT
        else:
            seen = _core.NUM_FLOAT
        data = _as(arr, np.float64, np.nan)
        return _core.Column.from_parts(_core.COL_NUM, n, np.ascontiguousarray(data), seen)
    strings = isinstance(dtype, pd.StringDtype) or (
        dtype == np.dtype(object) and pd.api.types.infer_dtype(arr, skipna=True) == "string"
    )
    if strings:
        codes, cats = pd.factorize(arr, use_na_sentinel=True)
        if len(cats) == 0:
            return _object_column(arr)  # all missing: pandas' own inference decides
        if len(cats) > 256 and 2 * len(cats) > n:  # mostly distinct: a list of them
            values = [_MISSING if c < 0 else v for c, v in zip(codes, _objects(arr), strict=True)]
            return _core.Column.from_parts(_core.COL_OBJ, n, values)
        return _core.Column.from_parts(
            _core.COL_STR,
            n,
            np.ascontiguousarray(codes, dtype=np.int32),
            cats=[str(c) for c in cats],
        )
    return _object_column(arr)


def _as(arr: Any, dtype: Any, na_value: Any) -> np.ndarray:
    """``arr`` (numpy or an extension array) as a numpy array of ``dtype``."""
    if isinstance(arr, np.ndarray):
        return arr.astype(dtype, copy=False)
    return np.asarray(arr.to_numpy(dtype=dtype, na_value=na_value), dtype=dtype)


def _objects(arr: Any) -> list[Any]:
    return list(np.asarray(arr, dtype=object))


def _numpy_scalar_column(arr: Any, base: np.dtype) -> Any:
    missing = np.asarray(pd.isna(arr), dtype=bool)
    data = _as(arr, base, 0)
    values = [_MISSING if miss else data[i] for i, miss in enumerate(missing)]
    return _core.Column.from_parts(_core.COL_OBJ, len(values), values)


def _is_na(v: Any) -> bool:
    """An empty cell: NaN or pandas' NA (None is a value, as in the frames df() makes)."""
    return v is pd.NA or (isinstance(v, float) and math.isnan(v))


def _object_column(arr: Any) -> Any:
    # numpy scalars stay numpy scalars: pandas infers another dtype for them than for
    # Python numbers (np.uint64 next to np.int64 is an object column, not UInt64).
    values = [_MISSING if _is_na(v) else v for v in _objects(arr)]
    return _core.Column.from_parts(_core.COL_OBJ, len(values), values)


def _text_filled(arr: Any, fill: Any, *, empty_too: bool) -> Any:
    """A text column with missing (and, with ``empty_too``, empty) cells set to ``fill``,
    as a report rebuilt from the row would write it.  An ``exception`` of "" is kept: it
    is an exception with an empty message (a bare ``assert``), not none."""
    empty = np.asarray(pd.isna(arr), dtype=bool)
    if empty_too and isinstance(arr.dtype, pd.StringDtype):
        empty |= _as(arr == "", bool, False)
    elif empty_too:
        empty |= np.array([v == "" for v in _objects(arr)], dtype=bool)
    if not empty.any():
        return arr
    values = np.asarray(arr, dtype=object).copy()
    values[empty] = fill
    return values


def _column_arrays(df: pd.DataFrame) -> list[Any]:
    """The frame's column arrays, in order, without making a Series per column."""
    it = getattr(df, "_iter_column_arrays", None)
    if it is not None:
        try:
            return list(it())
        except TypeError:  # a pandas whose private method changed: use the public path
            pass
    return [df.iloc[:, i].array for i in range(df.shape[1])]


def table_from_frame(df: pd.DataFrame) -> tuple[Table, dict[str, Metric]]:
    """A ``History`` table (and its metrics) from a frame of ``History.df()``'s form,
    column by column.

    Raises:
        ValueError: If required columns are missing, a status is unknown, or a metric
            column's name or values cannot be read.
    """
    for key in df.columns:
        if not isinstance(key, str):
            raise ValueError(f"Column names must be strings, got {key!r}.")
    if df.columns.has_duplicates:
        dup = df.columns[df.columns.duplicated()][0]
        raise ValueError(f"Cannot load a history from a frame with two {dup!r} columns.")
    arrays = dict(zip(df.columns, _column_arrays(df), strict=True))
    names = arrays.pop("name") if "name" in arrays else df.index.array
    if np.asarray(pd.isna(names), dtype=bool).any():
        raise ValueError(
            "Cannot load a history from a frame with a missing trial name: the names are "
            "the frame's index (as History.df() makes it) or a 'name' column."
        )
    missing = [c for c in _REQUIRED_COLUMNS if c not in arrays]
    if missing:
        raise ValueError(
            f"Cannot load a history from this frame: it has no {', '.join(map(repr, missing))}"
            f" column (History.df() makes it; columns present: {list(df.columns)[:12]}"
            f"{'...' if len(df.columns) > 12 else ''})."
        )
    metrics: dict[str, Metric] = {}
    for key in arrays:
        if key.startswith("metric:"):
            try:
                metric = Metric.from_str(key[len("metric:") :])
            except Exception as error:
                raise ValueError(f"Cannot read the metric of column {key!r}: {error}") from None
            if metric.name in metrics:
                raise ValueError(
                    f"Metric {metric.name} has conflicting definitions:\n{metric} != "
                    f"{metrics[metric.name]} (columns of the frame)"
                )
            metrics[metric.name] = metric
    n = len(df)
    # The base columns as a report rebuilt from the row would write them, in Report.df()'s
    # order after status (added when the frame lacks them).
    ordered: dict[str, Any] = {"status": arrays.pop("status")}
    for key, fill in BASE_FILLS:
        arr = arrays.pop(key, None)
        if arr is None:
            arr = np.full(n, fill, dtype=object)
        elif key != "trial_seed":
            arr = _text_filled(arr, fill, empty_too=key != "exception")
        ordered[key] = arr
    ordered.update(arrays)
    if not (isinstance(names.dtype, pd.StringDtype) or pd.api.types.is_string_dtype(names)):
        names = np.array([str(v) for v in _objects(names)], dtype=object)
    columns = [_frame_column(names)]
    for key, arr in ordered.items():
        col = _frame_column(arr)
        if key == "status":
            _check_statuses(col)
        elif key.startswith("metric:") and col.kind != _core.COL_NUM:
            values = _core.to_float64(col.values(), f"Column {key!r}")
            col = _core.Column.from_parts(_core.COL_NUM, n, values, _core.NUM_FLOAT)
        columns.append(col)
    return Table.from_columns(["name", *ordered], columns, n), metrics


_STATUSES = frozenset(STATUSES)


def _check_statuses(col: Any) -> None:
    values = col.categories() if col.kind == _core.COL_STR else col.values()
    for v in values:
        if v is _MISSING or v not in _STATUSES:
            shown = "a missing value" if v is _MISSING else repr(v)
            raise ValueError(
                f"Column 'status' holds {shown}, which is not a trial status; expected one "
                f"of {sorted(_STATUSES)}."
            )
