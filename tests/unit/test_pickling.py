"""Pickling of trials, reports, profilers and metrics, within and across processes.

Reports are what a worker process sends back to the optimizer, so they must survive
``pickle`` (including when the trial's exception itself cannot be pickled) and keep the
time and memory measured *in the worker*.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import pickle
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest

from fasttrial import _core
from fasttrial.optimization import Metric, Trial
from fasttrial.profiling import Memory, Profile, Profiler, Timer

try:  # tests/ as packages
    from . import _workers
except ImportError:  # rootdir-relative imports (no __init__.py): tests/unit is on sys.path
    import _workers  # type: ignore[no-redef]

MB = 1024**2
MEMORY_SLACK = 50 * MB
LOSS = Metric("loss", minimize=True, bounds=(0, 10))
ACC = Metric("acc", minimize=False)


def _round_trip(obj: Any) -> Any:
    return pickle.loads(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def _profiled_trial(name: str = "t", **kwargs: Any) -> Trial:
    trial = Trial(
        name=name,
        config={"x": 1, "nested": {"a": [1, 2]}},
        metrics=[LOSS, ACC],
        seed=3,
        info={"optimizer": "random"},
        fidelities={"epochs": 10},
        **kwargs,
    )
    with trial.begin():
        with trial.profile("fit", summary=True):
            pass
        with trial.profile("predict", time="process", memory_unit="MB"):
            pass
    trial.summary["score"] = 0.5
    trial.storage.add("model.pkl")
    trial.attach_extra("plugin", {"k": "v"})
    return trial


# ============================================================== plain round trips
class TestRoundTrip:
    def test_fresh_trial(self) -> None:
        trial = Trial(name="fresh", config={"x": 1})
        back = _round_trip(trial)
        assert back == trial
        assert back.name == "fresh"
        assert math.isnan(back.time.start)
        assert math.isnan(back.memory.end_rss)
        assert dict(back.profiles) == {}

    def test_profiled_trial(self) -> None:
        trial = _profiled_trial()
        back = _round_trip(trial)
        assert back == trial
        assert back.time == trial.time
        assert back.memory == trial.memory
        assert back.time.duration == trial.time.duration
        assert set(back.profiles) == {"trial", "trial:fit", "trial:predict"}
        for name, interval in trial.profiles.items():
            assert back.profiles[name] == interval, name
        assert back.profiles["trial:predict"].memory.unit == Memory.Unit.MEGABYTES
        assert back.profiles["trial:predict"].time.kind == Timer.Kind.PROCESS
        assert back.summary == trial.summary
        assert back.storage == {"model.pkl"}
        assert back.extras == {"plugin": {"k": "v"}}
        assert back.info == {"optimizer": "random"}
        assert back.fidelities == {"epochs": 10}
        assert back.seed == 3
        assert back.metrics == [LOSS, ACC]

    def test_unpickled_trial_keeps_profiling(self) -> None:
        back = _round_trip(_profiled_trial())
        with back.profile("more"):
            pass
        assert "more" in back.profiles  # not nested: nothing was left running
        with back.begin():
            raise ValueError("again")
        assert str(back.exception) == "again"

    @pytest.mark.parametrize("status", ["success", "fail", "crashed"])
    def test_reports(self, status: str) -> None:
        trial = _profiled_trial(f"r-{status}")
        if status == "success":
            report = trial.success(loss=1.5, acc=0.25)
        elif status == "fail":
            report = trial.fail(loss=2.0)
        else:
            report = trial.crashed(exception=RuntimeError("crash"), traceback="tb text")
        back = _round_trip(report)
        assert back == report
        assert back.status is Trial.Status(status)
        assert back.metrics == report.metrics
        assert back.metric_values == report.metric_values
        assert [v.metric for v in back.metric_values] == [LOSS, ACC]
        assert back.metric_defs == report.metric_defs
        assert back.metric_names == ("loss", "acc")
        assert back.time == report.time
        assert back.memory == report.memory
        assert back.trial == report.trial
        if status == "crashed":
            assert type(back.exception) is RuntimeError
            assert back.exception.args == ("crash",)
            assert back.traceback == "tb text"

    def test_report_df_survives(self) -> None:
        import pandas as pd

        report = _profiled_trial().success(loss=1.0, acc=0.5)
        pd.testing.assert_frame_equal(_round_trip(report).df(), report.df())

    @pytest.mark.parametrize("disabled", [False, True])
    def test_profiler(self, disabled: bool) -> None:
        profiler = Profiler(memory_unit="KB", time_kind="cpu")
        with profiler("a"), profiler("b"):
            pass
        if disabled:
            profiler.disable()
        back = _round_trip(profiler)
        assert back == profiler
        assert set(back) == {"a", "a:b"}
        assert back["a:b"] == profiler["a:b"]
        assert back.memory_unit == Memory.Unit.KILOBYTES
        assert back.time_kind == Timer.Kind.CPU
        assert back.disabled is disabled
        back.enable()
        with back("c"):
            pass
        assert "c" in back
        assert "c" not in profiler

    @pytest.mark.parametrize(
        "metric",
        [LOSS, ACC, Metric("m", minimize=False, bounds=(-1.5, 2.5))],
        ids=["bounded-min", "unbounded-max", "bounded-max"],
    )
    def test_metric_and_value(self, metric: Metric) -> None:
        back = _round_trip(metric)
        assert back == metric
        assert (back.name, back.minimize, back.bounds) == (
            metric.name,
            metric.minimize,
            metric.bounds,
        )
        assert back.worst == metric.worst
        value = metric.as_value(0.5)
        back_value = _round_trip(value)
        assert type(back_value) is Metric.Value
        assert back_value == value
        assert back_value.value == 0.5
        assert back_value.metric == metric
        assert back_value.loss == value.loss
        assert back_value.score == value.score

    def test_intervals(self) -> None:
        with Profile.measure(memory_unit="MB", time_kind="process") as interval:
            pass
        for obj in (interval, interval.time, interval.memory, Timer.na(), Memory.na()):
            back = _round_trip(obj)
            assert type(back) is type(obj)
            assert back == obj


# ======================================================== unpicklable exceptions
@pytest.mark.parametrize(
    "error_type", [_workers.LockHoldingError, _workers.LambdaHoldingError], ids=["lock", "lambda"]
)
class TestUnpicklableException:
    def test_the_exception_really_is_unpicklable(self, error_type: type[Exception]) -> None:
        with pytest.raises(Exception):  # noqa: B017  (TypeError or PicklingError by kind)
            pickle.dumps(error_type("x"))

    def test_report_pickles_keeping_name_message_and_traceback(
        self, error_type: type[Exception]
    ) -> None:
        trial = Trial(name="bad", config={}, metrics=[LOSS])
        with trial.begin():
            raise error_type("cannot cross a process boundary")
        original = trial.exception
        report = trial.fail()

        back = _round_trip(report)

        assert back.status is Trial.Status.FAIL
        assert back.metrics == {"loss": 10.0}
        assert isinstance(back.exception, Exception)
        assert str(back.exception) == "cannot cross a process boundary"
        assert error_type.__name__ in repr(back.exception)
        assert back.traceback == report.traceback
        assert back.traceback is not None
        assert back.traceback.rstrip().endswith(
            f"{error_type.__name__}: cannot cross a process boundary"
        )
        assert back.df()["exception"].iloc[0] == "cannot cross a process boundary"
        assert back.time == report.time
        # pickling did not change the report that stays here
        assert report.exception is original
        assert trial.exception is original

    def test_crashed_report_pickles(self, error_type: type[Exception]) -> None:
        trial = Trial(name="bad", config={}, metrics=[LOSS])
        report = trial.crashed(exception=error_type("crashed hard"), traceback="tb")
        back = _round_trip(report)
        assert back.status is Trial.Status.CRASHED
        assert str(back.exception) == "crashed hard"
        assert error_type.__name__ in repr(back.exception)
        assert back.traceback == "tb"


# ================================================================ other processes
def _check_worker_report(
    report: Trial.Report,
    worker_pid: int,
    worker_rss: int,
    outcome: str,
    name: str,
    window: tuple[float, float],
) -> None:
    assert worker_pid != os.getpid()
    assert report.name == name
    if outcome == "success":
        assert report.status is Trial.Status.SUCCESS
        assert report.metrics == {"loss": 0.5, "acc": 0.75}
        assert report.exception is None
        assert report.summary == {"total": sum(range(10_000))}
    else:
        assert report.status is Trial.Status.FAIL
        assert report.metrics == {"loss": 10.0, "acc": 0.0}
        assert str(report.exception) == f"{name} held a {outcome}"
        assert "HoldingError" in repr(report.exception)
        assert report.traceback is not None
        assert report.traceback.rstrip().endswith(f"HoldingError: {name} held a {outcome}")
    assert [v.metric for v in report.metric_values] == [_workers.LOSS, _workers.ACC]

    t = report.time
    assert t.kind == Timer.Kind.WALL
    assert t.unit == Timer.Unit.SECONDS
    assert t.duration >= 0
    start, end = window
    assert start - 1e-3 <= t.start <= t.end <= end + 1e-3

    m = report.memory
    assert m.unit == Memory.Unit.BYTES
    assert m.start_rss > 0 and m.end_rss > 0 and m.end_vms > 0
    # measured in the worker: close to the worker's own RSS (psutil, read just after)
    assert abs(m.end_rss - worker_rss) < MEMORY_SLACK
    assert set(report.profiles) == {"trial", "trial:work"}


@pytest.mark.slow
@pytest.mark.parametrize("outcome", ["success", "lock", "lambda"])
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_report_from_a_process_pool_worker(method: str, outcome: str) -> None:
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method!r} start method on this platform")
    name = f"{method}-{outcome}"
    start = time.time()
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context(method)) as ex:
        report, worker_pid, worker_rss = ex.submit(_workers.run_trial, name, outcome).result(
            timeout=120
        )
    end = time.time()
    _check_worker_report(report, worker_pid, worker_rss, outcome, name, (start, end))


@pytest.mark.slow
def test_forked_child_measures_its_own_memory() -> None:
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    n_bytes = 200 * MB

    # Measure once here first, so the memory reader's descriptor is open before the fork:
    # a child still reading through it would see this (parent) process.
    parent_trial = Trial(name="parent", config={})
    with parent_trial.begin():
        pass
    assert parent_trial.memory.end_rss > 0
    parent_rss_before = parent_trial.memory.end_rss
    if _core.memory_backend() == "linux-statm":
        fd_dir = "/proc/self/fd"
        targets = set()
        for fd in os.listdir(fd_dir):
            try:
                targets.add(os.readlink(f"{fd_dir}/{fd}"))
            except OSError:
                continue
        assert f"/proc/{os.getpid()}/statm" in targets  # the kept descriptor is inherited

    ctx = multiprocessing.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_workers.allocate_in_trial, args=(sender, n_bytes))
    child.start()
    sender.close()
    try:
        assert receiver.poll(120), "the child sent nothing back"
        message = receiver.recv()
    finally:
        receiver.close()
        child.join(120)
    assert child.exitcode == 0
    assert "error" not in message, message.get("error")

    report: Trial.Report = message["report"]
    assert message["pid"] != os.getpid()
    assert report.status is Trial.Status.SUCCESS
    memory = report.memory
    assert memory.unit == Memory.Unit.BYTES
    assert memory.rss_used >= 180 * MB
    # and it is the child's own memory, as psutil saw it in the child
    assert abs(memory.start_rss - message["rss_before"]) < MEMORY_SLACK
    assert abs(memory.end_rss - message["rss_after"]) < MEMORY_SLACK

    # the parent allocated nothing meanwhile, and reads its own memory again
    parent_trial = Trial(name="parent-again", config={})
    with parent_trial.begin():
        pass
    assert parent_trial.memory.end_rss < parent_rss_before + 100 * MB
