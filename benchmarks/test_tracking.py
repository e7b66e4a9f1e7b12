"""What peak and CPU tracking cost: ``begin()`` and ``profile()`` with each setting.

``fasttrial.profiling.set_tracking(peak=..., cpu=...)`` chooses what every interval records
besides clocks and start/end memory.  Each group times ``with trial.begin(): pass`` (or
``with trial.profile("x"): pass``) with:

* ``fasttrial``: the defaults (peak on, CPU off);
* ``fasttrial-off``: both off (the path of fasttrial before peak and CPU tracking);
* ``fasttrial-cpu``: CPU times only;
* ``fasttrial-peak+cpu``: both on;
* ``reference`` (what amltk 1.10 does, ``_reference.py``), ``amltk`` itself when it is
  installed, and the ``floor`` (an empty context manager).

``test_tracking_costs`` times them again with its own interleaved median-of-repeats timer
(the calling thread's CPU clock, ``time.thread_time``, around batches of calls: on a
shared, loaded machine the wall clock mostly measures the other processes' load) and
fails if tracking everything costs more than ``MAX_TRACKING_COST`` times tracking nothing,
or if fasttrial is not far cheaper than the reference (and, when amltk is installed, than
amltk: ``MIN_VS_AMLTK_ON`` with everything on, ``MIN_VS_AMLTK_DEFAULT`` for a plain
``begin()`` with the defaults).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from typing import Any

import pytest
from _impls import HAVE_AMLTK, Impl, load_impl

from fasttrial.profiling import set_tracking, tracking

SETTINGS: dict[str, tuple[bool, bool]] = {
    "fasttrial": (True, False),  # the defaults
    "fasttrial-off": (False, False),
    "fasttrial-cpu": (False, True),
    "fasttrial-peak+cpu": (True, True),
}
MAX_TRACKING_COST = 2.0  # everything on / everything off, at most
MIN_VS_REFERENCE = 10.0  # reference / everything on, at least (loose, as test_ratios.py)
MIN_VS_AMLTK_ON = 30.0  # amltk / everything on, at least
MIN_VS_AMLTK_DEFAULT = 40.0  # amltk / defaults, begin(), at least
REPEATS = 31
BATCH_SECONDS = 0.01

AMLTK_SKIP = pytest.mark.skipif(not HAVE_AMLTK, reason="amltk is not installed (optional)")


@pytest.fixture
def restore_tracking() -> Iterator[None]:
    old = tracking()
    try:
        yield
    finally:
        set_tracking(**old._asdict())


def _enter_exit(impl: Impl, op: str) -> Callable[[], Any]:
    trial = impl.Trial(name="t", config={"x": 1}, metrics=[impl.Metric("loss")])

    def begin() -> Any:
        with trial.begin():
            pass
        return trial

    def profile() -> Any:
        with trial.profile("x"):
            pass
        return trial

    return begin if op == "begin" else profile


def _check(trial: Any, op: str, label: str) -> None:
    interval = trial.profiles["x"] if op == "profile" else trial
    assert interval.time.duration >= 0
    assert interval.memory.end_rss > 0
    if label in SETTINGS:
        peak, cpu = SETTINGS[label]
        assert (interval.memory.peak_rss > 0) is peak
        assert (interval.time.cpu_time >= 0) is cpu


# -- pytest-benchmark groups -----------------------------------------------------------


@pytest.mark.benchmark(group="begin-tracking")
@pytest.mark.parametrize("label", list(SETTINGS))
@pytest.mark.usefixtures("restore_tracking")
def test_begin_tracking(benchmark: Any, label: str) -> None:
    set_tracking(peak=SETTINGS[label][0], cpu=SETTINGS[label][1])
    run = _enter_exit(load_impl("fasttrial"), "begin")
    _check(benchmark(run), "begin", label)


@pytest.mark.benchmark(group="profile-tracking")
@pytest.mark.parametrize("label", list(SETTINGS))
@pytest.mark.usefixtures("restore_tracking")
def test_profile_tracking(benchmark: Any, label: str) -> None:
    set_tracking(peak=SETTINGS[label][0], cpu=SETTINGS[label][1])
    run = _enter_exit(load_impl("fasttrial"), "profile")
    _check(benchmark(run), "profile", label)


@pytest.mark.parametrize("op", ["begin", "profile"])
@pytest.mark.parametrize("label", ["reference", pytest.param("amltk", marks=AMLTK_SKIP)])
def test_tracking_others(
    benchmark: Any, label: str, op: str, tmp_path: Any, monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)  # amltk makes a bucket folder per Trial
    benchmark.group = f"{op}-tracking"
    run = _enter_exit(load_impl(label), op)
    _check(benchmark(run), op, label)


@pytest.mark.parametrize("op", ["begin", "profile"])
@pytest.mark.parametrize("label", ["floor"])
def test_tracking_floor(benchmark: Any, label: str, op: str) -> None:
    benchmark.group = f"{op}-tracking"

    def run() -> Any:
        with nullcontext(label) as value:
            pass
        return value

    assert benchmark(run) == label


# -- the ratio test ----------------------------------------------------------------------


# The thread's CPU clock (user + system, so system calls count): what a call costs this
# thread, without the time the scheduler gave to other processes in between.
_clock = time.thread_time


def _batch_size(fn: Callable[[], Any]) -> int:
    n = 1
    while True:
        t0 = _clock()
        for _ in range(n):
            fn()
        elapsed = _clock() - t0
        if elapsed >= BATCH_SECONDS / 4 or n >= 1 << 20:
            return max(1, int(n * BATCH_SECONDS / max(elapsed, 1e-9)))
        n *= 4


def measure(op: str, others: tuple[str, ...]) -> dict[str, float]:
    """Median seconds per call of ``op`` for each setting and each other implementation.

    Settings and implementations are interleaved (order reversed every other repeat), and
    the tracking setting is switched before each batch, so drift hits all alike.
    """
    fns: dict[str, Callable[[], Any]] = {}
    for label in SETTINGS:
        fns[label] = _enter_exit(load_impl("fasttrial"), op)
    for name in others:
        fns[name] = _enter_exit(load_impl(name), op)

    def prepare(label: str) -> None:
        if label in SETTINGS:
            set_tracking(peak=SETTINGS[label][0], cpu=SETTINGS[label][1])

    sizes = {}
    for label, fn in fns.items():
        prepare(label)
        sizes[label] = _batch_size(fn)
    samples: dict[str, list[float]] = {label: [] for label in fns}
    labels = list(fns)
    for r in range(REPEATS):
        for label in labels if r % 2 == 0 else labels[::-1]:
            prepare(label)
            fn, n = fns[label], sizes[label]
            t0 = _clock()
            for _ in range(n):
                fn()
            samples[label].append((_clock() - t0) / n)
    return {label: statistics.median(s) for label, s in samples.items()}


@pytest.mark.ratios
@pytest.mark.usefixtures("restore_tracking")
def test_tracking_costs(tmp_path: Any, monkeypatch: Any, ratio_lines: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    others = ("reference", "amltk") if HAVE_AMLTK else ("reference",)
    failures = []
    for op in ("begin", "profile"):
        med = measure(op, others)
        off, default, on = med["fasttrial-off"], med["fasttrial"], med["fasttrial-peak+cpu"]
        checks = [
            ("peak+cpu / off", on / off, "<=", MAX_TRACKING_COST),
            ("reference / peak+cpu", med["reference"] / on, ">=", MIN_VS_REFERENCE),
        ]
        if "amltk" in med:
            checks.append(("amltk / peak+cpu", med["amltk"] / on, ">=", MIN_VS_AMLTK_ON))
            if op == "begin":
                checks.append(
                    ("amltk / defaults", med["amltk"] / default, ">=", MIN_VS_AMLTK_DEFAULT)
                )
        times = "  ".join(f"{label} {sec * 1e6:.2f} us" for label, sec in med.items())
        lines = [f"{op}-tracking: {times}"]
        for name, ratio, cmp, bound in checks:
            ok = ratio <= bound if cmp == "<=" else ratio >= bound
            line = f"  {name:<22} = {ratio:6.2f}x   (must be {cmp} {bound:g}x)"
            lines.append(line)
            if not ok:
                failures.append(f"{op}: {line.strip()}")
        for line in lines:
            print(line)
            ratio_lines.append(line)
    assert not failures, "tracking costs too much:\n" + "\n".join(failures)
