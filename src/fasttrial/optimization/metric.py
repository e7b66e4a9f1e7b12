"""``Metric``: a named objective with a direction and optional bounds, and ``Metric.Value``.

A value converts between the views an optimizer may want:

* ``loss``: smaller is better (the value, negated when the metric is maximized);
* ``score``: larger is better (``-loss``);
* ``distance_to_optimal``: for a bounded metric, how far the value is from the best bound.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from fasttrial._corecheck import _core

_FORBIDDEN = "[](){}<>|&^%$#@!~`"


def _as_real(value: Any, what: str) -> float:
    """Return ``value`` as a Python float, accepting Python and numpy reals and 0-d arrays.

    Raises:
        ValueError: If ``value`` is not a real number (strings, None, containers, arrays
            with more than one element...).
    """
    tv = type(value)
    if tv is float:
        return value
    if tv is int:
        try:
            return float(value)
        except OverflowError:
            raise ValueError(f"{what} {value!r} is too large for a float.") from None
    if isinstance(value, (str, bytes, bool)) or value is None:
        raise ValueError(f"{what} must be a real number, got {tv.__name__}: {value!r}.")
    ndim = getattr(value, "ndim", None)
    if ndim is not None and ndim != 0:
        raise ValueError(
            f"{what} must be a single real number, got an array of shape "
            f"{getattr(value, 'shape', '?')}. Reduce it to one number first."
        )
    if (
        isinstance(value, numbers.Real)
        or ndim == 0
        or (isinstance(value, numbers.Number) and not isinstance(value, numbers.Complex))
    ):
        try:
            out = float(value)
        except (TypeError, ValueError, OverflowError) as error:
            raise ValueError(
                f"{what} must be a real number, got {tv.__name__}: {value!r}."
            ) from error
        return out
    raise ValueError(f"{what} must be a real number, got {tv.__name__}: {value!r}.")


class Metric:
    """A metric with a name, a direction to optimize, and optional ``(lower, upper)`` bounds.

    Metrics are immutable and compare equal by name, direction and bounds.

    Args:
        name: The metric's name; no leading digit, none of ``[](){}<>|&^%$#@!~``` or spaces.
        minimize: Whether smaller values are better.
        bounds: Optional ``(lower, upper)`` with ``lower <= upper``.

    Raises:
        ValueError: For a bad name or bounds.
    """

    __slots__ = ("_column", "_optimal", "_worst", "bounds", "minimize", "name")

    name: str
    minimize: bool
    bounds: tuple[float, float] | None
    _worst: float
    _optimal: float
    _column: str

    def __init__(
        self,
        name: str,
        *,
        minimize: bool = True,
        bounds: tuple[float, float] | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"Metric name must be a non-empty str, got {name!r}.")
        if name[0].isdigit():
            raise ValueError(
                f"Metric name {name} cannot start with a digit. Must be a valid Python identifier."
            )
        for c in _FORBIDDEN:
            if c in name:
                raise ValueError(
                    f"Metric name {name} cannot contain '{c}'. Must be a valid Python identifier."
                )
        if any(ch.isspace() for ch in name):
            raise ValueError(
                f"Metric name {name!r} cannot contain whitespace."
                " Must be a valid Python identifier."
            )
        if bounds is not None:
            try:
                lower, upper = bounds
            except (TypeError, ValueError):
                raise ValueError(
                    f"Metric bounds must be a (lower, upper) pair, got {bounds!r}."
                ) from None
            lower = _as_real(lower, f"Lower bound of metric {name!r}")
            upper = _as_real(upper, f"Upper bound of metric {name!r}")
            if math.isnan(lower) or math.isnan(upper):
                raise ValueError(f"Metric bounds cannot be NaN, got {bounds!r} for {name!r}.")
            if lower > upper:
                raise ValueError(f"Lower bound {lower} > upper bound {upper}")
            bounds = (lower, upper)
        setattr_ = object.__setattr__
        setattr_(self, "name", name)
        setattr_(self, "minimize", bool(minimize))
        setattr_(self, "bounds", bounds)
        if bounds is not None:
            worst = bounds[1] if minimize else bounds[0]
            optimal = bounds[0] if minimize else bounds[1]
        else:
            worst = math.inf if minimize else -math.inf
            optimal = -math.inf if minimize else math.inf
        # Floats, not Values: a Value refers to its metric, and a metric holding Values of
        # itself would be a reference cycle (Values are not tracked by the cycle collector).
        setattr_(self, "_worst", worst)
        setattr_(self, "_optimal", optimal)
        # The df() column of the metric's values, made once (reports ask for it per row).
        setattr_(self, "_column", f"metric:{self}")

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"Metric is immutable: cannot set {key!r}.")

    def __delattr__(self, key: str) -> None:
        raise AttributeError(f"Metric is immutable: cannot delete {key!r}.")

    def __repr__(self) -> str:
        return f"Metric(name={self.name!r}, minimize={self.minimize!r}, bounds={self.bounds!r})"

    def __str__(self) -> str:
        if self.bounds is None:
            return f"{self.name} ({'minimize' if self.minimize else 'maximize'})"
        lower, upper = self.bounds
        return f"{self.name} [{lower}, {upper}] ({'minimize' if self.minimize else 'maximize'})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Metric):
            return NotImplemented
        return (
            self.name == other.name
            and self.minimize == other.minimize
            and self.bounds == other.bounds
        )

    def __hash__(self) -> int:
        return hash((self.name, self.minimize, self.bounds))

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_metric, (self.name, self.minimize, self.bounds))

    def __copy__(self) -> Metric:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Metric:
        return self

    @classmethod
    def from_str(cls, s: str) -> Metric:
        """Parse the form written by ``str(metric)``: ``"loss (minimize)"`` or
        ``"acc [0.0, 1.0] (maximize)"``.

        Raises:
            ValueError: If ``s`` is not of that form.
        """
        text = s.strip()
        if text.endswith("(minimize)"):
            minimize = True
            head = text[: -len("(minimize)")].rstrip()
        elif text.endswith("(maximize)"):
            minimize = False
            head = text[: -len("(maximize)")].rstrip()
        else:
            raise ValueError(
                f"Cannot parse a metric from {s!r}: expected 'name (minimize)', "
                "'name (maximize)' or 'name [lower, upper] (minimize|maximize)'."
            )
        bounds = None
        if head.endswith("]") and "[" in head:
            name, _, inner = head.rpartition("[")
            name = name.rstrip()
            parts = inner[:-1].split(",")
            if len(parts) != 2:
                raise ValueError(f"Cannot parse metric bounds from {s!r}.")
            try:
                bounds = (float(parts[0]), float(parts[1]))
            except ValueError:
                raise ValueError(f"Cannot parse metric bounds from {s!r}.") from None
        else:
            name = head
        return cls(name, minimize=minimize, bounds=bounds)

    @property
    def worst(self) -> Metric.Value:
        """The worst possible value: the bad bound, or +/-inf when unbounded."""
        return Metric.Value(self, self._worst)

    @property
    def optimal(self) -> Metric.Value:
        """The best possible value: the good bound, or -/+inf when unbounded."""
        return Metric.Value(self, self._optimal)

    def as_value(self, value: float | int) -> Metric.Value:
        """Wrap a raw number as a ``Metric.Value`` of this metric.

        Raises:
            ValueError: If ``value`` is not a real number.
        """
        return Metric.Value(self, _as_real(value, f"Value of metric {self.name!r}"))

    __call__ = as_value

    class Value(_core.ValueCore):
        """A raw value of a metric, with its loss / score / distance views.

        Values order and compare by ``value`` alone, and compare equal to plain numbers.
        Immutable; the fields live in the compiled core so that making one is cheap.

        Attributes:
            metric: The ``Metric`` it belongs to.
            value: The raw value as reported.
        """

        __slots__ = ()

        def __reduce__(self) -> tuple[Any, ...]:
            return (Metric.Value, (self.metric, self.value))

        def __repr__(self) -> str:
            return f"Metric.Value(metric={self.metric!r}, value={self.value!r})"

        @property
        def minimize(self) -> bool:
            """Whether the metric is minimized."""
            return self.metric.minimize

        @property
        def bounds(self) -> tuple[float, float] | None:
            """The metric's bounds."""
            return self.metric.bounds

        @property
        def name(self) -> str:
            """The metric's name."""
            return self.metric.name

        @property
        def loss(self) -> float:
            """The value as something to minimize."""
            v = float(self.value)
            return v if self.metric.minimize else -v

        @property
        def score(self) -> float:
            """The value as something to maximize."""
            v = float(self.value)
            return -v if self.metric.minimize else v

        @property
        def distance_to_optimal(self) -> float | None:
            """Distance from the value to the optimal bound (None when unbounded).

            Raises:
                ValueError: If the value lies outside the metric's bounds.
            """
            bounds = self.metric.bounds
            if bounds is None:
                return None
            lower, upper = bounds
            v = float(self.value)
            if not (lower <= v <= upper):
                raise ValueError(f"Value {v} is not within bounds={bounds} of {self.metric.name!r}")
            return abs(v - lower) if self.metric.minimize else abs(v - upper)

        def __float__(self) -> float:
            return float(self.value)

        def __eq__(self, other: object) -> bool:
            if isinstance(other, Metric.Value):
                return self.value == other.value
            if isinstance(other, (int, float)):
                return self.value == float(other)
            return NotImplemented

        def __hash__(self) -> int:
            return hash(self.value)

        def _key(self, other: object) -> float:
            if isinstance(other, Metric.Value):
                return other.value
            if isinstance(other, (int, float)):
                return float(other)
            raise TypeError

        def __lt__(self, other: object) -> bool:
            try:
                return self.value < self._key(other)
            except TypeError:
                return NotImplemented

        def __le__(self, other: object) -> bool:
            try:
                return self.value <= self._key(other)
            except TypeError:
                return NotImplemented

        def __gt__(self, other: object) -> bool:
            try:
                return self.value > self._key(other)
            except TypeError:
                return NotImplemented

        def __ge__(self, other: object) -> bool:
            try:
                return self.value >= self._key(other)
            except TypeError:
                return NotImplemented


def _rebuild_metric(name: str, minimize: bool, bounds: tuple[float, float] | None) -> Metric:
    return Metric(name, minimize=minimize, bounds=bounds)
