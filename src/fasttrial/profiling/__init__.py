"""Profiling: ``Timer``, ``Memory``, ``Profile`` and ``Profiler``.

Clocks and memory are read by the compiled core; see ``fasttrial._core``.
"""

from __future__ import annotations

from fasttrial.profiling.memory import Memory
from fasttrial.profiling.profiler import Profile, Profiler
from fasttrial.profiling.timing import Timer

__all__ = ["Memory", "Profile", "Profiler", "Timer"]
