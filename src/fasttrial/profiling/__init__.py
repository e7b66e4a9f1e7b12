"""Profiling: ``Timer``, ``Memory``, ``Profile`` and ``Profiler``.

Clocks and memory are read by the compiled core; see ``fasttrial._core``.  What each
interval records besides (peak RSS, CPU time) is set by ``set_tracking``.
"""

from __future__ import annotations

from fasttrial.profiling.memory import Memory
from fasttrial.profiling.profiler import Profile, Profiler
from fasttrial.profiling.timing import Timer
from fasttrial.profiling.tracking import Tracking, peak_backend, set_tracking, tracking

__all__ = [
    "Memory",
    "Profile",
    "Profiler",
    "Timer",
    "Tracking",
    "peak_backend",
    "set_tracking",
    "tracking",
]
