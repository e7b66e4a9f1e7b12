"""Optimization: ``Trial`` (with ``Trial.Report`` and ``Trial.Status``), ``Metric``, ``History``,
the ask/tell ``Optimizer`` protocol with ``RandomSearch``, and ``optimize()`` to run trials in
parallel."""

from __future__ import annotations

from fasttrial.optimization.history import History
from fasttrial.optimization.metric import Metric
from fasttrial.optimization.optimizer import Optimizer, RandomSearch, SearchSpaceError
from fasttrial.optimization.run import optimize
from fasttrial.optimization.trial import Trial

__all__ = [
    "History",
    "Metric",
    "Optimizer",
    "RandomSearch",
    "SearchSpaceError",
    "Trial",
    "optimize",
]
