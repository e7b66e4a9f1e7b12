# Included by _core.pyx: kernels over whole metric columns (float64 buffers in, buffers or
# positions out).  The module is compiled with bounds checks on; a kernel switches them
# off only where every index is proven in range (each says why).

# -- metric kernels ----------------------------------------------------------------------

FORM_VALUE = 0
FORM_LOSS = 1
FORM_SCORE = 2
FORM_DISTANCE = 3
FORM_NORMALIZED = 4
FORMS = {
    "value": FORM_VALUE,
    "loss": FORM_LOSS,
    "score": FORM_SCORE,
    "distance_to_optimal": FORM_DISTANCE,
    "normalized_loss": FORM_NORMALIZED,
}


_REAL_FORMATS = frozenset("dfqlihbQLIHBn")


def to_float64(values, str what="value"):
    """Validate a column of metric values into a float64 ``array.array``.

    Accepts Python floats and ints, numpy reals, and 1-d arrays or buffers of numbers.
    ``None`` and NaN stand for "no value" and give NaN. Booleans, strings and other
    objects are refused with an error naming the position and the value.
    """
    cdef Py_ssize_t n, i
    cdef array out
    cdef double d
    try:
        mv = memoryview(values)
    except TypeError:
        mv = None
    if mv is not None and mv.ndim == 1 and mv.format.lstrip("<=@") in _REAL_FORMATS:
        return array("d", mv.tolist())
    if mv is not None and mv.ndim != 1:
        raise ValueError(f"{what}: expected a 1-d column of numbers, got {mv.ndim} dimensions.")
    n = len(values)
    out = _new_buffer(_F64, n)
    i = 0
    for v in values:
        t = type(v)
        if t is float:
            d = v
        elif t is int:
            try:
                d = <double>v
            except OverflowError:
                raise ValueError(f"{what}[{i}] = {v!r} is too large for a float.") from None
        elif v is None or v is _MISSING:
            d = _NAN
        elif _num_flag(v):
            d = float(v)
        elif _is_numpy_real(v):
            d = float(v)
        else:
            raise ValueError(
                f"{what}[{i}] must be a real number (or None/NaN for no value), got "
                f"{t.__name__}: {v!r}."
            )
        out.data.as_doubles[i] = d
        i += 1
    return out


@cython.boundscheck(False)  # i < n == src.shape[0] == dst.shape[0]
def metric_transform(values, bint minimize, bounds=None, form="value", str what="metric"):
    """Whole-column ``Metric.Value`` properties.

    ``values`` is float64 (a buffer); NaN means "no value" and stays NaN in every form.
    ``form`` is one of ``FORMS``: the raw value, ``loss`` (to minimize), ``score`` (to
    maximize), ``distance_to_optimal`` and ``normalized_loss`` (distance to optimal over
    the width of the bounds: 0 optimal, 1 worst). The last two need bounds and refuse a
    value outside them, naming its position.
    """
    cdef double[::1] src = _as_double_view(values)
    cdef Py_ssize_t n = src.shape[0], i
    cdef array out = _new_buffer(_F64, n)
    cdef double[::1] dst = out
    cdef int f
    cdef double lo = 0.0, hi = 0.0, width = 0.0, v
    try:
        f = FORMS[form]
    except KeyError:
        raise ValueError(f"Unknown form {form!r}; use one of {list(FORMS)}.") from None
    if f == FORM_DISTANCE or f == FORM_NORMALIZED:
        if bounds is None:
            raise ValueError(f"{what} has no bounds, so it has no {form}.")
        lo, hi = float(bounds[0]), float(bounds[1])
        width = hi - lo
    for i in range(n):
        v = src[i]
        if isnan(v) or f == FORM_VALUE:
            dst[i] = v
        elif f == FORM_LOSS:
            dst[i] = v if minimize else -v
        elif f == FORM_SCORE:
            dst[i] = -v if minimize else v
        else:
            if not (lo <= v <= hi):
                raise ValueError(
                    f"{what}: value {v} at position {i} is not within bounds=({lo}, {hi})."
                )
            v = fabs(v - lo) if minimize else fabs(v - hi)
            dst[i] = v / width if (f == FORM_NORMALIZED and width > 0) else v
    return out


cdef double[::1] _as_double_view(values) except *:
    try:
        return values
    except (TypeError, ValueError):
        return to_float64(values)


@cython.boundscheck(False)  # i < n == src.shape[0]
def best_index(values, bint minimize):
    """Position of the best non-NaN value (the first on ties), or -1 if all are NaN."""
    cdef double[::1] src = _as_double_view(values)
    cdef Py_ssize_t n = src.shape[0], i, best = -1
    cdef double v, bv = 0.0
    for i in range(n):
        v = src[i]
        if isnan(v):
            continue
        if best < 0 or (v < bv if minimize else v > bv):
            best = i
            bv = v
    return best


@cython.boundscheck(False)  # k < m == idx.shape[0]; j is checked against src before use
def incumbent_positions(values, order, bint minimize, bint ffill=False):
    """Visit ``values`` in ``order`` (positions) skipping NaN, and return the positions of
    each new strict best (each visited position's current best with ``ffill``)."""
    cdef double[::1] src = _as_double_view(values)
    cdef Py_ssize_t[:] idx = _as_index_array(order)
    cdef Py_ssize_t m = idx.shape[0], k, j, cur = -1
    cdef double v, cv = 0.0
    cdef list out = []
    for k in range(m):
        j = idx[k]
        if j < 0 or j >= src.shape[0]:
            raise IndexError(f"position {j} out of range for {src.shape[0]} values")
        v = src[j]
        if isnan(v):
            continue
        if cur < 0 or (v < cv if minimize else v > cv):
            cur = j
            cv = v
            out.append(j)
        elif ffill:
            out.append(cur)
    return out


@cython.boundscheck(False)  # rows of ``order`` are checked first; f < nfront <= a < m
def pareto_positions(losses, order):
    """Positions (rows of the C-contiguous float64 n-by-k ``losses``) that no other row
    dominates: no worse in every column and better in one. ``order`` must visit the rows
    by increasing sum of losses, ties broken lexicographically (a dominating row then
    always comes first), and contain no row with a NaN. Sort-filter-skyline:
    O(n * front * k)."""
    cdef double[:, ::1] L = losses
    cdef Py_ssize_t[:] idx = _as_index_array(order)
    cdef Py_ssize_t m = idx.shape[0], k = L.shape[1], a, b, c, f, j, nfront = 0
    cdef bint dominated, strictly
    cdef array front = clone(array(_SSIZE_CODE), m, False)
    cdef Py_ssize_t[:] fr = front
    for a in range(m):
        if idx[a] < 0 or idx[a] >= L.shape[0]:
            raise IndexError(f"row {idx[a]} out of range for {L.shape[0]} rows of losses")
    for a in range(m):
        c = idx[a]
        dominated = False
        for f in range(nfront):
            b = fr[f]
            strictly = False
            for j in range(k):
                if L[b, j] > L[c, j]:
                    break
                if L[b, j] < L[c, j]:
                    strictly = True
            else:
                if strictly:
                    dominated = True
                    break
        if not dominated:
            fr[nfront] = c
            nfront += 1
    return [fr[f] for f in range(nfront)]
