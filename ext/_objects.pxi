# Included by _core.pyx: the C bases of Metric.Value, Trial.Report and Trial.

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
        if type(name) is not str:
            if not isinstance(name, str):
                raise TypeError(
                    f"A trial name must be a str, got {type(name).__name__}: {name!r} "
                    f"(History.find() and df()'s index look trials up by their str name; "
                    f"use name=str(...))."
                )
            name = str(name)
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
            # float subclasses (np.float64, the usual metric type) hold a C double too.
            if isinstance(raw, float):
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
