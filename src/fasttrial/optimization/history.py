"""``History``: the reports of an optimization run, with lookups and a DataFrame view."""

from __future__ import annotations

import functools
import operator
import os
import re
import threading
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast, overload

from fasttrial._corecheck import _core
from fasttrial.optimization._table import Table
from fasttrial.optimization.trial import Trial

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from rich.console import RenderableType

    from fasttrial.optimization.journal import Durability, Journal
    from fasttrial.optimization.metric import Metric

_TIME_SUFFIXES = ("time:start", "time:end")
_F = TypeVar("_F", bound=Callable[..., Any])
_Report = Trial.Report


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _locked(method: _F) -> _F:
    """Run ``method`` holding the history's lock: the columns are read whole (``padded()``
    pads them in place, ``row()`` reads across them), so a reader must not see an
    ``add()`` half done, nor run while one pads."""

    @functools.wraps(method)
    def run(self: History, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    return cast(_F, run)


def _by_end_time(report: Trial.Report) -> Any:
    """The default visiting order of ``incumbents()``: by end time."""
    return report.time.end


class Reports(Sequence["Trial.Report"]):
    """The reports of a ``History``, read-only (``History.reports``)."""

    __slots__ = ("_history",)

    def __init__(self, history: History) -> None:
        self._history = history

    def __len__(self) -> int:
        return len(self._history)

    @overload
    def __getitem__(self, i: int) -> Trial.Report: ...

    @overload
    def __getitem__(self, i: slice) -> list[Trial.Report]: ...

    def __getitem__(self, i: int | slice) -> Trial.Report | list[Trial.Report]:
        h = self._history
        if isinstance(i, slice):
            return [h._report(j) for j in range(len(h))[i]]
        return h[i]

    def __iter__(self) -> Iterator[Trial.Report]:
        return iter(self._history)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (Reports, list, tuple)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Reports({list(self)!r})"

    def __getattr__(self, name: str) -> Any:
        if name in ("append", "extend", "insert", "pop", "remove", "clear", "sort"):
            raise AttributeError(
                f"History.reports is read-only (it has no {name}()): add reports with "
                "History.add(), or copy them with list(history.reports)."
            )
        raise AttributeError(name)


class History:
    """The reports of an optimization run, in the order they were added.

    The reports' scalar fields (name, status, metric values, config and summary entries,
    the time and memory figures of every profile) are also kept column by column in
    compiled buffers, so ``df()``, ``best()``, ``sortby()``, ``incumbents()`` and
    ``pareto_front()`` work on whole columns instead of visiting each report.  The reports
    themselves are kept as they were added (not copied); a history loaded from a frame
    rebuilds a report only when it is asked for.

    Those columns are a snapshot taken by ``add()``: a report's summary or config changed
    after it was added shows in the report but not in ``df()``.

    Args:
        reports: Reports to start with.
    """

    __slots__ = (
        "_checked",
        "_checked_n",
        "_journal",
        "_lock",
        "_lookup",
        "_reports",
        "_table",
        "metrics",
    )

    def __init__(self, reports: Iterable[Trial.Report] | None = None) -> None:
        # One lock for the table, the reports and the lookup: add() from several threads
        # would otherwise interleave a row's cells (the fast path writes a row's columns
        # one by one, and the GIL can switch between them).  Not re-entrant (a plain Lock
        # is the cheapest): a method holding it calls only the *_held / _rebuilt helpers.
        self._lock = threading.Lock()
        self._checked: tuple[Metric, ...] | None = None  # see _add_one
        self._checked_n = 0
        self._reports: list[Trial.Report | None] = []
        self._table = Table()
        self.metrics: dict[str, Metric] = {}
        self._lookup: dict[str, int] | None = None
        self._journal: Journal | None = None
        if reports is not None:
            self.add(reports)

    @classmethod
    def from_reports(cls, reports: Iterable[Trial.Report]) -> History:
        """Make a history of ``reports``."""
        return cls(reports)

    @classmethod
    def _from_parts(
        cls, table: Table, reports: list[Trial.Report | None], metrics: dict[str, Metric]
    ) -> History:
        h = cls.__new__(cls)
        h._lock = threading.Lock()
        h._checked = None
        h._checked_n = 0
        h._table = table
        h._reports = reports
        h.metrics = metrics
        h._lookup = None
        h._journal = None
        return h

    @property
    def reports(self) -> Reports:
        """The reports, in order: a read-only sequence (add reports with ``add()``) that
        compares equal to a list of the same reports. Reports of a loaded history are
        rebuilt when read."""
        return Reports(self)

    def add(self, report: Trial.Report | Iterable[Trial.Report]) -> None:
        """Add one report or an iterable of reports (all of them or, on an error, none).

        Raises:
            TypeError: If something other than a ``Trial.Report`` is given.
            ValueError: If a report defines a metric differently from the history (or from
                an earlier report of the same batch); the message names both definitions.
                Also if the history's journal (``History.open``) is closed or read-only.
            OSError: If the journal cannot be written (a full disk...): nothing was added,
                to the history or to the file.
        """
        if isinstance(report, _Report):
            self._add_one(report)
            return
        if isinstance(report, (str, bytes)) or not isinstance(report, Iterable):
            raise TypeError(
                f"Expected a Trial.Report or an iterable of Trial.Report but got "
                f"{type(report).__name__} ({report!r})"
            )
        batch = list(report)
        for item in batch:
            if not isinstance(item, _Report):
                raise TypeError(
                    f"Expected an iterable of Trial.Report but got {type(item).__name__} "
                    f"({item!r}) in add(report=...); nothing was added."
                )
        with self._lock:
            pending: dict[str, Metric] = {}
            for item in batch:
                self._check(item, self.metrics, pending)
            n0 = len(self._reports)
            journal = self._journal
            mark = None if journal is None else journal._mark(self._table)
            # One row at a time, straight from the reports' C fields where it can; on an
            # error the table rolls back to where it was (and so it does when the journal
            # cannot take the rows: the file is left as it was too).
            self._table.extend_reports(batch)
            if journal is not None:
                journal._rows_added(self._table, mark)  # type: ignore[arg-type]
            self._reports.extend(batch)
            self.metrics.update(pending)
            if self._lookup is not None:
                for i, item in enumerate(batch, n0):
                    self._lookup[item.name] = i

    def _add_one(self, report: Trial.Report) -> None:
        """``add(report)`` of one report: the loop's path without the batch.  A run's reports
        share one tuple of Metric objects (see ``_core``'s ``_shared_defs``), so the check of
        their definitions is skipped for the tuple last checked while the metrics known are
        the same ones."""
        defs = report._metric_defs
        with self._lock:
            metrics = self.metrics
            pending: dict[str, Metric] | None = None
            if defs is not self._checked or len(metrics) != self._checked_n:
                pending = {}
                self._check(report, metrics, pending)
            n0 = len(self._reports)
            journal = self._journal
            mark = None if journal is None else journal._mark(self._table)
            self._table.append_report_or_nothing(report)
            if journal is not None:
                journal._rows_added(self._table, mark)  # type: ignore[arg-type]
            self._reports.append(report)
            if pending:
                metrics.update(pending)
            self._checked = defs
            self._checked_n = len(metrics)
            if self._lookup is not None:
                self._lookup[report.name] = n0

    @staticmethod
    def _check(report: Trial.Report, known: dict[str, Metric], pending: dict[str, Metric]) -> None:
        """Refuse a report whose metric definitions conflict with ``known`` or with those of
        earlier reports of the same batch (``pending``, which collects the new ones)."""
        for metric in report._metric_defs:
            name = metric.name
            existing = known.get(name)
            if existing is None:
                existing = pending.get(name)
                if existing is None:
                    pending[name] = metric
                    continue
            if existing is not metric and existing != metric:
                raise ValueError(
                    f"Metric {name} has conflicting definitions:\n{metric} != {existing}"
                    f"\n(report {report.name!r} was not added; nothing was added)"
                )

    def _report(self, i: int) -> Trial.Report:
        """Report ``i``, rebuilt from the columns if the history was loaded from a frame."""
        r = self._reports[i]  # an entry only ever goes from None to its report
        if r is None:
            with self._lock:
                r = self._rebuilt(i)
        return r

    def _rebuilt(self, i: int) -> Trial.Report:
        """``_report(i)`` for a caller holding the lock."""
        r = self._reports[i]
        if r is None:
            from fasttrial.optimization._rows import report_from_row

            r = self._reports[i] = report_from_row(self._table.row(i))
        return r

    def find(self, name: str) -> Trial.Report:
        """Return the report of the trial called ``name`` (the last one, if several are).

        Raises:
            KeyError: If there is none.
        """
        with self._lock:
            lookup = self._lookup
            if lookup is None:
                names = self._names_held()
                lookup = self._lookup = {n: i for i, n in enumerate(names)}
            i = lookup.get(name) if isinstance(name, str) else None
            if i is None:
                raise KeyError(f"No report named {name!r} in this history ({len(self)} reports).")
            return self._rebuilt(i)

    @_locked
    def _names(self) -> list[Any]:
        return self._names_held()

    def _names_held(self) -> list[Any]:
        table = self._table
        if not table.n:
            return []
        return [str(n) for n in table.padded()[table.key_ids["name"]].values()]

    def _metric(self, metric: str | None) -> Metric:
        if not self.metrics:
            raise ValueError(
                "The history has no metrics: add reports of trials with metrics first."
            )
        if metric is None:
            if len(self.metrics) > 1:
                raise ValueError(
                    "There are multiple metrics in the history, please specify which metric to"
                    f" sort by. Available metrics: {list(self.metrics)}"
                )
            return next(iter(self.metrics.values()))
        if not isinstance(metric, str):
            raise TypeError(
                f"A metric is named by a string, got {type(metric).__name__}: {metric!r}. "
                f"Available metrics: {list(self.metrics)}"
            )
        if metric not in self.metrics:
            raise ValueError(
                f"Metric {metric} not found in history. Available metrics: {list(self.metrics)}"
            )
        return self.metrics[metric]

    @_locked
    def _raw(self, m: Metric) -> np.ndarray:
        """The raw values of metric ``m``, one per report (NaN where a report has none)."""
        import numpy as np

        values = self._table.column_values(m._column)
        if values is None:
            return np.full(len(self), np.nan)
        return values

    def metric_values(
        self,
        metric: str | None = None,
        *,
        form: Literal["value", "loss", "score", "distance_to_optimal", "normalized_loss"] = "value",
    ) -> np.ndarray:
        """One metric's values, one per report in order, as a float64 numpy array.

        Reports without a value for the metric give NaN in every form (that is the only
        meaning NaN has here: ``success()`` refuses NaN values).

        Args:
            metric: Name of the metric; may be left out when the history has only one.
            form: ``"value"`` (as reported), ``"loss"`` (to minimize), ``"score"`` (to
                maximize), ``"distance_to_optimal"`` (from the optimal bound) or
                ``"normalized_loss"`` (that distance over the width of the bounds: 0 is
                optimal, 1 the worst bound). The last two need a bounded metric.

        Raises:
            ValueError: For an unknown metric or form, a bounds-based form of an unbounded
                metric, or a value outside the bounds (naming its report).
        """
        import numpy as np

        m = self._metric(metric)
        raw = self._raw(m)
        try:
            out = _core.metric_transform(raw, m.minimize, m.bounds, form, f"Metric {m.name!r}")
        except ValueError as error:
            text = str(error)
            match = re.search(r"at position (\d+)", text)
            if match:
                who = self._names()[int(match.group(1))]
                text = text.replace(match.group(0), f"in report {who!r}")
            raise ValueError(text) from None
        return np.frombuffer(out, dtype=np.float64)

    def best(self, metric: str | None = None) -> Trial.Report:
        """Return the report with the best value of ``metric`` (the first, on ties).

        Args:
            metric: Name of the metric; may be left out when the history has only one.

        Raises:
            ValueError: If the metric is unknown, or not given while there are several, or
                no report has a value for it.
        """
        m = self._metric(metric)
        i = _core.best_index(self._raw(m), m.minimize)
        if i < 0:
            raise ValueError(f"No report in the history has a value for metric {m.name!r}.")
        return self._report(i)

    def pareto_front(self, metrics: Iterable[str] | None = None) -> list[Trial.Report]:
        """The reports no other report beats in every metric (in history order).

        A report dominates another when it is no worse in each of ``metrics`` and better
        in at least one (better = lower loss, so each metric's direction counts). Reports
        without a value for one of the metrics are left out. Equal reports are all kept.

        Args:
            metrics: Names of the metrics (default: all of the history's).

        Raises:
            ValueError: If a metric is unknown or none are given.
        """
        import numpy as np

        names = list(self.metrics) if metrics is None else list(metrics)
        if isinstance(metrics, str):
            names = [metrics]
        if not names:
            raise ValueError(
                f"pareto_front() needs at least one metric. Available metrics: {list(self.metrics)}"
            )
        chosen = [self._metric(n) for n in names]
        if not len(self):
            return []
        losses = np.column_stack(
            [
                np.frombuffer(
                    _core.metric_transform(self._raw(m), m.minimize, None, "loss"), np.float64
                )
                for m in chosen
            ]
        )
        rows = np.flatnonzero(~np.isnan(losses).any(axis=1))
        sub = np.ascontiguousarray(losses[rows])
        keys = [sub[:, j] for j in range(sub.shape[1] - 1, -1, -1)]
        with np.errstate(invalid="ignore"):
            total = sub.sum(axis=1)
        order = np.lexsort([*keys, total]).astype(np.intp)
        front = np.sort(np.asarray(_core.pareto_positions(sub, order), dtype=np.intp))
        return [self._report(int(i)) for i in rows[front]]

    @_locked
    def df(
        self,
        *,
        profiles: bool = True,
        configs: bool = True,
        summary: bool = True,
        metrics: bool = True,
        normalize_time: bool | float = True,
    ) -> pd.DataFrame:
        """All reports as one frame indexed by name: the rows of each ``Report.df()``,
        stacked (same columns, order and dtypes), built from the columns.

        Args:
            profiles: Include the profiles.
            configs: Include the configs.
            summary: Include the summaries.
            metrics: Include the metrics.
            normalize_time: True: subtract the earliest ``time:start`` from every
                ``...time:start``/``...time:end`` column; a float: subtract that; False: leave.
        """
        import pandas as pd

        if not len(self):
            return pd.DataFrame()
        from fasttrial.optimization._frames import table_frame

        frame = table_frame(
            self._table, profiles=profiles, configs=configs, summary=summary, metrics=metrics
        )
        if normalize_time is not False:
            cols = [c for c in frame.columns if c.endswith(_TIME_SUFFIXES)]
            if normalize_time is True:
                offset = frame["time:start"].min() if "time:start" in frame.columns else None
            else:
                offset = float(normalize_time)
            if cols and offset is not None and not pd.isna(offset):
                frame[cols] = frame[cols] - offset
        return frame

    @_locked
    def _take(self, positions: Any) -> History:
        """A new history of the reports at ``positions`` (ints, in that order)."""
        import numpy as np

        idx = np.asarray(positions, dtype=np.intp).reshape(-1)
        table = self._table.take(idx)
        reports = [self._reports[i] for i in idx.tolist()]
        # The subset's metrics in the order its own reports first have them, as a history
        # made from those reports would list them.
        by_column = {m._column: m for m in self.metrics.values()}
        metrics = {}
        for cid in table.ordered_key_ids():
            m = by_column.get(table.keys[cid])
            if m is not None:
                metrics[m.name] = m
        return History._from_parts(table, reports, metrics)

    def filter(self, key: Callable[[Trial.Report], bool]) -> History:
        """A new history of the reports for which ``key(report)`` is true."""
        return self._take([i for i, r in enumerate(self) if key(r)])

    def groupby(
        self, key: Literal["status"] | Callable[[Trial.Report], Hashable]
    ) -> dict[Hashable, History]:
        """Split into histories by ``key(report)`` (or by status with ``"status"``), in
        order of each group's first report."""
        groups: dict[Hashable, list[int]] = {}
        if key == "status":
            for i, status in enumerate(self._statuses()):
                groups.setdefault(status, []).append(i)
        else:
            for i, r in enumerate(self):
                groups.setdefault(key(r), []).append(i)
        return {k: self._take(v) for k, v in groups.items()}

    @_locked
    def _statuses(self) -> list[Trial.Status]:
        table = self._table
        if not table.n:
            return []
        col = table.padded()[table.key_ids["status"]]
        by_text = {s.value: s for s in Trial.Status}
        return [by_text.get(str(v), Trial.Status.UNKNOWN) for v in col.values()]

    def _positions_sorted_by(
        self, key: Callable[[Trial.Report], Any] | str, reverse: bool | None
    ) -> list[int]:
        """Positions of the reports in ``sortby(key, reverse=reverse)`` order."""
        import numpy as np

        if isinstance(key, str):
            m = self._metric(key)
            raw = self._raw(m)
            rows = np.flatnonzero(~np.isnan(raw))
            rev = (not m.minimize) if reverse is None else reverse
            vals = raw[rows]
            order = np.argsort(-vals if rev else vals, kind="stable")
            return rows[order].tolist()
        if key is _by_end_time:
            end = self._end_times()
            if end is not None:
                # Stable like sorted(); NaN (never begun) last, as in ascending order.
                order = np.argsort(-end if reverse else end, kind="stable")
                return order.tolist()
        reports = [self._report(i) for i in range(len(self))]
        return sorted(range(len(reports)), key=lambda i: key(reports[i]), reverse=bool(reverse))

    @_locked
    def _end_times(self) -> Any:
        return self._table.column_values("time:end")

    def sortby(
        self,
        key: Callable[[Trial.Report], Any] | str,
        *,
        reverse: bool | None = None,
    ) -> list[Trial.Report]:
        """Reports sorted by a metric (best first) or by ``key(report)`` (ascending).

        With a metric name, reports without that metric are left out, and ``reverse``
        (when given) orders by the raw values: False ascending, True descending.

        Raises:
            ValueError: If ``key`` names an unknown metric.
        """
        return [self._report(i) for i in self._positions_sorted_by(key, reverse)]

    def incumbents(
        self,
        key: Callable[[Trial.Report, Trial.Report], bool] | str,
        *,
        sortby: Callable[[Trial.Report], Any] | str = _by_end_time,
        reverse: bool | None = None,
        ffill: bool = False,
    ) -> list[Trial.Report]:
        """The trace of best-so-far reports.

        Args:
            key: A metric name (reports without that metric are left out), or
                ``better(new, current) -> bool``.
            sortby: Order in which reports are visited (default: by end time, reports that
                never ran last).
            reverse: Reverse that order.
            ffill: Repeat the current incumbent for each report that does not beat it.

        Raises:
            ValueError: If ``key`` names an unknown metric.
        """
        if isinstance(key, str):
            m = self._metric(key)
            raw = self._raw(m)
            order = self._positions_sorted_by(sortby, reverse)
            picks = _core.incumbent_positions(raw, order, m.minimize, ffill)
            return [self._report(i) for i in picks]
        out: list[Trial.Report] = []
        current: Trial.Report | None = None
        for r in self.sortby(sortby, reverse=reverse):
            if current is None or key(r, current):
                current = r
                out.append(r)
            elif ffill:
                out.append(current)
        return out

    @overload
    def __getitem__(self, key: int | str) -> Trial.Report: ...

    @overload
    def __getitem__(self, key: slice) -> History: ...

    def __getitem__(self, key: int | str | slice) -> Trial.Report | History:
        if isinstance(key, str):
            return self.find(key)
        if isinstance(key, slice):
            return self._take(range(len(self))[key])
        n = len(self._reports)
        i = operator.index(key)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"History index {key} out of range ({n} reports)")
        return self._report(i)

    def __iter__(self) -> Iterator[Trial.Report]:
        for i in range(len(self._reports)):
            yield self._report(i)

    def __len__(self) -> int:
        return len(self._reports)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, History):
            return NotImplemented
        return list(self) == list(other) and self.metrics == other.metrics

    __hash__ = None  # type: ignore[assignment]

    @_locked
    def __reduce__(self) -> tuple[Any, ...]:
        # The columns travel as they are (a loaded history's reports stay unbuilt).
        # A copy of the table: pickling runs after this returns, outside the lock.
        table = self._table.take(range(self._table.n))
        return (History._from_parts, (table, list(self._reports), dict(self.metrics)))

    def __repr__(self) -> str:
        return f"History({len(self)} reports, metrics={list(self.metrics)})"

    @classmethod
    def from_df(cls, df: pd.DataFrame) -> History:
        """Rebuild a history from a frame made by ``df()`` (or read back from CSV/Parquet,
        or written by amltk's ``History.df()``).

        The frame's columns become the history's columns as they are; a report is rebuilt
        from its row when it is first asked for. The trial name is taken from a ``name``
        column, else from the index.

        Raises:
            ValueError: If ``status`` (or the name) is missing, a status is unknown, or a
                metric column cannot be read; the message names the column.
            TypeError: If ``df`` is not a DataFrame.
        """
        import pandas as pd

        if not isinstance(df, pd.DataFrame):
            raise TypeError(
                f"History.from_df needs a pandas DataFrame (as History.df() makes), got "
                f"{type(df).__name__}: {_short(df)}. For a list of reports use "
                "History(reports); for a file, History.from_csv / from_parquet."
            )
        if len(df) == 0:
            return cls()
        from fasttrial.optimization._frames import table_from_frame

        table, metrics = table_from_frame(df)
        return cls._from_parts(table, [None] * table.n, metrics)

    def to_parquet(self, path: str | os.PathLike[str]) -> None:
        """Write the history to a Parquet file (replaced atomically if it exists).

        ``History.from_parquet(path)`` reads it back with the same ``df()``: dtypes, NaN,
        missing summary keys and config keys of mixed types included (columns of mixed
        types are stored as JSON text, noted in the file's metadata).

        Raises:
            TypeError: If a config or summary value has no JSON form (a custom object).
        """
        from fasttrial.optimization._files import write_parquet

        write_parquet(self, path)

    @classmethod
    def from_parquet(cls, path: str | os.PathLike[str]) -> History:
        """Read a history written by ``to_parquet`` (or any Parquet file of a ``df()``
        frame with a ``name`` column).

        Raises:
            FileNotFoundError: If there is no such file.
            ValueError: If the file is not a history (see ``from_df``).
        """
        from fasttrial.optimization._files import read_parquet

        return cls.from_df(read_parquet(path))

    def to_csv(self, path: str | os.PathLike[str]) -> None:
        """Write the history to a CSV file (replaced atomically if it exists).

        The first line, ``#fasttrial-history {...}``, records each column's dtype so that
        ``History.from_csv(path)`` gives back the same ``df()``.

        Raises:
            TypeError: If a config or summary value has no JSON form (a custom object).
        """
        from fasttrial.optimization._files import write_csv

        write_csv(self, path)

    @classmethod
    def from_csv(cls, path: str | os.PathLike[str]) -> History:
        """Read a history written by ``to_csv`` (or a CSV of a ``df()`` frame with its
        ``name`` column, whose types pandas then infers).

        Raises:
            FileNotFoundError: If there is no such file.
            ValueError: If the file is not a history (see ``from_df``).
        """
        from fasttrial.optimization._files import read_csv

        return cls.from_df(read_csv(path))

    # -- on disk: a crash-safe journal (fasttrial.optimization.journal, docs/journal.md) --

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        mode: Literal["w", "r"] = "w",
        durability: Durability = "process",
        repair: bool = False,
    ) -> History:
        """Open the journal at ``path`` (made if missing) as a history that writes every
        report to it before ``add()`` returns; a journal that exists comes back as the
        history it recorded (reports rebuilt when read, as with ``from_df``).

        Args:
            path: The journal file (its directory is made if needed; ``path + ".lock"``
                holds the writer's lock).
            mode: ``"w"``: this process writes (one writer at a time); ``"r"``: read only,
                no lock, nothing on disk is changed (a torn last record is left out).
            durability: ``"process"``: each add is handed to the OS (``write(2)``) before
                ``add()`` returns, so nothing acknowledged is lost if the process dies
                (kill -9, OOM, segfault, Ctrl-C); ``"fsync"``: also ``fsync``-ed, so it
                survives an OS crash or power loss too (slower: a disk flush per add).
            repair: Open a journal damaged in its middle by keeping the records before the
                damage (the bytes from it on are set aside in ``path + ".damaged-at-N"``);
                without it such a journal raises ``JournalError``.

        Raises:
            JournalError: Not a journal, a newer format version, or damaged (with the byte
                offset); a torn last record (a write cut short) is dropped, not an error.
            JournalLockedError: Another live process has it open for writing (its pid).
            IsADirectoryError, PermissionError, OSError: The path cannot be used.
        """
        from fasttrial.optimization.journal import open_history

        return open_history(cls, path, mode=mode, durability=durability, repair=repair)

    @property
    def journal(self) -> Journal | None:
        """The journal of a history made by ``History.open()`` (None for one in memory)."""
        return self._journal

    def compact(self) -> None:
        """Rewrite the journal as column blocks of all its reports, so reopening it takes
        no Python call per value (written beside it, synced, renamed over it).

        Raises:
            ValueError: If the history has no open, writable journal.
        """
        if self._journal is None:
            raise ValueError("compact() needs a history made by History.open(path)")
        with self._lock:
            self._journal.compact(self._table)

    def close(self) -> None:
        """Close the journal (a second call does nothing; an in-memory history has none).
        Every added report is already in the file; ``add()`` after this raises."""
        if self._journal is not None:
            with self._lock:
                self._journal.close(self._table)

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __rich__(self) -> RenderableType:
        from fasttrial.optimization._display import history_renderable

        return history_renderable(self)

    def _repr_html_(self) -> str:
        from fasttrial.optimization._display import history_html

        return history_html(self)
