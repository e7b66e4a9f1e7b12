"""Overhead of profiling a trial: fasttrial next to the amltk way, an empty floor and amltk.

Run with ``pytest benchmarks/ --benchmark-only`` (see benchmarks/README.md).  Every benchmark
also checks its result, so a broken API fails here rather than timing an error.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import psutil
import pytest
from _impls import Impl

N_HISTORY = 500


def _status(report: Any) -> str:
    status = report.status
    return str(getattr(status, "value", status))


def _metric_column(df: Any) -> str:
    cols = [c for c in df.columns if str(c).startswith("metric:loss")]
    assert len(cols) == 1, list(df.columns)
    return cols[0]


# -- trial-full: Trial(...) + begin() + success() ------------------------------------------


@pytest.mark.benchmark(group="trial-full")
def test_trial_full(benchmark: Any, impl: Impl) -> None:
    Trial = impl.Trial
    metric = impl.Metric("loss", minimize=True)
    config = {"x": 1.0, "y": 2}

    def run() -> Any:
        trial = Trial(name="t", config=config, metrics=[metric])
        with trial.begin():
            pass
        return trial.success(loss=1.0)

    report = benchmark(run)
    assert _status(report) == "success"
    assert report.metric_values[0].value == 1.0
    assert report.trial.exception is None
    assert report.trial.time.duration >= 0
    assert report.trial.memory.start_rss > 0


# -- begin: with trial.begin(): pass -------------------------------------------------------


@pytest.mark.benchmark(group="begin")
def test_begin(benchmark: Any, impl: Impl) -> None:
    trial = impl.Trial(name="t", config={"x": 1}, metrics=[impl.Metric("loss")])

    def run() -> None:
        with trial.begin():
            pass

    benchmark(run)
    assert trial.exception is None
    assert trial.time.duration >= 0
    assert trial.memory.start_rss > 0
    assert trial.memory.end_rss > 0


@pytest.mark.benchmark(group="begin")
@pytest.mark.parametrize("label", ["floor"])
def test_begin_floor(benchmark: Any, label: str) -> None:
    def run() -> Any:
        with nullcontext(label) as value:
            pass
        return value

    assert benchmark(run) == label


# -- profile: with trial.profile("x"): pass ------------------------------------------------


@pytest.mark.benchmark(group="profile")
def test_profile(benchmark: Any, impl: Impl) -> None:
    trial = impl.Trial(name="t", config={"x": 1}, metrics=[impl.Metric("loss")])

    def run() -> None:
        with trial.profile("x"):
            pass

    benchmark(run)
    interval = trial.profiles["x"]
    assert interval.time.duration >= 0
    assert interval.memory.start_rss > 0


@pytest.mark.benchmark(group="profile")
@pytest.mark.parametrize("label", ["floor"])
def test_profile_floor(benchmark: Any, label: str) -> None:
    def run() -> Any:
        with nullcontext(label) as value:
            pass
        return value

    assert benchmark(run) == label


# -- core-floor: the compiled core's raw costs ---------------------------------------------


@pytest.mark.benchmark(group="core-floor")
@pytest.mark.parametrize("label", ["read_memory"])
def test_core_read_memory(benchmark: Any, label: str) -> None:
    from fasttrial import _core

    rss, vms = benchmark(_core.read_memory)
    assert rss > 0
    assert vms > 0


@pytest.mark.benchmark(group="core-floor")
@pytest.mark.parametrize("label", ["profiler"])
def test_core_profiler(benchmark: Any, label: str) -> None:
    from fasttrial.profiling import Profiler

    profiler = Profiler()

    def run() -> None:
        with profiler("x"):
            pass

    benchmark(run)
    assert list(profiler) == ["x"]
    assert profiler["x"].time.duration >= 0
    assert profiler["x"].memory.end_rss > 0


@pytest.mark.benchmark(group="core-floor")
@pytest.mark.parametrize("label", ["psutil-memory_info"])
def test_core_psutil(benchmark: Any, label: str) -> None:
    """What the reference pays at each interval boundary for memory alone."""

    def run() -> Any:
        return psutil.Process().memory_info()

    assert benchmark(run).rss > 0


@pytest.mark.benchmark(group="core-floor")
@pytest.mark.parametrize("label", ["floor"])
def test_core_floor(benchmark: Any, label: str) -> None:
    def run() -> Any:
        with nullcontext(label) as value:
            pass
        return value

    assert benchmark(run) == label


# -- report-df: report.df() ----------------------------------------------------------------


def _make_report(impl: Impl, i: int, metric: Any) -> Any:
    trial = impl.Trial(
        name=f"trial-{i}",
        config={"x": 0.5 * i, "y": i % 7, "kernel": "rbf" if i % 2 else "linear"},
        metrics=[metric],
    )
    with trial.begin(), trial.profile("fit"):
        pass
    return trial.success(loss=float(i))


@pytest.mark.benchmark(group="report-df")
def test_report_df(benchmark: Any, impl: Impl) -> None:
    report = _make_report(impl, 3, impl.Metric("loss", minimize=True))
    df = benchmark(report.df)
    assert list(df.index) == ["trial-3"]
    assert df["status"].iloc[0] == "success"
    assert df[_metric_column(df)].iloc[0] == 3.0
    assert df["config:kernel"].iloc[0] == "rbf"
    assert df["time:duration"].iloc[0] >= 0


# -- history-df: History.df() of 500 reports -----------------------------------------------


@pytest.mark.benchmark(group="history-df")
def test_history_df(benchmark: Any, impl: Impl) -> None:
    metric = impl.Metric("loss", minimize=True)
    history = impl.History()
    for i in range(N_HISTORY):
        history.add(_make_report(impl, i, metric))

    if impl.name == "fasttrial":
        df = benchmark(history.df)
    else:  # seconds per call: a few rounds give a median without a long run
        df = benchmark.pedantic(history.df, rounds=3, iterations=1)
    assert len(df) == N_HISTORY
    assert df.index.is_unique
    assert set(df["status"]) == {"success"}
    assert df[_metric_column(df)].sum() == sum(range(N_HISTORY))
