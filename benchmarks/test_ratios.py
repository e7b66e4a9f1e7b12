"""A benchmark that can fail: fasttrial must stay far cheaper than the amltk way.

fasttrial and the pure-Python reference (``fasttrial._reference``, what amltk 1.10 does) are timed
in the same run, interleaved, with a plain median-of-repeats timer (``time.perf_counter``
around batches of calls).  The test fails if fasttrial's ``begin()``, ``profile()`` or
``Trial(...)`` + ``begin()`` + ``success()`` is not at least ``MIN_RATIO`` times cheaper than
the reference's.  The expected ratio is far higher (see benchmarks/README.md); the floor is
loose so that it holds on a slow or noisy machine and only a real regression trips it.

The timer and the operations are ``fasttrial._bench``'s (the same as ``fasttrial bench``).
It uses its own timer, not the ``benchmark`` fixture, so it runs under ``--benchmark-only``
and also under ``--benchmark-disable`` (as CI runs the benchmarks).
"""

from __future__ import annotations

from typing import Any

import pytest

from fasttrial._bench import measure

MIN_RATIO = 10.0
REPEATS = 15  # batches per implementation and operation; the median is kept
BATCH_SECONDS = 0.004  # aim for batches about this long, so the clock's resolution is moot

pytestmark = pytest.mark.ratios


def test_fasttrial_is_much_cheaper_than_reference(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, ratio_lines: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    medians = measure(repeats=REPEATS, batch_seconds=BATCH_SECONDS)
    failures = []
    for op, by_impl in medians.items():
        ft, ref = by_impl["fasttrial"], by_impl["reference"]
        ratio = ref / ft
        line = (
            f"{op:<11} fasttrial {ft * 1e6:9.2f} us   reference {ref * 1e6:9.2f} us"
            f"   reference/fasttrial = {ratio:7.1f}x   (must be >= {MIN_RATIO:g}x)"
        )
        print(line)
        ratio_lines.append(line)
        if ratio < MIN_RATIO:
            failures.append(line)
    assert not failures, "fasttrial is not cheap enough:\n" + "\n".join(failures)
