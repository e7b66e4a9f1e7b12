# Benchmark-only floors (included by _core.pyx).  Nothing here is used by fasttrial itself:
# benchmarks/test_guard.py and `fasttrial bench` time each hot operation against the
# cheapest thing that does the same unavoidable work, so that their ratio says how much
# fasttrial adds on top of what the kernel makes any profiler pay.
#
# * IntervalFloor: `with floor: pass` makes exactly the readings of one profiled interval
#   (Span._begin / Span._finish with the current set_tracking()): memory, the usage figures
#   and the conditional peak reset, then the clocks at the start; the clocks, the usage
#   figures, then memory at the end; the peak's trust check.  It keeps them in C fields and
#   makes no Python object.
# * RowFloor: `floor.append(report)` appends the values of the report's History row
#   (the ones History.add writes: name, status, seed, exception and traceback texts, bucket,
#   metric values, summary and config values, 15 figures per profile) straight from the
#   report's C fields to one typed buffer per value: doubles into a growing C array, objects
#   into a list.  No signature, no layout, no checks: the cheapest append of the same row.

from cpython.mem cimport PyMem_Realloc


cdef inline int _floor_memory(int64_t *rss, int64_t *vms) except -1:
    if not _native_memory:
        raise OSError(
            "the interval floor needs the native memory reader; this process reads memory "
            f"through {memory_backend()!r}, so the floor cannot be measured here"
        )
    if ft_mem_read(rss, vms) != 0:
        raise OSError(
            f"the interval floor could not read memory ({ft_mem_backend().decode('ascii')}: "
            "is /proc mounted?), so it cannot be measured here"
        )
    return 0


@cython.final
@cython.auto_pickle(False)
cdef class IntervalFloor:
    """``with floor: pass``: the readings of one profiled interval and nothing else.

    Raises OSError on entry where the native memory reader is not in use or cannot read
    (no ``/proc``): there is no floor to measure then.
    """

    cdef Mark _start
    cdef Mark _end
    cdef int64_t _peak
    cdef int _what
    cdef readonly long long calls
    cdef readonly long long resets

    def __cinit__(self):
        self._peak = -1
        self._what = 0
        self.calls = 0
        self.resets = 0

    def __enter__(self):
        cdef int what = _what
        cdef int64_t maxrss = -1
        self._what = what
        _floor_memory(&self._start.rss, &self._start.vms)
        if what:
            ft_usage_read(what, &self._start.cpu, &self._start.cpu_children, &maxrss)
            if what & FT_USAGE_PEAK:
                if maxrss > self._start.rss or not ft_peak_ready():
                    ft_peak_reset()
                    self.resets += 1
        self.calls += 1
        _mark_clocks_start(&self._start, WALL)
        return None

    def __exit__(self, exc_type, exc, tb):
        cdef int what = self._what
        cdef int64_t maxrss = -1
        _mark_clocks_stop(&self._end, WALL)
        if what:
            ft_usage_read(what, &self._end.cpu, &self._end.cpu_children, &maxrss)
        _floor_memory(&self._end.rss, &self._end.vms)
        if what & FT_USAGE_PEAK:
            self._peak = ft_peak_trusted(maxrss, self._end.rss)
        return False

    def readings(self):
        """``(duration_ns, start_rss, end_rss, peak)`` of the last interval (bytes; -1
        when not read), so a benchmark can check that the floor measured something."""
        return (
            self._end.mono - self._start.mono, self._start.rss, self._end.rss, self._peak,
        )


cdef struct _DoubleBuffer:
    double *data
    Py_ssize_t n
    Py_ssize_t cap


cdef int _dbuf_push(_DoubleBuffer *b, double v) except -1:
    cdef Py_ssize_t cap
    cdef double *data
    if b.n == b.cap:
        cap = 64 if b.cap == 0 else 2 * b.cap
        data = <double *>PyMem_Realloc(b.data, cap * sizeof(double))
        if data == NULL:
            raise MemoryError()
        b.data = data
        b.cap = cap
    b.data[b.n] = v
    b.n += 1
    return 0


@cython.final
@cython.auto_pickle(False)
cdef class RowFloor:
    """``floor.append(report)``: the cheapest append of the row History.add writes."""

    cdef _DoubleBuffer *_nums
    cdef Py_ssize_t _nnum
    cdef list _objs
    cdef Py_ssize_t _rows
    cdef str _default_bucket

    def __cinit__(self, str default_bucket="unknown-trial-bucket"):
        self._nums = NULL
        self._nnum = 0
        self._objs = []
        self._rows = 0
        self._default_bucket = default_bucket

    def __dealloc__(self):
        cdef Py_ssize_t i
        if self._nums != NULL:
            for i in range(self._nnum):
                PyMem_Free(self._nums[i].data)
            PyMem_Free(self._nums)
            self._nums = NULL

    cdef inline int _num(self, Py_ssize_t k, double v) except -1:
        cdef _DoubleBuffer *grown
        cdef Py_ssize_t i, want
        if k >= self._nnum:
            want = k + 16
            grown = <_DoubleBuffer *>PyMem_Realloc(self._nums, want * sizeof(_DoubleBuffer))
            if grown == NULL:
                raise MemoryError()
            for i in range(self._nnum, want):
                grown[i].data = NULL
                grown[i].n = 0
                grown[i].cap = 0
            self._nums = grown
            self._nnum = want
        return _dbuf_push(&self._nums[k], v)

    cdef inline Py_ssize_t _obj(self, Py_ssize_t k, object v) except -1:
        cdef list objs = self._objs
        if k >= len(objs):
            objs.append([])
        (<list>objs[k]).append(v)
        return k + 1

    cdef inline int _span(self, Py_ssize_t *kn, Py_ssize_t *ko, Span s) except -1:
        cdef int unit = s._unit
        cdef Py_ssize_t n = kn[0], o = ko[0]
        cdef double svms = _bytes_in(s._start.vms, unit), evms = _bytes_in(s._end.vms, unit)
        cdef double srss = _bytes_in(s._start.rss, unit), erss = _bytes_in(s._end.rss, unit)
        self._num(n, svms)
        self._num(n + 1, evms)
        self._num(n + 2, evms - svms)
        self._num(n + 3, srss)
        self._num(n + 4, erss)
        self._num(n + 5, erss - srss)
        self._num(n + 6, s._peak_in_unit())
        self._num(n + 7, s._start.t / 1e9)
        self._num(n + 8, s._end.t / 1e9)
        self._num(n + 9, _cpu_seconds(s._start.cpu, s._end.cpu))
        self._num(n + 10, _cpu_seconds(s._start.cpu_children, s._end.cpu_children))
        self._num(n + 11, s._duration_s())
        o = self._obj(o, _UNIT_TEXT[unit])
        o = self._obj(o, _KIND_TEXT[s._kind])
        o = self._obj(o, _SECONDS_TEXT)
        kn[0] = n + 12
        ko[0] = o
        return 0

    def append(self, report):
        """Append ``report``'s row (a report whose profiles have all stopped)."""
        cdef ReportCore r = <ReportCore?>report
        cdef TrialCore t = <TrialCore?>r.trial
        cdef tuple defs = r._defs if r._defs is not None else ()
        cdef Py_ssize_t i, kn = 0, ko = 0
        ko = self._obj(ko, t.name)
        ko = self._obj(ko, r.status._value_)
        ko = self._obj(ko, t.seed)
        ko = self._obj(ko, t.exception)
        ko = self._obj(ko, t._traceback)
        bucket = t._bucket
        ko = self._obj(ko, self._default_bucket if bucket is None else bucket)
        for i in range(len(defs)):
            self._num(kn, r._vals[i])
            kn += 1
        if t._summary:
            for v in (<dict?>t._summary).values():
                ko = self._obj(ko, v)
        for v in (<dict?>t.config).values():
            ko = self._obj(ko, v)
        if t._profiler is None:
            if t._span is not None:
                self._span(&kn, &ko, <Span?>t._span)
        else:
            for span in (<ProfilerCore>t._profiler).profiles.values():
                self._span(&kn, &ko, <Span?>span)
        self._rows += 1

    def __len__(self):
        """Rows appended so far."""
        return self._rows

    def values(self, Py_ssize_t k):
        """The numbers appended at numeric position ``k`` (a list, for checks)."""
        if k < 0 or k >= self._nnum:
            raise IndexError(f"no numeric column {k}")
        return [self._nums[k].data[i] for i in range(self._nums[k].n)]

    def objects(self, Py_ssize_t k):
        """The objects appended at object position ``k`` (a copy, for checks)."""
        return list(self._objs[k])
