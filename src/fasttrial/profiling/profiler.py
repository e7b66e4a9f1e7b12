"""``Profile`` (time and memory of one interval) and ``Profiler`` (named intervals).

A ``Profile.Interval`` made by a profiler is a recorder from the compiled core: starting
and stopping it are one C call each, and its ``Timer.Interval`` / ``Memory.Interval`` are
built only when someone reads ``.time`` or ``.memory``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from fasttrial._corecheck import _core
from fasttrial._util import select_prefixed
from fasttrial.profiling._figures import DONE, EMPTY, RUNNING
from fasttrial.profiling._na import CellError
from fasttrial.profiling.memory import _UNIT_BY_CODE, Memory, UnitLike
from fasttrial.profiling.timing import _KIND_BY_CODE, KindLike, Timer

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import RenderableType

T = TypeVar("T")


class Profile:
    """A running profile (time and memory): ``Profile.start()`` then ``.stop()``."""

    __slots__ = ("_span",)

    class Interval(_core.Span):
        """Time and memory of one interval.

        Attributes:
            time: The ``Timer.Interval`` (seconds).
            memory: The ``Memory.Interval`` (in the unit it was measured in).
        """

        __slots__ = ()

        def __init__(
            self,
            memory: Memory.Interval | None = None,
            time: Timer.Interval | None = None,
        ) -> None:
            self._memory = memory if memory is not None else Memory.na()
            self._time = time if time is not None else Timer.na()

        def _build(self, *, cache: bool = True) -> tuple[Timer.Interval, Memory.Interval]:
            f = self._figures()
            if f.state == EMPTY:  # never recorded and nothing given
                return Timer.na(), Memory.na()
            time = Timer.Interval(
                f.start,
                f.end,
                _KIND_BY_CODE[f.kind],
                Timer.Unit.SECONDS,
                None if f.state == RUNNING else f.duration,
                f.cpu_time,  # NaN while running
                f.cpu_time_children,
            )
            memory = Memory.Interval(
                f.start_vms, f.start_rss, f.end_vms, f.end_rss, _UNIT_BY_CODE[f.unit], f.peak_rss
            )
            if cache and f.state == DONE:
                self._time = time
                self._memory = memory
            return time, memory

        @property
        def time(self) -> Timer.Interval:
            """The interval's time (NaN end while it is still running)."""
            t = self._time
            return t if t is not None else self._build()[0]

        @time.setter
        def time(self, value: Timer.Interval) -> None:
            self._time = value

        @property
        def memory(self) -> Memory.Interval:
            """The interval's memory (NaN end while it is still running)."""
            m = self._memory
            return m if m is not None else self._build()[1]

        @memory.setter
        def memory(self, value: Memory.Interval) -> None:
            self._memory = value

        def to_dict(self, *, prefix: str = "") -> dict[str, Any]:
            """Flat dict: ``{prefix}:memory:...`` then ``{prefix}:time:...`` (no prefix: bare)."""
            p = f"{prefix}:" if prefix else ""
            time, memory = self._time, self._memory
            if time is None or memory is None:
                # Built for this call only: caching them would add two objects to every
                # report a History has read.
                time, memory = self._build(cache=False)
            return {
                **memory.to_dict(prefix=f"{p}memory:"),
                **time.to_dict(prefix=f"{p}time:"),
            }

        def __repr__(self) -> str:
            return f"Profile.Interval(memory={self.memory!r}, time={self.time!r})"

        def __eq__(self, other: object) -> bool:
            if not isinstance(other, Profile.Interval):
                return NotImplemented
            return self.memory == other.memory and self.time == other.time

        __hash__ = None  # type: ignore[assignment]

        def __reduce__(self) -> tuple[Any, ...]:
            return (Profile.Interval, (self.memory, self.time))

    def __init__(self, span: Profile.Interval) -> None:
        self._span = span

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Profile.Interval:
        """Build an interval from ``memory:...`` and ``time:...`` keys (see ``to_dict``).

        Raises:
            ValueError: If a value is not a number, or a kind or unit is unknown; the
                message names the key.
        """
        try:
            memory = Memory.from_dict(select_prefixed(d, "memory:"))
        except CellError as error:
            raise error.within("memory:") from None
        try:
            time = Timer.from_dict(select_prefixed(d, "time:"))
        except CellError as error:
            raise error.within("time:") from None
        return Profile.Interval(memory=memory, time=time)

    @classmethod
    def na(cls) -> Profile.Interval:
        """Return an interval with nothing measured."""
        return Profile.Interval(memory=Memory.na(), time=Timer.na())

    @classmethod
    @contextmanager
    def measure(
        cls,
        *,
        memory_unit: Memory.Unit | UnitLike = "B",
        time_kind: Timer.Kind | KindLike = "wall",
    ) -> Iterator[Profile.Interval]:
        """Profile a ``with`` block; the yielded interval is complete when the block ends."""
        profile = cls.start(memory_unit=memory_unit, time_kind=time_kind)
        try:
            yield profile._span
        finally:
            profile.stop()

    @classmethod
    def start(
        cls,
        memory_unit: Memory.Unit | UnitLike = "B",
        time_kind: Timer.Kind | KindLike = "wall",
    ) -> Profile:
        """Start profiling now (clock and memory read in one C call).

        Raises:
            ValueError: If the unit or kind is unknown.
        """
        span = Profile.Interval.__new__(Profile.Interval)
        span._start_recording(time_kind, memory_unit)
        return Profile(span)

    def stop(self) -> Profile.Interval:
        """Stop profiling now and return the interval."""
        self._span._stop_recording()
        return self._span


_core.set_interval_type(Profile.Interval)


class Profiler(_core.ProfilerCore, Mapping):
    """Named time-and-memory intervals: ``with profiler("name"): ...``.

    Nested intervals are named by joining the running names with ``:`` ("outer:inner").
    Measuring a name again replaces its interval.

    Args:
        profiles: Intervals to start with.
        memory_unit: Default memory unit ('B', 'KB', 'MB', 'GB').
        time_kind: Default timer kind ('wall', 'cpu', 'process').
        disabled: If true, ``measure`` records nothing until ``enable()``.
    """

    __slots__ = ()

    def __init__(
        self,
        profiles: Mapping[str, Profile.Interval] | None = None,
        memory_unit: Memory.Unit | UnitLike = "B",
        time_kind: Timer.Kind | KindLike = "wall",
        disabled: bool = False,
    ) -> None:
        self._unit = _core.unit_code(memory_unit)
        self._kind = _core.kind_code(time_kind)
        self.disabled = bool(disabled)
        if profiles:
            self.profiles.update(profiles)

    @property
    def memory_unit(self) -> Memory.Unit:
        """The default memory unit."""
        return _UNIT_BY_CODE[self._unit]

    @memory_unit.setter
    def memory_unit(self, value: Memory.Unit | UnitLike) -> None:
        self._unit = _core.unit_code(value)

    @property
    def time_kind(self) -> Timer.Kind:
        """The default timer kind."""
        return _KIND_BY_CODE[self._kind]

    @time_kind.setter
    def time_kind(self, value: Timer.Kind | KindLike) -> None:
        self._kind = _core.kind_code(value)

    def __getitem__(self, key: str) -> Profile.Interval:
        return self.profiles[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.profiles)

    def __len__(self) -> int:
        return len(self.profiles)

    def __contains__(self, key: object) -> bool:
        return key in self.profiles

    def disable(self) -> None:
        """Stop recording: ``measure`` blocks run unprofiled until ``enable()``."""
        self.disabled = True

    def enable(self) -> None:
        """Record again after ``disable()``."""
        self.disabled = False

    def measure(
        self,
        name: str,
        *,
        memory_unit: Memory.Unit | UnitLike | None = None,
        time_kind: Timer.Kind | KindLike | None = None,
    ) -> Any:
        """Return a context manager that profiles its block under ``name``.

        Args:
            name: The interval's name; nested in another running interval it becomes
                ``"outer:name"``.
            memory_unit: Memory unit for this interval (default: the profiler's).
            time_kind: Timer kind for this interval (default: the profiler's).

        Raises:
            ValueError: If the unit or kind is unknown.
            TypeError: If ``name`` is not a string.
        """
        if type(name) is not str:
            raise TypeError(f"A profile name must be a str, got {type(name).__name__}: {name!r}")
        return self._scope(name, time_kind, memory_unit, None)

    __call__ = measure

    def each(
        self,
        itr: Iterable[T],
        *,
        name: str,
        itr_name: Callable[[int, T], str] | None = None,
    ) -> Iterator[T]:
        """Yield from ``itr``, profiling the whole loop as ``name`` and each item inside it.

        Args:
            itr: The items.
            name: Name of the whole loop's interval.
            itr_name: Name of an item's interval from ``(index, item)``; default ``str(index)``.
        """
        with self.measure(name):
            for i, item in enumerate(itr):
                label = str(i) if itr_name is None else itr_name(i, item)
                with self.measure(label):
                    yield item

    def df(self) -> pd.DataFrame:
        """One row per interval (indexed by name), columns ``memory:...`` and ``time:...``."""
        import pandas as pd

        rows = {name: interval.to_dict() for name, interval in self.profiles.items()}
        return pd.DataFrame.from_dict(rows, orient="index")

    def __repr__(self) -> str:
        return (
            f"Profiler(profiles={self.profiles!r}, memory_unit={self.memory_unit!r}, "
            f"time_kind={self.time_kind!r}, disabled={self.disabled!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Profiler):
            return NotImplemented
        return (
            self.profiles == other.profiles
            and self._unit == other._unit
            and self._kind == other._kind
            and self.disabled == other.disabled
        )

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            Profiler,
            (dict(self.profiles), self.memory_unit, self.time_kind, self.disabled),
        )

    def __rich__(self) -> RenderableType:
        from fasttrial.profiling._display import profiler_table

        return profiler_table(self)

    def _repr_html_(self) -> str:
        from fasttrial.profiling._display import profiler_html

        return profiler_html(self)
