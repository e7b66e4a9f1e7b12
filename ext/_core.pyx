# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: embedsignature=True, freethreading_compatible=False
"""fasttrial's private compiled core.

Nothing here is public API.  The public classes (``Timer``, ``Memory``, ``Profile``,
``Profiler``, ``Trial``) live in plain Python modules and call into this one.

What it offers:

* clock reads in integer nanoseconds (wall, monotonic, process CPU);
* memory reads in bytes (RSS and VMS with psutil's meanings), through a kept descriptor on
  Linux, native calls on macOS and Windows, psutil elsewhere;
* ``Span``: an interval recorder whose start and stop are each one C call that reads the
  clock and the memory together into a C struct; Python objects are made only when someone
  reads them (by the Python subclass ``fasttrial.profiling.Profile.Interval``);
* ``Scope``: the context manager behind ``Profiler.measure()`` and ``Trial.begin()``, so a
  ``with`` block costs two C calls and no generator;
* ``ProfilerCore``: the state of a ``Profiler`` (profiles, the stack of running names,
  default kind and unit), kept in C slots.
"""

from cpython.object cimport PyObject, PyTypeObject
from libc.stdint cimport int64_t

cdef extern from "ft_platform.h" nogil:
    int64_t ft_wall_ns()
    int64_t ft_mono_ns()
    int64_t ft_process_ns()
    const char *ft_mem_backend()
    int ft_mem_init()
    int ft_mem_read(int64_t *rss, int64_t *vms)

cdef extern from *:
    """
    #ifndef FASTTRIAL_VERSION
    #define FASTTRIAL_VERSION "unknown"
    #endif
    static const char *ft_version = FASTTRIAL_VERSION;
    """
    const char *ft_version


__version__ = ft_version.decode("ascii")

# Timer kinds and memory units as small integers; the Python layer maps its enums onto
# these through KIND_CODES / UNIT_CODES (filled by fasttrial.profiling at import).
WALL = 0
CPU = 1
PROCESS = 2
BYTES = 0
KILOBYTES = 1
MEGABYTES = 2
GIGABYTES = 3

KIND_CODES = {"wall": WALL, "cpu": CPU, "process": PROCESS}
UNIT_CODES = {
    "B": BYTES, "b": BYTES, "bytes": BYTES,
    "KB": KILOBYTES, "kb": KILOBYTES, "kilobytes": KILOBYTES,
    "MB": MEGABYTES, "mb": MEGABYTES, "megabytes": MEGABYTES,
    "GB": GIGABYTES, "gb": GIGABYTES, "gigabytes": GIGABYTES,
}

cdef dict _KIND_CODES = KIND_CODES
cdef dict _UNIT_CODES = UNIT_CODES

# States of a Span.
cdef enum:
    SPAN_EMPTY = 0      # never started (or filled from explicit values by Python)
    SPAN_RUNNING = 1
    SPAN_DONE = 2

cdef bint _native_memory = ft_mem_init() == 0
cdef object _interval_type = None  # set below to Span, then by set_interval_type()
cdef tuple _EMPTY_TUPLE = ()
cdef object _psutil_process = None


cdef struct Mark:
    int64_t t       # the timer kind's own clock, ns
    int64_t mono    # monotonic clock, ns: durations come from here, so never negative
    int64_t rss     # bytes, -1 when unknown
    int64_t vms     # bytes, -1 when unknown


cdef int _psutil_read(int64_t *rss, int64_t *vms) except -1:
    """Fallback reader for platforms without a native one: one cached psutil.Process."""
    global _psutil_process
    import os
    if _psutil_process is None or _psutil_process.pid != os.getpid():
        import psutil
        _psutil_process = psutil.Process()
    info = _psutil_process.memory_info()
    rss[0] = info.rss
    vms[0] = info.vms
    return 0


cdef inline int _read_memory(int64_t *rss, int64_t *vms) except -1:
    if _native_memory:
        ft_mem_read(rss, vms)
        return 0
    return _psutil_read(rss, vms)


cdef inline int _mark_start(Mark *m, int kind) except -1:
    """Memory first, then the clocks last, so time starts as late as possible."""
    _read_memory(&m.rss, &m.vms)
    if kind == WALL:
        m.t = ft_wall_ns()
        m.mono = ft_mono_ns()
    elif kind == CPU:
        m.mono = ft_mono_ns()
        m.t = m.mono
    else:
        m.t = ft_process_ns()
        m.mono = m.t
    return 0


cdef inline int _mark_stop(Mark *m, int kind) except -1:
    """Clocks first, then memory, so time stops as early as possible."""
    if kind == WALL:
        m.mono = ft_mono_ns()
        m.t = ft_wall_ns()
    elif kind == CPU:
        m.mono = ft_mono_ns()
        m.t = m.mono
    else:
        m.t = ft_process_ns()
        m.mono = m.t
    return _read_memory(&m.rss, &m.vms)


def wall_ns():
    """Return the wall clock, in integer nanoseconds since the Unix epoch."""
    return ft_wall_ns()


def mono_ns():
    """Return the monotonic clock (``time.perf_counter``'s), in integer nanoseconds."""
    return ft_mono_ns()


def process_ns():
    """Return this process's CPU time (user + system), in integer nanoseconds."""
    return ft_process_ns()


def now(int kind):
    """Return the clock of a timer kind code (WALL, CPU, PROCESS), in float seconds."""
    if kind == WALL:
        return ft_wall_ns() / 1e9
    if kind == CPU:
        return ft_mono_ns() / 1e9
    if kind == PROCESS:
        return ft_process_ns() / 1e9
    raise ValueError(f"unknown timer kind code {kind}; expected WALL, CPU or PROCESS")


def read_memory():
    """Return ``(rss, vms)`` of this process in bytes (psutil's meanings); -1 if unknown."""
    cdef int64_t rss = -1, vms = -1
    _read_memory(&rss, &vms)
    return rss, vms


def memory_backend():
    """Return the name of the memory reader in use ("linux-statm", ..., or "psutil")."""
    if _native_memory:
        return ft_mem_backend().decode("ascii")
    return "psutil"


cdef double _UNIT_DIV[4]
_UNIT_DIV[0] = 1.0
_UNIT_DIV[1] = 1024.0
_UNIT_DIV[2] = 1024.0 * 1024.0
_UNIT_DIV[3] = 1024.0 * 1024.0 * 1024.0


cdef inline object _bytes_in(int64_t value, int unit):
    if value < 0:
        return float("nan")
    return value / _UNIT_DIV[unit]


cpdef int kind_code(object kind, int default=WALL) except -1:
    """Map a timer kind (None, a ``Timer.Kind`` or its string) to its code."""
    if kind is None:
        return default
    try:
        return _KIND_CODES[kind]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown timer kind {kind!r}: use one of 'wall', 'cpu', 'process' "
            "(or a Timer.Kind)."
        ) from None


cpdef int unit_code(object unit, int default=BYTES) except -1:
    """Map a memory unit (None, a ``Memory.Unit`` or 'B'/'KB'/'MB'/'GB') to its code."""
    if unit is None:
        return default
    try:
        return _UNIT_CODES[unit]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown memory unit {unit!r}: use one of 'B', 'KB', 'MB', 'GB' "
            "(or a Memory.Unit)."
        ) from None


cdef class Span:
    """Raw record of one profiled interval: start and end marks in C numbers.

    The public ``Profile.Interval`` subclasses this and builds ``Timer.Interval`` and
    ``Memory.Interval`` objects from ``_raw()`` when they are first read.
    """

    cdef Mark _start
    cdef Mark _end
    cdef public int _kind
    cdef public int _unit
    cdef public int _state
    # Materialized (or explicitly given) Python objects; None until built.
    cdef public object _time
    cdef public object _memory

    def __cinit__(self, *args, **kwargs):
        self._state = SPAN_EMPTY
        self._kind = WALL
        self._unit = BYTES
        self._time = None
        self._memory = None

    cdef inline int _begin(self, int kind, int unit) except -1:
        self._kind = kind
        self._unit = unit
        self._time = None
        self._memory = None
        self._state = SPAN_RUNNING
        _mark_start(&self._start, kind)
        return 0

    cdef inline int _finish(self) except -1:
        _mark_stop(&self._end, self._kind)
        self._state = SPAN_DONE
        return 0

    def _start_recording(self, object kind=None, object unit=None):
        """Start recording now (clock and memory in one call)."""
        self._begin(kind_code(kind), unit_code(unit))

    def _stop_recording(self):
        """Stop recording now.  Raises RuntimeError if the span is not running."""
        if self._state != SPAN_RUNNING:
            raise RuntimeError("This interval is not running: start it before stopping it.")
        self._finish()

    def _raw(self):
        """Return the recorded numbers, converted to seconds and the span's memory unit.

        Returns:
            ``(state, kind, unit, start_s, end_s, duration_s, start_rss, end_rss,
            start_vms, end_vms)``; times in seconds of the kind's clock, memory in the
            span's unit; NaN for what is not recorded yet.
        """
        cdef double nan = float("nan")
        cdef int64_t dur
        if self._state == SPAN_EMPTY:
            return (self._state, self._kind, self._unit, nan, nan, nan, nan, nan, nan, nan)
        if self._state == SPAN_RUNNING:
            return (
                self._state, self._kind, self._unit,
                self._start.t / 1e9, nan, nan,
                _bytes_in(self._start.rss, self._unit), nan,
                _bytes_in(self._start.vms, self._unit), nan,
            )
        dur = self._end.mono - self._start.mono
        if dur < 0:  # a span stopped in another process (fork) can see an older clock
            dur = 0
        return (
            self._state, self._kind, self._unit,
            self._start.t / 1e9, self._end.t / 1e9, dur / 1e9,
            _bytes_in(self._start.rss, self._unit), _bytes_in(self._end.rss, self._unit),
            _bytes_in(self._start.vms, self._unit), _bytes_in(self._end.vms, self._unit),
        )

    def _raw_ns(self):
        """Return ``(state, start_t, end_t, start_mono, end_mono, start_rss, end_rss,
        start_vms, end_vms)`` as integers (ns, bytes), for tests of the core itself."""
        return (
            self._state, self._start.t, self._end.t, self._start.mono, self._end.mono,
            self._start.rss, self._end.rss, self._start.vms, self._end.vms,
        )


_interval_type = Span


cdef inline object _new_interval(object cls):
    # tp_new straight away: no __init__, no argument parsing (~40 ns).
    return (<PyTypeObject*>cls).tp_new(cls, <PyObject*>_EMPTY_TUPLE, NULL)


cdef class ProfilerCore:
    """State of a ``Profiler``: named intervals, the running stack, defaults."""

    cdef public dict profiles
    cdef public list _running
    cdef public int _kind
    cdef public int _unit
    cdef public bint disabled

    def __cinit__(self, *args, **kwargs):
        self.profiles = {}
        self._running = []
        self._kind = WALL
        self._unit = BYTES
        self.disabled = False

    cpdef Scope _scope(self, str name, object time_kind, object memory_unit, object trial):
        """Make the context manager that records ``name`` (and feeds ``trial`` if given)."""
        cdef Scope scope = Scope.__new__(Scope)
        scope.profiler = self
        scope.name = name
        scope.trial = trial
        scope.kind = self._kind if time_kind is None else kind_code(time_kind)
        scope.unit = self._unit if memory_unit is None else unit_code(memory_unit)
        return scope


cdef class Scope:
    """Context manager for one profiled interval: ``with profiler("x"):``.

    On enter it names the interval (joined with the enclosing running names by ``:``),
    registers a fresh interval object under that name and starts it; on exit it stops it.
    When it serves ``Trial.begin()`` it also stores an ``Exception`` raised in the block,
    with its traceback text, on the trial, and swallows it (as amltk does).
    """

    cdef ProfilerCore profiler
    cdef str name
    cdef object trial
    cdef int kind
    cdef int unit
    cdef Span span
    cdef bint pushed

    def __enter__(self):
        cdef ProfilerCore p = self.profiler
        cdef list running
        cdef str entry
        if p.disabled:
            return None
        running = p._running
        if running:
            entry = ":".join(running) + ":" + self.name
        else:
            entry = self.name
        running.append(self.name)
        self.pushed = True
        span = _new_interval(_interval_type)
        self.span = <Span>span
        p.profiles[entry] = span
        self.span._begin(self.kind, self.unit)
        return None

    def __exit__(self, exc_type, exc, tb):
        cdef Span span = self.span
        if span is not None:
            span._finish()
        if self.pushed:
            self.pushed = False
            running = self.profiler._running
            if running:
                running.pop()
        trial = self.trial
        if trial is None:
            return False
        if span is not None:
            trial._span = span
            trial._time = None
            trial._memory = None
        if exc is not None and isinstance(exc, Exception):
            import traceback
            trial.exception = exc
            trial.traceback = "".join(traceback.format_exception(exc_type, exc, tb))
            return True
        return False

    @property
    def interval(self):
        """The interval this scope records (None before ``__enter__``)."""
        return self.span


def set_interval_type(object cls):
    """Make every profiler create ``cls`` (a Span subclass) for the intervals it records.

    ``fasttrial.profiling`` calls this once at import with ``Profile.Interval``.
    """
    global _interval_type
    if not (isinstance(cls, type) and issubclass(cls, Span)):
        raise TypeError(f"{cls!r} is not a subclass of fasttrial._core.Span")
    _interval_type = cls
