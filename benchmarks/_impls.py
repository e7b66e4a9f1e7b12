"""The implementations the benchmarks compare, by name.

* ``fasttrial``: this package;
* ``reference``: ``_reference.py``, the pure-Python way amltk 1.10 does it
  (``time.time()`` and a fresh ``psutil.Process()`` at each interval boundary);
* ``amltk``: amltk itself, only when it is importable (never a dependency).
"""

from __future__ import annotations

import importlib.util
import warnings
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import _reference

HAVE_AMLTK = importlib.util.find_spec("amltk") is not None


@dataclass(frozen=True)
class Impl:
    """One implementation of the API: the names a benchmark needs from it."""

    name: str
    Trial: Any
    Metric: Any
    History: Any


def _load_amltk() -> ModuleType:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # amltk's dependencies may warn on import
        import amltk.optimization

    return amltk.optimization


def load_impl(name: str) -> Impl:
    """Return the implementation called ``name`` ('fasttrial', 'reference' or 'amltk')."""
    if name == "fasttrial":
        from fasttrial.optimization import History, Metric, Trial

        return Impl("fasttrial", Trial, Metric, History)
    if name == "reference":
        return Impl("reference", _reference.Trial, _reference.Metric, _reference.History)
    if name == "amltk":
        mod = _load_amltk()
        return Impl("amltk", mod.Trial, mod.Metric, mod.History)
    raise ValueError(f"unknown implementation {name!r}")
