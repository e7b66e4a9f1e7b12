"""Memory readings: ``Memory``, ``Memory.Interval``, ``Memory.Unit``.

RSS and VMS have psutil's meanings and are read by the compiled core (``/proc/self/statm``
through a kept descriptor on Linux, native calls on macOS and Windows, psutil elsewhere).
The peak RSS of an interval comes from the kernel's resettable high-water mark on Linux
(``fasttrial.profiling.peak_backend()``); see ``fasttrial.profiling.set_tracking``.
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
from fasttrial.profiling.timing import _nan_equal

UnitLike = Literal["B", "KB", "MB", "GB"]

_UNIT_ALIASES = {
    "b": "BYTES",
    "bytes": "BYTES",
    "kb": "KILOBYTES",
    "kilobytes": "KILOBYTES",
    "mb": "MEGABYTES",
    "megabytes": "MEGABYTES",
    "gb": "GIGABYTES",
    "gigabytes": "GIGABYTES",
}


class Memory:
    """A running memory measurement: ``Memory.start(unit)`` then ``.stop()``.

    Attributes:
        start_vms: Virtual memory size at the start, in ``unit``.
        start_rss: Resident set size at the start, in ``unit``.
        unit: The unit of the numbers.
    """

    __slots__ = ("_span", "start_rss", "start_vms", "unit")

    class Unit(str, Enum):
        """A memory unit; 1 KB is 1024 bytes."""

        BYTES = "bytes"
        KILOBYTES = "kilobytes"
        MEGABYTES = "megabytes"
        GIGABYTES = "gigabytes"

        def __str__(self) -> str:
            return self.value

        def __repr__(self) -> str:
            return self.value

        @classmethod
        def from_str(cls, s: Any) -> Memory.Unit | Any:
            """Return the unit named by ``s`` ('B', 'KB', 'bytes', ...), or ``pandas.NA``."""
            if isinstance(s, Memory.Unit):
                return s
            if isinstance(s, str):
                name = _UNIT_ALIASES.get(s.lower())
                if name is not None:
                    return Memory.Unit[name]
            return NA()

    class Interval:
        """Memory at the start and end of an interval, and its peak.

        Attributes:
            start_vms: Virtual memory size at the start, in ``unit``.
            start_rss: Resident set size at the start, in ``unit``.
            end_vms: Virtual memory size at the end, in ``unit``.
            end_rss: Resident set size at the end, in ``unit``.
            unit: ``Memory.Unit`` of the numbers, or ``pandas.NA`` when unknown.
            peak_rss: Highest resident set size between start and end, in ``unit``; NaN
                when not recorded (peak tracking off, a frame without it).  Where the
                platform has no resettable peak (``peak_backend() == "start-end"``) it is
                the larger of ``start_rss`` and ``end_rss``.
        """

        __slots__ = ("end_rss", "end_vms", "peak_rss", "start_rss", "start_vms", "unit")

        def __init__(
            self,
            start_vms: float,
            start_rss: float,
            end_vms: float,
            end_rss: float,
            unit: Memory.Unit | Any,
            peak_rss: float = math.nan,
        ) -> None:
            self.start_vms = start_vms
            self.start_rss = start_rss
            self.end_vms = end_vms
            self.end_rss = end_rss
            self.unit = unit
            self.peak_rss = peak_rss

        @property
        def vms_used(self) -> float:
            """Change of virtual memory size over the interval, in ``unit``."""
            return self.end_vms - self.start_vms

        @property
        def rss_used(self) -> float:
            """Change of resident set size over the interval, in ``unit``."""
            return self.end_rss - self.start_rss

        def to_unit(self, unit: Memory.Unit | UnitLike) -> Memory.Interval:
            """Return the interval converted to ``unit`` (self if already in it)."""
            target = Memory.Unit.from_str(unit)
            if is_missing(target):
                raise ValueError(f"Unknown memory unit {unit!r}: use one of 'B', 'KB', 'MB', 'GB'.")
            if self.unit == target:
                return self
            conv = Memory.convert
            return Memory.Interval(
                start_vms=conv(self.start_vms, self.unit, target),
                start_rss=conv(self.start_rss, self.unit, target),
                end_vms=conv(self.end_vms, self.unit, target),
                end_rss=conv(self.end_rss, self.unit, target),
                unit=target,
                peak_rss=conv(self.peak_rss, self.unit, target),
            )

        def to_dict(self, *, prefix: str = "") -> dict[str, Any]:
            """Return the fields as a flat dict, with ``diff_vms``/``diff_rss`` added.

            Keys, in this order: ``start_vms``, ``end_vms``, ``diff_vms``, ``start_rss``,
            ``end_rss``, ``diff_rss``, ``peak_rss``, ``unit`` (amltk's, with ``peak_rss``).
            """
            return {
                f"{prefix}start_vms": self.start_vms,
                f"{prefix}end_vms": self.end_vms,
                f"{prefix}diff_vms": self.vms_used,
                f"{prefix}start_rss": self.start_rss,
                f"{prefix}end_rss": self.end_rss,
                f"{prefix}diff_rss": self.rss_used,
                f"{prefix}peak_rss": self.peak_rss,
                f"{prefix}unit": self.unit,
            }

        def __repr__(self) -> str:
            # amltk's repr (the seed page prints it); peak_rss is read from the attribute.
            return (
                f"Memory.Interval(start_vms={self.start_vms!r}, start_rss={self.start_rss!r}, "
                f"end_vms={self.end_vms!r}, end_rss={self.end_rss!r}, unit={self.unit!r})"
            )

        def __eq__(self, other: object) -> bool:
            if not isinstance(other, Memory.Interval):
                return NotImplemented
            return all(
                _nan_equal(getattr(self, name), getattr(other, name))
                for name in ("start_vms", "start_rss", "end_vms", "end_rss", "unit", "peak_rss")
            )

        __hash__ = None  # type: ignore[assignment]

        def __reduce__(self) -> tuple[Any, ...]:
            return (
                Memory.Interval,
                (
                    self.start_vms,
                    self.start_rss,
                    self.end_vms,
                    self.end_rss,
                    self.unit,
                    self.peak_rss,
                ),
            )

    def __init__(self, start_vms: float, start_rss: float, unit: Memory.Unit | Any) -> None:
        self.start_vms = start_vms
        self.start_rss = start_rss
        self.unit = unit
        self._span: Any = None  # the core's recorder behind start()/stop(), for the peak

    def __repr__(self) -> str:
        return (
            f"Memory(start_vms={self.start_vms!r}, start_rss={self.start_rss!r}, "
            f"unit={self.unit!r})"
        )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Memory.Interval:
        """Build an interval from ``start_vms``/``start_rss``/``end_vms``/``end_rss``/``unit``
        (and ``peak_rss``).

        Missing keys become NaN (numbers) or ``pandas.NA`` (unit): a frame written by amltk
        or an older fasttrial has no ``peak_rss``.

        Raises:
            ValueError: If a value is not a number or the unit is unknown; the message names
                the key.
        """
        return Memory.Interval(
            start_vms=cell_number(d.get("start_vms"), "start_vms"),
            start_rss=cell_number(d.get("start_rss"), "start_rss"),
            end_vms=cell_number(d.get("end_vms"), "end_vms"),
            end_rss=cell_number(d.get("end_rss"), "end_rss"),
            unit=cell_enum(d.get("unit"), "unit", Memory.Unit.from_str, _UNIT_TEXTS),
            peak_rss=cell_number(d.get("peak_rss"), "peak_rss"),
        )

    @classmethod
    def na(cls) -> Memory.Interval:
        """Return an interval with nothing measured (NaN values, ``pandas.NA`` unit)."""
        return Memory.Interval(math.nan, math.nan, math.nan, math.nan, NA())

    @classmethod
    def convert(
        cls,
        x: float,
        frm: Memory.Unit | UnitLike | Any = "B",
        to: Memory.Unit | UnitLike | Any = "B",
    ) -> float:
        """Convert ``x`` from unit ``frm`` to unit ``to`` (NaN if either is unknown)."""
        f = Memory.Unit.from_str(frm)
        t = Memory.Unit.from_str(to)
        if is_missing(f) or is_missing(t):
            return math.nan
        return float(x) * _FACTOR[f] / _FACTOR[t]

    @classmethod
    @contextmanager
    def measure(cls, unit: Memory.Unit | UnitLike = "B") -> Iterator[Memory.Interval]:
        """Measure memory over a ``with`` block; the interval is filled in when it ends."""
        mem = cls.start(unit=unit)
        interval = Memory.Interval(mem.start_vms, mem.start_rss, math.nan, math.nan, mem.unit)
        try:
            yield interval
        finally:
            done = mem.stop()
            interval.end_vms = done.end_vms
            interval.end_rss = done.end_rss
            interval.peak_rss = done.peak_rss

    @classmethod
    def start(cls, unit: Memory.Unit | UnitLike = "B") -> Memory:
        """Read memory now and return the running measurement.

        Raises:
            ValueError: If ``unit`` is not one of 'B', 'KB', 'MB', 'GB'.
        """
        code = _core.unit_code(unit)
        # A recorder of the core keeps the interval's peak (when peak tracking is on).
        span = _core.Span()
        span._start_recording(None, unit)
        f = span._figures()
        mem = Memory(start_vms=f.start_vms, start_rss=f.start_rss, unit=_UNIT_BY_CODE[code])
        mem._span = span
        return mem

    def stop(self) -> Memory.Interval:
        """Read memory now and return the interval since ``start()``.

        The interval's ``peak_rss`` is the peak since ``start()`` when peak tracking was on
        at ``start()`` (NaN otherwise, and for a ``Memory`` made by hand).
        """
        span = self._span
        div = _FACTOR[self.unit]
        if span is None or span._state != RUNNING:
            rss, vms = _core.read_memory()
            return Memory.Interval(
                start_vms=self.start_vms,
                start_rss=self.start_rss,
                end_vms=_scaled(vms, div),
                end_rss=_scaled(rss, div),
                unit=self.unit,
            )
        f = span._stop_figures()
        self._span = None
        return Memory.Interval(
            start_vms=self.start_vms,
            start_rss=self.start_rss,
            end_vms=f.end_vms,
            end_rss=f.end_rss,
            unit=self.unit,
            peak_rss=f.peak_rss,
        )

    @classmethod
    def usage(
        cls,
        kind: Literal["rss", "vms"] = "vms",
        unit: Memory.Unit | UnitLike = "B",
    ) -> float:
        """Return the current RSS or VMS of this process in ``unit``.

        Raises:
            ValueError: If ``kind`` is not 'rss' or 'vms', or the unit is unknown.
        """
        code = _core.unit_code(unit)
        rss, vms = _core.read_memory()
        which = kind.lower() if isinstance(kind, str) else kind
        if which == "rss":
            return _scaled(rss, _DIV_BY_CODE[code])
        if which == "vms":
            return _scaled(vms, _DIV_BY_CODE[code])
        raise ValueError(f"Unknown memory kind {kind!r}: use 'rss' or 'vms'.")


def _scaled(value: int, div: float) -> float:
    return math.nan if value < 0 else value / div


_FACTOR = {
    Memory.Unit.BYTES: 1.0,
    Memory.Unit.KILOBYTES: 1024.0,
    Memory.Unit.MEGABYTES: 1024.0**2,
    Memory.Unit.GIGABYTES: 1024.0**3,
}
_UNIT_BY_CODE = {
    _core.BYTES: Memory.Unit.BYTES,
    _core.KILOBYTES: Memory.Unit.KILOBYTES,
    _core.MEGABYTES: Memory.Unit.MEGABYTES,
    _core.GIGABYTES: Memory.Unit.GIGABYTES,
}
_DIV_BY_CODE = {code: _FACTOR[unit] for code, unit in _UNIT_BY_CODE.items()}
# Let the core map the enum members (which hash by name, not by value) too.
_core.UNIT_CODES.update({unit: code for code, unit in _UNIT_BY_CODE.items()})

_UNIT_TEXTS = tuple(u.value for u in Memory.Unit)
