"""Small helpers shared by the profiling and optimization packages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def select_prefixed(d: Mapping[Any, Any], prefix: str) -> dict[str, Any]:
    """Entries of ``d`` whose (str) key starts with ``prefix``, with the prefix removed."""
    n = len(prefix)
    return {k[n:]: v for k, v in d.items() if isinstance(k, str) and k.startswith(prefix)}
