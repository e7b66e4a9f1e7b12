"""Deterministic, realistic reports for the History benchmarks.

Used by ``test_history_scale.py`` and ``compare_history_amltk.py``.  Every report comes from
real API calls (``Trial(...)``, ``with trial.begin():``, ``with trial.profile("fit"):``,
``trial.success()`` / ``fail()`` / ``crashed()``), for fasttrial and, with the same values,
for amltk when it is importable:

* statuses: about 90 % success, 8 % fail (the ``fit`` block raised; ``trial.fail()``, so the
  metrics get their worst values), 2 % crashed (``trial.crashed()``), in a fixed order;
* two metrics: ``loss`` (minimize, bounds ``(0, 1)``) and ``score`` (maximize, unbounded,
  so a failed report's score is ``-inf``);
* a config of mixed types: ``learning_rate`` (float), ``n_estimators`` (int), ``criterion``
  (str), ``bootstrap`` (bool), and ``max_samples`` (float) only when ``bootstrap`` is true
  (a conditional hyperparameter, so that column has missing cells);
* summary entries on some successful reports only: ``n_iter`` (int, one in three) and
  ``early_stopped`` (bool, one in ten);
* the trial profile of ``begin()`` and one named profile ``fit`` inside it.

The values are drawn from a seeded generator, and the raw metric values each report was
given are returned next to the reports (``ReportSet.loss`` / ``.score``), so that a benchmark
can compute the expected ``best()``, ``sortby()`` and ``incumbents()`` without the History.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from _impls import Impl, load_impl

SEED = 20261129
LOSS = "loss"
SCORE = "score"
CRITERIA = ("gini", "entropy", "log_loss")
P_FAIL = 0.08
P_CRASH = 0.02

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class ReportSet:
    """``n`` reports of one implementation, with what they were given."""

    impl: str
    reports: list[Any]
    names: list[str]
    statuses: list[str]  # "success", "fail" or "crashed"
    loss: np.ndarray  # float64: the loss each report records (worst, 1.0, unless success)
    score: np.ndarray  # float64: the score each report records (-inf unless success)

    def __len__(self) -> int:
        return len(self.reports)

    def expected_best(self, metric: str = LOSS) -> str:
        """Name of the best report for ``metric`` (values are distinct among successes)."""
        if metric == LOSS:
            return self.names[int(np.argmin(self.loss))]
        return self.names[int(np.argmax(self.score))]

    def expected_sortby(self, metric: str = LOSS) -> list[str]:
        """Names sorted best first, ties (the worst values of failures) in insertion order,
        as Python's stable ``sorted(..., reverse=not minimize)`` gives them."""
        key = self.loss if metric == LOSS else -self.score
        return [self.names[i] for i in np.argsort(key, kind="stable")]

    def expected_incumbents(self, order: list[int], metric: str = LOSS) -> list[str]:
        """Names of the strictly improving reports when visited in ``order``."""
        values = self.loss if metric == LOSS else -self.score
        out: list[str] = []
        current = math.inf
        for i in order:
            if not out or values[i] < current:
                current = float(values[i])
                out.append(self.names[i])
        return out


@contextlib.contextmanager
def _scratch_cwd(enabled: bool) -> Iterator[None]:
    """amltk 1.10 creates ``unknown-trial-bucket/`` in the working directory when a Trial is
    made: build its trials in a temporary directory, removed afterwards."""
    if not enabled:
        yield
        return
    old = os.getcwd()
    tmp = tempfile.mkdtemp(prefix="fasttrial-bench-")
    os.chdir(tmp)
    try:
        yield
    finally:
        os.chdir(old)
        shutil.rmtree(tmp, ignore_errors=True)


def _plan(n: int) -> dict[str, list[Any]]:
    """The random draws of ``n`` reports, as Python lists (deterministic in ``SEED``)."""
    rng = np.random.default_rng(SEED)
    u = rng.random(n)
    status = np.where(u < P_CRASH, 2, np.where(u < P_CRASH + P_FAIL, 1, 0))
    # Distinct values: a random permutation of a grid, plus jitter smaller than the step.
    loss = 0.02 + 0.96 * (rng.permutation(n) + 0.5 * rng.random(n)) / n
    score = 100.0 + 9900.0 * (rng.permutation(n) + 0.5 * rng.random(n)) / n
    return {
        "status": status.tolist(),
        "loss": loss.tolist(),
        "score": score.tolist(),
        "lr": (10.0 ** rng.uniform(-5.0, -1.0, n)).tolist(),
        "n_estimators": rng.integers(10, 1000, n).tolist(),
        "criterion": rng.integers(0, len(CRITERIA), n).tolist(),
        "bootstrap": (rng.random(n) < 0.5).tolist(),
        "max_samples": rng.uniform(0.1, 1.0, n).tolist(),
        "n_iter": rng.integers(1, 500, n).tolist(),
        "early": (rng.random(n) < 0.3).tolist(),
    }


def build_reports(impl: Impl | str, n: int) -> ReportSet:
    """Make ``n`` reports with ``impl``'s classes (uncached; see ``cached_reports``)."""
    if isinstance(impl, str):
        impl = load_impl(impl)
    Trial, Metric = impl.Trial, impl.Metric
    metrics = [
        Metric(LOSS, minimize=True, bounds=(0.0, 1.0)),
        Metric(SCORE, minimize=False),
    ]
    plan = _plan(n)
    reports: list[Any] = []
    names: list[str] = []
    statuses: list[str] = []
    loss = np.empty(n, dtype=np.float64)
    score = np.empty(n, dtype=np.float64)
    with _scratch_cwd(impl.name == "amltk"):
        for i in range(n):
            bootstrap = plan["bootstrap"][i]
            config: dict[str, Any] = {
                "learning_rate": plan["lr"][i],
                "n_estimators": plan["n_estimators"][i],
                "criterion": CRITERIA[plan["criterion"][i]],
                "bootstrap": bootstrap,
            }
            if bootstrap:
                config["max_samples"] = plan["max_samples"][i]
            name = f"trial-{i}"
            trial = Trial(name=name, config=config, metrics=metrics)
            kind = plan["status"][i]
            with trial.begin(), trial.profile("fit"):
                if kind:
                    raise ValueError(f"fit diverged after {plan['n_iter'][i]} iterations")
            if kind == 0:
                if i % 3 == 0:
                    trial.summary["n_iter"] = plan["n_iter"][i]
                if i % 10 == 0:
                    trial.summary["early_stopped"] = plan["early"][i]
                report = trial.success(loss=plan["loss"][i], score=plan["score"][i])
                loss[i] = plan["loss"][i]
                score[i] = plan["score"][i]
                statuses.append("success")
            else:
                report = trial.fail() if kind == 1 else trial.crashed()
                loss[i] = 1.0
                score[i] = -math.inf
                statuses.append("fail" if kind == 1 else "crashed")
            reports.append(report)
            names.append(name)
    return ReportSet(impl.name, reports, names, statuses, loss, score)


@functools.cache
def cached_reports(impl_name: str, n: int) -> ReportSet:
    """``build_reports(impl_name, n)``, made once per process (do not mutate them)."""
    return build_reports(impl_name, n)


def status_of(report: Any) -> str:
    status = report.status
    return str(getattr(status, "value", status))


# -- retained memory -------------------------------------------------------------------------


def _queries(history: Any) -> None:
    """What a user does with a history besides df(): may build lazy columns or caches."""
    history.best(LOSS)
    history.sortby(LOSS)
    history.incumbents(LOSS)


def _trim() -> None:
    """Give freed heap memory back to the system where glibc allows (so that RSS shows what
    is held, less what was only used on the way); a no-op elsewhere."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def measure_retained(impl_name: str, n: int) -> dict[str, Any]:
    """Bytes retained per report by a History of ``n`` reports, reports included.

    Under ``tracemalloc``: a warm-up history (imports, caches, interned strings), then the
    baseline; then ``n`` reports are made with real API calls and added to a History, the
    generator's own lists are dropped and ``gc.collect()`` runs; what is still traced above
    the baseline is what the History and its reports hold.  Measured twice: right after
    ``add()`` and again after ``best``/``sortby``/``incumbents`` (which may build lazy
    columns or per-report caches); ``bytes_per_report`` is the larger.

    Also reports the RSS growth over the same steps, measured first without tracemalloc (a
    rough cross-check that sees memory allocated outside Python's allocators, which
    tracemalloc does not trace).  Run it in a fresh process (``measure_retained_subprocess``)
    for numbers that nothing else in the process disturbs.
    """
    import psutil

    impl = load_impl(impl_name)
    History = impl.History
    proc = psutil.Process()

    warm = History()
    warm.add(build_reports(impl, 200).reports)
    _queries(warm)
    del warm

    # RSS, without tracemalloc (its own bookkeeping would count).
    gc.collect()
    _trim()
    rss0 = proc.memory_info().rss
    rs = build_reports(impl, n)
    history = History()
    history.add(rs.reports)
    del rs
    _queries(history)
    gc.collect()
    _trim()
    rss_delta = proc.memory_info().rss - rss0
    del history
    gc.collect()

    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
        rs = build_reports(impl, n)
        history = History()
        history.add(rs.reports)
        del rs
        gc.collect()
        after_add = tracemalloc.get_traced_memory()[0] - base
        _queries(history)
        gc.collect()
        after_queries = tracemalloc.get_traced_memory()[0] - base
        assert len(history) == n
        del history
        gc.collect()
        leftover = tracemalloc.get_traced_memory()[0] - base
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return {
        "impl": impl_name,
        "n": n,
        "bytes_per_report": max(after_add, after_queries) / n,
        "bytes_per_report_after_add": after_add / n,
        "bytes_per_report_after_queries": after_queries / n,
        "leftover_bytes_after_del": leftover,
        "rss_bytes_per_report_rough": rss_delta / n,
    }


def measure_retained_subprocess(impl_name: str, n: int, timeout: float = 900.0) -> dict[str, Any]:
    """``measure_retained(impl_name, n)`` in a fresh interpreter (same ``sys.executable``,
    same environment, this directory on its path)."""
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(HERE)!r})\n"
        "import _history_data as d\n"
        f"print(json.dumps(d.measure_retained({impl_name!r}, {int(n)})))\n"
    )
    with tempfile.TemporaryDirectory(prefix="fasttrial-mem-") as cwd:
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
            check=False,
        )
    if out.returncode != 0:
        raise RuntimeError(
            f"measuring retained memory of {impl_name} at {n} reports failed:\n{out.stderr}"
        )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# -- pandas' floor ---------------------------------------------------------------------------


def floor_columns(frame: Any) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """``frame``'s data as plain numpy columns: float64 (missing -> NaN) for float columns
    and for integer columns with missing cells, int64 for complete integer columns, object
    for the rest; and the index as an object array.  What pandas gets at best."""
    columns: dict[str, np.ndarray] = {}
    for name in frame.columns:
        s = frame[name]
        kind = getattr(s.dtype, "kind", "O")
        if kind == "f":
            columns[name] = s.to_numpy(dtype=np.float64, na_value=np.nan)
        elif kind in "iu":
            if s.isna().any():
                columns[name] = s.to_numpy(dtype=np.float64, na_value=np.nan)
            else:
                columns[name] = s.to_numpy(dtype=np.int64)
        else:
            columns[name] = s.to_numpy(dtype=object, na_value=None)
    return columns, frame.index.to_numpy(dtype=object)


def floor_frame(columns: dict[str, np.ndarray], index: np.ndarray) -> Any:
    """The frame pandas builds from ready numpy columns: the floor of ``History.df()``."""
    import pandas as pd

    return pd.DataFrame(columns, index=pd.Index(index, name="name"))
