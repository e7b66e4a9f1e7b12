"""Missing values without importing pandas at ``import fasttrial`` time.

amltk marks an unknown timer kind or memory unit with ``pandas.NA``; fasttrial does too,
but imports pandas only when such a value is first needed.
"""

from __future__ import annotations

import math
from typing import Any

_NA: Any = None


def NA() -> Any:
    """Return ``pandas.NA`` (importing pandas on first use)."""
    global _NA
    if _NA is None:
        import pandas as pd

        _NA = pd.NA
    return _NA


def is_missing(value: Any) -> bool:
    """True for None, NaN, ``pandas.NA`` and ``pandas.NaT``."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if _NA is not None and value is _NA:
        return True
    type_name = type(value).__name__
    if type_name in ("NAType", "NaTType"):
        return True
    if type_name.startswith("float"):  # numpy floating scalars
        try:
            return math.isnan(float(value))
        except (TypeError, ValueError):
            return False
    return False


class CellError(ValueError):
    """A cell of a row that cannot be read, naming its column.

    Attributes:
        column: The column (key) of the cell, as far as the raiser knows it.
        detail: What is wrong with it.
    """

    def __init__(self, column: str, detail: str) -> None:
        super().__init__(column, detail)
        self.column = column
        self.detail = detail

    def __str__(self) -> str:
        return f"column {self.column!r} {self.detail}"

    def within(self, prefix: str) -> CellError:
        """The same error for the column as seen under ``prefix`` (``"memory:"``, ...)."""
        return CellError(prefix + self.column, self.detail)


def cell_number(value: Any, column: str) -> float:
    """A numeric cell as a float (NaN when missing).

    Raises:
        CellError: If it is not a number (text, a bool, or an object without ``__float__``).
    """
    if is_missing(value):
        return math.nan
    if isinstance(value, (str, bytes, bool)) or not hasattr(value, "__float__"):
        raise CellError(column, f"must be a number, got {type(value).__name__}: {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError) as error:
        raise CellError(column, f"must be a number, got {value!r} ({error})") from None


def cell_enum(value: Any, column: str, parse: Any, allowed: Any) -> Any:
    """An enum cell (a timer kind, a memory unit) parsed by ``parse``; NA when missing.

    Raises:
        CellError: If it is present but not one of ``allowed``.
    """
    if is_missing(value):
        return NA()
    out = parse(value)
    if out is NA() or (_NA is not None and out is _NA):
        raise CellError(column, f"holds {value!r}, expected one of {list(allowed)}")
    return out
