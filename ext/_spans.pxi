# Included by _core.pyx: the platform readers (clocks, memory, usage, peaks), Span (one
# profiled interval in C numbers), ProfilerCore and Scope (the context manager behind
# Profiler.measure(), Trial.begin() and Timer/Memory/Profile.measure()).

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
    int64_t cpu     # CPU time of this process (user + system), ns; -1 when not read
    int64_t cpu_children  # CPU time of reaped children, ns; -1 when not read


# What every interval started from now on records besides clocks and start/end memory
# (FT_USAGE_* bits), set by set_tracking().  The peak is on by default: one
# getrusage(RUSAGE_THREAD) at each end (~0.45 us, plus a clear_refs write at a start when
# the RSS has come down from a peak) is its whole cost.  CPU time is off by default: the
# process-wide reading walks the thread group (~0.9 us, ~0.3 us more for the children) at
# each end, which would take a plain begin() under 40x cheaper than amltk's; see
# docs/compat.md and benchmarks/test_tracking.py for the measurements.
cdef int _what = FT_USAGE_PEAK
cdef bint _want_peak = True
cdef bint _want_cpu = False


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


cdef inline int _mark_clocks_start(Mark *m, int kind) except -1:
    """The clocks of a start, read last so that time starts as late as possible."""
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


cdef inline int _mark_clocks_stop(Mark *m, int kind) except -1:
    """The clocks of a stop, read first so that time stops as early as possible."""
    if kind == WALL:
        m.mono = ft_mono_ns()
        m.t = ft_wall_ns()
    elif kind == CPU:
        m.mono = ft_mono_ns()
        m.t = m.mono
    else:
        m.t = ft_process_ns()
        m.mono = m.t
    return 0


# -- peaks of nested and overlapping intervals -----------------------------------------
#
# The kernel keeps one high-water mark per process, and an interval's start resets it (when
# the RSS has come down from a peak since the last reset).  So every interval that is open
# at a reset must first be given the peak the reset is about to forget.  The open intervals
# with peak tracking form a doubly linked list in the order they started (borrowed
# pointers: a Span unlinks itself when it stops or is freed).  Invariant: the peak of open
# interval k since its start is max(peak_k, peak_k+1, ..., peak_last, kernel mark now).
# * start: fold the kernel mark into the last open interval, reset, append;
# * stop: peak = max(own, the later ones', kernel mark, end RSS); unlink and fold it into
#   the interval before (which was open for all of it).
# Nested intervals stop last-first, so the walk over later ones is empty in practice.
# Every call holds the GIL, so the list needs no lock; a forked child has its own copy.

cdef void *_open_tail = NULL


cdef inline void _fold(void *target, int64_t peak) noexcept:
    if target != NULL and peak > (<Span>target)._peak:
        (<Span>target)._peak = peak


cdef inline void _peak_open(Span s, int64_t maxrss) noexcept:
    global _open_tail
    if s._linked:
        _peak_unlink(s)
    if _open_tail != NULL:  # the intervals open now need the mark the reset forgets
        _fold(_open_tail, ft_peak_trusted(maxrss, s._start.rss))
    # Reset only when the mark is above the RSS now (a peak has come and gone since the
    # last reset): in a steady loop the mark is already the RSS and the write is skipped.
    if maxrss > s._start.rss or not ft_peak_ready():
        ft_peak_reset()
    s._peak = s._start.rss
    s._prev = _open_tail
    s._next = NULL
    if _open_tail != NULL:
        (<Span>_open_tail)._next = <void *>s
    _open_tail = <void *>s
    s._linked = True


cdef inline void _peak_unlink(Span s) noexcept:
    """Take ``s`` out of the open list, giving its peak to the interval before it."""
    global _open_tail
    cdef void *prev = s._prev
    cdef void *nxt = s._next
    if prev != NULL:
        (<Span>prev)._next = nxt
    if nxt != NULL:
        (<Span>nxt)._prev = prev
    else:
        _open_tail = prev
    _fold(prev, s._peak)
    s._prev = NULL
    s._next = NULL
    s._linked = False


cdef inline void _peak_close(Span s, int64_t maxrss) noexcept:
    cdef int64_t peak = s._peak
    cdef int64_t trusted = ft_peak_trusted(maxrss, s._end.rss)
    cdef void *later = s._next
    if trusted > peak:
        peak = trusted
    if s._end.rss > peak:
        peak = s._end.rss
    while later != NULL:  # intervals started inside this one and still open
        if (<Span>later)._peak > peak:
            peak = (<Span>later)._peak
        later = (<Span>later)._next
    s._peak = peak
    if s._linked:
        _peak_unlink(s)


def set_tracking(peak=None, cpu=None):
    """Choose what intervals started from now on record besides clocks and memory.

    Args:
        peak: Record the peak RSS of each interval (None: leave as is).
        cpu: Record the process's CPU time, and its reaped children's, inside each
            interval (None: leave as is).

    Returns:
        ``(peak, cpu)`` as they were before the call.
    """
    global _want_peak, _want_cpu, _what
    before = (_want_peak, _want_cpu)
    if peak is not None:
        _want_peak = bool(peak)
    if cpu is not None:
        _want_cpu = bool(cpu)
    _what = (FT_USAGE_PEAK if _want_peak else 0) | (
        FT_USAGE_CPU | FT_USAGE_CHILDREN if _want_cpu else 0)
    return before


def tracking():
    """Return ``(peak, cpu)``: what intervals started now record (see ``set_tracking``)."""
    return (_want_peak, _want_cpu)


def peak_backend():
    """Return how peaks are read: "linux-clear_refs", or "start-end" where the platform has
    no resettable peak (an interval's peak is then the larger of its start and end RSS)."""
    if ft_peak_init() == 0:
        return ft_peak_backend().decode("ascii")
    return "start-end"


def _force_no_peak(bint on):
    """Act as a platform without a resettable peak, as macOS and Windows (test hook).

    Args:
        on: True for start/end peaks, False to go back to the kernel's mark (if any).
    """
    ft_peak_force_none(on)


def read_usage():
    """Return ``(cpu_ns, children_cpu_ns, maxrss)`` now: CPU time of this process and of its
    reaped children (ns), and the kernel's raw peak RSS since the last reset (bytes); -1
    for what this platform cannot read."""
    cdef int64_t cpu, children, maxrss
    ft_usage_read(FT_USAGE_CPU | FT_USAGE_CHILDREN | FT_USAGE_PEAK, &cpu, &children, &maxrss)
    return cpu, children, maxrss


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


def _force_psutil_reader(bint on):
    """Read memory through psutil, as on platforms without a native reader (test hook).

    Args:
        on: True to use psutil, False to go back to the native reader (if there is one).
    """
    global _native_memory
    _native_memory = (not on) and ft_mem_init() == 0


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


cdef double _NAN = float("nan")


cdef inline double _bytes_in(int64_t value, int unit):
    if value < 0:
        return _NAN
    return value / _UNIT_DIV[unit]


cdef inline double _cpu_seconds(int64_t start, int64_t end):
    # NaN when not read, or when the end is older than the start (a span stopped in a
    # forked child, whose CPU clocks start again from zero).
    if start < 0 or end < start:
        return _NAN
    return (end - start) / 1e9


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


@cython.no_gc
@cython.auto_pickle(False)  # Profile.Interval pickles its materialized intervals
cdef class Span:
    """Raw record of one profiled interval: start and end marks in C numbers.

    The public ``Profile.Interval`` subclasses this and builds ``Timer.Interval`` and
    ``Memory.Interval`` objects from ``_raw()`` when they are first read.
    """

    cdef Mark _start
    cdef Mark _end
    # Peak RSS in bytes (running maximum while open, the interval's peak once done; -1
    # when not recorded), what was tracked (FT_USAGE_* bits), and the open-list links.
    cdef int64_t _peak
    cdef int _track
    cdef bint _linked
    cdef void *_prev
    cdef void *_next
    # Read-only from Python: _kind and _unit index C tables (_UNIT_DIV, the kind and unit
    # texts), so only _begin() sets them, from kind_code() / unit_code() results.
    cdef readonly int _kind
    cdef readonly int _unit
    cdef readonly int _state
    # Materialized (or explicitly given) Python objects; None until built.
    cdef public object _time
    cdef public object _memory

    def __cinit__(self, *args, **kwargs):
        self._state = SPAN_EMPTY
        self._kind = WALL
        self._unit = BYTES
        self._time = None
        self._memory = None
        self._peak = -1
        self._track = 0
        self._linked = False
        self._prev = NULL
        self._next = NULL

    def __dealloc__(self):
        if self._linked:  # freed while running: leave the open list consistent
            _peak_unlink(self)

    cdef inline int _begin(self, int kind, int unit) except -1:
        """Start: memory, then the usage figures (and the peak bookkeeping), then clocks."""
        cdef int what = _what
        cdef int64_t maxrss
        self._kind = kind
        self._unit = unit
        self._time = None
        self._memory = None
        self._state = SPAN_RUNNING
        self._track = what
        _read_memory(&self._start.rss, &self._start.vms)
        if what:
            ft_usage_read(what, &self._start.cpu, &self._start.cpu_children, &maxrss)
            if what & FT_USAGE_PEAK:
                _peak_open(self, maxrss)
            elif self._linked:
                _peak_unlink(self)
        else:
            self._start.cpu = -1
            self._start.cpu_children = -1
            if self._linked:
                _peak_unlink(self)
        _mark_clocks_start(&self._start, kind)
        return 0

    cdef inline int _finish(self) except -1:
        """Stop: clocks, then the usage figures, then memory."""
        cdef int what = self._track
        cdef int64_t maxrss = -1
        _mark_clocks_stop(&self._end, self._kind)
        if what:
            ft_usage_read(what, &self._end.cpu, &self._end.cpu_children, &maxrss)
        else:
            self._end.cpu = -1
            self._end.cpu_children = -1
        _read_memory(&self._end.rss, &self._end.vms)
        if what & FT_USAGE_PEAK:
            _peak_close(self, maxrss)
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
        cdef double nan = _NAN
        if self._state == SPAN_EMPTY:
            return (self._state, self._kind, self._unit, nan, nan, nan, nan, nan, nan, nan)
        if self._state == SPAN_RUNNING:
            return (
                self._state, self._kind, self._unit,
                self._start.t / 1e9, nan, nan,
                _bytes_in(self._start.rss, self._unit), nan,
                _bytes_in(self._start.vms, self._unit), nan,
            )
        return (
            self._state, self._kind, self._unit,
            self._start.t / 1e9, self._end.t / 1e9, self._duration_s(),
            _bytes_in(self._start.rss, self._unit), _bytes_in(self._end.rss, self._unit),
            _bytes_in(self._start.vms, self._unit), _bytes_in(self._end.vms, self._unit),
        )

    def _figures(self):
        """Return every figure of the span as one ``SpanFigures`` named tuple (see
        ``fasttrial.profiling._figures``): ``_raw()`` then ``_raw_usage()``, named."""
        return _make_figures(self)

    def _stop_figures(self):
        """Stop recording now and return ``_figures()`` (one call for a stop).  Raises
        RuntimeError if the span is not running."""
        if self._state != SPAN_RUNNING:
            raise RuntimeError("This interval is not running: start it before stopping it.")
        self._finish()
        return _make_figures(self)

    def _raw_usage(self):
        """Return ``(peak_rss, cpu_s, cpu_children_s)`` of a stopped span: the peak RSS in
        the span's unit, CPU seconds of this process and of its reaped children inside the
        span; NaN for what was not recorded (or while the span runs)."""
        if self._state != SPAN_DONE:
            return (_NAN, _NAN, _NAN)
        return (
            self._peak_in_unit(),
            _cpu_seconds(self._start.cpu, self._end.cpu),
            _cpu_seconds(self._start.cpu_children, self._end.cpu_children),
        )

    cdef inline double _duration_s(self):
        """Seconds between start and end on the monotonic clock (a stopped span)."""
        cdef int64_t dur = self._end.mono - self._start.mono
        if dur < 0:  # a span stopped in another process (fork) can see an older clock
            dur = 0
        return dur / 1e9

    cdef inline double _peak_in_unit(self):
        """The peak RSS of a stopped span in its unit; NaN when not tracked."""
        cdef int64_t peak
        if not (self._track & FT_USAGE_PEAK):
            return _NAN
        peak = self._peak
        if self._start.rss > peak:
            peak = self._start.rss
        if self._end.rss > peak:
            peak = self._end.rss
        return _bytes_in(peak, self._unit)

    def _raw_usage_ns(self):
        """Return ``(track, peak, start_cpu, end_cpu, start_children, end_children)`` as
        integers (FT_USAGE_* bits, bytes, ns; -1 when not read), for tests of the core."""
        return (
            self._track, self._peak, self._start.cpu, self._end.cpu,
            self._start.cpu_children, self._end.cpu_children,
        )

    def _raw_ns(self):
        """Return ``(state, start_t, end_t, start_mono, end_mono, start_rss, end_rss,
        start_vms, end_vms)`` as integers (ns, bytes), for tests of the core itself."""
        return (
            self._state, self._start.t, self._end.t, self._start.mono, self._end.mono,
            self._start.rss, self._end.rss, self._start.vms, self._end.vms,
        )


_interval_type = Span

# The named tuple _figures() returns (fasttrial.profiling._figures.SpanFigures), set once at
# import by set_figures_type(); its fields are _raw()'s then _raw_usage()'s, in order.
cdef tuple _FIGURE_FIELDS = (
    "state", "kind", "unit", "start", "end", "duration", "start_rss", "end_rss",
    "start_vms", "end_vms", "peak_rss", "cpu_time", "cpu_time_children",
)
cdef object _figures_type = None


def set_figures_type(object cls):
    """Make ``Span._figures()`` return ``cls`` (a named tuple of ``_FIGURE_FIELDS``).

    Raises:
        TypeError: If ``cls`` is not a tuple subclass with exactly those fields.
    """
    global _figures_type
    if not (isinstance(cls, type) and issubclass(cls, tuple)
            and tuple(getattr(cls, "_fields", ())) == _FIGURE_FIELDS):
        raise TypeError(f"{cls!r} is not a named tuple of the fields {_FIGURE_FIELDS}")
    _figures_type = cls


cdef object _make_figures(Span s):
    cdef tuple raw = s._raw() + s._raw_usage()
    if _figures_type is None:
        return raw
    return tuple.__new__(_figures_type, raw)


cdef inline object _new_instance(object cls):
    # tp_new straight away: no __init__, no argument parsing (~40 ns).
    return (<PyTypeObject*>cls).tp_new(cls, <PyObject*>_EMPTY_TUPLE, NULL)


cdef inline object _new_leaf(object cls):
    # Like _new_interval, for records that cannot be part of a reference cycle (a Span refers
    # only to Timer/Memory intervals of floats, a ValueCore to a Metric and a float).  Their
    # public classes are Python subclasses, which CPython always makes GC-tracked; untracking
    # them keeps millions of reports from being walked by every full collection.
    obj = (<PyTypeObject*>cls).tp_new(cls, <PyObject*>_EMPTY_TUPLE, NULL)
    PyObject_GC_UnTrack(<void*>obj)
    return obj


@cython.auto_pickle(False)  # Profiler pickles through __reduce__
cdef class ProfilerCore:
    """State of a ``Profiler``: named intervals, the running stack, defaults."""

    cdef public dict profiles
    cdef list _run          # names of the running intervals; None when none runs
    cdef int _kind_code
    cdef int _unit_code
    cdef public bint disabled

    def __cinit__(self, *args, **kwargs):
        self.profiles = {}
        self._run = None    # (a list per profiler would be 72 bytes per trial, kept)
        self._kind_code = WALL
        self._unit_code = BYTES
        self.disabled = False

    # The default kind and unit codes of new intervals; checked, as they index C tables.
    @property
    def _kind(self):
        return self._kind_code

    @_kind.setter
    def _kind(self, int code):
        if not 0 <= code <= PROCESS:
            raise ValueError(f"unknown timer kind code {code}; expected WALL, CPU or PROCESS")
        self._kind_code = code

    @property
    def _unit(self):
        return self._unit_code

    @_unit.setter
    def _unit(self, int code):
        if not 0 <= code <= GIGABYTES:
            raise ValueError(f"unknown memory unit code {code}; expected BYTES ... GIGABYTES")
        self._unit_code = code

    @property
    def _running(self):
        """The names of the running intervals, outermost first (a copy)."""
        return list(self._run) if self._run is not None else []

    @_running.setter
    def _running(self, value):
        self._run = list(value) or None

    cpdef Scope _scope(self, str name, object time_kind, object memory_unit, object trial):
        """Make the context manager that records ``name`` (and feeds ``trial`` if given)."""
        return _make_scope(self, name, trial, time_kind, memory_unit, self._kind_code,
                           self._unit_code)


# Names of nested intervals ("trial:fit"), one string per distinct name: every trial of a
# run makes the same ones, and a string per report would be ~60 bytes each, kept.
cdef dict _ENTRY_NAMES = {}


cdef str _entry_name(list running, str name):
    cdef str entry = ":".join(running) + ":" + name
    cdef object known = _ENTRY_NAMES.get(entry)
    if known is not None:
        return <str>known
    if len(_ENTRY_NAMES) < 4096:
        _ENTRY_NAMES[entry] = entry
    return entry


cdef inline void _pop_running(ProfilerCore p, bint only_trial):
    """Pop the innermost running name (only if it is "trial" with ``only_trial``)."""
    cdef list running = p._run
    if not running:
        return
    # (an explicit index: this module is compiled with wraparound=False)
    if only_trial and running[len(running) - 1] != "trial":
        return
    running.pop()
    if not running:
        p._run = None


@cython.no_gc
@cython.auto_pickle(False)
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
        cdef TrialCore trial
        cdef list running
        cdef str entry
        if p is None:
            # begin() of a trial that has no profiler yet: record the span on the trial
            # alone.  A profiler made while the block runs (trial.profile() inside it, or
            # reading trial.profiler) adopts it as "trial"; see TrialCore._ensure_profiler.
            trial = <TrialCore>self.trial
            if trial._profiler is None:
                span = _new_leaf(_interval_type)
                self.span = <Span>span
                trial._span = span
                trial._begin_open = True
                self.span._begin(self.kind, self.unit)
                return None
            p = self.profiler = <ProfilerCore>trial._profiler
        if p.disabled:
            return None
        running = p._run
        if running:
            entry = _entry_name(running, self.name)
        else:
            entry = self.name
            running = p._run = []
        running.append(self.name)
        self.pushed = True
        span = _new_leaf(_interval_type)
        self.span = <Span>span
        p.profiles[entry] = span
        self.span._begin(self.kind, self.unit)
        return None

    def __exit__(self, exc_type, exc, tb):
        cdef Span span = self.span
        cdef TrialCore trial
        if span is not None:
            span._finish()
        if self.pushed:
            self.pushed = False
            _pop_running(self.profiler, False)
        if self.trial is None:
            return False
        trial = <TrialCore>self.trial
        if self.profiler is None:  # the profiler-less begin() (see __enter__)
            trial._begin_open = False
            if trial._profiler is not None:
                _pop_running(<ProfilerCore>trial._profiler, True)
        if span is not None:
            trial._span = span
            trial._time = None
            trial._memory = None
        if exc is not None and isinstance(exc, Exception):
            trial.exception = exc
            trial._traceback = _capture_traceback(exc_type, exc, tb)
            return True
        return False

    @property
    def interval(self):
        """The interval this scope records (None before ``__enter__``)."""
        return self.span


cdef Scope _make_scope(ProfilerCore profiler, str name, object trial, object time_kind,
                       object memory_unit, int default_kind, int default_unit):
    """The one place a Scope is made: ``profiler`` None means a profiler-less begin()."""
    cdef Scope scope = Scope.__new__(Scope)
    scope.profiler = profiler
    scope.name = name
    scope.trial = trial
    scope.kind = default_kind if time_kind is None else kind_code(time_kind)
    scope.unit = default_unit if memory_unit is None else unit_code(memory_unit)
    return scope


def set_interval_type(object cls):
    """Make every profiler create ``cls`` (a Span subclass) for the intervals it records.

    ``fasttrial.profiling`` calls this once at import with ``Profile.Interval``.
    """
    global _interval_type
    if not (isinstance(cls, type) and issubclass(cls, Span)):
        raise TypeError(f"{cls!r} is not a subclass of fasttrial._core.Span")
    _interval_type = cls
