"""A pytest plugin that makes fasttrial's benchmarked operations slower, to check that the
regression guard (``--benchmark-compare-fail``) trips.  It changes nothing on disk::

    python -m pytest benchmarks/ -p benchmarks._slowdown --benchmark-only ... \
        --benchmark-compare --benchmark-compare-fail=median:25%

It wraps, for this pytest process only: ``Trial(...)``, ``Trial.begin``, ``Trial.profile``,
``Profiler.__call__`` and ``fasttrial._core.read_memory`` with a busy wait of
``FASTTRIAL_SLOWDOWN_US`` microseconds (5 by default, about as much as each operation costs),
and ``Trial.Report.df`` and ``History.df`` so that they take twice as long.  (A profile or
trace hook, ``sys.setprofile``, does not work for this: pytest-benchmark switches hooks off
while it times.)
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from typing import Any

SPIN_SECONDS = float(os.environ.get("FASTTRIAL_SLOWDOWN_US", "5")) * 1e-6


def _spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def _fixed(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def slower(*args: Any, **kwargs: Any) -> Any:
        _spin(SPIN_SECONDS)
        return fn(*args, **kwargs)

    return slower


def _doubled(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def slower(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        result = fn(*args, **kwargs)
        _spin(time.perf_counter() - t0)
        return result

    return slower


def pytest_configure(config: Any) -> None:
    from fasttrial import _core
    from fasttrial.optimization import History, Trial
    from fasttrial.profiling import Profiler

    trial_init = Trial.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        _spin(SPIN_SECONDS)
        trial_init(self, *args, **kwargs)

    Trial.__init__ = init  # type: ignore[method-assign]
    Trial.begin = _fixed(Trial.begin)  # type: ignore[method-assign]
    Trial.profile = _fixed(Trial.profile)  # type: ignore[method-assign]
    Profiler.__call__ = _fixed(Profiler.__call__)  # type: ignore[method-assign]
    Trial.Report.df = _doubled(Trial.Report.df)  # type: ignore[method-assign]
    History.df = _doubled(History.df)  # type: ignore[method-assign]
    _core.read_memory = _fixed(_core.read_memory)
    print(f"benchmarks._slowdown: fasttrial made slower ({SPIN_SECONDS * 1e6:g} us per call)")
