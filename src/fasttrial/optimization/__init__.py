"""Optimization: ``Trial`` (with ``Trial.Report`` and ``Trial.Status``), ``Metric``, ``History``."""

from __future__ import annotations

from fasttrial.optimization.history import History
from fasttrial.optimization.metric import Metric
from fasttrial.optimization.trial import Trial

__all__ = ["History", "Metric", "Trial"]
