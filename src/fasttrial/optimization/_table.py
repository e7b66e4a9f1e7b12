"""The columnar table behind ``History``: one compiled ``Column`` per ``df()`` key.

A row is what ``Trial.Report._row()`` gives: keys in the order of the report's own
``df()``.  The table keeps

- one ``_core.Column`` per key (float64, bool, coded strings or plain objects, chosen by
  the values and widened when a value does not fit), appended in amortized O(1);
- the *layout* of each row: which keys it has, in its order, as a small id into a list of
  distinct layouts (a run has a handful: with or without a summary key, ...).  Layouts
  give which rows have a key (a NaN value and a missing key look alike in a column) and
  the first-seen column order of any subset of rows, which is the column order pandas
  gives when stacking the rows' own frames.

numpy is imported only by the readers (``take``, ``present_rows``); appending needs none.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Sequence
from typing import Any

from fasttrial._corecheck import _core

MISSING = _core.MISSING


class Table:
    """Rows of report fields stored column by column."""

    __slots__ = (
        "columns",
        "key_ids",
        "keys",
        "layout_by_keys",
        "layouts",
        "n",
        "plans",
        "row_layout",
    )

    def __init__(self) -> None:
        self.n = 0
        self.keys: list[str] = []
        self.key_ids: dict[str, int] = {}
        self.columns: list[Any] = []
        self.layouts: list[tuple[int, ...]] = []
        self.layout_by_keys: dict[tuple[str, ...], int] = {}
        self.row_layout = array("B")  # widened to "i" past 255 layouts
        # report signature -> (layout id, column ids): see _core.report_signature
        self.plans: dict[tuple[Any, ...], tuple[int, tuple[int, ...]]] = {}

    @classmethod
    def from_columns(cls, keys: Sequence[str], columns: Sequence[Any], n: int) -> Table:
        """A table of ``n`` rows that all have ``keys``, column ``i`` holding key ``i``'s
        values (``_core.Column`` objects of ``n`` rows each, e.g. from ``from_parts``).

        Raises:
            ValueError: If the keys repeat, are not str, or a column's length is not ``n``.
            TypeError: If a column is not a ``_core.Column``.
        """
        keys = list(keys)
        columns = list(columns)
        if len(keys) != len(columns):
            raise ValueError(f"{len(keys)} keys but {len(columns)} columns")
        if len(set(keys)) != len(keys) or not all(type(k) is str for k in keys):
            raise ValueError("Table keys must be distinct str")
        if n < 0:
            raise ValueError(f"a table cannot have {n} rows")
        for k, c in zip(keys, columns, strict=True):
            if not isinstance(c, _core.Column):
                raise TypeError(f"column {k!r} is a {type(c).__name__}, not a _core.Column")
            if c.n != n:
                raise ValueError(f"column {k!r} has {c.n} rows, the table {n}")
        out = cls()
        out.keys = keys
        out.key_ids = {k: i for i, k in enumerate(keys)}
        out.columns = columns
        out.layouts = [tuple(range(len(keys)))]
        out.layout_by_keys = {tuple(keys): 0}
        out.row_layout = array("B", bytes(n))
        out.n = n
        return out

    # -- writing -------------------------------------------------------------------------

    def _layout(self, keys: tuple[str, ...]) -> int:
        lid = self.layout_by_keys.get(keys)
        if lid is None:
            key_ids = self.key_ids
            ids = []
            for k in keys:
                cid = key_ids.get(k)
                if cid is None:
                    cid = key_ids[k] = len(self.keys)
                    self.keys.append(k)
                    self.columns.append(None)  # made on its first value
                ids.append(cid)
            lid = len(self.layouts)
            self.layouts.append(tuple(ids))
            self.layout_by_keys[keys] = lid
        return lid

    def append(self, row: dict[str, Any]) -> None:
        """Append one row (a dict of key -> value)."""
        lid = self._layout(tuple(row))
        _core.table_append(self.columns, self.layouts[lid], row, self.n)
        self._row_done(lid)

    def _row_done(self, lid: int) -> None:
        if lid > 255 and self.row_layout.typecode == "B":
            self.row_layout = array("i", self.row_layout)
        self.row_layout.append(lid)
        self.n += 1

    def append_report(self, report: Any) -> None:
        """Append ``report._row()``: straight from the report's C fields when a report of
        the same signature has been appended before, else through ``_row()``."""
        sig = _core.report_signature(report)
        if sig is not None:
            plan = self.plans.get(sig)
            if plan is not None:
                lid, ids = plan
                _core.table_append_report(self.columns, ids, report, self.n)
                self._row_done(lid)
                return
        row = report._row()
        lid = self._layout(tuple(row))
        _core.table_append(self.columns, self.layouts[lid], row, self.n)
        self._row_done(lid)
        # A plan is kept only when the row has one key per item the core writes (keys
        # that print alike would merge into one; _row() refuses those, this checks it).
        if sig is not None and len(self.plans) < 4096 and len(row) == _core.report_width(report):
            self.plans[sig] = (lid, self.layouts[lid])

    def append_report_or_nothing(self, report: Any) -> None:
        """``append_report``, leaving the table as it was on an error (one report's
        ``extend_reports``, without the loop)."""
        n0 = self.n
        k0 = len(self.keys)
        l0 = len(self.layouts)
        try:
            self.append_report(report)
        except BaseException:
            self._truncate(n0, k0, l0)
            raise

    def extend(self, rows: Iterable[dict[str, Any]]) -> None:
        """Append rows, all or none: on an error the table is as it was."""
        self._all_or_nothing(self.append, rows)

    def extend_reports(self, reports: Iterable[Any]) -> None:
        """Append reports, all or none: on an error the table is as it was."""
        self._all_or_nothing(self.append_report, reports)

    def _all_or_nothing(self, append: Any, items: Iterable[Any]) -> None:
        n0 = self.n
        k0 = len(self.keys)
        l0 = len(self.layouts)
        try:
            for item in items:
                append(item)
        except BaseException:
            self._truncate(n0, k0, l0)
            raise

    def _truncate(self, n: int, nkeys: int, nlayouts: int) -> None:
        for k in self.keys[nkeys:]:
            del self.key_ids[k]
        del self.keys[nkeys:]
        del self.columns[nkeys:]
        for keys, lid in list(self.layout_by_keys.items()):
            if lid >= nlayouts:
                del self.layout_by_keys[keys]
        del self.layouts[nlayouts:]
        self.plans = {sig: plan for sig, plan in self.plans.items() if plan[0] < nlayouts}
        del self.row_layout[n:]
        self.columns = [
            None if c is None else (c if c.n <= n else c.take(range(n))) for c in self.columns
        ]
        self.n = n

    # -- reading -------------------------------------------------------------------------

    def padded(self) -> list[Any]:
        """The columns, each filled up to ``n`` rows."""
        n = self.n
        for c in self.columns:
            if c is not None and c.n != n:
                c.pad_to(n)
        return self.columns

    def layouts_in_use(self) -> list[int]:
        """Layout ids used by some row, in order of their first row."""
        if len(self.layouts) == 1:
            return [0] if self.n else []
        seen: dict[int, None] = {}
        want = len(self.layouts)
        for lid in self.row_layout:
            if lid not in seen:
                seen[lid] = None
                if len(seen) == want:
                    break
        return list(seen)

    def ordered_key_ids(self) -> list[int]:
        """Ids of the keys some row has, in first-seen order over the rows."""
        out: dict[int, None] = {}
        for lid in self.layouts_in_use():
            for cid in self.layouts[lid]:
                if cid not in out:
                    out[cid] = None
        return list(out)

    def _layouts_array(self) -> Any:
        """The row layout ids as a numpy array (a copy)."""
        import numpy as np

        buf = self.row_layout
        return np.frombuffer(buf, dtype=np.dtype(buf.typecode)).copy()

    def row(self, i: int) -> dict[str, Any]:
        """Row ``i`` as a dict of the keys it has (NaN for a value that reads as missing)."""
        lid = self.row_layout[i]
        out: dict[str, Any] = {}
        columns = self.columns
        for cid in self.layouts[lid]:
            col = columns[cid]
            v = col.value(i) if col.n > i else MISSING
            out[self.keys[cid]] = math.nan if v is MISSING else v
        return out

    def take(self, indices: Sequence[int] | Any) -> Table:
        """A new table of the rows ``indices`` (positions, in that order)."""
        import numpy as np

        idx = np.asarray(indices, dtype=np.intp)
        if idx.ndim != 1:
            raise ValueError("take() needs a 1-d sequence of row positions")
        out = Table()
        out.n = len(idx)
        out.keys = list(self.keys)
        out.key_ids = dict(self.key_ids)
        out.layouts = list(self.layouts)
        out.layout_by_keys = dict(self.layout_by_keys)
        code = self.row_layout.typecode
        layout = self._layouts_array()[idx] if self.n else idx
        out.row_layout = array(code, layout.astype(np.dtype(code)).tobytes())
        out.columns = [None if c is None else c.take(idx) for c in self.padded()]
        return out

    def column_values(self, key: str) -> Any:
        """The float64 values of a numeric column as a numpy array (NaN where missing);
        None if there is no such column; ValueError if it is not numeric."""
        import numpy as np

        cid = self.key_ids.get(key)
        if cid is None or self.columns[cid] is None:
            return None
        col = self.padded()[cid]
        if col.kind == _core.COL_NUM:
            return np.frombuffer(col.buffer(), dtype=np.float64, count=self.n).copy()
        return np.asarray(_core.to_float64([col.value(i) for i in range(self.n)], key))

    def nbytes(self) -> int:
        """Bytes held by the column buffers and row layouts."""
        layouts = self.row_layout.itemsize * len(self.row_layout)
        return sum(c.nbytes() for c in self.columns if c is not None) + layouts
