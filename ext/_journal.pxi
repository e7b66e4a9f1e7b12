# Included by _core.pyx: the loops of the History journal (optimization/journal.py) that
# would otherwise cost a Python call per value -- encoding the row a report became in the
# table as one framed journal record, and putting a decoded row back into the columns.
#
# A row record is ``u32 length | u32 crc32(payload) | u8 kind | u8 0 | u16 check |
# payload`` (little-endian; check = the low 16 bits of crc32 of the 10 bytes before it),
# and its payload the msgpack array ``[layout id, [value, ...]]`` (docs/journal.md).
# CRC-32 is zlib's (ISO-HDLC, reflected polynomial 0xEDB88320), computed here with tables.

from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from libc.stdint cimport uint32_t, uint64_t
from libc.stdlib cimport malloc, realloc, free

# Slicing-by-8: eight tables, eight bytes a step (a byte a step is several times slower).
cdef uint32_t _CRC_TABLE[8][256]


cdef void _crc_init() noexcept:
    cdef uint32_t c, k, n
    for n in range(256):
        c = n
        for k in range(8):
            c = (<uint32_t>0xEDB88320u ^ (c >> 1)) if (c & 1) else (c >> 1)
        _CRC_TABLE[0][n] = c
    for n in range(256):
        for k in range(1, 8):
            _CRC_TABLE[k][n] = (_CRC_TABLE[k - 1][n] >> 8) ^ _CRC_TABLE[0][_CRC_TABLE[k - 1][n] & 0xFFu]


_crc_init()


cdef inline uint32_t _le32(const unsigned char* p) noexcept:
    return (<uint32_t>p[0]) | (<uint32_t>p[1] << 8) | (<uint32_t>p[2] << 16) | (<uint32_t>p[3] << 24)


cdef uint32_t _crc32(const unsigned char* p, Py_ssize_t n) noexcept:
    cdef uint32_t c = <uint32_t>0xFFFFFFFFu
    cdef uint32_t one, two
    while n >= 8:
        one = _le32(p) ^ c
        two = _le32(p + 4)
        c = (_CRC_TABLE[7][one & 0xFFu] ^ _CRC_TABLE[6][(one >> 8) & 0xFFu]
             ^ _CRC_TABLE[5][(one >> 16) & 0xFFu] ^ _CRC_TABLE[4][one >> 24]
             ^ _CRC_TABLE[3][two & 0xFFu] ^ _CRC_TABLE[2][(two >> 8) & 0xFFu]
             ^ _CRC_TABLE[1][(two >> 16) & 0xFFu] ^ _CRC_TABLE[0][two >> 24])
        p += 8
        n -= 8
    while n > 0:
        c = _CRC_TABLE[0][(c ^ p[0]) & 0xFFu] ^ (c >> 8)
        p += 1
        n -= 1
    return c ^ <uint32_t>0xFFFFFFFFu


cdef struct _Buf:
    unsigned char* data
    Py_ssize_t n
    Py_ssize_t cap
    bint heap  # data was malloc-ed (else it is the caller's stack buffer)


cdef int _reserve(_Buf* b, Py_ssize_t extra) except -1:
    cdef Py_ssize_t want = b.n + extra
    cdef unsigned char* grown
    if want <= b.cap:
        return 0
    want = want * 2 + 64
    if b.heap:
        grown = <unsigned char*>realloc(b.data, want)
    else:
        grown = <unsigned char*>malloc(want)
        if grown != NULL:
            memcpy(grown, b.data, b.n)
    if grown == NULL:
        raise MemoryError()
    b.data = grown
    b.cap = want
    b.heap = True
    return 0


cdef inline int _mp_be(_Buf* b, unsigned char tag, uint64_t v, int nbytes) except -1:
    cdef int k
    _reserve(b, 1 + nbytes)
    b.data[b.n] = tag
    for k in range(nbytes):
        b.data[b.n + 1 + k] = <unsigned char>((v >> (8 * (nbytes - 1 - k))) & 0xFF)
    b.n += 1 + nbytes
    return 0


cdef int _mp_uint(_Buf* b, uint64_t v) except -1:
    if v < 128:
        _reserve(b, 1)
        b.data[b.n] = <unsigned char>v
        b.n += 1
    elif v <= 0xFF:
        _mp_be(b, 0xcc, v, 1)
    elif v <= 0xFFFF:
        _mp_be(b, 0xcd, v, 2)
    elif v <= 0xFFFFFFFF:
        _mp_be(b, 0xce, v, 4)
    else:
        _mp_be(b, 0xcf, v, 8)
    return 0


cdef int _mp_array_header(_Buf* b, Py_ssize_t m) except -1:
    if m < 16:
        _reserve(b, 1)
        b.data[b.n] = <unsigned char>(0x90 | m)
        b.n += 1
    elif m <= 0xFFFF:
        _mp_be(b, 0xdc, <uint64_t>m, 2)
    else:
        _mp_be(b, 0xdd, <uint64_t>m, 4)
    return 0


cdef int _mp_double(_Buf* b, double d) except -1:
    """A float64 as msgpack: float32 when that is exact (it decodes to the same double:
    NaN, whole numbers of bytes, ...), else float64."""
    cdef uint64_t bits
    cdef uint32_t bits32
    cdef float f = <float>d
    if <double>f == d or isnan(d):
        memcpy(&bits32, &f, 4)
        _mp_be(b, 0xca, bits32, 4)
        return 0
    memcpy(&bits, &d, 8)
    _mp_be(b, 0xcb, bits, 8)
    return 0


cdef int _mp_int(_Buf* b, double d) except -1:
    """An integral float64 (|d| <= 2**53) as a msgpack int."""
    cdef int64_t v = <int64_t>d
    if v >= 0:
        _mp_uint(b, <uint64_t>v)
    elif v >= -32:
        _reserve(b, 1)
        b.data[b.n] = <unsigned char>(<int>v & 0xFF)
        b.n += 1
    else:
        _mp_be(b, 0xd3, <uint64_t>v, 8)
    return 0


cdef int _mp_str(_Buf* b, str s) except -1:
    cdef Py_ssize_t n
    cdef const char* p = PyUnicode_AsUTF8AndSize(s, &n)
    if n < 32:
        _reserve(b, 1 + n)
        b.data[b.n] = <unsigned char>(0xa0 | n)
        b.n += 1
    elif n <= 0xFF:
        _mp_be(b, 0xd9, <uint64_t>n, 1)
    elif n <= 0xFFFF:
        _mp_be(b, 0xda, <uint64_t>n, 2)
    else:
        _mp_be(b, 0xdb, <uint64_t>n, 4)
    _reserve(b, n)
    memcpy(b.data + b.n, p, n)
    b.n += n
    return 0


cdef int _mp_bytes(_Buf* b, bytes raw) except -1:
    cdef Py_ssize_t n = len(raw)
    _reserve(b, n)
    memcpy(b.data + b.n, <const char*>raw, n)
    b.n += n
    return 0


cdef int _mp_cell(_Buf* b, Column col, Py_ssize_t i, object encode_obj) except -1:
    """Cell ``i`` of ``col`` as the msgpack of ``col.value(i)`` (NaN for MISSING)."""
    cdef double d
    cdef int code
    cdef object v
    if col.kind == COL_NUM:
        d = col._num.data.as_doubles[i]
        if isnan(d):
            _mp_double(b, _NAN)
        elif col._tag is not None:
            if col._tag.data.as_uchars[i]:
                _mp_int(b, d)
            else:
                _mp_double(b, d)
        elif col.seen & NUM_INT:
            _mp_int(b, d)
        else:
            _mp_double(b, d)
    elif col.kind == COL_BOOL:
        code = col._u8.data.as_uchars[i]
        if code == 2:
            _mp_double(b, _NAN)
        else:
            _reserve(b, 1)
            b.data[b.n] = 0xc3 if code == 1 else 0xc2
            b.n += 1
    elif col.kind == COL_STR:
        code = col._code(i)
        if code < 0:
            _mp_double(b, _NAN)
        else:
            _mp_str(b, <str>col._cats[code])
    else:
        v = col._objs[i]
        if v is _MISSING:
            _mp_double(b, _NAN)
        elif type(v) is str:
            _mp_str(b, <str>v)
        elif type(v) is float:
            _mp_double(b, <double>v)
        elif v is None:
            _reserve(b, 1)
            b.data[b.n] = 0xc0
            b.n += 1
        else:
            _mp_bytes(b, <bytes?>encode_obj(v))
    return 0


def encode_row_record(list columns, tuple ids, Py_ssize_t i, Py_ssize_t lid, int kind,
                      encode_obj):
    """Row ``i`` of ``columns`` (its layout ``ids``, id ``lid``) as one framed journal
    record: the msgpack ``[lid, [value, ...]]`` of the values ``Column.value`` gives (NaN
    for MISSING), behind the 12-byte record header.  Values of OBJ columns other than
    str, float and None are encoded by ``encode_obj(value) -> bytes``."""
    cdef Py_ssize_t k, m = len(ids)
    cdef Column col
    cdef _Buf b
    cdef uint32_t crc, length
    cdef unsigned char stack[1024]  # a typical row fits: no allocation
    b.data = stack
    b.n = 0
    b.cap = 1024
    b.heap = False
    try:
        _reserve(&b, 12 + 16 + 10 * m)
        b.n = 12
        _reserve(&b, 1)
        b.data[b.n] = 0x92
        b.n += 1
        _mp_uint(&b, <uint64_t>lid)
        _mp_array_header(&b, m)
        for k in range(m):
            col = <Column?>columns[<Py_ssize_t>ids[k]]
            if i < 0 or i >= col.n:
                raise IndexError(f"row {i} out of range for a column of {col.n} rows")
            _mp_cell(&b, col, i, encode_obj)
        length = <uint32_t>(b.n - 12)
        crc = _crc32(b.data + 12, b.n - 12)
        b.data[0] = length & 0xFF
        b.data[1] = (length >> 8) & 0xFF
        b.data[2] = (length >> 16) & 0xFF
        b.data[3] = (length >> 24) & 0xFF
        b.data[4] = crc & 0xFF
        b.data[5] = (crc >> 8) & 0xFF
        b.data[6] = (crc >> 16) & 0xFF
        b.data[7] = (crc >> 24) & 0xFF
        b.data[8] = <unsigned char>kind
        b.data[9] = 0
        crc = _crc32(b.data, 10) & 0xFFFF
        b.data[10] = crc & 0xFF
        b.data[11] = (crc >> 8) & 0xFF
        return PyBytes_FromStringAndSize(<char*>b.data, b.n)
    finally:
        if b.heap:
            free(b.data)


def crc32(data):
    """zlib's CRC-32 of ``data`` (a bytes-like object), as the journal's records use it."""
    cdef const unsigned char[:] view = memoryview(data).cast("B")
    if view.shape[0] == 0:
        return 0
    return _crc32(&view[0], view.shape[0])


def table_append_rows(list columns, list layouts, list rows, Py_ssize_t n):
    """Append ``rows`` (decoded row payloads ``[layout id, [value, ...]]``) as rows
    ``n, n+1, ...``; returns their layout ids.  A bad row raises ``ValueError(k, text)``
    (``k``: its position in ``rows``); the columns are then half-written."""
    cdef Py_ssize_t k = 0, j, m, lid
    cdef list out = []
    cdef list values
    cdef tuple ids
    try:
        for k in range(len(rows)):
            row = rows[k]
            lid = row[0]
            values = <list?>row[1]
            if len(row) != 2 or lid < 0 or lid >= len(layouts):
                raise ValueError(f"a row of layout {lid}, of which there are {len(layouts)}")
            ids = <tuple>layouts[lid]
            m = len(ids)
            if len(values) != m:
                raise ValueError(f"a row of {len(values)} values for a layout of {m} keys")
            for j in range(m):
                _put_obj(columns, ids, j, n + k, values[j])
            out.append(lid)
    except Exception as error:
        raise ValueError(k, f"{type(error).__name__}: {error}") from error
    return out


def journal_scan(data, Py_ssize_t start):
    """Walk the records of a journal's bytes from offset ``start``.  Returns ``(records,
    end, status)``: ``records`` a list of ``(kind, payload start, payload end)`` of the
    whole, checked records; ``end`` the offset after the last of them; ``status`` 0 (the
    bytes end there), 1 (a record cut short follows), 2 (a record header whose check does
    not match, or an unknown kind, at ``end``), 3 (a record whose CRC-32 does not match)."""
    cdef const unsigned char[:] view = memoryview(data).cast("B")
    cdef Py_ssize_t size = view.shape[0], p = start, stop
    cdef const unsigned char* base
    cdef uint32_t length, crc, check
    cdef unsigned char kind
    cdef list records = []
    cdef int status = 0
    if size == 0 or p >= size:
        return records, p, 0
    base = &view[0]
    while p < size:
        if size - p < 12:
            status = 1
            break
        length = _le32(base + p)
        crc = _le32(base + p + 4)
        kind = base[p + 8]
        check = (<uint32_t>base[p + 10]) | (<uint32_t>base[p + 11] << 8)
        if ((_crc32(base + p, 10) & 0xFFFFu) != check or base[p + 9] != 0
                or not (kind == 76 or kind == 82 or kind == 65 or kind == 66)):
            status = 2
            break
        stop = p + 12 + <Py_ssize_t>length
        if stop > size:
            status = 1
            break
        if _crc32(base + p + 12, length) != crc:
            status = 3
            break
        records.append((kind, p + 12, stop))
        p = stop
    return records, p, status
