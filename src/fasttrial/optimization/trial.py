"""``Trial``: one configuration to evaluate, profiled; ``Trial.Report``: its outcome.

The hot path (``Trial(...)``, ``begin()``, ``profile()``, ``success()``) makes as few Python
objects as it can: ``begin()`` and ``profile()`` return a context manager from the compiled
core, containers a trial may never use (summary, storage, extras, bucket, profiler) are made
on first access, and time/memory objects are built when first read.
"""

from __future__ import annotations

import copy as _copy
import math
import pickle
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from fasttrial._corecheck import _core
from fasttrial.optimization import _schema
from fasttrial.optimization._rows import report_from_row, report_row
from fasttrial.optimization._schema import DEFAULT_BUCKET
from fasttrial.optimization.metric import Metric, _as_real
from fasttrial.profiling import Memory, Profile, Profiler, Timer
from fasttrial.store import Bucket, PathBucket

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import RenderableType
    from rich.panel import Panel

I = TypeVar("I")  # noqa: E741
I2 = TypeVar("I2")
R = TypeVar("R")
T = TypeVar("T")

Where = str | Path | Bucket | Callable[..., Any] | None


class UnpicklableException(Exception):
    """Stands in for a trial's exception that could not be pickled.

    A report crossing a process boundary keeps the original's type name, message and
    traceback text, so ``str(report.exception)`` and ``df()`` read the same on both sides.

    Attributes:
        type_name: Qualified name of the original exception type.
        message: ``str()`` of the original exception.
    """

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(type_name, message)
        self.type_name = type_name
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"UnpicklableException({self.type_name}: {self.message!r})"


def _picklable_exception(exc: BaseException | None) -> BaseException | None:
    if exc is None or isinstance(exc, str):
        return exc
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        cls = type(exc)
        return UnpicklableException(f"{cls.__module__}.{cls.__qualname__}", str(exc))
    return exc


def _metric_list(metrics: Any) -> list[Metric]:
    if metrics is None:
        return []
    if isinstance(metrics, Metric):
        return [metrics]
    items = list(metrics.values()) if isinstance(metrics, Mapping) else list(metrics)
    for m in items:
        if not isinstance(m, Metric):
            raise TypeError(
                f"Trial metrics must be Metric objects, got {type(m).__name__}: {m!r}. "
                "Create them with Metric('name', minimize=...)."
            )
    names = [m.name for m in items]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"Trial metrics must have unique names; repeated: {dupes}.")
    return items


_SLOTS = (
    "name",
    "config",
    "_bucket",
    "info",
    "metrics",
    "seed",
    "fidelities",
    "_time",
    "_memory",
    "_span",
    "_profiler",
    "_summary",
    "exception",
    "traceback",
    "_storage",
    "_extras",
)


class Trial(_core.TrialCore, Generic[I]):
    """A configuration to evaluate, with its profiling, storage and outcome.

    Typically made by an optimizer's ``ask()``. Profile the evaluation with
    ``with trial.begin():`` and report with ``trial.success(**metrics)`` or ``trial.fail()``.

    Args:
        name: Unique name of the trial.
        config: The configuration to evaluate.
        bucket: Where ``store()`` puts artifacts (default ``PathBucket("unknown-trial-bucket")``,
            created on disk only when something is stored).
        info: Optimizer-specific information.
        metrics: The metrics to report (a list of ``Metric``, or a name -> Metric mapping).
        seed: Seed suggested by the optimizer.
        fidelities: Fidelities to evaluate at.
        time: Time of the trial (normally set by ``begin()``).
        memory: Memory of the trial (normally set by ``begin()``).
        profiler: The trial's profiler (default: bytes, wall clock).
        summary: Scalar summary statistics.
        exception: The exception the trial raised, if any.
        traceback: Its traceback text.
        storage: Keys of stored artifacts.
        extras: Anything else attached to the trial.
    """

    __slots__ = ()

    # The fields and __init__, begin(), profile() and success() live in the compiled base
    # class (fasttrial._core.TrialCore): Trial(...) + begin() + success() then make no
    # Python frames. Their signatures:
    #   Trial(*, name, config, bucket=None, info=None, metrics=None, seed=None,
    #         fidelities=None, time=None, memory=None, profiler=None, summary=None,
    #         exception=None, traceback=None, storage=None, extras=None)
    #   begin(time=None, memory_unit=None)
    #   profile(name, *, time=None, memory_unit=None, summary=False)
    #   success(**metrics)

    @classmethod
    def create(
        cls,
        name: str,
        config: Mapping[str, Any] | None = None,
        *,
        metrics: Sequence[Metric] | Mapping[str, Metric] | Metric | None = None,
        **kwargs: Any,
    ) -> Trial[Any]:
        """Make a trial with ``config`` defaulting to ``{}`` (the form newer amltk uses)."""
        return cls(name=name, config={} if config is None else config, metrics=metrics, **kwargs)

    # -- lazily made containers -------------------------------------------------------

    @property
    def bucket(self) -> PathBucket:
        """Where ``store()`` puts artifacts (nothing is created on disk until it does)."""
        b = self._bucket
        if b is None:
            b = self._bucket = PathBucket(DEFAULT_BUCKET, lazy=True)
        return b

    @bucket.setter
    def bucket(self, value: PathBucket | Bucket) -> None:
        self._bucket = value

    @property
    def profiler(self) -> Profiler:
        """The trial's profiler (bytes, wall clock by default)."""
        return cast(Profiler, self._ensure_profiler())

    @profiler.setter
    def profiler(self, value: Profiler) -> None:
        self._profiler = value

    @property
    def summary(self) -> dict[str, Any]:
        """Scalar summary statistics of the trial (``summary:`` columns of ``df()``)."""
        s = self._summary
        if s is None:
            s = self._summary = {}
        return s

    @summary.setter
    def summary(self, value: dict[str, Any]) -> None:
        self._summary = value

    @property
    def storage(self) -> set[Any]:
        """Keys of the artifacts stored for this trial."""
        s = self._storage
        if s is None:
            s = self._storage = set()
        return s

    @storage.setter
    def storage(self, value: set[Any]) -> None:
        self._storage = value

    @property
    def extras(self) -> dict[str, Any]:
        """Anything attached to the trial with ``attach_extra()``."""
        e = self._extras
        if e is None:
            e = self._extras = {}
        return e

    @extras.setter
    def extras(self, value: dict[str, Any]) -> None:
        self._extras = value

    @property
    def traceback(self) -> str | None:
        """The text of the trial's exception traceback, if any (formatted when first read)."""
        tb = self._traceback
        if tb is None or type(tb) is str:
            return tb
        text = str(tb)
        self._traceback = text
        return text

    @traceback.setter
    def traceback(self, value: str | None) -> None:
        self._traceback = value

    @property
    def time(self) -> Timer.Interval:
        """Time of the trial's ``begin()`` block (NaN until it has run)."""
        t = self._time
        if t is not None:
            return t
        span = self._span
        return span.time if span is not None else Timer.na()

    @time.setter
    def time(self, value: Timer.Interval) -> None:
        self._time = value

    @property
    def memory(self) -> Memory.Interval:
        """Memory of the trial's ``begin()`` block (NaN until it has run)."""
        m = self._memory
        if m is not None:
            return m
        span = self._span
        return span.memory if span is not None else Memory.na()

    @memory.setter
    def memory(self, value: Memory.Interval) -> None:
        self._memory = value

    @property
    def profiles(self) -> Mapping[str, Profile.Interval]:
        """The trial's profiled intervals by name (``"trial"`` is the ``begin()`` block)."""
        if self._profiler is None and self._span is None:
            return {}
        return self._ensure_profiler().profiles

    @staticmethod
    def _finite(metric: Metric, raw: Any) -> float:
        try:
            value = _as_real(raw, f"The value for metric '{metric.name}'")
        except ValueError as error:
            raise ValueError(
                f"Cannot report success: {error} If the evaluation did not produce a number,"
                f" report it with `trial.fail()` (which records the metric's worst value,"
                f" {metric.worst.value})."
            ) from None
        if math.isnan(value) or math.isinf(value):
            raise ValueError(
                f"Cannot report success with {metric.name}={value}: a successful trial needs a"
                " finite value. If the evaluation did not produce one, report it with"
                f" `trial.fail()` (which records the metric's worst value, {metric.worst.value})"
                f" or `trial.fail({metric.name}=...)`."
            )
        return value

    def fail(self, **metrics: float | int) -> Trial.Report[I]:
        """Report failure; metrics not given get their worst value.

        Raises:
            ValueError: If an unknown metric is given or a value is not a number (NaN
                included: omit the metric to record its worst value).
        """
        values = []
        for m in self.metrics:
            raw = metrics.get(m.name)
            if raw is None:
                values.append(m.worst)
                continue
            value = _as_real(raw, f"The value for metric '{m.name}'")
            if math.isnan(value):
                raise ValueError(
                    f"Cannot report {m.name}=nan: leave it out of `trial.fail()` to record the"
                    f" metric's worst value ({m.worst.value})."
                )
            values.append(Metric.Value(m, value))
        extra = set(metrics) - {m.name for m in self.metrics}
        if extra:
            raise ValueError(
                f"Cannot report failure with extra metrics: {extra=}."
                f"\nOnly {self.metrics=} are allowed."
            )
        return Trial.Report(self, Trial.Status.FAIL, tuple(values))

    def crashed(
        self,
        exception: BaseException | None = None,
        traceback: str | None = None,
    ) -> Trial.Report[I]:
        """Report a crash; every metric gets its worst value.

        Args:
            exception: The exception; default the trial's own.
            traceback: Its text; default the trial's own.

        Raises:
            RuntimeError: If there is no exception given and none on the trial.
        """
        if exception is None and self.exception is None:
            raise RuntimeError(
                "Cannot generate a crash report without an exception."
                " Please provide an exception or use `with trial.begin():` to start"
                " the trial."
            )
        if exception is not None:
            self.exception = exception
        if traceback is not None:
            self.traceback = traceback
        return Trial.Report(self, Trial.Status.CRASHED, tuple(m.worst for m in self.metrics))

    # -- storage ------------------------------------------------------------------------

    def _resolve(self, where: Where, *, create: bool) -> Bucket | None:
        if where is None:
            return self.bucket
        if isinstance(where, (str, Path)):
            return PathBucket(where, create=create)
        if isinstance(where, Bucket):
            return where
        if callable(where):
            return None
        raise TypeError(
            f"where= must be None, a str, a Path, a Bucket or a callable, got "
            f"{type(where).__name__}: {where!r}"
        )

    def store(self, items: Mapping[str, T], *, where: Where = None) -> None:
        """Store artifacts of the trial in a sub-bucket named after it.

        Args:
            items: Key (a file name with extension, for path buckets) -> object.
            where: None (the trial's bucket), a path, a Bucket, or a callable
                ``f(trial_name, items)``.
        """
        bucket = self._resolve(where, create=True)
        if bucket is None:
            where(self.name, items)  # type: ignore[operator,misc]
        else:
            bucket.sub(self.name).store(items)
        self.storage.update(items.keys())

    def retrieve(
        self,
        key: str,
        *,
        where: str | Path | Bucket | None = None,
        check: type[R] | None = None,
    ) -> R | Any:
        """Load an artifact stored with ``store()`` (use the same ``where=``).

        Raises:
            TypeError: If ``check`` is given and the loaded object is not of that type.
        """
        bucket = self._resolve(where, create=False)
        if bucket is None:
            raise TypeError("retrieve() takes where= as None, a str, a Path or a Bucket.")
        return bucket.sub(self.name)[key].load(check=check)

    def delete_from_storage(
        self,
        items: Iterable[str],
        *,
        where: Where = None,
    ) -> dict[str, bool]:
        """Delete stored artifacts and drop their keys from ``.storage``.

        Returns:
            Key -> whether it was deleted.
        """
        keys = list(items)
        bucket = self._resolve(where, create=False)
        if bucket is None:
            result = dict(where(self.name, keys))  # type: ignore[operator,misc]
        else:
            result = bucket.sub(self.name).remove(keys)
        storage = self._storage
        if storage:
            for key, deleted in result.items():
                if deleted:
                    storage.discard(key)
        return result

    def attach_extra(self, name: str, plugin_item: Any) -> None:
        """Attach ``plugin_item`` to the trial under ``extras[name]``."""
        self.extras[name] = plugin_item

    def copy(self) -> Trial[I]:
        """Return a deep copy of the trial."""
        return _copy.deepcopy(self)

    # -- dunder -------------------------------------------------------------------------

    def __repr__(self) -> str:
        return (
            f"Trial(name={self.name!r}, config={self.config!r}, bucket={self.bucket!r},"
            f" metrics={self.metrics!r}, seed={self.seed!r}, fidelities={self.fidelities!r},"
            f" summary={self.summary!r}, exception={self.exception!r},"
            f" storage={self.storage!r}, extras={self.extras!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Trial):
            return NotImplemented
        if self is other:
            return True
        return (
            self.name == other.name
            and self.config == other.config
            and self.bucket == other.bucket
            and self.info == other.info
            and list(self.metrics) == list(other.metrics)
            and self.seed == other.seed
            and self.fidelities == other.fidelities
            and self.time == other.time
            and self.memory == other.memory
            and dict(self.profiles) == dict(other.profiles)
            and self.summary == other.summary
            and _exc_equal(self.exception, other.exception)
            and self.traceback == other.traceback
            and self.storage == other.storage
            and self.extras == other.extras
        )

    __hash__ = None  # type: ignore[assignment]

    def __getstate__(self) -> dict[str, Any]:
        if self._span is not None:
            self._ensure_profiler()  # so a profiler-less begin()'s span travels as "trial"
        state = {name: getattr(self, name) for name in _SLOTS}
        # Materialize lazily-read objects so the other side needs no core state.
        state["_time"] = self.time if (self._time is not None or self._span is not None) else None
        state["_memory"] = (
            self.memory if (self._memory is not None or self._span is not None) else None
        )
        state["_span"] = None
        state["exception"] = _picklable_exception(self.exception)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name in _SLOTS:
            setattr(self, name, state.get(name))

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore_trial, (type(self), self.__getstate__()))

    # -- display ------------------------------------------------------------------------

    def rich_renderables(self) -> Iterable[RenderableType]:
        """The pieces the rich panel of this trial is made of."""
        from fasttrial.optimization._display import trial_renderables

        return trial_renderables(self)

    def __rich__(self) -> Panel:
        from fasttrial._display import titled_panel

        return titled_panel("Trial", self.name, self.rich_renderables())

    def _repr_pretty_(self, *_: Any, **__: Any) -> str:
        """Representation for rich printing."""
        from fasttrial._display import render_text

        return render_text(self)

    def _repr_html_(self) -> str:
        """Return an HTML representation of the object."""
        from fasttrial._display import render_html

        return render_html(self)

    class Status(str, Enum):
        """The status of a trial."""

        SUCCESS = "success"
        """The trial was successful."""
        FAIL = "fail"
        """The trial failed."""
        CRASHED = "crashed"
        """The trial crashed."""
        UNKNOWN = "unknown"
        """The status of the trial is unknown."""

        def __str__(self) -> str:
            return self.value

        def __rich__(self) -> Any:
            from rich.text import Text

            styles = {
                "success": "bold green",
                "fail": "bold yellow",
                "crashed": "bold red",
            }
            return Text(self.value, style=styles.get(self.value, "bold underline"))

    class Report(_core.ReportCore, Generic[I2]):
        """The outcome of a trial: its status and metric values.

        Made by ``trial.success()``, ``trial.fail()`` or ``trial.crashed()``.

        Attributes:
            trial: The trial that was run.
            status: Its ``Trial.Status``.
            metric_values: One ``Metric.Value`` per metric of the trial, in order.
        """

        __slots__ = ()

        # Fields (trial, status, metric_values) and __init__(trial, status,
        # metric_values=()) live in the compiled base fasttrial._core.ReportCore.

        @property
        def metrics(self) -> dict[str, float]:
            """Metric name -> raw value (a new dict each time: the report keeps its values
            as C doubles, so a History of a million reports holds no dict per report)."""
            return cast("dict[str, float]", self._metric_dict())

        @property
        def values(self) -> dict[str, float]:
            """Metric name -> raw value (newer amltk's name for ``metrics``)."""
            return self.metrics

        @property
        def metric_names(self) -> tuple[str, ...]:
            """The names of the metrics, in order."""
            return tuple(m.name for m in self._metric_defs)

        @property
        def metric_defs(self) -> dict[str, Metric]:
            """Metric name -> its ``Metric`` definition."""
            return {m.name: m for m in self._metric_defs}

        @property
        def exception(self) -> BaseException | None:
            """The exception of the trial, if any."""
            return self.trial.exception

        @property
        def traceback(self) -> str | None:
            """The traceback text of the trial's exception, if any."""
            return self.trial.traceback

        @property
        def name(self) -> str:
            """The name of the trial."""
            return self.trial.name

        @property
        def config(self) -> Mapping[str, Any]:
            """The config of the trial."""
            return self.trial.config

        @property
        def profiles(self) -> Mapping[str, Profile.Interval]:
            """The profiles of the trial."""
            return self.trial.profiles

        @property
        def summary(self) -> dict[str, Any]:
            """The summary of the trial."""
            return self.trial.summary

        @property
        def storage(self) -> set[str]:
            """The storage keys of the trial."""
            return self.trial.storage

        @property
        def time(self) -> Timer.Interval:
            """The time of the trial."""
            return self.trial.time

        @property
        def memory(self) -> Memory.Interval:
            """The memory of the trial."""
            return self.trial.memory

        @property
        def bucket(self) -> PathBucket:
            """The bucket attached to the trial."""
            return self.trial.bucket

        @property
        def info(self) -> I2 | None:
            """The optimizer-specific info of the trial."""
            return self.trial.info

        def _row(
            self,
            *,
            profiles: bool = True,
            configs: bool = True,
            summary: bool = True,
            metrics: bool = True,
        ) -> dict[str, Any]:
            """The report as one flat row (the items of ``df()``, before dtypes); written
            by ``_rows.report_row``, read back by ``_rows.report_from_row``."""
            return report_row(
                self, profiles=profiles, configs=configs, summary=summary, metrics=metrics
            )

        def df(
            self,
            *,
            profiles: bool = True,
            configs: bool = True,
            summary: bool = True,
            metrics: bool = True,
        ) -> pd.DataFrame:
            """The report as a one-row DataFrame indexed by name.

            Columns: ``status``, ``trial_seed``, ``exception``, ``traceback``, ``bucket``,
            then ``metric:<metric>``, ``summary:<key>``, ``config:<key>``, and the profiles
            (``memory:...``/``time:...`` for the ``begin()`` block, ``profile:<name>:...`` for
            the others), with pandas' nullable dtypes.

            Args:
                profiles: Include the profiles.
                configs: Include the config.
                summary: Include the summary.
                metrics: Include the metrics.
            """
            from fasttrial.optimization._frames import row_frame

            return row_frame(
                self._row(profiles=profiles, configs=configs, summary=summary, metrics=metrics)
            )

        @classmethod
        def from_df(cls, df: pd.DataFrame | pd.Series) -> Trial.Report:
            """Rebuild a report from a one-row frame (or a row) made by ``df()``.

            Raises:
                ValueError: If the frame does not have exactly one row, or a cell cannot be
                    read (see ``from_dict``).
                TypeError: If ``df`` is neither a DataFrame nor a Series.
            """
            import pandas as pd

            if isinstance(df, pd.DataFrame):
                if len(df) != 1:
                    raise ValueError(f"Expected a dataframe with one row, got {len(df)} rows.")
                series = df.iloc[0]
            elif isinstance(df, pd.Series):
                series = df
            else:
                raise TypeError(
                    f"Report.from_df needs a one-row DataFrame or a Series (as df() makes), "
                    f"got {type(df).__name__}; for a mapping use Report.from_dict."
                )
            data = series.to_dict()
            data.setdefault("name", series.name)
            return cls.from_dict(data)

        @classmethod
        def from_dict(cls, d: Mapping[str, Any]) -> Trial.Report:
            """Rebuild a report from a flat mapping with the keys of ``df()`` (and ``name``).

            Raises:
                ValueError: If ``name`` is missing or a cell cannot be read (a number that is
                    not one, an unknown status, kind or unit); the message names the column.
                TypeError: If ``d`` is not a mapping.
            """
            return report_from_row(d)

        def retrieve(
            self,
            key: str,
            *,
            where: str | Path | Bucket | None = None,
            check: type[R] | None = None,
        ) -> R | Any:
            """Load an artifact of the trial; see ``Trial.retrieve``."""
            return self.trial.retrieve(key, where=where, check=check)

        def store(self, items: Mapping[str, T], *, where: Where = None) -> None:
            """Store artifacts of the trial; see ``Trial.store``."""
            self.trial.store(items, where=where)

        def __repr__(self) -> str:
            return (
                f"Trial.Report(trial={self.trial!r}, status={self.status!r},"
                f" metrics={self.metrics!r}, metric_values={self.metric_values!r},"
                f" metric_defs={self.metric_defs!r}, metric_names={self.metric_names!r})"
            )

        def __eq__(self, other: object) -> bool:
            if not isinstance(other, Trial.Report):
                return NotImplemented
            return (
                self.trial == other.trial
                and self.status == other.status
                and self.metric_values == other.metric_values
            )

        __hash__ = None  # type: ignore[assignment]

        def __reduce__(self) -> tuple[Any, ...]:
            return (type(self), (self.trial, self.status, self.metric_values))

        def rich_renderables(self) -> Iterable[RenderableType]:
            """The pieces the rich panel of this report is made of."""
            from fasttrial.optimization._display import report_renderables

            return report_renderables(self)

        def __rich__(self) -> Panel:
            from fasttrial._display import titled_panel

            return titled_panel("Report", self.name, self.rich_renderables(), status=self.status)

        def _repr_pretty_(self, *_: Any, **__: Any) -> str:
            """Representation for rich printing."""
            from fasttrial._display import render_text

            return render_text(self)

        def _repr_html_(self) -> str:
            """Return an HTML representation of the object."""
            from fasttrial._display import render_html

            return render_html(self)


def _exc_equal(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if a is None or b is None:
        return False
    if isinstance(a, BaseException) and isinstance(b, BaseException):
        return type(a) is type(b) and a.args == b.args
    return bool(a == b)


class _CapturedTraceback:
    """A traceback captured by ``begin()`` and formatted when first read.

    Capturing the frames' file, line and name costs ~15 us; formatting them (reading the
    source lines, Python 3.11's caret anchors) ~100 us more, which a loop whose failed trials
    are never inspected should not pay. No frame objects are kept.
    """

    __slots__ = ("_te",)

    def __init__(self, te: Any) -> None:
        self._te = te

    def __str__(self) -> str:
        return "".join(self._te.format())


def _capture_traceback(exc_type: type[BaseException], exc: BaseException, tb: Any) -> Any:
    """Record ``exc``'s traceback as text-to-be, then let go of its frames.

    The exception object stays on the trial, but its ``__traceback__`` (and that of the
    exceptions chained to it) is cleared: those frames, with every local variable of the
    failed evaluation, would otherwise live as long as the report.
    """
    import traceback as _tb

    te = _tb.TracebackException(exc_type, exc, tb, lookup_lines=False)
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        e = pending.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        e.__traceback__ = None
        pending.append(e.__cause__)
        pending.append(e.__context__)
    return _CapturedTraceback(te)


def _restore_trial(cls: type[Trial[Any]], state: dict[str, Any]) -> Trial[Any]:
    trial = cls.__new__(cls)
    trial.__setstate__(state)
    return trial


def _make_bucket(bucket: Any) -> Any:
    return PathBucket(bucket, lazy=True) if isinstance(bucket, (str, Path)) else bucket


def _success_slow(trial: Trial[Any], metrics: dict[str, Any]) -> Trial.Report[Any]:
    """success() for everything the compiled fast path does not take: ints too large for a
    float, numpy scalars, and every error (missing, extra or non-finite values)."""
    defs = trial.metrics
    values = []
    for m in defs:
        raw = metrics.get(m.name)
        if raw is None and m.name in metrics:
            raise ValueError(
                f"Cannot report success with {m.name}=None: a successful trial needs a value"
                f" for every metric. If the evaluation produced none, report it with"
                f" `trial.fail()` (which records the metric's worst value, {m.worst.value})."
            )
        if raw is None:
            raise ValueError(
                f"Cannot report success without self.metrics={defs!r}."
                f" Please provide a value for the metric '{m.name}'."
                f"{_rename_hint(metrics, defs, m)}"
            )
        values.append(Metric.Value(m, Trial._finite(m, raw)))
    extra = set(metrics) - {m.name for m in defs}
    if extra:
        raise ValueError(
            f"Cannot report success with extra metrics: {extra=}."
            f"\nOnly self.metrics={defs!r} are allowed."
        )
    return _core.new_report(trial, Trial.Status.SUCCESS, tuple(values))


def _rename_hint(metrics: dict[str, Any], defs: Sequence[Metric], m: Metric) -> str:
    """The end of success()'s missing-metric message: amltk's, with its ``{provided_key}``
    placeholder filled with the name that was given instead (when exactly one was)."""
    names = {d.name for d in defs}
    extra = [k for k in metrics if k not in names]
    given = f" It was given {', '.join(map(repr, extra))} instead." if extra else ""
    text = f"{given}\nPlease provide '{m.name}' as `trial.success({m.name}=value)`"
    if len(extra) != 1:
        return text + "."
    return (
        f"{text} or rename your metric to `Metric(name={extra[0]!r}, minimize={m.minimize},"
        f" bounds={m.bounds})`"
    )


@contextmanager
def _profile_into_summary(
    trial: Trial[Any], profiler: Profiler, name: str, time: Any, memory_unit: Any
) -> Iterator[None]:
    scope = profiler._scope(name, time, memory_unit, None)
    with scope:
        yield
    interval = scope.interval
    if interval is not None:
        # Figures the interval did not record (NaN: CPU times with CPU tracking off, the
        # peak with peak tracking off) are left out, so the summary holds measurements only.
        trial.summary.update(
            (k, v)
            for k, v in interval.to_dict(prefix=name).items()
            if not (type(v) is float and math.isnan(v))
        )


if tuple(s.value for s in Trial.Status) != _schema.STATUSES:
    raise ImportError(f"Trial.Status and _schema.STATUSES differ: {_schema.STATUSES}")
_core.set_schema(_schema.SCHEMA)
_core.set_optimization_types(
    value=Metric.Value,
    report=Trial.Report,
    profiler=Profiler,
    metric=Metric,
    status_success=Trial.Status.SUCCESS,
    normalize_metrics=_metric_list,
    make_bucket=_make_bucket,
    slow_success=_success_slow,
    profile_into_summary=_profile_into_summary,
    capture_traceback=_capture_traceback,
)
