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


def missing_to_nan(value: Any) -> Any:
    """Return NaN for a missing value, else the value as a float when it is numeric."""
    if is_missing(value):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return value
