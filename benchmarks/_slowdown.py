"""A pytest plugin that makes fasttrial's benchmarked operations slower, to check that the
guards trip.  It changes nothing on disk::

    FASTTRIAL_SLOWDOWN_US=1 python -m pytest benchmarks/ -m guard -p benchmarks._slowdown
    python -m pytest benchmarks/ -p benchmarks._slowdown --benchmark-only ... \
        --benchmark-compare --benchmark-compare-fail=median:25%

It wraps, for this pytest process only (and for the processes its tests start, which see
``FASTTRIAL_SLOWDOWN_ACTIVE=1`` and call ``install()``, as ``benchmarks/_counts.py`` does):

* ``Trial(...)``, ``Trial.begin``, ``Trial.profile``, ``Profiler.__call__``,
  ``History.add`` and ``fasttrial._core.read_memory`` with a busy wait of
  ``FASTTRIAL_SLOWDOWN_US`` microseconds (5 by default, about as much as each operation
  costs; 0: no wait and no wrapper);
* ``Trial.Report.df`` and ``History.df`` so that they take twice as long (when
  ``FASTTRIAL_SLOWDOWN_US`` is not 0);
* with ``FASTTRIAL_SLOWDOWN_SYSCALLS=1``: the context managers ``Trial.begin()`` and
  ``Trial.profile()`` return make one more system call (``os.getpid()``) at each boundary,
  entry and exit, which the guard's system-call counts must catch.

(A profile or trace hook, ``sys.setprofile``, does not work for this: pytest-benchmark
switches hooks off while it times.)
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from typing import Any

SPIN_SECONDS = float(os.environ.get("FASTTRIAL_SLOWDOWN_US", "5")) * 1e-6
EXTRA_SYSCALLS = os.environ.get("FASTTRIAL_SLOWDOWN_SYSCALLS", "0") == "1"
_installed = False


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


class _Boundaries:
    """A context manager around another that makes one more system call at each end."""

    __slots__ = ("_inner",)

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __enter__(self) -> Any:
        os.getpid()
        return self._inner.__enter__()

    def __exit__(self, *exc: Any) -> Any:
        result = self._inner.__exit__(*exc)
        os.getpid()
        return result


def _syscall_each_boundary(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return _Boundaries(fn(*args, **kwargs))

    return wrapped


def install() -> str:
    """Make fasttrial slower in this process (once); return what was done, in words."""
    global _installed
    from fasttrial import _core
    from fasttrial.optimization import History, Trial
    from fasttrial.profiling import Profiler

    done = []
    if SPIN_SECONDS > 0:
        done.append(f"{SPIN_SECONDS * 1e6:g} us per call")
    if EXTRA_SYSCALLS:
        done.append("one more system call (getpid) at each begin()/profile() boundary")
    if _installed:
        return ", ".join(done)
    _installed = True
    if SPIN_SECONDS > 0:
        trial_init = Trial.__init__

        def init(self: Any, *args: Any, **kwargs: Any) -> None:
            _spin(SPIN_SECONDS)
            trial_init(self, *args, **kwargs)

        Trial.__init__ = init  # type: ignore[method-assign]
        Trial.begin = _fixed(Trial.begin)  # type: ignore[method-assign]
        Trial.profile = _fixed(Trial.profile)  # type: ignore[method-assign]
        Profiler.__call__ = _fixed(Profiler.__call__)  # type: ignore[method-assign]
        History.add = _fixed(History.add)  # type: ignore[method-assign]
        Trial.Report.df = _doubled(Trial.Report.df)  # type: ignore[method-assign]
        History.df = _doubled(History.df)  # type: ignore[method-assign]
        _core.read_memory = _fixed(_core.read_memory)
    if EXTRA_SYSCALLS:
        Trial.begin = _syscall_each_boundary(Trial.begin)  # type: ignore[method-assign]
        Trial.profile = _syscall_each_boundary(Trial.profile)  # type: ignore[method-assign]
    return ", ".join(done) or "nothing (FASTTRIAL_SLOWDOWN_US=0)"


def pytest_configure(config: Any) -> None:
    what = install()
    os.environ["FASTTRIAL_SLOWDOWN_ACTIVE"] = "1"  # for the processes the tests start
    print(f"benchmarks._slowdown: fasttrial made slower ({what})")
