"""The compiled loops of the History journal (ext/_journal.pxi): its CRC-32 must be zlib's,
its row records must decode with msgpack to what the columns hold, and the scanner must
stop exactly at a cut or at damage."""

from __future__ import annotations

import random
import zlib

import msgspec
import pytest

from fasttrial._corecheck import _core


def test_crc32_is_zlibs() -> None:
    rng = random.Random(5)
    for n in [*range(0, 40), 255, 256, 1000, 4097]:
        data = rng.randbytes(n)
        assert _core.crc32(data) == zlib.crc32(data), n
        assert _core.crc32(memoryview(data)) == zlib.crc32(data)


def _column(values: list[object]) -> object:
    col = _core.new_column(values[0])
    for v in values:
        col.push(v)
    return col


@pytest.mark.parametrize(
    "values",
    [
        [1.5, float("nan"), -0.0, 1e300],
        # float32 where exact, float64 else: each must decode to the very same double
        [0.1, 5e-324, 1e-40, float("inf"), -float("inf"), 28241920.0, 0.5, 3.4e38, 3.5e38],
        [1, 2**53, -(2**53), 0, -1, -32, -33, 127, 128, 65536],
        [1, 2.5, 3],  # mixed ints and floats: tags
        [True, False, True],
        ["a", "", "é ☃", "x" * 40, "y" * 300, "z" * 70000],
        [None, "s", 2**70, [1, "a"], {"k": 1}, 1.5],
    ],
)
def test_row_record_decodes_to_the_column_values(values: list[object]) -> None:
    col = _column(values)
    dec = msgspec.msgpack.Decoder()
    for i in range(col.n):
        rec = _core.encode_row_record(
            [col],
            (0,),
            i,
            300,
            ord("R"),
            lambda v: msgspec.msgpack.encode(
                msgspec.msgpack.Ext(1, str(v).encode()) if isinstance(v, int) else v
            ),
        )
        length = int.from_bytes(rec[0:4], "little")
        assert length == len(rec) - 12
        assert int.from_bytes(rec[4:8], "little") == zlib.crc32(rec[12:])
        assert rec[8] == ord("R") and rec[9] == 0
        assert int.from_bytes(rec[10:12], "little") == zlib.crc32(rec[:10]) & 0xFFFF
        lid, got = dec.decode(rec[12:])
        want = col.value(i)
        assert lid == 300
        if want is _core.MISSING:
            assert got[0] != got[0]  # NaN
        elif isinstance(want, int) and not isinstance(want, bool) and abs(want) > 2**63:
            assert got[0] == msgspec.msgpack.Ext(1, str(want).encode())
        else:
            assert type(got[0]) is type(want) and repr(got[0]) == repr(want)


def test_scan_stops_at_cuts_and_damage() -> None:
    col = _column(["a", "b", "c"])
    recs = [
        _core.encode_row_record([col], (0,), i, 0, ord("R"), msgspec.msgpack.encode)
        for i in range(3)
    ]
    data = b"H" * 16 + b"".join(recs)
    ends = [16 + sum(len(r) for r in recs[: k + 1]) for k in range(3)]
    records, end, status = _core.journal_scan(data, 16)
    assert (end, status) == (len(data), 0) and [r[2] for r in records] == ends
    for cut in range(16, len(data)):
        records, end, status = _core.journal_scan(data[:cut], 16)
        whole = [e for e in ends if e <= cut]
        assert [r[2] for r in records] == whole
        assert end == (whole[-1] if whole else 16)
        assert status == (0 if end == cut else 1)
    bad = bytearray(data)
    bad[ends[0] + 2] ^= 0x40  # the second record's length
    assert _core.journal_scan(bytes(bad), 16)[1:] == (ends[0], 2)
    bad = bytearray(data)
    bad[ends[1] - 1] ^= 0x01  # the second record's payload
    assert _core.journal_scan(bytes(bad), 16)[1:] == (ends[0], 3)
