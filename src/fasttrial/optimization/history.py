"""``History``: the reports of an optimization run, with lookups and a DataFrame view."""

from __future__ import annotations

import operator
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Literal, overload

from fasttrial.optimization.trial import Trial

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import RenderableType

    from fasttrial.optimization.metric import Metric

_TIME_SUFFIXES = ("time:start", "time:end")


class History:
    """The reports of an optimization run, in the order they were added.

    Args:
        reports: Reports to start with.
    """

    __slots__ = ("_lookup", "metrics", "reports")

    def __init__(self, reports: Iterable[Trial.Report] | None = None) -> None:
        self.reports: list[Trial.Report] = []
        self.metrics: dict[str, Metric] = {}
        self._lookup: dict[str, int] = {}
        if reports is not None:
            self.add(reports)

    @classmethod
    def from_reports(cls, reports: Iterable[Trial.Report]) -> History:
        """Make a history of ``reports``."""
        return cls(reports)

    def add(self, report: Trial.Report | Iterable[Trial.Report]) -> None:
        """Add one report or an iterable of reports.

        Raises:
            TypeError: If something other than a ``Trial.Report`` is given.
            ValueError: If a report defines a metric differently from the history; nothing
                of that report is added.
        """
        if isinstance(report, Trial.Report):
            self._check(report, self.metrics, {})
            self._append(report)
            return
        if isinstance(report, (str, bytes)) or not isinstance(report, Iterable):
            raise TypeError(
                f"Expected a Trial.Report or an iterable of Trial.Report but got "
                f"{type(report).__name__} ({report!r})"
            )
        batch = list(report)
        pending: dict[str, Metric] = {}
        for item in batch:
            if not isinstance(item, Trial.Report):
                raise TypeError(
                    f"Expected an iterable of Trial.Report but got {type(item).__name__} "
                    f"({item!r}) in add(report=...); nothing was added."
                )
            self._check(item, self.metrics, pending)
        for item in batch:
            self._append(item)

    @staticmethod
    def _check(report: Trial.Report, known: dict[str, Metric], pending: dict[str, Metric]) -> None:
        """Refuse a report whose metric definitions conflict with ``known`` or with those of
        earlier reports of the same batch (``pending``, which collects the new ones)."""
        for value in report.metric_values:
            metric = value.metric
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

    def _append(self, report: Trial.Report) -> None:
        metrics = self.metrics
        for value in report.metric_values:
            metric = value.metric
            if metric.name not in metrics:
                metrics[metric.name] = metric
        self.reports.append(report)
        self._lookup[report.name] = len(self.reports) - 1

    def find(self, name: str) -> Trial.Report:
        """Return the report of the trial called ``name``.

        Raises:
            KeyError: If there is none.
        """
        try:
            return self.reports[self._lookup[name]]
        except KeyError:
            raise KeyError(
                f"No report named {name!r} in this history ({len(self)} reports)."
            ) from None

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
        if metric not in self.metrics:
            raise ValueError(
                f"Metric {metric} not found in history. Available metrics: {list(self.metrics)}"
            )
        return self.metrics[metric]

    def best(self, metric: str | None = None) -> Trial.Report:
        """Return the report with the best value of ``metric``.

        Args:
            metric: Name of the metric; may be left out when the history has only one.

        Raises:
            ValueError: If the metric is unknown, or not given while there are several.
        """
        m = self._metric(metric)
        name = m.name
        candidates = [r for r in self.reports if name in r.metrics]
        if not candidates:
            raise ValueError(f"No report in the history has a value for metric {name!r}.")
        pick = min if m.minimize else max
        return pick(candidates, key=lambda r: r.metrics[name])

    def df(
        self,
        *,
        profiles: bool = True,
        configs: bool = True,
        summary: bool = True,
        metrics: bool = True,
        normalize_time: bool | float = True,
    ) -> pd.DataFrame:
        """All reports as one frame indexed by name (the rows of ``Report.df()``).

        Args:
            profiles: Include the profiles.
            configs: Include the configs.
            summary: Include the summaries.
            metrics: Include the metrics.
            normalize_time: True: subtract the earliest ``time:start`` from every
                ``...time:start``/``...time:end`` column; a float: subtract that; False: leave.
        """
        import pandas as pd

        if not self.reports:
            return pd.DataFrame()
        rows = [
            r._row(profiles=profiles, configs=configs, summary=summary, metrics=metrics)
            for r in self.reports
        ]
        from fasttrial.optimization._frames import build_frame

        frame = build_frame(rows)
        if normalize_time is not False:
            cols = [c for c in frame.columns if c.endswith(_TIME_SUFFIXES)]
            if normalize_time is True:
                offset = frame["time:start"].min() if "time:start" in frame.columns else None
            else:
                offset = float(normalize_time)
            if cols and offset is not None and not pd.isna(offset):
                frame[cols] = frame[cols] - offset
        return frame

    def filter(self, key: Callable[[Trial.Report], bool]) -> History:
        """A new history of the reports for which ``key(report)`` is true."""
        return History([r for r in self.reports if key(r)])

    def groupby(
        self, key: Literal["status"] | Callable[[Trial.Report], Hashable]
    ) -> dict[Hashable, History]:
        """Split into histories by ``key(report)`` (or by status with ``"status"``)."""
        fn = operator.attrgetter("status") if key == "status" else key
        groups: dict[Hashable, list[Trial.Report]] = {}
        for r in self.reports:
            groups.setdefault(fn(r), []).append(r)
        return {k: History(v) for k, v in groups.items()}

    def sortby(
        self,
        key: Callable[[Trial.Report], Any] | str,
        *,
        reverse: bool | None = None,
    ) -> list[Trial.Report]:
        """Reports sorted by a metric (best first) or by ``key(report)`` (ascending).

        With a metric name, reports without that metric are left out.

        Raises:
            ValueError: If ``key`` names an unknown metric.
        """
        if isinstance(key, str):
            m = self._metric(key)
            name = m.name
            chosen = [r for r in self.reports if name in r.metrics]
            rev = (not m.minimize) if reverse is None else reverse
            return sorted(chosen, key=lambda r: r.metrics[name], reverse=rev)
        return sorted(self.reports, key=key, reverse=bool(reverse))

    def incumbents(
        self,
        key: Callable[[Trial.Report, Trial.Report], bool] | str,
        *,
        sortby: Callable[[Trial.Report], Any] | str = lambda report: report.time.end,
        reverse: bool | None = None,
        ffill: bool = False,
    ) -> list[Trial.Report]:
        """The trace of best-so-far reports.

        Args:
            key: A metric name (reports without that metric are left out), or
                ``better(new, current) -> bool``.
            sortby: Order in which reports are visited (default: by end time).
            reverse: Reverse that order.
            ffill: Repeat the current incumbent for each report that does not beat it.

        Raises:
            ValueError: If ``key`` names an unknown metric.
        """
        if isinstance(key, str):
            m = self._metric(key)
            name = m.name
            cmp = operator.lt if m.minimize else operator.gt

            def by_metric(new: Trial.Report, cur: Trial.Report) -> bool:
                return bool(cmp(new.metrics[name], cur.metrics[name]))

            better: Callable[[Trial.Report, Trial.Report], bool] = by_metric
            ordered = [r for r in self.sortby(sortby, reverse=reverse) if name in r.metrics]
        else:
            better = key
            ordered = self.sortby(sortby, reverse=reverse)
        out: list[Trial.Report] = []
        current: Trial.Report | None = None
        for r in ordered:
            if current is None or better(r, current):
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
            return History(self.reports[key])
        return self.reports[key]

    def __iter__(self) -> Iterator[Trial.Report]:
        return iter(self.reports)

    def __len__(self) -> int:
        return len(self.reports)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, History):
            return NotImplemented
        return self.reports == other.reports and self.metrics == other.metrics

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"History({len(self)} reports, metrics={list(self.metrics)})"

    @classmethod
    def from_df(cls, df: pd.DataFrame) -> History:
        """Rebuild a history from a frame made by ``df()`` (or read back from CSV/Parquet).

        The trial name is taken from a ``name`` column, else from the index.
        """
        if len(df) == 0:
            return cls()
        frame = df if "name" in df.columns else df.rename_axis("name").reset_index()
        return cls(Trial.Report.from_dict(row) for row in frame.to_dict("records"))

    def __rich__(self) -> RenderableType:
        from fasttrial._display import df_table

        return df_table(self.df(profiles=False), title="History")

    def _repr_html_(self) -> str:
        from fasttrial._display import EDGE_ROWS

        frame = self.df(profiles=False)
        return str(frame.to_html(max_rows=2 * EDGE_ROWS))

    # --- issue5 shim start ---
    # Minimal file round trips for the `fasttrial` command, through df()/from_df(); the
    # columnar History (issue 3) replaces this block with its own to_/from_parquet/csv
    # (path: str | os.PathLike).
    def to_parquet(self, path: Any) -> None:
        """Write ``df()`` to a Parquet file (needs pyarrow)."""
        self.df().to_parquet(path)

    @classmethod
    def from_parquet(cls, path: Any) -> History:
        """Read a history written by ``to_parquet``."""
        import pandas as pd

        return cls.from_df(pd.read_parquet(path))

    def to_csv(self, path: Any) -> None:
        """Write ``df()`` to a CSV file."""
        self.df().to_csv(path)

    @classmethod
    def from_csv(cls, path: Any) -> History:
        """Read a history written by ``to_csv``."""
        import pandas as pd

        return cls.from_df(pd.read_csv(path))

    # --- issue5 shim end ---
