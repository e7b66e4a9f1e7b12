"""Type stub of fasttrial's private compiled core (ext/_core.pyx).

Nothing here is public API: the public classes live in ``fasttrial.profiling`` and
``fasttrial.optimization``.  Checked against the built module by
``python -m mypy.stubtest fasttrial._core`` (tests/core/test_stub.py).
"""

from collections.abc import Callable
from types import TracebackType
from typing import Any, Final, Self, final

from typing_extensions import disjoint_base

from fasttrial.profiling._figures import SpanFigures

__version__: str

# Timer kind codes.
WALL: Final[int]
CPU: Final[int]
PROCESS: Final[int]
# Memory unit codes.
BYTES: Final[int]
KILOBYTES: Final[int]
MEGABYTES: Final[int]
GIGABYTES: Final[int]

#: Timer kind (a string or a ``Timer.Kind``) -> kind code.
KIND_CODES: dict[str, int]
#: Memory unit (a string or a ``Memory.Unit``) -> unit code.
UNIT_CODES: dict[str, int]

def wall_ns() -> int:
    """Return the wall clock, in integer nanoseconds since the Unix epoch."""

def mono_ns() -> int:
    """Return the monotonic clock (``time.perf_counter``'s), in integer nanoseconds."""

def process_ns() -> int:
    """Return this process's CPU time (user + system), in integer nanoseconds."""

def now(kind: int) -> float:
    """Return the clock of a timer kind code (WALL, CPU, PROCESS), in float seconds."""

def read_memory() -> tuple[int, int]:
    """Return ``(rss, vms)`` of this process in bytes (psutil's meanings); -1 if unknown."""

def _force_psutil_reader(on: bool) -> None:
    """Read memory through psutil, as on platforms without a native reader (test hook)."""

def memory_backend() -> str:
    """Return the name of the memory reader in use ("linux-statm", ..., or "psutil")."""

def set_tracking(peak: object = None, cpu: object = None) -> tuple[bool, bool]:
    """Choose what intervals started from now on record besides clocks and memory."""

def tracking() -> tuple[bool, bool]:
    """Return ``(peak, cpu)``: what intervals started now record (see ``set_tracking``)."""

def peak_backend() -> str:
    """Return how peaks are read: "linux-clear_refs", or "start-end"."""

def _force_no_peak(on: bool) -> None:
    """Act as a platform without a resettable peak, as macOS and Windows (test hook)."""

def read_usage() -> tuple[int, int, int]:
    """Return ``(cpu_ns, children_cpu_ns, maxrss)`` now; -1 for what cannot be read."""

def kind_code(kind: object, default: int = 0) -> int:
    """Map a timer kind (None, a ``Timer.Kind`` or its string) to its code."""

def unit_code(unit: object, default: int = 0) -> int:
    """Map a memory unit (None, a ``Memory.Unit`` or 'B'/'KB'/'MB'/'GB') to its code."""

def set_interval_type(cls: type[Span]) -> None:
    """Make every profiler create ``cls`` (a Span subclass) for the intervals it records."""

def set_figures_type(cls: type[tuple[Any, ...]]) -> None:
    """Make ``Span._figures()`` return ``cls`` (the ``SpanFigures`` named tuple)."""

@disjoint_base
class Span:
    """Raw record of one profiled interval: start and end marks in C numbers."""

    @property
    def _kind(self) -> int: ...
    @property
    def _unit(self) -> int: ...
    @property
    def _state(self) -> int: ...
    _time: Any
    _memory: Any
    def __new__(cls, *args: Any, **kwargs: Any) -> Self: ...
    def _start_recording(self, kind: object = None, unit: object = None) -> None: ...
    def _stop_recording(self) -> None: ...
    def _raw(
        self,
    ) -> tuple[int, int, int, float, float, float, float, float, float, float]:
        """``(state, kind, unit, start_s, end_s, duration_s, start_rss, end_rss, start_vms,
        end_vms)``: seconds and the span's memory unit; NaN for what is not recorded."""

    def _figures(self) -> SpanFigures:
        """Every figure of the span, named: ``_raw()`` then ``_raw_usage()``."""

    def _stop_figures(self) -> SpanFigures:
        """Stop recording now and return ``_figures()``."""

    def _raw_usage(self) -> tuple[float, float, float]:
        """``(peak_rss, cpu_s, cpu_children_s)`` of a stopped span (span's unit, seconds);
        NaN for what was not recorded or while it runs."""

    def _raw_usage_ns(self) -> tuple[int, int, int, int, int, int]:
        """``(track, peak, start_cpu, end_cpu, start_children, end_children)`` as integers
        (FT_USAGE_* bits, bytes, ns); -1 when not read."""

    def _raw_ns(self) -> tuple[int, int, int, int, int, int, int, int, int]:
        """``(state, start_t, end_t, start_mono, end_mono, start_rss, end_rss, start_vms,
        end_vms)`` as integers (ns, bytes)."""

@disjoint_base
class ProfilerCore:
    """State of a ``Profiler``: named intervals, the running stack, defaults."""

    # Values are instances of the Span subclass registered with set_interval_type().
    profiles: dict[str, Any]
    @property
    def _running(self) -> list[str]:
        """The names of the running intervals, outermost first (a copy)."""

    @_running.setter
    def _running(self, value: list[str]) -> None: ...
    _kind: int
    _unit: int
    disabled: bool
    def __new__(cls, *args: Any, **kwargs: Any) -> Self: ...
    def _scope(self, name: str, time_kind: object, memory_unit: object, trial: object) -> Scope: ...

@disjoint_base
class Scope:
    """Context manager for one profiled interval: ``with profiler("x"):``."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Self: ...
    def __enter__(self) -> None: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool: ...
    @property
    def interval(self) -> Any:
        """The interval this scope records (None before ``__enter__``)."""
    # Cython's automatic pickling of Scope (it has only Python-object fields).

def set_optimization_types(
    *,
    value: type[ValueCore],
    report: type[ReportCore],
    profiler: type[ProfilerCore],
    metric: type,
    status_success: Any,
    normalize_metrics: Callable[..., Any],
    make_bucket: Callable[..., Any],
    slow_success: Callable[..., Any],
    profile_into_summary: Callable[..., Any],
    capture_traceback: Callable[..., Any],
) -> None:
    """Register the public Python classes and slow paths (called once at import)."""

def new_report(trial: TrialCore, status: Any, metric_values: Any) -> Any:
    """Make a ``Trial.Report`` (the registered ``report`` type) without argument parsing."""

@disjoint_base
class ValueCore:
    """Fields of ``Metric.Value``: the metric and the raw value (read-only)."""

    def __init__(self, metric: Any, value: Any) -> None: ...
    @property
    def metric(self) -> Any: ...
    @property
    def value(self) -> Any: ...

@disjoint_base
class ReportCore:
    """Fields of ``Trial.Report``."""

    trial: Any
    status: Any
    @property
    def metric_values(self) -> tuple[Any, ...]:
        """One ``Metric.Value`` per metric, in order (made when read)."""

    @metric_values.setter
    def metric_values(self, value: Any) -> None: ...
    @property
    def _metric_defs(self) -> tuple[Any, ...]:
        """The metrics of the values, in order (a tuple shared between reports)."""

    def _raw_values(self) -> tuple[float, ...]:
        """The raw values, in order, as a tuple of floats."""

    def _metric_dict(self) -> dict[str, float]:
        """Metric name -> raw value, as a new dict."""

    def __init__(self, trial: Any, status: Any, metric_values: Any = ()) -> None: ...

@disjoint_base
class TrialCore:
    """Fields and hot methods of ``Trial``; the rest lives in Python."""

    name: Any
    config: Any
    _bucket: Any
    info: Any
    metrics: Any
    seed: Any
    fidelities: Any
    _time: Any
    _memory: Any
    _span: Any
    _profiler: Any
    _summary: Any
    exception: Any
    _traceback: Any
    _storage: Any
    _extras: Any
    # Keyword-only at runtime; the compiled __init__ shows as (*args, **kwargs), hence the
    # empty *args (accepts no positional argument) that keeps stubtest's signature check.
    def __init__(
        self,
        *args: *tuple[()],
        name: Any,
        config: Any,
        bucket: Any = None,
        info: Any = None,
        metrics: Any = None,
        seed: Any = None,
        fidelities: Any = None,
        time: Any = None,
        memory: Any = None,
        profiler: Any = None,
        summary: Any = None,
        exception: Any = None,
        traceback: Any = None,
        storage: Any = None,
        extras: Any = None,
    ) -> None: ...
    def _ensure_profiler(self) -> ProfilerCore:
        """Return the trial's profiler, making it (with the begin() span, if any) if needed."""

    def begin(self, time: object = None, memory_unit: object = None) -> Scope:
        """Return a context manager that profiles the trial and catches its exception."""

    def profile(
        self,
        name: str,
        *,
        time: object = None,
        memory_unit: object = None,
        summary: bool = False,
    ) -> Any:
        """Return a context manager that profiles a named interval of the trial."""

    def success(self, **metrics: float | int) -> Any:
        """Report success with a value for every metric of the trial."""

# -- the column store and metric kernels behind History (ext/_columns.pxi) --------------

COL_NUM: int
COL_BOOL: int
COL_STR: int
COL_OBJ: int
NUM_INT: int
NUM_FLOAT: int
FORM_VALUE: int
FORM_LOSS: int
FORM_SCORE: int
FORM_DISTANCE: int
FORM_NORMALIZED: int
FORMS: dict[str, int]

class _MissingType:
    """A cell of a row that does not have the column's key."""

MISSING: _MissingType

@final
class Column:
    """One column of a ``History`` table: the values of one ``df()`` key, row by row."""

    @property
    def kind(self) -> int: ...
    @property
    def n(self) -> int: ...
    @property
    def seen(self) -> int: ...
    def __new__(cls, kind: int = 0) -> Self: ...
    def pad_to(self, n: int) -> None:
        """Fill rows ``self.n .. n-1`` (rows without this key)."""

    def push(self, v: object) -> None:
        """Append ``v`` as the next row."""

    def values(self) -> list[Any]:
        """All rows' Python values (MISSING for fillers and NaN), as a new list."""

    def value(self, i: int) -> Any:
        """The Python value of row ``i``."""

    def buffer(self) -> Any:
        """The raw buffer (shared, not copied)."""

    def tags(self) -> Any:
        """COL_NUM only: a uint8 buffer (1 = int) when ints and floats are mixed, else None."""

    def categories(self) -> list[str]:
        """COL_STR only: the distinct strings, in code order."""

    def take(self, indices: Any) -> Column:
        """A new column of the rows ``indices``."""

    @staticmethod
    def from_parts(
        kind: int, n: int, data: Any, seen: int = 0, tags: Any = None, cats: Any = None
    ) -> Column:
        """A column made from ready data."""

    def nbytes(self) -> int:
        """Bytes held by the buffers."""

def new_column(v: object) -> Column:
    """A new column whose kind suits the first value ``v``."""

def to_float64(values: Any, what: str = "value") -> Any:
    """Validate a column of metric values into a float64 ``array.array``."""

def metric_transform(
    values: Any, minimize: bool, bounds: Any = None, form: Any = "value", what: str = "metric"
) -> Any:
    """Whole-column ``Metric.Value`` properties."""

def best_index(values: Any, minimize: bool) -> int:
    """Position of the best non-NaN value (the first on ties), or -1 if all are NaN."""

def incumbent_positions(values: Any, order: Any, minimize: bool, ffill: bool = False) -> list[int]:
    """Positions of each new strict best when visiting ``values`` in ``order``."""

def pareto_positions(losses: Any, order: Any) -> list[int]:
    """Positions of the rows of ``losses`` no other row dominates."""

def table_append(
    columns: list[Column | None], ids: tuple[int, ...], row: dict[str, Any], n: int
) -> None:
    """Append ``row`` as row ``n`` of ``columns`` (value k into ``columns[ids[k]]``)."""

def report_signature(report: Any) -> tuple[Any, ...] | None:
    """What decides the keys of ``report._row()``; None when the fast path cannot write it."""

def report_width(report: Any) -> int:
    """The number of items ``table_append_report`` writes for ``report``."""

def table_append_report(
    columns: list[Column | None], ids: tuple[int, ...], report: Any, n: int
) -> None:
    """Append ``report`` as row ``n`` straight from its C fields (see report_signature);
    everything is checked before the first write."""

def set_schema(schema: dict[str, Any]) -> None:
    """Check ``fasttrial.optimization._schema.SCHEMA`` against the compiled row writer."""

@final
class _NoLock:
    """A compiled context manager that does nothing (the lock-free reference of a benchmark)."""

    def __enter__(self) -> None: ...
    def __exit__(self, exc_type: object, exc: object, tb: object) -> None: ...

def encode_row_record(
    columns: list[Column | None],
    ids: tuple[int, ...],
    i: int,
    lid: int,
    kind: int,
    encode_obj: Callable[[Any], bytes],
) -> bytes:
    """Row ``i`` of ``columns`` as one framed journal record (docs/journal.md)."""

def crc32(data: Any) -> int:
    """zlib's CRC-32 of ``data``, as the journal's records use it."""

def table_append_rows(
    columns: list[Column | None], layouts: list[tuple[int, ...]], rows: list[Any], n: int
) -> list[int]:
    """Append decoded row payloads ``[layout id, [value, ...]]`` as rows ``n, n+1, ...``."""

def journal_scan(data: Any, start: int) -> tuple[list[tuple[int, int, int]], int, int]:
    """Walk and check the records of a journal's bytes from ``start``."""

# -- benchmark-only floors (ext/_floor.pxi) ------------------------------------------------

@final
class IntervalFloor:
    """``with floor: pass``: the readings of one profiled interval and nothing else."""

    @property
    def calls(self) -> int: ...
    @property
    def resets(self) -> int: ...
    def __enter__(self) -> None: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool: ...
    def readings(self) -> tuple[int, int, int, int]:
        """``(duration_ns, start_rss, end_rss, peak)`` of the last interval."""

@final
class RowFloor:
    """``floor.append(report)``: the cheapest append of the row History.add writes."""

    def __new__(cls, default_bucket: str = "unknown-trial-bucket") -> Self: ...
    def append(self, report: Any) -> None:
        """Append ``report``'s row (a report whose profiles have all stopped)."""

    def __len__(self) -> int:
        """Rows appended so far."""

    def values(self, k: int) -> list[float]:
        """The numbers appended at numeric position ``k``."""

    def objects(self, k: int) -> list[Any]:
        """The objects appended at object position ``k``."""
