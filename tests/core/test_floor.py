"""The benchmark-only floors of the core (ext/_floor.pxi): what they read and append.

The overhead guard (benchmarks/test_guard.py) times fasttrial against them and counts their
system calls; here they are checked to do the work they stand for, on real readings.
"""

from __future__ import annotations

import math

import pytest

from fasttrial import _bench, _core
from fasttrial.optimization import Metric, Trial
from fasttrial.optimization.trial import DEFAULT_BUCKET


def test_interval_floor_reads_the_clock_and_memory_at_both_ends() -> None:
    floor = _core.IntervalFloor()
    rss, _ = _core.read_memory()
    with floor:
        block = bytearray(8 << 20)  # 8 MiB, touched: the end RSS sees it
        for i in range(0, len(block), 4096):
            block[i] = 1
    duration, start_rss, end_rss, _peak = floor.readings()
    assert duration > 0
    assert start_rss > 0 and end_rss > 0
    assert abs(start_rss - rss) < 64 << 20
    assert end_rss - start_rss >= 4 << 20
    assert floor.calls == 1
    del block


def test_interval_floor_lets_exceptions_through() -> None:
    floor = _core.IntervalFloor()
    with pytest.raises(ZeroDivisionError), floor:
        1 / 0  # noqa: B018
    assert floor.readings()[0] >= 0  # the end was read on the way out


def test_interval_floor_refuses_where_memory_is_not_read_natively() -> None:
    _core._force_psutil_reader(True)
    try:
        with pytest.raises(OSError, match="floor cannot be measured here"), _core.IntervalFloor():
            pass
        pairs = _bench.guard_pairs()
    finally:
        _core._force_psutil_reader(False)
    for op in ("begin", "profile", "trial-full"):
        assert pairs[op].floor is None
        assert "psutil" in str(pairs[op].floor_error)
    assert pairs["history-add"].floor is not None  # appending needs no memory reading
    try:
        with pytest.raises(_bench.FloorUnavailable, match="psutil"):
            _bench.ratio_to_floor(pairs["begin"], rounds=1, batches=1)
    finally:
        _bench.close_pairs(pairs)


def _report(name: str, loss: float, profile: bool) -> Trial.Report:
    trial = Trial(name=name, config={"x": 1.5, "kernel": "rbf"}, metrics=[Metric("loss")])
    with trial.begin():
        if profile:
            with trial.profile("fit"):
                pass
    return trial.success(loss=loss)


def test_row_floor_appends_the_reports_values() -> None:
    floor = _core.RowFloor(DEFAULT_BUCKET)
    plain = _report("a", 0.25, profile=False)
    nested = _report("b", 0.5, profile=True)
    floor.append(plain)
    floor.append(nested)
    assert len(floor) == 2
    assert floor.values(0) == [0.25, 0.5]  # the metric
    assert floor.objects(0) == ["a", "b"]  # names
    assert floor.objects(1) == ["success", "success"]
    assert floor.objects(5) == [DEFAULT_BUCKET, DEFAULT_BUCKET]
    assert floor.objects(6) == [1.5, 1.5] and floor.objects(7) == ["rbf", "rbf"]
    # The "trial" interval's 12 numbers follow the metric: memory, then times; the
    # duration (12th) is the report's own.
    assert floor.values(12)[0] == pytest.approx(plain.trial.time.duration)
    assert floor.values(4)[0] == plain.trial.memory.start_rss
    assert floor.values(5)[0] == plain.trial.memory.end_rss
    assert floor.values(8)[0] == plain.trial.time.start
    # The nested report has a second interval (fit): 12 more numbers, for its row only.
    assert len(floor.values(13)) == 1
    assert math.isfinite(floor.values(24)[0])


def test_row_floor_refuses_what_is_not_a_report() -> None:
    floor = _core.RowFloor()
    with pytest.raises(TypeError):
        floor.append("not a report")
    assert len(floor) == 0
    with pytest.raises(IndexError, match="no numeric column 0"):
        floor.values(0)


def test_lower_quartile() -> None:
    assert _bench.lower_quartile([5.0, 1.0, 3.0, 2.0, 4.0]) == 2.0
    assert _bench.lower_quartile([7.0]) == 7.0
