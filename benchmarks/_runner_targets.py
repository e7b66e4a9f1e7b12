"""Targets of ``test_runner.py``, in a module of their own so that worker processes
(forkserver or spawn) import them by name instead of importing the benchmark module."""

from __future__ import annotations

from typing import Any

from fasttrial.optimization import Metric, Trial

SPACE = {"x": (0.0, 1.0)}
LOSS = Metric("loss", minimize=True)


def trivial(trial: Trial[Any]) -> Trial.Report[Any]:
    """A trivial trial: an empty profiled block, then success."""
    with trial.begin():
        pass
    return trial.success(loss=trial.config["x"])


def optuna_objective(trial: Any) -> float:
    """The same trivial trial for Optuna: draw x, return it."""
    return float(trial.suggest_float("x", 0.0, 1.0))
