# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, autotestdict=False
# cython: embedsignature=True, freethreading_compatible=False
"""fasttrial's private compiled core.

Nothing here is public API.  The public classes (``Timer``, ``Memory``, ``Profile``,
``Profiler``, ``Trial``) live in plain Python modules and call into this one.

What it offers:

* clock reads in integer nanoseconds (wall, monotonic, process CPU);
* memory reads in bytes (RSS and VMS with psutil's meanings), through a kept descriptor on
  Linux, native calls on macOS and Windows, psutil elsewhere;
* process CPU time and the CPU time of reaped children (``getrusage`` on POSIX), and the
  peak RSS of an interval from a kernel high-water mark that can be reset (Linux
  ``/proc/self/clear_refs``); which of these each interval records is set process-wide by
  ``set_tracking()``;
* ``Span``: an interval recorder whose start and stop are each one C call that reads the
  clock, the memory and the usage figures together into a C struct; Python objects are made
  only when someone reads them (by the Python subclass ``fasttrial.profiling.Profile.Interval``);
* ``Scope``: the context manager behind ``Profiler.measure()`` and ``Trial.begin()``, so a
  ``with`` block costs two C calls and no generator;
* ``ProfilerCore``: the state of a ``Profiler`` (profiles, the stack of running names,
  default kind and unit), kept in C slots.
"""

cimport cython
from cpython.object cimport PyObject, PyTypeObject
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from cpython.ref cimport Py_INCREF
from cpython.mem cimport PyMem_Malloc, PyMem_Free
from libc.stdint cimport int64_t

cdef extern from "ft_platform.h" nogil:
    int64_t ft_wall_ns()
    int64_t ft_mono_ns()
    int64_t ft_process_ns()
    const char *ft_mem_backend()
    int ft_mem_init()
    int ft_mem_read(int64_t *rss, int64_t *vms)
    int FT_USAGE_CPU
    int FT_USAGE_CHILDREN
    int FT_USAGE_PEAK
    void ft_usage_read(int what, int64_t *cpu_ns, int64_t *children_ns, int64_t *maxrss)
    const char *ft_peak_backend()
    int ft_peak_init()
    int ft_peak_ready()
    int ft_peak_reset()
    int64_t ft_peak_trusted(int64_t maxrss, int64_t rss)
    void ft_peak_force_none(int on)

cdef extern from "Python.h":
    void PyObject_GC_UnTrack(void *op)

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
    cdef public int _kind
    cdef public int _unit
    cdef public bint disabled

    def __cinit__(self, *args, **kwargs):
        self.profiles = {}
        self._run = None    # (a list per profiler would be 72 bytes per trial, kept)
        self._kind = WALL
        self._unit = BYTES
        self.disabled = False

    @property
    def _running(self):
        """The names of the running intervals, outermost first (a copy)."""
        return list(self._run) if self._run is not None else []

    @_running.setter
    def _running(self, value):
        self._run = list(value) or None

    cpdef Scope _scope(self, str name, object time_kind, object memory_unit, object trial):
        """Make the context manager that records ``name`` (and feeds ``trial`` if given)."""
        return _make_scope(self, name, trial, time_kind, memory_unit, self._kind, self._unit)


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


# ---------------------------------------------------------------------------------------
# Optimization objects: C bases of the public Python classes Metric.Value, Trial.Report
# and Trial, so that Trial(...), begin() and success() make no Python frames.
# fasttrial.optimization registers the public types with set_optimization_types().

cdef object _value_type = None
cdef object _report_type = None
cdef object _profiler_type = None
cdef object _metric_type = None
cdef object _status_success = None
cdef object _normalize_metrics = None
cdef object _make_bucket = None
cdef object _slow_success = None
cdef object _profile_into_summary = None
cdef object _capture_traceback = None


def set_optimization_types(*, value, report, profiler, metric, status_success,
                           normalize_metrics, make_bucket, slow_success, profile_into_summary,
                           capture_traceback):
    """Register the public Python classes and slow paths (called once at import)."""
    global _value_type, _report_type, _profiler_type, _metric_type, _status_success
    global _normalize_metrics, _make_bucket, _slow_success, _profile_into_summary
    global _capture_traceback
    if not issubclass(value, ValueCore):
        raise TypeError("value must subclass fasttrial._core.ValueCore")
    if not issubclass(report, ReportCore):
        raise TypeError("report must subclass fasttrial._core.ReportCore")
    if not issubclass(profiler, ProfilerCore):
        raise TypeError("profiler must subclass fasttrial._core.ProfilerCore")
    _value_type = value
    _report_type = report
    _profiler_type = profiler
    _metric_type = metric
    _status_success = status_success
    _normalize_metrics = normalize_metrics
    _make_bucket = make_bucket
    _slow_success = slow_success
    _profile_into_summary = profile_into_summary
    _capture_traceback = capture_traceback


@cython.no_gc
@cython.auto_pickle(False)
cdef class ValueCore:
    """Fields of ``Metric.Value``: the metric and the raw value (read-only)."""

    cdef readonly object metric
    cdef readonly object value

    def __init__(self, metric, value):
        self.metric = metric
        self.value = value


cdef inline ValueCore _new_value(object metric, object value):
    cdef ValueCore v = <ValueCore>_new_leaf(_value_type)
    v.metric = metric
    v.value = value
    return v


# The metric definitions of the last report made, shared by every report whose trial has
# the same Metric objects (a run's trials almost always do): a report then holds only a
# pointer to them and its raw values as C doubles.
cdef tuple _last_defs = ()


cdef tuple _shared_defs(object metrics):
    """A tuple of the Metric objects in ``metrics`` (a list or tuple), the previous
    report's when it holds the very same objects."""
    global _last_defs
    cdef tuple last = _last_defs
    cdef Py_ssize_t i, n = len(metrics)
    if n == len(last):
        for i in range(n):
            if metrics[i] is not last[i]:
                break
        else:
            return last
    last = tuple(metrics)
    _last_defs = last
    return last


@cython.auto_pickle(False)
cdef class ReportCore:
    """Fields of ``Trial.Report``: the trial, the status, and the metric values kept as
    C doubles next to a shared tuple of their metrics (``Metric.Value`` objects are made
    when ``metric_values`` is read)."""

    cdef public object trial
    cdef public object status
    cdef tuple _defs
    cdef double *_vals
    cdef double _inline[2]

    def __init__(self, trial, status, metric_values=()):
        self.trial = trial
        self.status = status
        self._set_values(metric_values)

    def __dealloc__(self):
        if self._vals != NULL and self._vals != self._inline:
            PyMem_Free(self._vals)
        self._vals = NULL

    cdef double *_alloc(self, Py_ssize_t n) except? NULL:
        if self._vals != NULL and self._vals != self._inline:
            PyMem_Free(self._vals)
            self._vals = NULL
        if n <= 2:
            self._vals = self._inline
        else:
            self._vals = <double *>PyMem_Malloc(n * sizeof(double))
            if self._vals == NULL:
                raise MemoryError()
        return self._vals

    cdef int _set_values(self, object metric_values) except -1:
        cdef tuple items = tuple(metric_values)
        cdef Py_ssize_t i, n = len(items)
        cdef list metrics = []
        cdef double *vals
        cdef double *tmp = <double *>PyMem_Malloc((n if n else 1) * sizeof(double))
        if tmp == NULL:
            raise MemoryError()
        try:
            for i in range(n):
                v = items[i]
                if not isinstance(v, ValueCore):
                    raise TypeError(
                        f"metric_values must hold Metric.Value objects, got "
                        f"{type(v).__name__}: {v!r}"
                    )
                try:
                    tmp[i] = float((<ValueCore>v).value)
                except (TypeError, ValueError):
                    raise TypeError(
                        f"The value of metric {(<ValueCore>v).metric!r} must be a real number, "
                        f"got {(<ValueCore>v).value!r}"
                    ) from None
                metrics.append((<ValueCore>v).metric)
            vals = self._alloc(n)
            for i in range(n):
                vals[i] = tmp[i]
        finally:
            PyMem_Free(tmp)
        self._defs = _shared_defs(metrics)
        return 0

    @property
    def metric_values(self):
        """One ``Metric.Value`` per metric, in order (made when read)."""
        cdef tuple defs = self._defs
        cdef Py_ssize_t i, n = len(defs) if defs is not None else 0
        cdef tuple out = PyTuple_New(n)
        for i in range(n):
            v = _new_value(defs[i], self._vals[i])
            Py_INCREF(v)
            PyTuple_SET_ITEM(out, i, v)
        return out

    @metric_values.setter
    def metric_values(self, value):
        self._set_values(value)

    @property
    def _metric_defs(self):
        """The metrics of the values, in order (a tuple shared between reports)."""
        return self._defs if self._defs is not None else ()

    def _raw_values(self):
        """The raw values, in order, as a tuple of floats."""
        cdef tuple defs = self._defs
        cdef Py_ssize_t i, n = len(defs) if defs is not None else 0
        return tuple([self._vals[i] for i in range(n)])

    def _metric_dict(self):
        """Metric name -> raw value, as a new dict."""
        cdef tuple defs = self._defs
        cdef Py_ssize_t i, n = len(defs) if defs is not None else 0
        return {defs[i].name: self._vals[i] for i in range(n)}


cdef inline ReportCore _new_report(object trial, object status, object metrics, double *vals):
    """A report of ``metrics`` (a list or tuple of Metric) with ``vals`` (one each)."""
    cdef ReportCore r = <ReportCore>_new_instance(_report_type)
    cdef Py_ssize_t i, n = len(metrics)
    cdef double *dst = r._alloc(n)
    r.trial = trial
    r.status = status
    for i in range(n):
        dst[i] = vals[i]
    r._defs = _shared_defs(metrics)
    return r


def new_report(trial, status, metric_values):
    """Make a ``Trial.Report`` without argument parsing (used by the Python layer)."""
    cdef ReportCore r = <ReportCore>_new_instance(_report_type)
    r.trial = trial
    r.status = status
    r._set_values(metric_values)
    return r


@cython.auto_pickle(False)
cdef class TrialCore:
    """Fields and hot methods of ``Trial``; the rest lives in Python."""

    cdef public object name
    cdef public object config
    cdef public object _bucket
    cdef public object info
    cdef public object metrics
    cdef public object seed
    cdef public object fidelities
    cdef public object _time
    cdef public object _memory
    cdef public object _span
    cdef public object _profiler
    cdef public object _summary
    cdef public object exception
    cdef public object _traceback  # a str, or a not-yet-formatted capture (see trial.py)
    cdef public object _storage
    cdef public object _extras
    cdef bint _begin_open  # a profiler-less begin() block is running

    def __init__(self, *, name, config, bucket=None, info=None, metrics=None, seed=None,
                 fidelities=None, time=None, memory=None, profiler=None, summary=None,
                 exception=None, traceback=None, storage=None, extras=None):
        self.name = name
        self.config = config
        self._bucket = None if bucket is None else _make_bucket(bucket)
        self.info = info
        if metrics is None:
            self.metrics = []
        elif type(metrics) is list and _plain_metric_list(<list>metrics):
            self.metrics = metrics
        else:
            self.metrics = _normalize_metrics(metrics)
        self.seed = seed
        self.fidelities = fidelities
        self._time = time
        self._memory = memory
        self._span = None
        self._profiler = profiler
        self._summary = summary
        self.exception = exception
        self._traceback = traceback
        self._storage = storage
        self._extras = extras

    cdef inline ProfilerCore _get_profiler(self):
        p = self._profiler
        if p is None:
            p = _new_instance(_profiler_type)
            if self._span is not None:
                # Adopt the span of a profiler-less begin(), running or done.
                (<ProfilerCore>p).profiles["trial"] = self._span
                if self._begin_open:
                    (<ProfilerCore>p)._run = ["trial"]
            self._profiler = p
        return <ProfilerCore>p

    def _ensure_profiler(self):
        """Return the trial's profiler, making it (with the begin() span, if any) if needed."""
        return self._get_profiler()

    def begin(self, time=None, memory_unit=None):
        """Return a context manager that profiles the trial and catches its exception.

        Time and memory of the block are recorded as the profile ``"trial"`` and appear
        as ``trial.time`` and ``trial.memory``.  An ``Exception`` raised in the block is
        stored in ``trial.exception`` with its text in ``trial.traceback`` and not
        re-raised (``KeyboardInterrupt`` and other ``BaseException`` pass through).

        Args:
            time: Timer kind ('wall', 'cpu', 'process'); default the profiler's.
            memory_unit: Memory unit ('B', 'KB', 'MB', 'GB'); default the profiler's.

        Raises:
            ValueError: If the kind or unit is unknown.
        """
        if self._profiler is not None:
            return (<ProfilerCore>self._profiler)._scope("trial", time, memory_unit, self)
        # No profiler yet (the common case): don't make one (a Profiler, its dict and list
        # per trial) just to hold one span; the span goes on the trial, and a profiler is
        # made from it only if someone asks for one.  Defaults are a new Profiler's.
        return _make_scope(None, "trial", self, time, memory_unit, WALL, BYTES)

    def profile(self, name, *, time=None, memory_unit=None, summary=False):
        """Return a context manager that profiles a named interval of the trial.

        Args:
            name: The interval's name (nested intervals join names with ``:``).
            time: Timer kind; default the profiler's.
            memory_unit: Memory unit; default the profiler's.
            summary: Also copy the interval's figures into ``trial.summary`` under
                ``{name}:memory:...`` and ``{name}:time:...``.

        Raises:
            ValueError: If the kind or unit is unknown.
            TypeError: If ``name`` is not a str.
        """
        if type(name) is not str:
            raise TypeError(f"A profile name must be a str, got {type(name).__name__}: {name!r}")
        p = self._get_profiler()
        if summary:
            return _profile_into_summary(self, p, name, time, memory_unit)
        return p._scope(<str>name, time, memory_unit, None)

    def success(self, **metrics):
        """Report success with a value for every metric of the trial.

        Raises:
            ValueError: If a metric is missing, an unknown one is given, or a value is
                not a finite real number (report those with ``fail()``).
        """
        cdef object defs = self.metrics
        cdef Py_ssize_t i, n
        cdef double d
        cdef double small[8]
        if type(defs) is not list or len(metrics) != len(<list>defs) or len(<list>defs) > 8:
            return _slow_success(self, metrics)
        n = len(<list>defs)
        for i in range(n):
            m = (<list>defs)[i]
            if type(m) is not _metric_type:
                return _slow_success(self, metrics)
            raw = metrics.get(m.name)
            if type(raw) is float:
                d = raw
            elif type(raw) is int:
                try:
                    d = raw
                except OverflowError:
                    return _slow_success(self, metrics)
            else:
                return _slow_success(self, metrics)
            if d - d != 0.0:  # NaN or infinite
                return _slow_success(self, metrics)
            small[i] = d
        return _new_report(self, _status_success, <list>defs, small)


cdef bint _plain_metric_list(list metrics):
    """True when every item is a Metric and the names are unique (small lists only)."""
    cdef Py_ssize_t i, j, n = len(metrics)
    if n > 16:
        return False
    for i in range(n):
        if type(metrics[i]) is not _metric_type:
            return False
    for i in range(n):
        for j in range(i + 1, n):
            if metrics[i].name == metrics[j].name:
                return False
    return True


include "_columns.pxi"
include "_floor.pxi"
