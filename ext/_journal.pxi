# Included by _core.pyx: the two loops of the History journal (optimization/journal.py)
# that would otherwise make a Python call per value -- reading back the row a report
# became in the table (to encode it), and putting a decoded row into the columns.


def row_values(list columns, tuple ids, Py_ssize_t i):
    """The values of row ``i`` in ``columns[ids[k]]``, k = 0, 1, ...: a list (MISSING for
    a NaN or filler cell, as ``Column.value`` gives)."""
    cdef Py_ssize_t k, m = len(ids)
    cdef list out = []
    cdef Column col
    for k in range(m):
        col = <Column?>columns[<Py_ssize_t>ids[k]]
        if i < 0 or i >= col.n:
            raise IndexError(f"row {i} out of range for a column of {col.n} rows")
        out.append(col._value(i))
    return out


def table_append_values(list columns, tuple ids, list values, Py_ssize_t n):
    """Append ``values`` as row ``n``: value k goes to ``columns[ids[k]]`` (as
    ``table_append`` does with a row dict's values)."""
    cdef Py_ssize_t k, m = len(ids)
    if len(values) != m:
        raise ValueError(f"a row of {len(values)} values for a layout of {m} keys")
    for k in range(m):
        _put_obj(columns, ids, k, n, values[k])
