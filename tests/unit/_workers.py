"""Functions run in other processes by ``test_pickling.py``.

They live in their own importable module so that "spawn" workers, which import the function
by name instead of inheriting it, can find them.
"""

from __future__ import annotations

import os
import threading
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import psutil

from fasttrial.optimization import Metric, Trial

LOSS = Metric("loss", minimize=True, bounds=(0, 10))
ACC = Metric("acc", minimize=False, bounds=(0, 1))


class LockHoldingError(Exception):
    """An exception that cannot be pickled: it holds a lock."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.lock = threading.Lock()


class LambdaHoldingError(Exception):
    """An exception that cannot be pickled: it holds a lambda."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.callback = lambda: message


def run_trial(name: str, outcome: str) -> tuple[Trial.Report, int, int]:
    """Run a trial here and return ``(report, this pid, this process's RSS after it)``.

    ``outcome`` is "success", or "lock"/"lambda" to raise an unpicklable exception inside
    ``begin()`` and report ``fail()``.
    """
    trial = Trial(name=name, config={"x": 1}, metrics=[LOSS, ACC], seed=1)
    with trial.begin():
        with trial.profile("work"):
            total = sum(range(10_000))
        if outcome == "lock":
            raise LockHoldingError(f"{name} held a lock")
        if outcome == "lambda":
            raise LambdaHoldingError(f"{name} held a lambda")
    trial.summary["total"] = total
    report = trial.success(loss=0.5, acc=0.75) if outcome == "success" else trial.fail()
    return report, os.getpid(), psutil.Process().memory_info().rss


def allocate_in_trial(conn: Connection, n_bytes: int) -> None:
    """Allocate and touch ``n_bytes`` inside ``trial.begin()``; send back what was seen.

    Sends ``{"report", "pid", "rss_before", "rss_after"}`` (psutil readings of this
    process around the trial), or ``{"error": repr}`` if anything went wrong.
    """
    try:
        proc = psutil.Process()
        rss_before = proc.memory_info().rss
        trial = Trial(name="allocating-child", config={"n_bytes": n_bytes})
        with trial.begin():
            block = np.ones(n_bytes // 8)  # writing the ones makes every page resident
        rss_after = proc.memory_info().rss
        assert block[-1] == 1.0
        assert trial.exception is None, trial.traceback
        message: dict[str, Any] = {
            "report": trial.success(),
            "pid": os.getpid(),
            "rss_before": rss_before,
            "rss_after": rss_after,
        }
        del block
    except BaseException as error:
        message = {"error": repr(error)}
    conn.send(message)
    conn.close()
