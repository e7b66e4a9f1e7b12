"""What every profiled interval records besides clocks and start/end memory.

* **Peak RSS** (``Memory.Interval.peak_rss``, column ``memory:peak_rss``): on Linux the
  kernel's high-water mark of the resident set, reset through ``/proc/self/clear_refs`` at
  an interval's start and read with ``getrusage`` at its end, so a spike freed before the
  interval ends is still seen.  Where that is not available (macOS, Windows, a kernel or
  sandbox without ``clear_refs``), ``peak_backend()`` says ``"start-end"`` and the peak is
  the larger of the start and end RSS.  **On by default.**
* **CPU time** (``Timer.Interval.cpu_time`` / ``cpu_time_children``, columns
  ``time:cpu_time`` / ``time:cpu_time_children``): CPU seconds (user + system, all
  threads) of this process inside the interval, and of the child processes reaped inside
  it.  **Off by default**: it costs two more system calls per interval (see
  ``benchmarks/test_tracking.py``).

The setting is process-wide (the kernel's mark is per process) and applies to intervals
started after the call; an interval records what was set when it started.  What is not
recorded is NaN.
"""

from __future__ import annotations

from typing import NamedTuple

from fasttrial._corecheck import _core


class Tracking(NamedTuple):
    """What intervals record: ``peak`` (peak RSS) and ``cpu`` (CPU times)."""

    peak: bool
    cpu: bool


def set_tracking(*, peak: bool | None = None, cpu: bool | None = None) -> Tracking:
    """Choose what intervals started from now on record (None leaves a setting as is).

    Args:
        peak: Record each interval's peak RSS (``memory:peak_rss``).  Default on.
        cpu: Record the CPU seconds of this process and of its reaped children inside each
            interval (``time:cpu_time``, ``time:cpu_time_children``).  Default off.

    Returns:
        The setting before the call, so it can be restored:
        ``old = set_tracking(cpu=True); ...; set_tracking(**old._asdict())``.
    """
    before = _core.set_tracking(peak, cpu)
    return Tracking(*before)


def tracking() -> Tracking:
    """Return what intervals started now record."""
    return Tracking(*_core.tracking())


def peak_backend() -> str:
    """Return how peaks are read here.

    Returns:
        ``"linux-clear_refs"`` (the kernel's resettable high-water mark, exact), or
        ``"start-end"`` where the platform has no cheap resettable peak: an interval's
        ``peak_rss`` is then the larger of its start and end RSS.
    """
    return str(_core.peak_backend())
