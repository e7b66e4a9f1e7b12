"""Timers: ``Timer``, ``Timer.Interval``, ``Timer.Kind``, ``Timer.Unit``.

Clocks are read in the compiled core in integer nanoseconds; seconds appear only when an
``Interval`` is made.  A duration always comes from the monotonic clock, so it is never
negative, even for the ``wall`` kind whose start and end are epoch seconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from enum import Enum
from typing import Any, Literal

from fasttrial._corecheck import _core
from fasttrial.profiling._figures import RUNNING
from fasttrial.profiling._na import NA, cell_enum, cell_number, is_missing

KindLike = Literal["wall", "cpu", "process"]


def _nan_equal(a: Any, b: Any) -> bool:
    """Equality where NaN equals NaN and pandas.NA equals pandas.NA."""
    if a is b:
        return True
    if is_missing(a) and is_missing(b):
        return True
    try:
        return bool(a == b)
    except TypeError:
        return False


class Timer:
    """A running timer: ``Timer.start(kind)`` then ``timer.stop()`` gives an ``Interval``.

    Attributes:
        start_time: When the timer started, in seconds of its kind's clock.
        kind: Which clock the timer reads.
    """

    __slots__ = ("_span", "kind", "start_time")

    class Kind(str, Enum):
        """Which clock a timer reads.

        * ``wall``: seconds since the Unix epoch (``time.time()``).
        * ``cpu``: the monotonic performance counter (``time.perf_counter()``); amltk's name.
        * ``process``: CPU time of this process, user + system (``time.process_time()``).
        """

        WALL = "wall"
        CPU = "cpu"
        PROCESS = "process"

        def __str__(self) -> str:
            return self.value

        def __repr__(self) -> str:
            return self.value

        @classmethod
        def from_str(cls, key: Any) -> Timer.Kind | Any:
            """Return the kind named by ``key`` (case-insensitive), or ``pandas.NA``."""
            if isinstance(key, Timer.Kind):
                return key
            if isinstance(key, str):
                try:
                    return Timer.Kind[key.upper()]
                except KeyError:
                    return NA()
            return NA()

    class Unit(str, Enum):
        """The unit of a time interval (fasttrial always reports seconds)."""

        SECONDS = "seconds"
        MILLISECONDS = "milliseconds"
        MICROSECONDS = "microseconds"
        NANOSECONDS = "nanoseconds"

        def __str__(self) -> str:
            return self.value

        def __repr__(self) -> str:
            return self.value

        @classmethod
        def from_str(cls, key: Any) -> Timer.Unit | Any:
            """Return the unit named by ``key`` (case-insensitive), or ``pandas.NA``."""
            if isinstance(key, Timer.Unit):
                return key
            if isinstance(key, str):
                try:
                    return Timer.Unit[key.upper()]
                except KeyError:
                    return NA()
            return NA()

    class Interval:
        """A measured time interval.

        Attributes:
            start: Start, in seconds of the kind's clock (epoch seconds for ``wall``).
            end: End, in the same clock and unit.
            kind: The clock (``Timer.Kind``), or ``pandas.NA`` when unknown.
            unit: The unit (``Timer.Unit.SECONDS``), or ``pandas.NA`` when unknown.
            cpu_time: CPU seconds (user + system, all threads) this process spent inside
                the interval, whatever its ``kind``; NaN when not recorded (CPU tracking
                off, see ``fasttrial.profiling.set_tracking``).
            cpu_time_children: CPU seconds of the child processes that ended and were
                waited for inside the interval (``RUSAGE_CHILDREN``); NaN when not
                recorded or where the OS does not give it (Windows).
        """

        __slots__ = ("_duration", "cpu_time", "cpu_time_children", "end", "kind", "start", "unit")

        def __init__(
            self,
            start: float,
            end: float,
            kind: Timer.Kind | Any,
            unit: Timer.Unit | Any,
            duration: float | None = None,
            cpu_time: float = math.nan,
            cpu_time_children: float = math.nan,
        ) -> None:
            self.start = start
            self.end = end
            self.kind = kind
            self.unit = unit
            self._duration = duration
            self.cpu_time = cpu_time
            self.cpu_time_children = cpu_time_children

        @property
        def duration(self) -> float:
            """Length of the interval in seconds, never negative (NaN if not measured).

            Measured intervals take it from the monotonic clock; intervals built from
            start/end alone use ``end - start``, clamped at 0.
            """
            if self._duration is not None:
                return self._duration
            d = float(self.end) - float(self.start)
            return d if (d >= 0 or math.isnan(d)) else 0.0

        def to_dict(self, *, prefix: str = "") -> dict[str, Any]:
            """Return the fields as a flat dict with keys ``{prefix}start`` ... ``{prefix}unit``.

            Keys, in this order: ``start``, ``end``, ``cpu_time``, ``cpu_time_children``,
            ``duration``, ``kind``, ``unit``: amltk's, with the two CPU times inserted so
            that a row still ends with ``duration``, ``kind``, ``unit`` as amltk's does.
            """
            return {
                f"{prefix}start": self.start,
                f"{prefix}end": self.end,
                f"{prefix}cpu_time": self.cpu_time,
                f"{prefix}cpu_time_children": self.cpu_time_children,
                f"{prefix}duration": self.duration,
                f"{prefix}kind": self.kind,
                f"{prefix}unit": self.unit,
            }

        def __repr__(self) -> str:
            # amltk's repr (the seed page prints it); the CPU times are attributes.
            return (
                f"Timer.Interval(start={self.start!r}, end={self.end!r}, "
                f"kind={self.kind!r}, unit={self.unit!r})"
            )

        def __eq__(self, other: object) -> bool:
            if not isinstance(other, Timer.Interval):
                return NotImplemented
            return (
                _nan_equal(self.start, other.start)
                and _nan_equal(self.end, other.end)
                and _nan_equal(self.duration, other.duration)
                and _nan_equal(self.kind, other.kind)
                and _nan_equal(self.unit, other.unit)
                and _nan_equal(self.cpu_time, other.cpu_time)
                and _nan_equal(self.cpu_time_children, other.cpu_time_children)
            )

        __hash__ = None  # type: ignore[assignment]

        def __reduce__(self) -> tuple[Any, ...]:
            return (
                Timer.Interval,
                (
                    self.start,
                    self.end,
                    self.kind,
                    self.unit,
                    self._duration,
                    self.cpu_time,
                    self.cpu_time_children,
                ),
            )

    def __init__(self, start_time: float, kind: Timer.Kind | Any) -> None:
        self.start_time = start_time
        self.kind = kind
        # The interval is recorded by a core Span started now (its duration, and its CPU
        # times when CPU tracking is on); a kind the core does not know records nothing.
        span: _core.Span | None = _core.Span()
        try:
            span._start_recording(kind, None)  # type: ignore[union-attr]
        except ValueError:
            span = None
        self._span = span

    def __repr__(self) -> str:
        return f"Timer(start_time={self.start_time!r}, kind={self.kind!r})"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Timer.Interval:
        """Build an interval from ``start``/``end``/``duration``/``kind``/``unit`` keys (and
        ``cpu_time``/``cpu_time_children``).

        Missing keys become NaN (numbers) or ``pandas.NA`` (kind, unit): a frame written by
        amltk or an older fasttrial has no CPU times.

        Raises:
            ValueError: If a value is not a number, or a kind or unit is unknown; the
                message names the key.
        """
        start = cell_number(d.get("start"), "start")
        end = cell_number(d.get("end"), "end")
        duration = cell_number(d.get("duration"), "duration")
        dur = None if math.isnan(duration) else max(duration, 0.0)
        return Timer.Interval(
            start=start,
            end=end,
            kind=cell_enum(d.get("kind"), "kind", Timer.Kind.from_str, _KIND_NAMES),
            unit=cell_enum(d.get("unit"), "unit", Timer.Unit.from_str, _UNIT_NAMES),
            duration=dur,
            cpu_time=cell_number(d.get("cpu_time"), "cpu_time"),
            cpu_time_children=cell_number(d.get("cpu_time_children"), "cpu_time_children"),
        )

    @classmethod
    def na(cls) -> Timer.Interval:
        """Return an interval with nothing measured (NaN times, ``pandas.NA`` kind/unit)."""
        return Timer.Interval(start=math.nan, end=math.nan, kind=NA(), unit=NA())

    @classmethod
    @contextmanager
    def time(cls, kind: Timer.Kind | KindLike = "wall") -> Iterator[Timer.Interval]:
        """Time a ``with`` block; the yielded interval is filled in when the block ends."""
        timer = cls.start(kind=kind)
        interval = Timer.Interval(math.nan, math.nan, timer.kind, Timer.Unit.SECONDS)
        try:
            yield interval
        finally:
            done = timer.stop()
            interval.start = done.start
            interval.end = done.end
            interval._duration = done._duration
            interval.cpu_time = done.cpu_time
            interval.cpu_time_children = done.cpu_time_children

    @classmethod
    def start(cls, kind: Timer.Kind | KindLike = "wall") -> Timer:
        """Start a timer of the given kind now.

        Raises:
            ValueError: If ``kind`` is not one of 'wall', 'cpu', 'process'.
        """
        code = _core.kind_code(kind)
        timer = Timer.__new__(Timer)
        span = _core.Span()
        span._start_recording(kind, None)
        timer._span = span
        timer.kind = _KIND_BY_CODE[code]
        timer.start_time = span._figures().start
        return timer

    def stop(self) -> Timer.Interval:
        """Stop the timer and return the interval (seconds).

        Raises:
            ValueError: If the timer's ``kind`` is not a timer kind.
        """
        span = self._span
        if span is None:  # a Timer made by hand with a kind the core does not know
            end = _core.now(_core.kind_code(self.kind))
            return Timer.Interval(self.start_time, end, self.kind, Timer.Unit.SECONDS)
        f = span._stop_figures() if span._state == RUNNING else span._figures()
        return Timer.Interval(
            self.start_time,
            f.end,
            self.kind,
            Timer.Unit.SECONDS,
            f.duration,
            f.cpu_time,
            f.cpu_time_children,
        )


_KIND_BY_CODE = {
    _core.WALL: Timer.Kind.WALL,
    _core.CPU: Timer.Kind.CPU,
    _core.PROCESS: Timer.Kind.PROCESS,
}
# Let the core map the enum members (which hash by name, not by value) too.
_core.KIND_CODES.update({member: _core.KIND_CODES[member.value] for member in Timer.Kind})

_KIND_NAMES = tuple(k.value for k in Timer.Kind)
_UNIT_NAMES = tuple(u.value for u in Timer.Unit)
