"""The journal behind ``History.open(path)``: an append-only file of checksummed records.

Every report added to an opened ``History`` is written to the file (one ``write(2)``)
before ``add()`` returns, so a process killed at any moment loses nothing that ``add()``
returned for; reopening the file gives the same ``History``.  The format is described in
``docs/journal.md``; in short::

    file    := header record*
    header  := magic "\\x89FTJRNL\\n" (8 bytes) | u32 version | u32 flags (0)
    record  := u32 length | u32 crc32(payload) | u8 kind | u8 0 | u16 check | payload
               (check = low 16 bits of crc32 of the 10 bytes before it; little-endian)

Record kinds (payloads are msgpack):

- ``L`` layout: ``[layout id, [key, ...]]``: the keys of a row layout of the table, written
  once, before the first row of that layout;
- ``R`` row: ``[layout id, [value, ...]]``: one report's row, the values the History's
  table stored for it, in the layout's key order;
- ``A`` asked: ``[name, config, seed, fidelities, [metric, ...], bucket]``: a trial handed
  out (``Journal.record_asked``), pending until a row of that name is written;
- ``B`` block: a run of rows stored column by column (written by ``History.compact()``,
  before any ``R`` record), so a long history reloads without a Python call per value.

Values msgpack cannot hold natively use extension types: 1 = an int outside the 64-bit
range (its decimal text), 2 = a filler cell of a column (a row without that key).
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import struct
import threading
import weakref
import zlib
from array import array
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from fasttrial._corecheck import _core
from fasttrial.optimization._table import Table
from fasttrial.optimization.metric import Metric
from fasttrial.optimization.trial import Trial

if TYPE_CHECKING:
    from fasttrial.optimization.history import History

MAGIC = b"\x89FTJRNL\n"
VERSION = 1
FILE_HEADER = struct.Struct("<8sII")  # magic, version, flags
_HEAD10 = struct.Struct("<IIBB")  # length, crc32(payload), kind, reserved
_CHECK = struct.Struct("<H")
_RECORD_HEADER = struct.Struct("<IIBBH")
RECORD_HEADER_SIZE = _RECORD_HEADER.size  # 12
MAX_PAYLOAD = 0xFFFFFFFF

LAYOUT = ord("L")
ROW = ord("R")
ASKED = ord("A")
BLOCK = ord("B")
_KINDS = frozenset((LAYOUT, ROW, ASKED, BLOCK))

EXT_BIGINT = 1
EXT_MISSING = 2

# Rows per ``B`` record written by ``compact()`` (keeps a record well under 4 GiB).
BLOCK_ROWS = 1 << 18
# ``close()`` and a writable open compact a journal with at least this many single rows.
AUTO_COMPACT_ROWS = 50_000

Durability = Literal["process", "fsync"]
_DURABILITIES = ("process", "fsync")

_MISSING = _core.MISSING
_WIDTH = {_core.COL_NUM: 8, _core.COL_BOOL: 1, _core.COL_STR: 4}  # bytes per cell in a block
_encode_row_record = _core.encode_row_record
_crc32 = zlib.crc32
_append_rows = _core.table_append_rows
_NAN = float("nan")


class JournalError(ValueError):
    """A file that is not a readable journal: not a journal at all, a newer format, or
    damaged.  ``path`` and ``offset`` (the byte offset of the damage, or None) say where."""

    def __init__(self, message: str, path: str | os.PathLike[str], offset: int | None = None):
        super().__init__(message)
        self.path = os.fspath(path)
        self.offset = offset


class JournalLockedError(RuntimeError):
    """Another live process has the journal open for writing (``pid``: its process id,
    or None if it could not be read)."""

    def __init__(self, message: str, path: str, pid: int | None) -> None:
        super().__init__(message)
        self.path = path
        self.pid = pid


# -- encoding --------------------------------------------------------------------------


def _row_hook(obj: Any) -> Any:
    # A NaN value reads back as MISSING from a column; pushing NaN back stores the same.
    if obj is _MISSING:
        return _NAN
    return _plain_hook(obj)


def _block_hook(obj: Any) -> Any:
    if obj is _MISSING:
        return msgspec.msgpack.Ext(EXT_MISSING, b"")
    return _plain_hook(obj)


def _plain_hook(obj: Any) -> Any:
    item = getattr(obj, "item", None)  # numpy scalars
    if item is not None and getattr(obj, "ndim", None) == 0:
        return item()
    raise TypeError(
        f"A journal cannot store a value of type {type(obj).__name__} ({obj!r}): it keeps "
        "numbers, strings, bools, None, lists and dicts of those."
    )


def _ext_hook(code: int, data: memoryview) -> Any:
    if code == EXT_BIGINT:
        return int(bytes(data).decode("ascii"))
    if code == EXT_MISSING:
        return _MISSING
    raise ValueError(f"unknown msgpack extension type {code}")


def _widen_big_ints(v: Any) -> Any:
    """``v`` with ints msgpack cannot hold turned into EXT_BIGINT (the slow path, taken
    only after the fast encoder refused a value)."""
    if type(v) is int:
        if -(2**63) <= v < 2**64:
            return v
        return msgspec.msgpack.Ext(EXT_BIGINT, str(v).encode("ascii"))
    if isinstance(v, (list, tuple)):
        return [_widen_big_ints(x) for x in v]
    if isinstance(v, dict):
        return {_widen_big_ints(k): _widen_big_ints(x) for k, x in v.items()}
    return v


class _Codec:
    __slots__ = ("block", "decode", "row")

    def __init__(self) -> None:
        self.row = msgspec.msgpack.Encoder(enc_hook=_row_hook)
        self.block = msgspec.msgpack.Encoder(enc_hook=_block_hook)
        self.decode = msgspec.msgpack.Decoder(ext_hook=_ext_hook).decode


def _encode(enc: msgspec.msgpack.Encoder, obj: Any) -> bytes:
    try:
        return enc.encode(obj)
    except OverflowError:
        return enc.encode(_widen_big_ints(obj))


def frame(kind: int, payload: bytes) -> bytes:
    """One record: its 12-byte header, then ``payload``."""
    n = len(payload)
    if n > MAX_PAYLOAD:
        raise ValueError(f"a journal record holds at most 4 GiB, this one is {n} bytes")
    head = _HEAD10.pack(n, zlib.crc32(payload), kind, 0)
    return head + _CHECK.pack(zlib.crc32(head) & 0xFFFF) + payload


# -- reading ---------------------------------------------------------------------------


class _Scan:
    """The records of a journal's bytes, checked; where the whole records end."""

    __slots__ = ("damage", "end", "records", "torn")

    def __init__(self) -> None:
        self.records: list[tuple[int, int, int]] = []  # (kind, payload start, payload end)
        self.end = FILE_HEADER.size  # offset just after the last whole record
        self.torn = False  # bytes after ``end`` are an unfinished record
        self.damage: str | None = None  # what is wrong at ``end``, if not torn


def _scan(data: bytes, path: str) -> _Scan:
    out = _Scan()
    out.records, out.end, status = _core.journal_scan(data, FILE_HEADER.size)
    if status == 1:
        out.torn = True
    elif status == 2:
        if not any(memoryview(data)[out.end :]):
            out.torn = True  # zeros where a crash left allocated but unwritten space
        else:
            out.damage = "a record header whose check does not match"
    elif status == 3:
        length, _, kind, _, _ = _RECORD_HEADER.unpack_from(data, out.end)
        out.damage = f"a {chr(kind)} record ({length} bytes) whose CRC-32 does not match"
    return out


def _read_header(data: bytes, path: str) -> Literal["ok", "empty"]:
    """Check the file header; "empty" for a file cut inside its header (or empty)."""
    n = len(data)
    hsize = FILE_HEADER.size
    if n < hsize:
        if data == MAGIC[:n] or (n > len(MAGIC) and data[: len(MAGIC)] == MAGIC):
            return "empty"
        raise JournalError(
            f"{path} is not a fasttrial journal (it does not start with the journal magic "
            f"{MAGIC!r}); give History.open() a new path or an existing journal.",
            path,
            0,
        )
    magic, version, flags = FILE_HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise JournalError(
            f"{path} is not a fasttrial journal (its first bytes are {bytes(data[:8])!r}, "
            f"a journal starts with {MAGIC!r}); give History.open() a new path or an "
            "existing journal.",
            path,
            0,
        )
    if version > VERSION:
        raise JournalError(
            f"{path} is a journal of format version {version}, written by a newer fasttrial; "
            f"this one reads versions up to {VERSION}. Upgrade fasttrial to read it.",
            path,
            8,
        )
    if version < 1 or flags != 0:
        raise JournalError(
            f"{path} has a damaged journal header (version {version}, flags {flags:#x}).",
            path,
            8,
        )
    return "ok"


class _Loader:
    """Builds the table (and the pending asks) from a journal's records."""

    def __init__(self, data: bytes, path: str, codec: _Codec) -> None:
        self.data = data
        self.path = path
        self.decode = codec.decode
        self.table = Table()
        self.layout_keys: list[tuple[str, ...]] = []
        self.name_at: list[int] = []
        self.asked: dict[str, Any] = {}
        self.rows_seen = False
        self.replayed = 0

    def _bad(self, what: str, start: int) -> JournalError:
        offset = start - RECORD_HEADER_SIZE
        return JournalError(
            f"{self.path}: the record at byte offset {offset} is not valid ({what}); the file "
            f"is damaged. History.open(path, repair=True) keeps the records before it.",
            self.path,
            offset,
        )

    def load(self, records: list[tuple[int, int, int]]) -> None:
        # Millions of new lists (decoded rows) would run the cyclic collector over and
        # over, each time through everything alive: off while loading, nothing here cycles.
        import gc

        enabled = gc.isenabled()
        gc.disable()
        try:
            self._load(records)
        finally:
            if enabled:
                gc.enable()

    def _load(self, records: list[tuple[int, int, int]]) -> None:
        view = memoryview(self.data)
        decode = self.decode
        table = self.table
        blocks: list[tuple[int, Any]] = []
        rows: list[tuple[int, int]] = []  # a run of R records, put in all at once
        for kind, start, stop in records:
            if kind == ROW:
                if blocks:
                    self._merge_blocks(blocks)
                    blocks = []
                rows.append((start, stop))
                continue
            if rows:
                self._rows(rows)
                rows = []
            try:
                payload = decode(view[start:stop])
                if kind == LAYOUT:
                    lid, keys = payload
                    keys = tuple(keys)
                    if lid != len(self.layout_keys) or table._layout(keys) != lid:
                        raise ValueError(f"layout {lid} out of order")
                    self.layout_keys.append(keys)
                    self.name_at.append(keys.index("name"))
                elif kind == ASKED:
                    name = payload[0]
                    self.asked.pop(name, None)
                    self.asked[name] = payload
                else:  # BLOCK
                    if self.rows_seen:
                        raise ValueError("a column block after row records")
                    blocks.append((start, payload))
            except JournalError:
                raise
            except Exception as error:
                raise self._bad(f"{type(error).__name__}: {error}", start) from None
        if rows:
            self._rows(rows)
        if blocks:
            self._merge_blocks(blocks)

    def _rows(self, spans: list[tuple[int, int]]) -> None:
        """Put the rows of consecutive R records (payload spans) into the table: one
        msgpack decode of them all, then one compiled loop."""
        data = self.data
        table = self.table
        try:
            blob = b"".join(
                [b"\xdd" + len(spans).to_bytes(4, "big"), *(data[a:b] for a, b in spans)]
            )
            decoded = self.decode(blob)
        except Exception:
            for a, b in spans:  # find the record that does not decode
                try:
                    self.decode(data[a:b])
                except Exception as error:
                    raise self._bad(f"{type(error).__name__}: {error}", a) from None
            raise
        try:
            lids = _append_rows(table.columns, table.layouts, decoded, table.n)
        except ValueError as error:
            k, text = error.args if len(error.args) == 2 else (0, str(error))
            raise self._bad(text, spans[k][0]) from None
        rl = table.row_layout
        if rl.typecode == "B" and lids and max(lids) > 255:
            rl = table.row_layout = array("i", rl)
        rl.extend(lids)
        table.n += len(lids)
        self.replayed += len(lids)
        self.rows_seen = True
        if self.asked:
            name_at = self.name_at
            for lid, row in zip(lids, decoded, strict=True):
                self.asked.pop(row[1][name_at[lid]], None)

    def _merge_blocks(self, blocks: list[tuple[int, Any]]) -> None:
        try:
            _merge_blocks(self.table, [p for _, p in blocks])
        except Exception as error:
            raise self._bad(f"{type(error).__name__}: {error}", blocks[0][0]) from None
        self.rows_seen = True


# -- column blocks (compact) -----------------------------------------------------------


def _encode_block(table: Table, a: int, b: int, enc: msgspec.msgpack.Encoder) -> bytes:
    """Rows ``a..b-1`` of ``table`` column by column (the table must be padded)."""
    cols: list[Any] = []
    for cid, col in enumerate(table.columns):
        if col is None:
            continue
        kind = col.kind
        if kind == _core.COL_OBJ:
            cols.append([cid, kind, 0, col.values()[a:b], None, None])
            continue
        buf = col.buffer()
        data = buf[a:b].tobytes()
        tags = None
        cats = None
        if kind == _core.COL_NUM:
            t = col.tags()
            tags = None if t is None else _const(t[a:b].tobytes(), 1)
        elif kind == _core.COL_STR:
            if buf.typecode != "i":
                data = array("i", buf[a:b]).tobytes()
            cats = col.categories()
        cols.append(
            [cid, kind, col.seen, _const(data, buf.itemsize if kind != 2 else 4), tags, cats]
        )
    rl = table.row_layout
    return _encode(enc, [b - a, rl.typecode, rl[a:b].tobytes(), cols])


def _const(data: bytes, width: int) -> bytes:
    """``data`` (items of ``width`` bytes), or its first item alone when every item is the
    same bytes (a column of one value: a reader repeats it for every row)."""
    if len(data) > width and data == data[:width] * (len(data) // width):
        return data[:width]
    return data


def _full(data: bytes, width: int, rows: int) -> bytes:
    """The inverse of ``_const``."""
    if len(data) == width and rows != 1:
        return data * rows
    return data


def _merge_blocks(table: Table, blocks: list[Any]) -> None:
    """Append the rows of ``blocks`` (decoded ``B`` payloads) to an empty ``table`` whose
    layouts are known."""
    import numpy as np

    if table.n:
        raise ValueError("column blocks must come before every row")
    nkeys = len(table.keys)
    parts: list[list[Any]] = [[] for _ in range(nkeys)]
    pieces = []
    n = 0
    for nrows, typecode, lids, cols in blocks:
        piece = np.frombuffer(lids, dtype=np.dtype(typecode)).astype(np.int32)
        if len(piece) != nrows:
            raise ValueError("row layouts and row count differ")
        pieces.append(piece)
        for cid, kind, seen, data, tags, cats in cols:
            if kind != _core.COL_OBJ:
                data = _full(data, _WIDTH[kind], nrows)
                if tags is not None:
                    tags = _full(tags, 1, nrows)
            parts[cid].append((nrows, kind, seen, data, tags, cats))
        n += nrows
    lids = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int32)
    if n and (lids.min() < 0 or lids.max() >= len(table.layouts)):
        raise ValueError("a row of an unknown layout")
    columns: list[Any] = []
    for cid, chunks in enumerate(parts):
        if not chunks:
            columns.append(None)
            continue
        if len(chunks) != len(blocks):
            raise ValueError(f"column {table.keys[cid]!r} is missing from a block")
        columns.append(_merge_column(chunks, n, np))
    table.columns = columns
    table.n = n
    if n and lids.max() > 255:
        table.row_layout = array("i", lids.tobytes())
    else:
        table.row_layout = array("B", lids.astype(np.uint8).tobytes())


def _merge_column(chunks: list[Any], n: int, np: Any) -> Any:
    Column = _core.Column
    kinds = {c[1] for c in chunks}
    if len(kinds) > 1 or _core.COL_OBJ in kinds:
        values: list[Any] = []
        for nrows, kind, seen, data, tags, cats in chunks:
            if kind == _core.COL_OBJ:
                values.extend(data)
            else:
                values.extend(Column.from_parts(kind, nrows, data, seen, tags, cats).values())
        if len(values) != n:
            raise ValueError("column length mismatch")
        return Column.from_parts(_core.COL_OBJ, n, values)
    kind = kinds.pop()
    if kind == _core.COL_NUM:
        seen = 0
        for c in chunks:
            seen |= c[2]
        data = b"".join(c[3] for c in chunks)
        tags = None
        if seen == (_core.NUM_INT | _core.NUM_FLOAT):
            pieces = []
            for nrows, _, s, _, t, _ in chunks:
                if t is not None:
                    pieces.append(t)
                else:
                    pieces.append((b"\x01" if s == _core.NUM_INT else b"\x00") * nrows)
            tags = b"".join(pieces)
        return Column.from_parts(kind, n, data, seen, tags)
    if kind == _core.COL_BOOL:
        return Column.from_parts(kind, n, b"".join(c[3] for c in chunks))
    cats0 = list(chunks[0][5])
    index = {c: i for i, c in enumerate(cats0)}
    pieces = []
    for _, _, _, data, _, cats in chunks:
        codes = np.frombuffer(data, dtype=np.int32)
        if cats != cats0[: len(cats)]:
            remap = np.empty(len(cats) + 1, dtype=np.int32)
            remap[-1] = -1  # code -1 (a filler) indexes the last slot
            for i, c in enumerate(cats):
                j = index.get(c)
                if j is None:
                    j = index[c] = len(cats0)
                    cats0.append(c)
                remap[i] = j
            codes = remap[codes]
        pieces.append(codes.astype(np.int32).tobytes())
    return Column.from_parts(kind, n, b"".join(pieces), 0, None, cats0)


# -- the journal -------------------------------------------------------------------------


# Journals open for writing in this process: a forked child must not write to them (its
# descriptors share the parent's file offset and lock), so the fork hook disables them.
_OPEN_WRITERS: weakref.WeakSet[Journal] = weakref.WeakSet()


def _after_fork() -> None:
    for journal in list(_OPEN_WRITERS):
        journal._writable = False
    _OPEN_WRITERS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def _lock_holder(lock_path: str) -> int | None:
    try:
        with open(lock_path, encoding="utf-8") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class Journal:
    """The file behind an opened ``History`` (``history.journal``).

    Not made directly: use ``History.open(path)``.

    Attributes:
        path: The journal file.
        mode: ``"w"`` (this process writes it, holding its lock) or ``"r"`` (read-only).
        durability: ``"process"`` (each record handed to the OS with ``write(2)`` before
            ``add()`` returns: survives the death of the process) or ``"fsync"`` (also
            ``fsync``-ed: survives an OS crash or power loss).
        repaired: After ``repair=True`` cut off damaged bytes: ``(offset, nbytes, saved)``,
            where the damage began, how many bytes were removed, and the file they were saved
            to (None in read-only mode, which changes nothing); else None.
        truncated: Bytes of a torn last record dropped on open (0 if none).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        mode: Literal["w", "r"] = "w",
        durability: Durability = "process",
        repair: bool = False,
    ) -> None:
        if durability not in _DURABILITIES:
            raise ValueError(f"durability must be one of {_DURABILITIES}, got {durability!r}")
        if mode not in ("w", "r"):
            raise ValueError(f"mode must be 'w' (read and write) or 'r' (read only), got {mode!r}")
        self.path = os.fspath(path)
        self.mode = mode
        self.durability = durability
        self.repaired: tuple[int, int, str | None] | None = None
        self.truncated = 0
        self._codec = _Codec()
        self._fd = -1
        self._lock_fd = -1
        self._pid = os.getpid()
        self._size = 0
        self._n_layouts = 0
        self._pending: dict[str, Any] = {}
        self._guard: Any = threading.Lock()  # the history's lock once open_history() runs
        self._closed = True
        self.tail_rows = 0  # rows written as R records since the last compaction
        self._writable = False
        self._sync = durability == "fsync"
        row_encoder = self._codec.row

        def encode_obj(value: Any) -> bytes:
            return _encode(row_encoder, value)

        self._enc_obj = encode_obj
        self.table: Table | None = None
        self._open(repair)

    # -- opening ---------------------------------------------------------------------

    def _open(self, repair: bool) -> None:
        path = self.path
        if os.path.isdir(path):
            raise IsADirectoryError(
                errno.EISDIR,
                f"{path} is a directory, not a journal file; give the path of a file in it "
                f"(for example {os.path.join(path, 'history.journal')})",
                path,
            )
        if self.mode == "w":
            parent = os.path.dirname(os.path.abspath(path))
            try:
                os.makedirs(parent, exist_ok=True)
                self._lock()
                _remove_stale_compactions(path)
                self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
            except PermissionError as error:
                self._release()
                raise PermissionError(
                    errno.EACCES,
                    f"cannot open journal {path} for writing: {error.strerror}; check the "
                    "permissions of the file and its directory, or open it read-only with "
                    "History.open(path, mode='r')",
                    path,
                ) from None
            except BaseException:
                self._release()
                raise
        try:
            self._load(repair)
        except BaseException:
            self._release()
            raise
        self._closed = False
        self._writable = self.mode == "w"
        if self._writable:
            _OPEN_WRITERS.add(self)

    def _lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # Windows
            raise OSError(
                errno.ENOTSUP,
                f"cannot open journal {self.path} for writing: History.open() needs POSIX "
                "file locks (fcntl.flock), which this platform does not have",
                self.path,
            ) from None

        lock_path = self.path + ".lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            pid = _lock_holder(lock_path)
            who = f"process {pid}" if pid is not None else "another process"
            raise JournalLockedError(
                f"journal {self.path} is open for writing by {who} (lock file {lock_path}); "
                "one writer at a time: close it there, or read it with "
                "History.open(path, mode='r')",
                self.path,
                pid,
            ) from None
        # The kernel drops a flock with its last descriptor, so the lock of a dead holder
        # is free and taken over here; the file then names the new holder.
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
        self._lock_fd = fd

    def _release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._lock_fd >= 0:
            with contextlib.suppress(OSError):
                os.ftruncate(self._lock_fd, 0)
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = -1

    def _read_all(self) -> bytes:
        if self._fd >= 0:
            size = os.fstat(self._fd).st_size
            return os.pread(self._fd, size, 0) if size else b""
        try:
            with open(self.path, "rb") as f:
                return f.read()
        except PermissionError as error:
            raise PermissionError(
                errno.EACCES,
                f"cannot read journal {self.path}: {error.strerror}; check its permissions",
                self.path,
            ) from None

    def _load(self, repair: bool) -> None:
        path = self.path
        data = self._read_all()
        writing = self._fd >= 0
        if _read_header(data, path) == "empty":
            if writing:
                if data:
                    os.ftruncate(self._fd, 0)
                    self.truncated = len(data)
                self._write_all(FILE_HEADER.pack(MAGIC, VERSION, 0), new_file=True)
            self.table = Table()
            return
        scan = _scan(data, path)
        if scan.damage is not None and not repair:
            raise JournalError(
                f"{path} is damaged at byte offset {scan.end}: {scan.damage}. The "
                f"{len(scan.records)} records before it are intact; "
                "History.open(path, repair=True) keeps them and sets the rest aside.",
                path,
                scan.end,
            )
        loader = _Loader(data, path, self._codec)
        try:
            loader.load(scan.records)
        except JournalError as error:
            if not repair or error.offset is None:
                raise
            # Keep the records before the one that could not be read.
            cut = error.offset
            scan.records = [r for r in scan.records if r[1] < cut]
            scan.end, scan.damage = cut, str(error)
            loader = _Loader(data, path, self._codec)
            loader.load(scan.records)
        end = scan.end
        if end < len(data):
            if scan.damage is not None:
                saved = None
                if writing:
                    saved = f"{path}.damaged-at-{end}"
                    with open(saved, "wb") as f:
                        f.write(data[end:])
                        f.flush()
                        os.fsync(f.fileno())
                self.repaired = (end, len(data) - end, saved)
            else:
                self.truncated = len(data) - end
            if writing:
                os.ftruncate(self._fd, end)
                if self.durability == "fsync":
                    os.fsync(self._fd)
        self._size = end
        self.table = loader.table
        self._n_layouts = len(loader.layout_keys)
        self.tail_rows = loader.replayed
        self._pending = loader.asked

    # -- writing ---------------------------------------------------------------------

    def _write_all(self, buf: bytes, *, new_file: bool = False) -> None:
        """Append ``buf`` whole, or leave the file as it was and raise."""
        fd = self._fd
        try:
            done = os.write(fd, buf)
            if done != len(buf):  # a short write: the disk is (nearly) full
                view = memoryview(buf)
                while done < len(buf):
                    done += os.write(fd, view[done:])
            if self._sync:
                os.fsync(fd)
                if new_file:
                    _fsync_dir(self.path)
        except BaseException as error:
            cut = "and what the journal held is intact"
            try:
                os.ftruncate(fd, self._size)
            except OSError as again:
                cut = f"the partial record could not be cut off ({again}): the next open drops it"
            if isinstance(error, OSError):
                raise OSError(
                    error.errno,
                    f"cannot write to journal {self.path}: {error.strerror}; nothing of this "
                    f"add() was recorded, {cut}",
                    self.path,
                ) from error
            raise
        self._size += len(buf)

    def _check_writable(self) -> None:
        if self._closed:
            raise ValueError(f"the journal {self.path} is closed: reopen it with History.open()")
        if self.mode != "w":
            raise ValueError(
                f"the journal {self.path} was opened read-only (mode='r'): open it with "
                "History.open(path) to add to it"
            )
        if os.getpid() != self._pid:
            raise RuntimeError(
                f"the journal {self.path} was opened by process {self._pid}; a forked process "
                f"({os.getpid()}) cannot write to it: open it there with History.open()"
            )

    def _mark(self, table: Table) -> tuple[int, int, int]:
        """Where ``table`` is before an add (and a check that this journal can take one;
        a forked child's copy is made unwritable by ``_after_fork``)."""
        if not self._writable:
            self._check_writable()
        return table.n, len(table.keys), len(table.layouts)

    def _rows_added(self, table: Table, mark: tuple[int, int, int]) -> None:
        """Write the rows ``table`` got since ``mark`` (the values its columns now hold for
        them: one schema, the table's); on an error, take them back out of the table and
        leave the file as it was."""
        n0 = mark[0]
        try:
            if table.n == n0 + 1 and table.row_layout[n0] < self._n_layouts:
                # The common case, kept short: one report of a layout already written.
                lid = table.row_layout[n0]
                self._write_all(
                    _encode_row_record(
                        table.columns, table.layouts[lid], n0, lid, ROW, self._enc_obj
                    )
                )
            else:
                self._write_rows(table, n0)
        except BaseException:
            table._truncate(*mark)
            raise
        self.tail_rows += table.n - n0
        if self._pending:
            name_col = table.columns[table.key_ids["name"]]
            for i in range(n0, table.n):
                self._pending.pop(name_col.value(i), None)

    def _write_rows(self, table: Table, n0: int) -> None:
        """Write rows ``n0..`` of ``table`` in one write, with the layouts they bring."""
        enc = self._codec.row
        columns = table.columns
        layouts = table.layouts
        row_layout = table.row_layout
        nl = self._n_layouts
        pieces = []
        for i in range(n0, table.n):
            lid = row_layout[i]
            while nl <= lid:
                keys = [table.keys[c] for c in layouts[nl]]
                pieces.append(frame(LAYOUT, _encode(enc, (nl, keys))))
                nl += 1
            pieces.append(_encode_row_record(columns, layouts[lid], i, lid, ROW, self._enc_obj))
        if pieces:
            self._write_all(b"".join(pieces))
        self._n_layouts = nl

    def record_asked(self, trials: Iterable[Trial[Any]]) -> None:
        """Record that ``trials`` were handed out (one ``A`` record each, all in one write,
        with the durability of ``add()``); they are ``pending()`` until a report of the same
        name is added. Asking a name again moves it to the end.

        Raises:
            TypeError: If an item is not a Trial, or its config cannot be stored.
            ValueError: If the journal is closed or read-only.
            OSError: If the file cannot be written (nothing is recorded then).
        """
        batch = list(trials)
        with self._guard:
            self._record_asked(batch)

    def _record_asked(self, batch: list[Trial[Any]]) -> None:
        self._check_writable()
        enc = self._codec.row
        pieces = []
        for trial in batch:
            if not isinstance(trial, Trial):
                raise TypeError(
                    f"record_asked() takes Trials, got {type(trial).__name__}: {trial!r}"
                )
            pieces.append(frame(ASKED, _encode(enc, _asked_payload(trial))))
        if not pieces:
            return
        self._write_all(b"".join(pieces))
        pending = self._pending
        for trial in batch:
            pending.pop(trial.name, None)
            pending[trial.name] = trial

    def pending(self) -> dict[str, Trial[Any]]:
        """The trials recorded by ``record_asked()`` with no report added yet, name ->
        Trial, in the order they were asked (rebuilt from the file after a reopen: name,
        config, seed, fidelities, metrics and bucket path)."""
        out: dict[str, Trial[Any]] = {}
        for name, item in list(self._pending.items()):
            if not isinstance(item, Trial):
                item = self._pending[name] = _trial_from_asked(item)
            out[name] = item
        return out

    def flush(self) -> None:
        """``fsync`` the file now (with durability "process", makes what was written so far
        survive an OS crash too)."""
        if self._fd >= 0:
            os.fsync(self._fd)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def size(self) -> int:
        """Bytes of whole records in the file (with its header)."""
        return self._size

    def close(self, table: Table | None = None) -> None:
        """Close the file and release the lock (a second call does nothing).  Given the
        history's ``table``, first compact the journal if at least ``AUTO_COMPACT_ROWS``
        rows were written as single rows since the last compaction (a failed compaction
        leaves the journal as it was)."""
        if self._closed:
            return
        if table is not None and self._writable and self.tail_rows >= AUTO_COMPACT_ROWS:
            with contextlib.suppress(OSError):
                self.compact(table)
        self._closed = True
        self._writable = False
        _OPEN_WRITERS.discard(self)
        if self._fd >= 0 and self.durability == "fsync":
            with contextlib.suppress(OSError):
                os.fsync(self._fd)
        self._release()

    def __del__(self) -> None:
        if getattr(self, "_closed", True) is False and os.getpid() == self._pid:
            self.close()

    def compact(self, table: Table) -> None:
        """Rewrite the file as layouts, column blocks of every row, and the pending asks:
        the same history, reloaded without a Python call per value.  The new file is
        written beside the old one, synced, and renamed over it."""
        self._check_writable()
        enc_row = self._codec.row
        enc_block = self._codec.block
        pieces = [FILE_HEADER.pack(MAGIC, VERSION, 0)]
        for lid, ids in enumerate(table.layouts):
            keys = [table.keys[c] for c in ids]
            pieces.append(frame(LAYOUT, _encode(enc_row, (lid, keys))))
        if table.n:
            table.padded()
            for a in range(0, table.n, BLOCK_ROWS):
                b = min(a + BLOCK_ROWS, table.n)
                pieces.append(frame(BLOCK, _encode_block(table, a, b, enc_block)))
        pending = self.pending()
        if pending:
            pieces.extend(_asked_frames(pending.values(), enc_row))
        tmp = f"{self.path}.compact-{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            try:
                for piece in pieces:
                    view = memoryview(piece)
                    done = 0
                    while done < len(piece):
                        done += os.write(fd, view[done:])
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_dir(self.path)
        old = self._fd
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CLOEXEC)
        os.close(old)
        self._size = sum(len(p) for p in pieces)
        self._n_layouts = len(table.layouts)
        self.tail_rows = 0

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"mode={self.mode!r}"
        return f"Journal({self.path!r}, {state}, durability={self.durability!r})"


def _asked_payload(trial: Trial[Any]) -> list[Any]:
    """What an ``A`` record keeps of a trial (see docs/journal.md)."""
    path = getattr(trial._bucket, "path", None)
    config = trial.config
    return [
        trial.name,
        None if config is None else dict(config),
        trial.seed,
        None if trial.fidelities is None else dict(trial.fidelities),
        [str(m) for m in trial.metrics],
        None if path is None else os.fspath(path),
    ]


def _asked_frames(trials: Iterable[Trial[Any]], enc: msgspec.msgpack.Encoder) -> list[bytes]:
    return [frame(ASKED, _encode(enc, _asked_payload(trial))) for trial in trials]


def _trial_from_asked(payload: list[Any]) -> Trial[Any]:
    name, config, seed, fidelities, metrics, bucket = payload
    return Trial(
        name=name,
        config=config,
        seed=seed,
        fidelities=fidelities,
        metrics=[Metric.from_str(m) for m in metrics],
        bucket=bucket,
    )


def _remove_stale_compactions(path: str) -> None:
    """Remove what a compaction killed half-way left (only the lock holder compacts)."""
    import glob

    for stale in glob.glob(glob.escape(path) + ".compact-*"):
        with contextlib.suppress(OSError):
            os.unlink(stale)


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def metrics_of(table: Table) -> dict[str, Metric]:
    """The metrics named by the table's ``metric:`` keys, in key order."""
    out: dict[str, Metric] = {}
    for key in table.keys:
        if key.startswith("metric:"):
            m = Metric.from_str(key[len("metric:") :])
            out[m.name] = m
    return out


def open_history(
    cls: type[History],
    path: str | os.PathLike[str],
    *,
    mode: Literal["w", "r"],
    durability: Durability,
    repair: bool,
) -> History:
    journal = Journal(path, mode=mode, durability=durability, repair=repair)
    table = journal.table
    assert table is not None
    journal.table = None
    history = cls._from_parts(table, [None] * table.n, metrics_of(table))
    history._journal = journal
    # record_asked() and flush() take the history's lock, so a thread that records asked
    # trials never writes between another thread's add() and its rollback bookkeeping.
    journal._guard = history._lock
    if mode == "w" and journal.tail_rows >= AUTO_COMPACT_ROWS:
        # A journal left long (its writer died before close()): reloaded row by row this
        # once, stored as column blocks for the next open.
        with contextlib.suppress(OSError):
            journal.compact(table)
    return history


__all__ = ["Journal", "JournalError", "JournalLockedError", "open_history"]
