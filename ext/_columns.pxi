# Included by _core.pyx (one compiled module): the column store behind the columnar
# ``History``, and History.add's fast path that writes a report's row into it.
#
# Nothing here imports numpy at module level (``import fasttrial`` stays light); buffers
# are Python ``array.array`` objects, which grow in place with amortized O(1) appends and
# hand their memory to numpy without a copy (``numpy.frombuffer``).

from cpython.array cimport array, clone, resize
from cpython.object cimport Py_SIZE
from libc.math cimport isnan, fabs, INFINITY
from libc.stdint cimport int32_t, uint8_t
from libc.string cimport memcpy

import array as _pyarray

# Column kinds.
COL_NUM = 0    # float64; ints (|v| <= 2**53) and floats; NaN where a row has no value
COL_BOOL = 1   # uint8: 0, 1, or 2 where a row has no value
COL_STR = 2    # int32 codes into a list of distinct strings; -1 where a row has no value
COL_OBJ = 3    # a list of the values themselves; MISSING where a row has no value

# Seen-type flags of a COL_NUM column.
NUM_INT = 1
NUM_FLOAT = 2

# A STR column with more distinct strings than this, and more than half its rows
# distinct, turns into an OBJ column (a code table would cost more than it saves).
cdef Py_ssize_t _STR_DISTINCT_LIMIT = 256
cdef double _EXACT_INT = 9007199254740992.0  # 2**53


class _MissingType:
    """A cell of a row that does not have the column's key."""

    __slots__ = ()

    def __repr__(self):
        return "MISSING"

    def __reduce__(self):
        return "MISSING"


MISSING = _MissingType()
cdef object _MISSING = MISSING
cdef array _F64 = array("d")
cdef array _U8 = array("B")
cdef array _I32 = array("i")
cdef array _I8 = array("b")

# numpy's scalar types, filled on first sight of one (numpy is not imported here).
cdef object _np_bool = None


cdef bint _load_numpy_types() except -1:
    global _np_bool
    import numpy
    _np_bool = numpy.bool_
    return 1


cdef inline array _new_buffer(array template, Py_ssize_t n):
    return clone(template, n, False)


cdef inline int _grow(array a, Py_ssize_t n) except -1:
    """Make room for ``n`` items.  A buffer's length is its capacity (the column keeps its
    own row count); it grows by an eighth, so a million-row column wastes little."""
    if Py_SIZE(a) < n:
        resize(a, n + (n >> 3) + 8)
    return 0


@cython.final
cdef class Column:
    """One column of a ``History`` table: the values of one ``df()`` key, row by row.

    Rows that do not have the key hold a filler (NaN, 2, -1 or MISSING); which rows
    have the key is known from the table's row layouts, not from the column.
    """

    cdef readonly int kind
    cdef readonly Py_ssize_t n
    cdef readonly int seen          # COL_NUM: NUM_INT | NUM_FLOAT
    cdef array _num                 # COL_NUM values
    cdef array _tag                 # COL_NUM: 1 = the value was an int (only when mixed)
    cdef array _u8                  # COL_BOOL values
    cdef array _codes               # COL_STR codes: int8 while < 128 strings, then int32
    cdef bint _wide                 # COL_STR: codes are int32
    cdef list _cats                 # COL_STR distinct strings
    cdef dict _cat_index            # COL_STR string -> code
    cdef bint _cats_shared          # COL_STR: code table shared with another column
    cdef list _objs                 # COL_OBJ values

    def __cinit__(self, int kind=COL_NUM):
        self.kind = kind
        self.n = 0
        self.seen = 0
        if kind == COL_NUM:
            self._num = array("d")
        elif kind == COL_BOOL:
            self._u8 = array("B")
        elif kind == COL_STR:
            self._codes = array("b")
            self._cats = []
            self._cat_index = {}
        else:
            self._objs = []

    # -- appending ------------------------------------------------------------------

    cpdef pad_to(self, Py_ssize_t n):
        """Fill rows ``self.n .. n-1`` (rows without this key)."""
        cdef Py_ssize_t i, old = self.n
        if n <= old:
            return
        if self.kind == COL_NUM:
            _grow(self._num, n)
            for i in range(old, n):
                self._num.data.as_doubles[i] = _NAN
            if self._tag is not None:
                _grow(self._tag, n)
                for i in range(old, n):
                    self._tag.data.as_uchars[i] = 0
        elif self.kind == COL_BOOL:
            _grow(self._u8, n)
            for i in range(old, n):
                self._u8.data.as_uchars[i] = 2
        elif self.kind == COL_STR:
            _grow(self._codes, n)
            for i in range(old, n):
                self._set_code(i, -1)
        else:
            self._objs.extend([_MISSING] * (n - old))
        self.n = n

    cpdef push(self, object v):
        """Append ``v`` as the next row; a value this kind cannot hold turns the column
        into an OBJ column first (which keeps every earlier value)."""
        cdef Py_ssize_t n = self.n
        cdef object t = type(v)
        cdef double d
        cdef int flag
        cdef object code
        if self.kind == COL_NUM:
            if t is float:
                d = v
                flag = NUM_FLOAT
            elif t is int:
                if not (-_EXACT_INT <= v <= _EXACT_INT):
                    self._to_obj()
                    self._objs.append(v)
                    self.n = n + 1
                    return
                d = <double>v
                flag = NUM_INT
            else:
                flag = _num_flag(v)
                if flag == 0:
                    self._to_obj()
                    self._objs.append(v)
                    self.n = n + 1
                    return
                d = float(v)
                if flag == NUM_INT and not (-_EXACT_INT <= d <= _EXACT_INT):
                    self._to_obj()
                    self._objs.append(v)
                    self.n = n + 1
                    return
            if self.seen and not (self.seen & flag) and self._tag is None:
                self._start_tags()
            self.seen |= flag
            _grow(self._num, n + 1)
            self._num.data.as_doubles[n] = d
            if self._tag is not None:
                _grow(self._tag, n + 1)
                self._tag.data.as_uchars[n] = flag == NUM_INT
            self.n = n + 1
        elif self.kind == COL_STR:
            if t is not str:
                if isinstance(v, str):
                    v = str(v)
                else:
                    self._to_obj()
                    self._objs.append(v)
                    self.n = n + 1
                    return
            code = self._cat_index.get(v)
            if code is None:
                if self._cats_shared:
                    self._cats = list(self._cats)
                    self._cat_index = dict(self._cat_index)
                    self._cats_shared = False
                if (len(self._cats) >= _STR_DISTINCT_LIMIT and 2 * len(self._cats) > n):
                    self._to_obj()
                    self._objs.append(v)
                    self.n = n + 1
                    return
                code = len(self._cats)
                if code == 128 and not self._wide:
                    self._widen()
                self._cats.append(v)
                self._cat_index[v] = code
            _grow(self._codes, n + 1)
            self._set_code(n, <int>code)
            self.n = n + 1
        elif self.kind == COL_BOOL:
            if t is bool or _is_np_bool(v):
                _grow(self._u8, n + 1)
                self._u8.data.as_uchars[n] = 1 if v else 0
                self.n = n + 1
            else:
                self._to_obj()
                self._objs.append(v)
                self.n = n + 1
        else:
            self._objs.append(v)
            self.n = n + 1

    cdef inline void _set_code(self, Py_ssize_t i, int code):
        if self._wide:
            self._codes.data.as_ints[i] = code
        else:
            self._codes.data.as_schars[i] = <signed char>code

    cdef inline int _code(self, Py_ssize_t i):
        if self._wide:
            return self._codes.data.as_ints[i]
        return self._codes.data.as_schars[i]

    cdef _widen(self):
        """More than 127 distinct strings: int8 codes become int32."""
        cdef Py_ssize_t i, cap = Py_SIZE(self._codes)
        cdef array wide = _new_buffer(_I32, cap)
        for i in range(self.n):
            wide.data.as_ints[i] = self._codes.data.as_schars[i]
        self._codes = wide
        self._wide = True

    cdef void _start_tags(self):
        """Both ints and floats are in the column now: remember which each row was."""
        cdef Py_ssize_t i
        cdef uint8_t was_int = (self.seen & NUM_INT) != 0
        self._tag = _new_buffer(_U8, Py_SIZE(self._num))
        for i in range(self.n):
            self._tag.data.as_uchars[i] = was_int

    cdef _to_obj(self):
        """Turn this column into an OBJ column holding the same values."""
        cdef list objs = [self._value(i) for i in range(self.n)]
        self.kind = COL_OBJ
        self._objs = objs
        self._num = self._tag = self._u8 = self._codes = None
        self._cats = None
        self._cat_index = None

    cdef object _value(self, Py_ssize_t i):
        cdef double d
        cdef int code
        if self.kind == COL_NUM:
            d = self._num.data.as_doubles[i]
            if isnan(d):
                return _MISSING
            if self._tag is not None:
                if self._tag.data.as_uchars[i]:
                    return int(d)
                return d
            if self.seen & NUM_INT:
                return int(d)
            return d
        if self.kind == COL_BOOL:
            code = self._u8.data.as_uchars[i]
            return _MISSING if code == 2 else code == 1
        if self.kind == COL_STR:
            code = self._code(i)
            return _MISSING if code < 0 else self._cats[code]
        return self._objs[i]

    def value(self, Py_ssize_t i):
        """The Python value of row ``i`` (MISSING for a filler; a NaN value reads back as
        MISSING, as a frame cannot tell the two apart)."""
        if i < 0 or i >= self.n:
            raise IndexError(f"row {i} out of range for a column of {self.n} rows")
        return self._value(i)

    # -- reading --------------------------------------------------------------------

    cpdef list values(self):
        """All rows' Python values (MISSING for fillers and NaN), as a new list."""
        cdef Py_ssize_t i
        if self.kind == COL_OBJ:
            return list(self._objs)
        return [self._value(i) for i in range(self.n)]

    def buffer(self):
        """The raw buffer: float64 (NUM), uint8 (BOOL), int32 codes (STR) or a list (OBJ),
        shared, not copied; read with ``numpy.frombuffer`` and do not keep it across
        appends."""
        if self.kind == COL_NUM:
            return self._num
        if self.kind == COL_BOOL:
            return self._u8
        if self.kind == COL_STR:
            return self._codes
        return self._objs

    def tags(self):
        """COL_NUM only: a uint8 buffer (1 = int) when ints and floats are mixed, else None."""
        return self._tag

    def categories(self):
        """COL_STR only: the distinct strings, in code order."""
        return self._cats

    def take(self, indices):
        """A new column of the rows ``indices`` (a sequence of ints in range)."""
        cdef Column out = Column.__new__(Column, self.kind)
        cdef Py_ssize_t m = len(indices), k, i
        cdef Py_ssize_t[:] idx
        out.seen = self.seen
        if self.kind == COL_OBJ:
            objs = self._objs
            out._objs = [objs[i] for i in indices]
            out.n = m
            return out
        idx = _as_index_array(indices)
        for k in range(m):
            if idx[k] < 0 or idx[k] >= self.n:
                raise IndexError(f"row {idx[k]} out of range for a column of {self.n} rows")
        if self.kind == COL_NUM:
            resize(out._num, m)
            for k in range(m):
                out._num.data.as_doubles[k] = self._num.data.as_doubles[idx[k]]
            if self._tag is not None:
                out._tag = _new_buffer(_U8, m)
                for k in range(m):
                    out._tag.data.as_uchars[k] = self._tag.data.as_uchars[idx[k]]
        elif self.kind == COL_BOOL:
            resize(out._u8, m)
            for k in range(m):
                out._u8.data.as_uchars[k] = self._u8.data.as_uchars[idx[k]]
        else:
            out._wide = self._wide
            out._codes = _new_buffer(_I32 if self._wide else _I8, m)
            for k in range(m):
                out._set_code(k, self._code(idx[k]))
            # Shared code table: the first new string appended to either copies it.
            out._cats = self._cats
            out._cat_index = self._cat_index
            out._cats_shared = self._cats_shared = True
        out.n = m
        return out

    @staticmethod
    def from_parts(int kind, Py_ssize_t n, data, int seen=0, tags=None, cats=None):
        """A column made from ready data (used when a frame is loaded): ``data`` is a
        float64 / uint8 / int32 buffer-like of ``n`` items for NUM / BOOL / STR, or a
        list for OBJ."""
        cdef Column out = Column.__new__(Column, kind)
        if not COL_NUM <= kind <= COL_OBJ:
            raise ValueError(f"unknown column kind {kind}")
        if kind == COL_OBJ:
            out._objs = list(data)
            if len(out._objs) != n:
                raise ValueError("column length mismatch")
        else:
            buf = {COL_NUM: "d", COL_BOOL: "B", COL_STR: "i"}[kind]
            arr = array(buf, bytes(memoryview(data).cast("B")))
            if len(arr) != n:
                raise ValueError("column length mismatch")
            if kind == COL_NUM:
                out._num = arr
                if tags is not None:
                    out._tag = array("B", bytes(memoryview(tags).cast("B")))
            elif kind == COL_BOOL:
                out._u8 = arr
            else:
                out._codes = arr
                out._wide = True
                out._cats = list(cats)
                out._cat_index = {c: i for i, c in enumerate(out._cats)}
        out.seen = seen
        out.n = n
        out._check()
        return out

    cdef int _check(self) except -1:
        """Refuse a column whose buffers could be read out of bounds: each buffer holds at
        least ``n`` items, bool bytes are 0/1/2 and string codes index the strings."""
        cdef Py_ssize_t i, ncats
        cdef int code
        cdef uint8_t b
        if self.n < 0:
            raise ValueError(f"a column cannot have {self.n} rows")
        if self.kind == COL_NUM:
            if self._num is None or len(self._num) < self.n:
                raise ValueError("column buffer shorter than its rows")
            if self._tag is not None and len(self._tag) < self.n:
                raise ValueError("column tags shorter than its rows")
        elif self.kind == COL_BOOL:
            if self._u8 is None or len(self._u8) < self.n:
                raise ValueError("column buffer shorter than its rows")
            for i in range(self.n):
                b = self._u8.data.as_uchars[i]
                if b > 2:
                    raise ValueError(f"bool column row {i} holds {b}; expected 0, 1 or 2")
        elif self.kind == COL_STR:
            if self._codes is None or self._cats is None or len(self._codes) < self.n:
                raise ValueError("column codes shorter than its rows")
            if self._codes.typecode not in ("b", "i"):
                raise ValueError("string codes must be int8 or int32")
            ncats = len(self._cats)
            for i in range(self.n):
                code = self._code(i)
                if code < -1 or code >= ncats:
                    raise ValueError(
                        f"string column row {i} holds code {code}; {ncats} strings known")
        elif self.kind == COL_OBJ:
            if self._objs is None or len(self._objs) != self.n:
                raise ValueError("column values do not match its rows")
        else:
            raise ValueError(f"unknown column kind {self.kind}")
        return 0

    def nbytes(self):
        """Bytes held by the buffers (not counting shared strings or objects)."""
        cdef Py_ssize_t total = 0
        if self._num is not None:
            total += len(self._num) * 8
        if self._tag is not None:
            total += len(self._tag)
        if self._u8 is not None:
            total += len(self._u8)
        if self._codes is not None:
            total += len(self._codes) * (4 if self._wide else 1)
        if self._objs is not None:
            total += len(self._objs) * 8
        return total

    def __reduce__(self):
        n = self.n
        trim = lambda a: None if a is None else a[:n]
        return (_rebuild_column, (self.kind, n, self.seen, trim(self._num), trim(self._tag),
                                  trim(self._u8), trim(self._codes), self._cats, self._objs))


def _rebuild_column(kind, n, seen, num, tag, u8, codes, cats, objs):
    cdef Column c = Column.__new__(Column, kind)
    c.n = n
    c.seen = seen
    c._num = num
    c._tag = tag
    c._u8 = u8
    c._codes = codes
    c._wide = codes is not None and codes.typecode == "i"
    c._cats = cats
    c._cat_index = {s: i for i, s in enumerate(cats)} if cats is not None else None
    c._objs = objs
    c._check()
    return c



cdef int _num_flag(object v) except -1:
    """NUM_INT / NUM_FLOAT for a value a float64 column holds with the dtype pandas would
    infer for it, 0 for anything else: floats (numpy.float64 is one) and ints.  Other
    numpy scalars go to an OBJ column and through pandas' own inference (pandas keeps
    int32, float32... as their own dtypes, and an int64 next to a uint64 is not an int)."""
    if isinstance(v, (bool, str, bytes)) or v is None:
        return 0
    if isinstance(v, float):
        return NUM_FLOAT
    if isinstance(v, int):
        return NUM_INT
    return 0


cdef bint _is_np_bool(object v) except -1:
    if type(v).__module__ != "numpy":
        return False
    if _np_bool is None:
        _load_numpy_types()
    return type(v) is _np_bool


cdef bint _is_numpy_real(object v) except -1:
    """A numpy integer or floating scalar, or a 0-d array of one."""
    if type(v).__module__ != "numpy":
        return False
    kind = getattr(getattr(v, "dtype", None), "kind", "")
    return kind in ("i", "u", "f") and getattr(v, "ndim", 1) == 0


cdef str _SSIZE_CODE = "l" if sizeof(long) == sizeof(Py_ssize_t) else "q"


cdef Py_ssize_t[:] _as_index_array(indices) except *:
    """``indices`` as a Py_ssize_t view: shared when it already is a buffer of signed
    machine-size integers (numpy intp), else copied."""
    cdef Py_ssize_t m, k
    cdef array out
    cdef Py_ssize_t[:] mv
    try:
        view = memoryview(indices)
    except TypeError:
        view = None
    if (view is not None and view.ndim == 1 and view.itemsize == sizeof(Py_ssize_t)
            and view.format.lstrip("<=@") in ("n", "l", "q") and view.c_contiguous):
        return view.cast("B").cast(_SSIZE_CODE)
    m = len(indices)
    out = clone(array(_SSIZE_CODE), m, False)
    mv = out
    k = 0
    for i in indices:
        mv[k] = i
        k += 1
    return mv


def new_column(object v):
    """A new column whose kind suits the first value ``v``."""
    t = type(v)
    if t is float or t is int or _num_flag(v):
        return Column(COL_NUM)
    if t is bool or _is_np_bool(v):
        return Column(COL_BOOL)
    if isinstance(v, str):
        return Column(COL_STR)
    return Column(COL_OBJ)


# -- History.add fast path ---------------------------------------------------------------
#
# Report._row() builds a dict of ~40 items per report (Python objects for every number);
# for the common report (its profiles all stopped and never given explicit Timer/Memory
# objects) the values go straight from the C fields into the columns instead.  The keys
# are those of Report._row(), in its order: a report's *signature* (its metrics, summary
# and config keys and profile names) picks the column ids, learnt from the first report
# of that signature, which goes through _row().  Tests compare both paths (History.df()
# against build_frame of _row()s).

# The row layout this writer writes, positionally; fasttrial.optimization._schema is the
# one description of it and is handed to set_schema() at import, which refuses a
# mismatch (a row writer that disagreed with its reader would mislabel every cell).
cdef tuple _BASE_KEYS = ("name", "status", "trial_seed", "exception", "traceback", "bucket")
cdef tuple _PROFILE_FIELDS = (
    "memory:start_vms", "memory:end_vms", "memory:diff_vms", "memory:start_rss",
    "memory:end_rss", "memory:diff_rss", "memory:peak_rss", "memory:unit",
    "time:start", "time:end", "time:cpu_time", "time:cpu_time_children", "time:duration",
    "time:kind", "time:unit",
)
cdef Py_ssize_t _NBASE = 6
cdef Py_ssize_t _NSPAN = 15
cdef tuple _KIND_TEXT = ("wall", "cpu", "process")            # str(Timer.Kind)
cdef tuple _UNIT_TEXT = ("bytes", "kilobytes", "megabytes", "gigabytes")  # str(Memory.Unit)
cdef str _SECONDS_TEXT = "seconds"                               # str(Timer.Unit.SECONDS)
cdef str _NO_TEXT = "NA"
cdef str _DEFAULT_BUCKET = None    # set by set_schema(); None: the fast path is refused
cdef object _sig_defs = None       # the metric tuple whose column names are _sig_columns
cdef tuple _sig_columns = ()


def set_schema(dict schema):
    """Check the row schema of ``fasttrial.optimization._schema`` against the layout the
    compiled row writer writes, and take its default texts (called once at import).

    Raises:
        ImportError: If they differ (a core built from other sources than the package).
    """
    global _DEFAULT_BUCKET, _NO_TEXT
    mine = {
        "base_keys": _BASE_KEYS,
        "profile_fields": _PROFILE_FIELDS,
        "time_kinds": _KIND_TEXT,
        "memory_units": _UNIT_TEXT,
        "time_unit": _SECONDS_TEXT,
    }
    for key, expected in mine.items():
        given = schema.get(key)
        if given != expected:
            raise ImportError(
                f"fasttrial._core writes rows as {key}={expected!r} but "
                f"fasttrial.optimization._schema says {given!r}: the compiled core and the "
                "Python package come from different sources; rebuild the core "
                "(pip install --no-build-isolation -Cbuild-dir=build -e .)."
            )
    no_text = schema.get("no_text")
    bucket = schema.get("default_bucket")
    if type(no_text) is not str or type(bucket) is not str:
        raise ImportError("the row schema needs str 'no_text' and 'default_bucket'")
    _NO_TEXT = no_text
    _DEFAULT_BUCKET = bucket


cdef inline bint _fast_span(object span):
    cdef Span s
    if type(span) is not _interval_type:
        return False
    s = <Span>span
    return s._state == SPAN_DONE and s._time is None and s._memory is None


def report_signature(report):
    """What decides the keys of ``report._row()``, as a hashable tuple; None when the report
    has a profile the fast path does not write (running, or given explicit objects)."""
    global _sig_defs, _sig_columns
    cdef ReportCore r = <ReportCore?>report
    cdef TrialCore t = <TrialCore?>r.trial
    cdef tuple defs = r._defs if r._defs is not None else ()
    if defs is not _sig_defs:
        columns = tuple([m._column for m in defs])
        _sig_columns = columns
        _sig_defs = defs
    else:
        columns = _sig_columns
    summary = t._summary
    config = t.config
    if type(config) is not dict or (summary and type(summary) is not dict):
        return None
    # Only str keys: keys that are equal but print differently (1, True, 1.0) would share
    # a signature but not their column names, and keys that print alike (1 and "1") would
    # share a column name; such rows go through _row(), which names each key as it prints.
    for k in <dict>config:
        if type(k) is not str:
            return None
    if summary:
        for k in <dict>summary:
            if type(k) is not str:
                return None
    if t._profiler is None:
        if t._span is None:
            names = ()
        elif _fast_span(t._span):
            names = ("trial",)
        else:
            return None
    else:
        profiles = (<ProfilerCore>t._profiler).profiles
        for span in profiles.values():
            if not _fast_span(span):
                return None
        names = tuple(sorted(profiles))
    return (
        columns,
        tuple(summary) if summary else (),
        tuple(config),
        names,
    )


def report_width(report):
    """The number of items ``table_append_report`` writes for ``report`` (one a key)."""
    return _report_width(<ReportCore?>report)


cdef Py_ssize_t _report_width(ReportCore r) except -1:
    cdef TrialCore t = <TrialCore?>r.trial
    cdef Py_ssize_t nspans = 0
    if t._profiler is None:
        nspans = 0 if t._span is None else 1
    else:
        nspans = len((<ProfilerCore>t._profiler).profiles)
    return (_NBASE + (len(r._defs) if r._defs is not None else 0)
            + (len(<dict?>t._summary) if t._summary else 0)
            + len(<dict?>t.config) + _NSPAN * nspans)


cdef inline Column _col(list columns, tuple ids, Py_ssize_t k, Py_ssize_t n, int kind):
    cdef Py_ssize_t cid = ids[k]
    c = columns[cid]
    if c is None:
        c = Column(kind)
        columns[cid] = c
    if (<Column>c).n != n:
        (<Column>c).pad_to(n)
    return <Column>c


cdef inline void _put_obj(list columns, tuple ids, Py_ssize_t k, Py_ssize_t n, object v) except *:
    cdef Py_ssize_t cid = ids[k]
    c = columns[cid]
    if c is None:
        c = new_column(v)
        columns[cid] = c
    if (<Column>c).n != n:
        (<Column>c).pad_to(n)
    (<Column>c).push(v)


def table_append(list columns, tuple ids, dict row, Py_ssize_t n):
    """Append ``row`` (its values in its own key order) as row ``n``: value k goes to
    ``columns[ids[k]]``, made on its first value, after filling the rows it missed."""
    cdef Py_ssize_t k = 0
    if len(row) != len(ids):
        raise ValueError("row and layout differ in length")
    for value in row.values():
        _put_obj(columns, ids, k, n, value)
        k += 1


cdef inline void _put_double(list columns, tuple ids, Py_ssize_t k, Py_ssize_t n, double d) except *:
    cdef Column col = _col(columns, ids, k, n, COL_NUM)
    cdef Py_ssize_t m
    if col.kind != COL_NUM or (col.seen and not (col.seen & NUM_FLOAT) and col._tag is None):
        col.push(d)  # the general path widens or starts tags
        return
    m = col.n
    col.seen |= NUM_FLOAT
    _grow(col._num, m + 1)
    col._num.data.as_doubles[m] = d
    if col._tag is not None:
        _grow(col._tag, m + 1)
        col._tag.data.as_uchars[m] = 0
    col.n = m + 1


cdef Py_ssize_t _put_span(list columns, tuple ids, Py_ssize_t k, Py_ssize_t n, Span s) except -1:
    """The items of ``Profile.Interval.to_dict()`` of a stopped span, in its order."""
    cdef int unit = s._unit
    cdef double svms = _bytes_in(s._start.vms, unit), evms = _bytes_in(s._end.vms, unit)
    cdef double srss = _bytes_in(s._start.rss, unit), erss = _bytes_in(s._end.rss, unit)
    _put_double(columns, ids, k, n, svms)
    _put_double(columns, ids, k + 1, n, evms)
    _put_double(columns, ids, k + 2, n, evms - svms)
    _put_double(columns, ids, k + 3, n, srss)
    _put_double(columns, ids, k + 4, n, erss)
    _put_double(columns, ids, k + 5, n, erss - srss)
    _put_double(columns, ids, k + 6, n, s._peak_in_unit())
    _put_obj(columns, ids, k + 7, n, _UNIT_TEXT[unit])
    _put_double(columns, ids, k + 8, n, s._start.t / 1e9)
    _put_double(columns, ids, k + 9, n, s._end.t / 1e9)
    _put_double(columns, ids, k + 10, n, _cpu_seconds(s._start.cpu, s._end.cpu))
    _put_double(columns, ids, k + 11, n, _cpu_seconds(s._start.cpu_children, s._end.cpu_children))
    _put_double(columns, ids, k + 12, n, s._duration_s())
    _put_obj(columns, ids, k + 13, n, _KIND_TEXT[s._kind])
    _put_obj(columns, ids, k + 14, n, _SECONDS_TEXT)
    return k + 15


# The last ids tuple checked and its largest id: a run's reports share a few plans (the
# same tuple objects), so the ids are checked once per plan, their bound at every row.
cdef tuple _ok_ids = None
cdef Py_ssize_t _ok_max = -1


cdef int _check_ids(tuple ids, Py_ssize_t ncols) except -1:
    global _ok_ids, _ok_max
    cdef Py_ssize_t i, top = -1, cid
    if ids is not _ok_ids:
        for i in range(len(ids)):
            v = ids[i]
            if type(v) is not int:
                raise ValueError(f"column id {v!r} is not an int")
            cid = v
            if cid < 0:
                raise ValueError(f"column id {cid} out of range for {ncols} columns")
            if cid > top:
                top = cid
        _ok_ids = ids
        _ok_max = top
    if _ok_max >= ncols:
        raise ValueError(f"column id {_ok_max} out of range for {ncols} columns")
    return 0


def table_append_report(list columns, tuple ids, report, Py_ssize_t n):
    """Append ``report`` as row ``n``: the values of ``report._row()`` in its order, into
    ``columns[ids[k]]``; only for a report ``report_signature`` accepted, with the ids
    learnt from a report of the same signature.

    Everything is checked before the first write (the width against ``ids``, each id
    against ``columns``, each profile's type), so an error leaves the columns as they were.
    """
    cdef ReportCore r = <ReportCore?>report
    cdef TrialCore t = <TrialCore?>r.trial
    cdef tuple defs = r._defs if r._defs is not None else ()
    cdef Py_ssize_t i, k = 0, ncols = len(columns)
    if _DEFAULT_BUCKET is None:
        raise RuntimeError("set_schema() has not been called: import fasttrial first")
    if _report_width(r) != len(ids):
        raise ValueError(
            f"report {t.name!r} has {_report_width(r)} row items but its layout has "
            f"{len(ids)} (a report_signature() mismatch)"
        )
    _check_ids(ids, ncols)
    if t._profiler is None:
        if t._span is not None and not _fast_span(t._span):
            raise ValueError("the report's begin() span is not a stopped, plain interval")
    else:
        for span in (<ProfilerCore>t._profiler).profiles.values():
            if not _fast_span(span):
                raise ValueError("a profile of the report is not a stopped, plain interval")
    if t._summary and type(t._summary) is not dict or type(t.config) is not dict:
        raise TypeError("the report's config and summary must be dicts")
    _put_obj(columns, ids, 0, n, t.name)
    _put_obj(columns, ids, 1, n, r.status._value_)
    seed = t.seed
    _put_obj(columns, ids, 2, n, seed if seed is not None else _NAN)  # 0 is a seed
    exc = t.exception
    _put_obj(columns, ids, 3, n, _NO_TEXT if exc is None else str(exc))
    tb = report.traceback
    _put_obj(columns, ids, 4, n, str(tb) if tb else _NO_TEXT)
    bucket = t._bucket
    _put_obj(columns, ids, 5, n,
             _DEFAULT_BUCKET if bucket is None else str(getattr(bucket, "path", bucket)))
    k = 6
    for i in range(len(defs)):
        _put_double(columns, ids, k, n, r._vals[i])
        k += 1
    if t._summary:
        for v in (<dict?>t._summary).values():
            _put_obj(columns, ids, k, n, v)
            k += 1
    for v in (<dict?>t.config).values():
        _put_obj(columns, ids, k, n, v)
        k += 1
    if t._profiler is None:
        if t._span is not None:
            k = _put_span(columns, ids, k, n, <Span?>t._span)
    else:
        profiles = (<ProfilerCore>t._profiler).profiles
        for name in sorted(profiles):
            k = _put_span(columns, ids, k, n, <Span?>profiles[name])
    if k != len(ids):
        raise ValueError("report and layout differ in length")


@cython.final
@cython.auto_pickle(False)
cdef class _NoLock:
    """A context manager that does nothing, compiled: the reference ``History.add`` is timed
    against (benchmarks/test_add_lock.py) to measure what its lock costs."""

    def __enter__(self):
        return None

    def __exit__(self, exc_type, exc, tb):
        return False
