"""``SpanFigures``: every figure of one recorded interval, named (``Span._figures()``)."""

from __future__ import annotations

from typing import NamedTuple

from fasttrial._corecheck import _core


class SpanFigures(NamedTuple):
    """What a ``_core.Span`` recorded, converted: seconds of its kind's clock, memory in its
    unit, NaN for what was not recorded (yet)."""

    state: int  # 0 never started, 1 running, 2 done
    kind: int  # timer kind code (_core.WALL, CPU, PROCESS)
    unit: int  # memory unit code (_core.BYTES ... GIGABYTES)
    start: float
    end: float
    duration: float  # on the monotonic clock (the process clock for PROCESS)
    start_rss: float
    end_rss: float
    start_vms: float
    end_vms: float
    peak_rss: float
    cpu_time: float  # CPU seconds of this process inside the span
    cpu_time_children: float  # CPU seconds of its reaped children


EMPTY = 0
RUNNING = 1
DONE = 2

_core.set_figures_type(SpanFigures)
