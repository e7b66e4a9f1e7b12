"""A benchmark that can fail: fasttrial must stay far cheaper than the amltk way.

fasttrial and the pure-Python reference (``_reference.py``, what amltk 1.10 does) are timed
in the same run, interleaved, with a plain median-of-repeats timer (``time.perf_counter``
around batches of calls).  The test fails if fasttrial's ``begin()``, ``profile()`` or
``Trial(...)`` + ``begin()`` + ``success()`` is not at least ``MIN_RATIO`` times cheaper than
the reference's.  The expected ratio is far higher (see benchmarks/README.md); the floor is
loose so that it holds on a slow or noisy machine and only a real regression trips it.

It uses its own timer, not the ``benchmark`` fixture, so it runs under ``--benchmark-only``
and also under ``--benchmark-disable`` (as CI runs the benchmarks).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import pytest
from _impls import Impl, load_impl

MIN_RATIO = 10.0
REPEATS = 15  # batches per implementation and operation; the median is kept
BATCH_SECONDS = 0.004  # aim for batches about this long, so the clock's resolution is moot

pytestmark = pytest.mark.ratios


def _operations(impl: Impl) -> dict[str, Callable[[], Any]]:
    metric = impl.Metric("loss", minimize=True)
    Trial = impl.Trial
    config = {"x": 1.0, "y": 2}
    trial = Trial(name="ratio", config=config, metrics=[metric])

    def begin() -> None:
        with trial.begin():
            pass

    def profile() -> None:
        with trial.profile("x"):
            pass

    def trial_full() -> Any:
        t = Trial(name="t", config=config, metrics=[metric])
        with t.begin():
            pass
        return t.success(loss=1.0)

    # Check each once (a broken API must fail here, not be timed).
    begin()
    assert trial.exception is None and trial.time.duration >= 0
    profile()
    assert trial.profiles["x"].time.duration >= 0
    report = trial_full()
    assert str(getattr(report.status, "value", report.status)) == "success"
    return {"begin": begin, "profile": profile, "trial-full": trial_full}


def _batch_size(fn: Callable[[], Any]) -> int:
    """Calls per batch so that one batch takes about ``BATCH_SECONDS``."""
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - t0
        if elapsed >= BATCH_SECONDS / 4 or n >= 1 << 20:
            return max(1, int(n * BATCH_SECONDS / max(elapsed, 1e-9)))
        n *= 4


def _time_batch(fn: Callable[[], Any], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def measure(names: tuple[str, ...] = ("fasttrial", "reference")) -> dict[str, dict[str, float]]:
    """Median seconds per call: ``{operation: {implementation: seconds}}``."""
    ops = {name: _operations(load_impl(name)) for name in names}
    result: dict[str, dict[str, float]] = {}
    for op in ops[names[0]]:
        fns = {name: ops[name][op] for name in names}
        sizes = {name: _batch_size(fn) for name, fn in fns.items()}
        samples: dict[str, list[float]] = {name: [] for name in names}
        for r in range(REPEATS):
            order = names if r % 2 == 0 else names[::-1]  # interleave against drift
            for name in order:
                samples[name].append(_time_batch(fns[name], sizes[name]))
        result[op] = {name: statistics.median(s) for name, s in samples.items()}
    return result


def test_fasttrial_is_much_cheaper_than_reference(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, ratio_lines: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    medians = measure()
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
