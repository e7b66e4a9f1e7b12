"""The compiled core's CPU and peak readings: ``read_usage``, ``Span._raw_usage`` and the
list of open intervals that lets nested and overlapping intervals each keep their peak."""

from __future__ import annotations

import gc
import math
import os
import resource
import sys
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from fasttrial import _core

MB = 1024 * 1024
EXACT_PEAK = _core.peak_backend() == "linux-clear_refs"
needs_exact_peak = pytest.mark.skipif(not EXACT_PEAK, reason="no resettable peak here")
USAGE_CPU, USAGE_CHILDREN, USAGE_PEAK = 1, 2, 4  # FT_USAGE_* of ext/platform/ft_platform.h


def _spike(nbytes: int) -> None:
    arr = np.empty(nbytes, dtype=np.uint8)
    arr.fill(1)
    del arr


@pytest.fixture(autouse=True)
def _track_all() -> Iterator[None]:
    old = _core.set_tracking(True, True)
    try:
        yield
    finally:
        _core.set_tracking(*old)


def test_read_usage_agrees_with_getrusage() -> None:
    ours_cpu, ours_children, maxrss = _core.read_usage()
    ru = resource.getrusage(resource.RUSAGE_SELF)
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert ours_cpu / 1e9 == pytest.approx(ru.ru_utime + ru.ru_stime, abs=0.05)
    assert ours_children / 1e9 == pytest.approx(ch.ru_utime + ch.ru_stime, abs=0.01)
    if sys.platform.startswith("linux"):
        assert maxrss == pytest.approx(ru.ru_maxrss * 1024, abs=8 * MB)


def test_raw_usage_records_what_was_tracked() -> None:
    span = _core.Span()
    assert all(math.isnan(x) for x in span._raw_usage())
    span._start_recording()
    assert all(math.isnan(x) for x in span._raw_usage())  # running
    span._stop_recording()
    track, peak, scpu, ecpu, sch, ech = span._raw_usage_ns()
    assert track == USAGE_CPU | USAGE_CHILDREN | USAGE_PEAK
    assert 0 <= scpu <= ecpu and 0 <= sch <= ech
    peak_rss, cpu, children = span._raw_usage()
    assert peak_rss >= max(span._raw()[6], span._raw()[7])
    assert cpu == pytest.approx((ecpu - scpu) / 1e9)
    assert children == pytest.approx((ech - sch) / 1e9)
    assert peak == peak_rss


def test_nothing_tracked_is_nan() -> None:
    _core.set_tracking(False, False)
    span = _core.Span()
    span._start_recording("wall", "MB")
    span._stop_recording()
    assert span._raw_usage_ns()[0] == 0
    assert all(math.isnan(x) for x in span._raw_usage())


def test_peak_in_the_span_unit() -> None:
    span = _core.Span()
    span._start_recording("wall", "KB")
    span._stop_recording()
    assert span._raw_usage()[0] == pytest.approx(span._raw_usage_ns()[1] / 1024)


@needs_exact_peak
def test_a_span_freed_while_running_leaves_the_others_right() -> None:
    outer = _core.Span()
    outer._start_recording()
    lost = _core.Span()
    lost._start_recording()
    _spike(150 * MB)
    del lost  # freed running: it unlinks itself and hands its peak to outer
    gc.collect()
    inner = _core.Span()
    inner._start_recording()
    inner._stop_recording()
    outer._stop_recording()
    assert inner._raw_usage()[0] - inner._raw()[6] < 50 * MB
    assert outer._raw_usage()[0] - outer._raw()[6] >= 130 * MB


@needs_exact_peak
def test_restarting_a_running_span_starts_its_peak_anew() -> None:
    span = _core.Span()
    span._start_recording()
    _spike(150 * MB)
    span._start_recording()  # restart while running
    span._stop_recording()
    assert span._raw_usage()[0] - span._raw()[6] < 50 * MB


@needs_exact_peak
def test_tracking_switched_off_between_start_and_a_restart() -> None:
    span = _core.Span()
    span._start_recording()
    _core.set_tracking(False, False)
    span._start_recording()  # leaves the open list
    span._stop_recording()
    _core.set_tracking(True, True)
    other = _core.Span()
    other._start_recording()
    other._stop_recording()
    assert math.isnan(span._raw_usage()[0])
    assert other._raw_usage()[0] > 0


def test_intervals_in_threads_interleave_safely() -> None:
    errors: list[BaseException] = []
    spans: list[_core.Span] = []

    def work(seed: int) -> None:
        rng = np.random.default_rng(seed)
        try:
            open_spans: list[_core.Span] = []
            for _ in range(300):
                if open_spans and rng.random() < 0.5:
                    open_spans.pop(int(rng.integers(len(open_spans))))._stop_recording()
                else:
                    s = _core.Span()
                    s._start_recording()
                    open_spans.append(s)
                    spans.append(s)
                if rng.random() < 0.05:
                    _spike(4 * MB)
            for s in open_spans:
                s._stop_recording()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for s in spans:
        raw = s._raw()
        assert raw[0] == 2
        assert s._raw_usage()[0] >= max(raw[6], raw[7])


def test_many_tracked_spans_leak_nothing() -> None:
    def once() -> None:
        outer = _core.Span()
        outer._start_recording()
        inner = _core.Span()
        inner._start_recording()
        inner._stop_recording()
        outer._stop_recording()

    for _ in range(200):
        once()
    fds = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    gc.collect()
    before = sys.gettotalrefcount() if hasattr(sys, "gettotalrefcount") else None
    for _ in range(20_000):
        once()
    gc.collect()
    if before is not None:  # debug builds only
        assert sys.gettotalrefcount() - before < 1000
    if fds is not None:
        assert len(os.listdir("/proc/self/fd")) == fds


def test_cpu_of_a_sleep_is_small() -> None:
    span = _core.Span()
    span._start_recording()
    time.sleep(0.2)
    span._stop_recording()
    cpu = span._raw_usage()[1]
    assert 0 <= cpu < 0.1
