"""Parquet and CSV files of a ``History``'s frame, read back exactly.

The frame written is ``History.df(normalize_time=False)`` with the trial names as a
``name`` column.  What a file format cannot hold as it is gets encoded, and the file says
so in a small header (Parquet: key ``fasttrial`` of the schema metadata; CSV: a first line
``#fasttrial-history {...}``):

- columns of mixed types (``object`` dtype, e.g. a config key that is an int in some
  trials and a string in others) are stored as JSON text per cell, so ints stay ints and
  strings stay strings;
- CSV has no types at all, so its header also lists each column's pandas dtype; a string
  column holding empty strings is JSON-encoded too (an empty CSV field means "missing");
- a CSV cut short or changed after writing would still parse (a number cut in two is a
  number), so the CSV header also records the body's row count, size and SHA-256, checked
  on reading; Parquet pages carry CRC checksums, verified on reading.

Files without that header (written by pandas from any frame of ``History.df()``'s form,
amltk's among them) are read with pandas' own inference.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import tempfile
from typing import Any

import numpy as np
import pandas as pd

_META_KEY = b"fasttrial"
_CSV_MARK = "#fasttrial-history "
_FORMAT_VERSION = 1
# The nullable dtypes df() makes (pandas' own inference may give any of them).
_DTYPE_NAMES = frozenset(
    {"Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64"}
    | {"Float32", "Float64", "boolean", "string"}
)


_TAG = "__fasttrial__"


def _tagged(value: Any) -> Any:
    """``value`` as JSON-native data. Lists, str-keyed dicts, str, int, float, bool and None
    are themselves; tuples, dicts with other keys and numpy scalars become a small tagged
    dict, so that they read back as they were."""
    t = type(value)
    if value is None or t in (str, int, float, bool):
        return value
    if t is list:
        return [_tagged(v) for v in value]
    if t is tuple:
        return {_TAG: "tuple", "items": [_tagged(v) for v in value]}
    if t is dict:
        if all(type(k) is str for k in value) and _TAG not in value:
            return {k: _tagged(v) for k, v in value.items()}
        return {_TAG: "dict", "items": [[_tagged(k), _tagged(v)] for k, v in value.items()]}
    dtype = getattr(value, "dtype", None)
    if dtype is not None and getattr(value, "ndim", None) == 0 and dtype.kind in "biuf":
        return {_TAG: "numpy", "dtype": dtype.str, "value": value.item()}
    raise TypeError(f"{t.__name__} has no file form")


def _untagged(obj: Any) -> Any:
    """``json.loads`` object hook: undo ``_tagged``."""
    tag = obj.get(_TAG)
    if tag is None:
        return obj
    if tag == "tuple":
        return tuple(obj["items"])
    if tag == "dict":
        return {_hashable(k): v for k, v in obj["items"]}
    if tag == "numpy":
        return np.dtype(obj["dtype"]).type(obj["value"])
    raise ValueError(f"unknown tag {tag!r} in a history file")


def _hashable(key: Any) -> Any:
    return tuple(_hashable(k) for k in key) if isinstance(key, list) else key


def _encode_cell(value: Any, column: str) -> str:
    try:
        return json.dumps(_tagged(value), allow_nan=True)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"Column {column!r} holds {type(value).__name__} {value!r}, which cannot be written "
            f"to a history file ({error}). Keep config and summary values to numbers, strings, "
            "booleans, None, and lists, tuples and dicts of those, or pickle the History instead."
        ) from None


def _decode_cell(text: Any) -> Any:
    if text is None or text is pd.NA or (isinstance(text, float) and math.isnan(text)):
        return math.nan  # a missing cell (pandas' own object columns hold NaN there)
    return json.loads(text, object_hook=_untagged)


def _json_columns(frame: pd.DataFrame, *, csv: bool) -> list[str]:
    """Columns stored as JSON text: object columns; in CSV also any dtype that CSV reading
    cannot be told (numpy's) and string columns holding "" (an empty field is missing)."""
    out = []
    for col in frame.columns:
        dtype = frame[col].dtype
        untyped = dtype == np.dtype(object)
        if csv and not untyped:
            untyped = str(dtype) not in _DTYPE_NAMES or (
                isinstance(dtype, pd.StringDtype) and bool((frame[col] == "").fillna(False).any())
            )
        if untyped:
            out.append(col)
    return out


def _encoded(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    if not columns:
        return frame
    frame = frame.copy()
    for col in columns:
        # NaN and NA are empty cells; None is a value (JSON null).
        cells = [
            None if v is pd.NA or (isinstance(v, float) and math.isnan(v)) else _encode_cell(v, col)
            for v in frame[col].to_numpy(dtype=object)
        ]
        frame[col] = pd.array(cells, dtype="string")
    return frame


def _decoded(
    frame: pd.DataFrame,
    columns: list[str],
    dtypes: dict[str, str] | None = None,
    *,
    path: Any = "<frame>",
) -> pd.DataFrame:
    for col in columns:
        if col not in frame.columns:
            raise _damaged(path, f"its header names a JSON column {col!r} it does not have")
        try:
            values = [_decode_cell(v) for v in frame[col].to_numpy(dtype=object)]
        except (ValueError, TypeError, KeyError) as error:
            what = f"column {col!r} holds a cell that is not JSON ({error})"
            raise _damaged(path, what) from None
        series = pd.Series(values, index=frame.index, dtype=object)
        dtype = (dtypes or {}).get(col)
        frame[col] = series.astype(dtype) if dtype in _DTYPE_NAMES else series
    return frame


def _history_frame(history: Any) -> pd.DataFrame:
    frame = history.df(normalize_time=False)
    if len(frame.columns) == 0 and len(frame) == 0:
        return pd.DataFrame({"name": pd.array([], dtype="string")})
    return frame.reset_index()


def write_parquet(history: Any, path: str | os.PathLike[str]) -> None:
    """Write ``history`` to a Parquet file (replacing it)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = _history_frame(history)
    json_cols = _json_columns(frame, csv=False)
    table = pa.Table.from_pandas(_encoded(frame, json_cols), preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[_META_KEY] = json.dumps({"version": _FORMAT_VERSION, "json_columns": json_cols}).encode()
    _atomic(
        path,
        lambda tmp: pq.write_table(
            table.replace_schema_metadata(meta), tmp, write_page_checksum=True
        ),
    )


def _damaged(path: Any, what: str, hint: str = "") -> ValueError:
    return ValueError(
        f"{os.fspath(path)} is not a readable history file: {what}. It was damaged or cut "
        "short after writing (or is not a history file); write it again with "
        f"History.to_parquet / History.to_csv{hint}."
    )


_EDITED = (
    ", or, for a CSV edited on purpose, delete 'body_bytes' and 'body_sha256' from its first line"
)


def read_parquet(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The frame of a history Parquet file (``name`` as its index)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(_existing(path), page_checksum_verification=True)
        meta = (table.schema.metadata or {}).get(_META_KEY)
        frame = table.to_pandas()
    except (FileNotFoundError, IsADirectoryError):
        raise
    except (pa.ArrowException, OSError, ValueError, KeyError, TypeError, IndexError) as error:
        # Arrow checks the pages; pandas' metadata in the schema (JSON) can still be
        # damaged, and pandas then fails in any of these ways.
        raise _damaged(path, f"{type(error).__name__}: {error}") from None
    if meta is not None:
        info = _header(meta, path)
        frame = _decoded(frame, _json_list(info, path), path=path)
    else:
        frame = frame.convert_dtypes()
    return _named(frame, path)


def _header(text: Any, path: Any) -> dict[str, Any]:
    """The fasttrial header (JSON object) of a file, checked."""
    try:
        info = json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise _damaged(path, f"its fasttrial header is not JSON ({error})") from None
    if not isinstance(info, dict):
        raise _damaged(path, f"its fasttrial header is a {type(info).__name__}, not an object")
    _check_version(info, path)
    return info


def _json_list(info: dict[str, Any], path: Any) -> list[str]:
    cols = info.get("json_columns", [])
    if not isinstance(cols, list) or not all(isinstance(c, str) for c in cols):
        raise _damaged(path, "its header's 'json_columns' is not a list of column names")
    return cols


def write_csv(history: Any, path: str | os.PathLike[str]) -> None:
    """Write ``history`` to a CSV file (replacing it), with a header line of dtypes."""
    frame = _history_frame(history)
    json_cols = _json_columns(frame, csv=True)
    dtypes = {}
    for col in frame.columns:
        name = str(frame[col].dtype)
        dtypes[col] = name if name in _DTYPE_NAMES else "object"
    buf = io.StringIO()
    _encoded(frame, json_cols).to_csv(buf, index=False, na_rep="", lineterminator="\n")
    body = buf.getvalue().encode("utf-8")
    header = {
        "version": _FORMAT_VERSION,
        "dtypes": dtypes,
        "json_columns": json_cols,
        "rows": len(frame),
        "body_bytes": len(body),
        "body_sha256": hashlib.sha256(body).hexdigest(),
    }

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write((_CSV_MARK + json.dumps(header) + "\n").encode("utf-8"))
            f.write(body)

    _atomic(path, write)


def read_csv(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The frame of a history CSV file (``name`` as its index)."""
    path = _existing(path)
    with open(path, "rb") as f:
        data = f.read()
    mark = _CSV_MARK.encode("utf-8")
    if not data.startswith(mark):
        try:
            frame = pd.read_csv(io.BytesIO(data), encoding="utf-8").convert_dtypes()
        except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
            raise _damaged(path, f"pandas cannot parse it ({error})") from None
        return _named(frame, path)
    end = data.find(b"\n")
    if end < 0:
        raise _damaged(path, "it ends inside its header line (no line after it)")
    info = _header(data[len(mark) : end], path)
    body = data[end + 1 :]
    _check_body(info, body, end + 1, path)
    dtypes = info.get("dtypes")
    if not isinstance(dtypes, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in dtypes.items()
    ):
        raise _damaged(path, "its header has no 'dtypes' object of column -> dtype name")
    unknown = sorted({d for d in dtypes.values() if d not in _DTYPE_NAMES and d != "object"})
    if unknown:
        raise _damaged(path, f"its header names unknown dtypes {unknown}")
    json_cols = _json_list(info, path)
    read_as = {c: ("string" if c in json_cols or d == "object" else d) for c, d in dtypes.items()}
    kwargs: dict[str, Any] = {}
    if int(pd.__version__.split(".")[0]) < 3:
        kwargs["float_precision"] = "round_trip"
    try:
        frame = pd.read_csv(
            io.BytesIO(body),
            dtype=read_as,
            keep_default_na=False,
            na_values=[""],
            encoding="utf-8",
            **kwargs,
        )
    except (ValueError, TypeError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise _damaged(path, f"its rows do not parse as its header says ({error})") from None
    if list(frame.columns) != list(dtypes):
        raise _damaged(
            path,
            f"its columns {list(frame.columns)[:8]} are not those of its header {list(dtypes)[:8]}",
        )
    frame = _decoded(frame, json_cols, dtypes, path=path)
    return _named(frame, path)


def _check_body(info: dict[str, Any], body: bytes, offset: int, path: Any) -> None:
    """Compare the rows after the header (at byte ``offset``) with what the header
    recorded; files written before these fields existed are read as they are."""
    size = info.get("body_bytes")
    if size is not None:
        if not isinstance(size, int) or isinstance(size, bool):
            raise _damaged(path, f"its header's 'body_bytes' is {size!r}, not a size")
        if len(body) < size:
            raise _damaged(
                path,
                f"it is cut short: its rows end at byte offset {offset + len(body)}, its "
                f"header says they end at byte offset {offset + size}",
                _EDITED,
            )
        if len(body) > size:
            raise _damaged(
                path,
                f"it has {len(body) - size} bytes more than its header says, from byte "
                f"offset {offset + size}",
                _EDITED,
            )
    digest = info.get("body_sha256")
    if digest is not None and hashlib.sha256(body).hexdigest() != digest:
        raise _damaged(
            path,
            f"its rows (from byte offset {offset}) do not match its header's checksum",
            _EDITED,
        )


def _named(frame: pd.DataFrame, path: Any) -> pd.DataFrame:
    if "name" not in frame.columns and frame.index.name == "name":
        return frame  # pandas' own Parquet of a df() frame keeps the index
    if "name" not in frame.columns:
        raise ValueError(
            f"{os.fspath(path)} has no 'name' column: it is not a history file (write one "
            "with History.to_parquet / History.to_csv)."
        )
    return frame.set_index("name")


def _check_version(info: dict[str, Any], path: Any) -> None:
    version = info.get("version")
    if version != _FORMAT_VERSION:
        raise ValueError(
            f"{os.fspath(path)} is a history file of format version {version}; this fasttrial "
            f"reads version {_FORMAT_VERSION}. Upgrade fasttrial to read it."
        )


def _existing(path: str | os.PathLike[str]) -> str:
    p = os.fspath(path)
    if not os.path.exists(p):
        raise FileNotFoundError(f"No history file at {p}")
    if os.path.isdir(p):
        raise IsADirectoryError(f"{p} is a directory, not a history file")
    return p


def _new_file_mode(path: str) -> int:
    """The mode a file written at ``path`` gets: the old file's, else 0o666 less the umask
    (what ``open()`` would give; mkstemp's files are 0o600)."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        pass
    return 0o666 & ~_umask()


def _umask() -> int:
    try:  # Linux reports it without changing it
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: read it by setting it, and put it back at once
    os.umask(mask)
    return mask


def _atomic(path: str | os.PathLike[str], write: Any) -> None:
    """Write through a temporary file in the same directory, flushed to disk, then rename:
    a crash (of the process or the machine) leaves the old file or the new one, never half
    of one."""
    p = os.fspath(path)
    if os.path.isdir(p):
        raise IsADirectoryError(f"{p} is a directory, not a history file")
    directory = os.path.dirname(os.path.abspath(p))
    os.makedirs(directory, exist_ok=True)
    mode = _new_file_mode(p)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(p)}.", suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, mode)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)  # the data, before the rename makes it the file
        finally:
            os.close(fd)
        os.replace(tmp, p)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(directory)


def _fsync_dir(directory: str) -> None:
    """Flush the rename itself (POSIX; Windows has no directory descriptors)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a directory
        pass
    finally:
        os.close(fd)
