"""Behaviour of ``Trial``, ``Trial.Report`` and ``Trial.Status``.

Everything runs for real: real clocks, real memory readings (checked against psutil), real
files under the per-test working directory made by ``tests/conftest.py``.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import psutil
import pytest

from fasttrial.optimization import Metric, Trial
from fasttrial.profiling import Memory, Profiler, Timer
from fasttrial.store import Bucket, PathBucket

MB = 1024**2
#: Two memory readings taken around the same instant by different means may differ by this.
MEMORY_SLACK = 50 * MB
#: Slack when comparing our clock readings with Python's reading of the same clock.
CLOCK_EPS = 1e-6

MEMORY_FIELDS = (
    "start_vms",
    "end_vms",
    "diff_vms",
    "start_rss",
    "end_rss",
    "diff_rss",
    "peak_rss",
    "unit",
)
TIME_FIELDS = ("start", "end", "cpu_time", "cpu_time_children", "duration", "kind", "unit")

LOSS = Metric("loss", minimize=True)


def _trial(name: str = "t", **kwargs: Any) -> Trial:
    kwargs.setdefault("config", {"x": 1})
    return Trial(name=name, **kwargs)


def _missing_message(metrics: list[Metric], metric: Metric) -> str:
    """The seed page's message for a metric left out of ``success()``."""
    return (
        f"Cannot report success without self.metrics={metrics!r}."
        f" Please provide a value for the metric '{metric.name}'."
        f"\nPlease provide '{metric.name}' as `trial.success({metric.name}=value)`."
    )


def _files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


# =================================================================== success()
class TestSuccess:
    def test_reports_values_as_floats(self) -> None:
        acc = Metric("acc", minimize=False, bounds=(0, 1))
        trial = _trial(metrics=[LOSS, acc])
        report = trial.success(loss=2, acc=0.5)
        assert report.status is Trial.Status.SUCCESS
        assert report.metrics == {"loss": 2.0, "acc": 0.5}
        assert all(type(v) is float for v in report.metrics.values())
        assert [v.metric for v in report.metric_values] == [LOSS, acc]

    def test_missing_metric_gives_the_seed_message(self) -> None:
        acc = Metric("acc", minimize=False, bounds=(0.0, 1.0))
        metrics = [LOSS, acc]
        trial = _trial(metrics=metrics)
        with pytest.raises(ValueError) as info:
            trial.success(loss=1.0)
        assert str(info.value) == _missing_message(metrics, acc)

    def test_no_values_at_all_names_the_first_metric(self) -> None:
        trial = _trial(metrics=[LOSS])
        with pytest.raises(ValueError) as info:
            trial.success()
        assert str(info.value) == _missing_message([LOSS], LOSS)

    def test_misspelt_metric_names_it_and_fills_the_placeholder(self) -> None:
        # amltk's message ends with an unfilled `Metric(name="{provided_key}", ...)` and never
        # names what was given; issue 12: it names `los` and fills the rename hint with it.
        trial = _trial(metrics=[LOSS])
        with pytest.raises(ValueError) as info:
            trial.success(los=1)
        text = str(info.value)
        assert "{provided_key}" not in text
        assert "It was given 'los' instead." in text
        assert "rename your metric to `Metric(name='los', minimize=True, bounds=None)`" in text

    def test_extra_metric_is_refused_by_name(self) -> None:
        trial = _trial(metrics=[LOSS])
        with pytest.raises(ValueError, match="surprise"):
            trial.success(loss=1.0, surprise=2.0)

    def test_no_metrics_and_no_values_is_fine(self) -> None:
        report = _trial().success()
        assert report.status is Trial.Status.SUCCESS
        assert report.metrics == {}
        assert report.metric_values == ()

    @pytest.mark.parametrize(
        "value",
        [
            math.nan,
            math.inf,
            -math.inf,
            np.float64("nan"),
            np.float32("inf"),
            "0.5",
            None,
            [0.5],
        ],
        ids=["nan", "+inf", "-inf", "np-nan", "np-inf", "str", "None", "list"],
    )
    def test_unusable_value_is_refused_pointing_to_fail(self, value: Any) -> None:
        trial = _trial(metrics=[LOSS])
        with pytest.raises(ValueError) as info:
            trial.success(loss=value)
        assert "fail()" in str(info.value), str(info.value)

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (np.float32(0.25), 0.25),
            (np.int64(3), 3.0),
            (np.float64(2.5), 2.5),
            (np.array(1.5), 1.5),
            (np.array(7, dtype=np.int32), 7.0),
        ],
        ids=["float32", "int64", "float64", "0d-float-array", "0d-int-array"],
    )
    def test_numpy_scalars_are_stored_as_python_floats(self, value: Any, expected: float) -> None:
        report = _trial(metrics=[LOSS]).success(loss=value)
        assert report.metrics == {"loss": expected}
        assert type(report.metrics["loss"]) is float
        assert type(report.metric_values[0].value) is float

    def test_array_of_several_values_is_refused(self) -> None:
        with pytest.raises(ValueError):
            _trial(metrics=[LOSS]).success(loss=np.array([1.0, 2.0]))


# ====================================================================== fail()
class TestFail:
    @pytest.mark.parametrize(
        ("metric", "worst"),
        [
            (Metric("m", minimize=True, bounds=(0, 10)), 10.0),
            (Metric("m", minimize=False, bounds=(-1, 1)), -1.0),
            (Metric("m", minimize=True), math.inf),
            (Metric("m", minimize=False), -math.inf),
        ],
        ids=["bounded-min", "bounded-max", "unbounded-min", "unbounded-max"],
    )
    def test_missing_values_get_the_worst(self, metric: Metric, worst: float) -> None:
        trial = _trial(metrics=[metric])
        report = trial.fail()
        assert report.status is Trial.Status.FAIL
        assert report.metrics == {"m": worst}
        assert report.metric_values[0].metric == metric
        assert report.metric_values[0] == metric.worst

    def test_given_value_is_kept_others_worst(self) -> None:
        acc = Metric("acc", minimize=False, bounds=(0, 1))
        report = _trial(metrics=[LOSS, acc]).fail(loss=0.3)
        assert report.metrics == {"loss": 0.3, "acc": 0.0}

    def test_numpy_value_is_stored_as_python_float(self) -> None:
        report = _trial(metrics=[LOSS]).fail(loss=np.float32(0.5))
        assert report.metrics == {"loss": 0.5}
        assert type(report.metrics["loss"]) is float

    def test_unknown_metric_is_refused(self) -> None:
        trial = _trial(metrics=[LOSS])
        with pytest.raises(ValueError, match="nonsense"):
            trial.fail(nonsense=1.0)

    def test_fail_after_an_exception_keeps_it(self) -> None:
        trial = _trial(metrics=[LOSS])
        with trial.begin():
            raise ValueError("bad")
        report = trial.fail()
        assert isinstance(report.exception, ValueError)
        assert str(report.exception) == "bad"
        assert report.traceback is not None


# =================================================================== crashed()
class TestCrashed:
    def test_without_any_exception_is_a_runtime_error(self) -> None:
        trial = _trial(metrics=[LOSS])
        with pytest.raises(RuntimeError) as info:
            trial.crashed()
        assert str(info.value) == (
            "Cannot generate a crash report without an exception."
            " Please provide an exception or use `with trial.begin():` to start"
            " the trial."
        )

    def test_given_exception_is_kept_with_worst_values(self) -> None:
        acc = Metric("acc", minimize=False, bounds=(0, 1))
        trial = _trial(metrics=[LOSS, acc])
        error = MemoryError("out of memory")
        report = trial.crashed(exception=error, traceback="the traceback")
        assert report.status is Trial.Status.CRASHED
        assert report.exception is error
        assert trial.exception is error
        assert report.traceback == "the traceback"
        assert report.metrics == {"loss": math.inf, "acc": 0.0}

    def test_uses_the_exception_caught_by_begin(self) -> None:
        trial = _trial(metrics=[LOSS])
        with trial.begin():
            raise KeyError("k")
        report = trial.crashed()
        assert report.status is Trial.Status.CRASHED
        assert isinstance(report.exception, KeyError)
        assert report.traceback is not None
        assert report.traceback.rstrip().endswith("KeyError: 'k'")


# ===================================================================== begin()
class CustomError(Exception):
    pass


class TestBegin:
    @pytest.mark.parametrize(
        "error",
        [ValueError("v"), ZeroDivisionError("z"), CustomError("c"), RuntimeError("r")],
        ids=lambda e: type(e).__name__,
    )
    def test_exceptions_are_caught_and_kept(self, error: Exception) -> None:
        trial = _trial()
        with trial.begin():
            raise error
        assert trial.exception is error
        tb = trial.traceback
        assert tb is not None
        assert tb.startswith("Traceback (most recent call last):")
        assert "raise error" in tb
        assert tb.rstrip().endswith(f"{type(error).__name__}: {error}")
        assert trial.time.end >= trial.time.start

    @pytest.mark.parametrize("error_type", [KeyboardInterrupt, SystemExit])
    def test_base_exceptions_propagate(self, error_type: type[BaseException]) -> None:
        trial = _trial()
        with pytest.raises(error_type), trial.begin():
            raise error_type()
        assert trial.exception is None
        assert trial.traceback is None
        # the block did end: its interval is complete, and nothing is left running
        assert not math.isnan(trial.time.end)
        with trial.profile("after"):
            pass
        assert "after" in trial.profiles

    def test_time_is_a_complete_wall_interval(self) -> None:
        trial = _trial()
        before = time.time()
        with trial.begin():
            sum(range(1000))
        after = time.time()
        t = trial.time
        assert t.kind == Timer.Kind.WALL
        assert t.unit == Timer.Unit.SECONDS
        assert t.duration >= 0
        assert t.end >= t.start
        assert before - CLOCK_EPS <= t.start <= t.end <= after + CLOCK_EPS
        assert trial.profiles["trial"].time == t

    def test_memory_matches_psutil(self) -> None:
        proc = psutil.Process()
        trial = _trial()
        before = proc.memory_info()
        with trial.begin():
            pass
        after = proc.memory_info()
        m = trial.memory
        assert m.unit == Memory.Unit.BYTES
        for value in (m.start_rss, m.end_rss, m.start_vms, m.end_vms):
            assert value > 0
        assert abs(m.start_rss - before.rss) < MEMORY_SLACK
        assert abs(m.end_rss - after.rss) < MEMORY_SLACK
        assert abs(m.start_vms - before.vms) < MEMORY_SLACK
        assert abs(m.end_vms - after.vms) < MEMORY_SLACK
        assert trial.profiles["trial"].memory == m

    def test_memory_sees_an_allocation_inside_the_block(self) -> None:
        trial = _trial()
        with trial.begin():
            block = np.ones(100 * MB // 8)  # writes every page: 100 MB resident
        assert block[-1] == 1.0
        assert trial.memory.rss_used >= 80 * MB
        del block

    @pytest.mark.parametrize(
        ("kind", "clock"),
        [("wall", time.time), ("cpu", time.perf_counter), ("process", time.process_time)],
    )
    def test_time_kinds_read_their_clock(self, kind: str, clock: Any) -> None:
        trial = _trial()
        before = clock()
        with trial.begin(time=kind):
            sum(range(10_000))
        after = clock()
        t = trial.time
        assert t.kind == Timer.Kind(kind)
        assert str(t.kind) == kind
        assert t.unit == Timer.Unit.SECONDS
        assert t.duration >= 0
        assert before - CLOCK_EPS <= t.start <= t.end <= after + CLOCK_EPS

    @pytest.mark.parametrize(
        ("unit", "expected", "divisor"),
        [
            ("B", Memory.Unit.BYTES, 1),
            ("KB", Memory.Unit.KILOBYTES, 1024),
            ("MB", Memory.Unit.MEGABYTES, 1024**2),
            ("GB", Memory.Unit.GIGABYTES, 1024**3),
        ],
    )
    def test_memory_units(self, unit: str, expected: Memory.Unit, divisor: int) -> None:
        proc = psutil.Process()
        trial = _trial()
        with trial.begin(memory_unit=unit):
            pass
        reading = proc.memory_info()
        m = trial.memory
        assert m.unit == expected
        assert m.end_rss > 0
        assert abs(m.end_rss - reading.rss / divisor) < MEMORY_SLACK / divisor
        assert abs(m.end_vms - reading.vms / divisor) < MEMORY_SLACK / divisor

    @pytest.mark.parametrize(
        "kwargs", [{"time": "sundial"}, {"memory_unit": "TB"}], ids=["kind", "unit"]
    )
    def test_bad_kind_or_unit_is_named(self, kwargs: dict[str, str]) -> None:
        trial = _trial()
        (bad,) = kwargs.values()
        with pytest.raises(ValueError, match=bad), trial.begin(**kwargs):  # type: ignore[arg-type]
            pass
        assert dict(trial.profiles) == {}

    def test_time_and_memory_before_begin_are_nan(self) -> None:
        trial = _trial()
        t, m = trial.time, trial.memory
        assert isinstance(t, Timer.Interval)
        assert isinstance(m, Memory.Interval)
        assert math.isnan(t.start) and math.isnan(t.end) and math.isnan(t.duration)
        assert pd.isna(t.kind) and pd.isna(t.unit)
        for value in (m.start_vms, m.start_rss, m.end_vms, m.end_rss):
            assert math.isnan(value)
        assert pd.isna(m.unit)

    def test_profiles_inside_begin_nest_under_trial(self) -> None:
        trial = _trial()
        with trial.begin(), trial.profile("fit"):
            pass
        assert set(trial.profiles) == {"trial", "trial:fit"}


# ==================================================================== profile()
class TestProfilerMadeOnDemand:
    """begin() on a trial without a profiler records its span on the trial alone; a
    profiler made later (during or after the block) holds it as "trial"."""

    def test_profile_inside_begin_is_nested_under_trial(self) -> None:
        trial = Trial(name="t", config={})
        with trial.begin():
            with trial.profile("fit"):
                pass
            with trial.profile("predict"):
                pass
        assert list(trial.profiles) == ["trial", "trial:fit", "trial:predict"]
        assert trial.profiler._running == []
        assert trial.profiles["trial"].time == trial.time
        assert trial.profiles["trial"].time.duration >= trial.profiles["trial:fit"].time.duration

    def test_profiler_read_inside_begin_sees_trial_running(self) -> None:
        trial = Trial(name="t", config={})
        with trial.begin():
            profiler = trial.profiler
            assert profiler._running == ["trial"]
            assert math.isnan(profiler["trial"].time.end)
            with profiler("inner"):
                pass
        assert profiler._running == []
        assert set(profiler) == {"trial", "trial:inner"}
        assert profiler["trial"].time.end >= profiler["trial:inner"].time.end

    def test_profile_after_begin_is_not_nested(self) -> None:
        trial = Trial(name="t", config={})
        with trial.begin():
            pass
        with trial.profile("later"):
            pass
        assert list(trial.profiles) == ["trial", "later"]

    def test_no_profiler_until_asked(self) -> None:
        trial = Trial(name="t", config={})
        assert dict(trial.profiles) == {}
        assert trial._profiler is None
        with trial.begin():
            pass
        assert trial._profiler is None  # begin() alone makes none
        assert list(trial.profiles) == ["trial"]
        assert trial._profiler is not None

    def test_exception_in_begin_with_profile_inside_leaves_stack_clean(self) -> None:
        trial = Trial(name="t", config={})
        with trial.begin(), trial.profile("fit"):
            raise ValueError("x")
        assert isinstance(trial.exception, ValueError)
        assert trial.profiler._running == []
        with trial.profile("next"):
            pass
        assert "next" in trial.profiles

    def test_begin_span_survives_pickling_and_frames(self) -> None:
        import pickle

        trial = Trial(name="t", config={}, metrics=[Metric("loss")])
        with trial.begin():
            pass
        report = trial.success(loss=1.0)
        back = pickle.loads(pickle.dumps(report))
        assert list(back.profiles) == ["trial"]
        assert back.time == report.time
        assert "time:duration" in report.df().columns

    def test_begin_twice_keeps_the_last_block(self) -> None:
        trial = Trial(name="t", config={})
        with trial.begin():
            pass
        first = trial.time
        with trial.begin():
            pass
        assert trial.time.start >= first.end
        assert list(trial.profiles) == ["trial"]
        assert trial.profiles["trial"].time == trial.time


class TestFailedFramesAreReleased:
    """begin() keeps the traceback as text and lets go of the failed evaluation's frames."""

    def test_locals_of_the_failed_evaluation_are_freed(self) -> None:
        import weakref

        class Payload:
            pass

        refs: list[weakref.ref[Payload]] = []

        def evaluate() -> None:
            payload = Payload()  # stands for a model or a big array of the evaluation
            refs.append(weakref.ref(payload))
            raise ValueError("boom")

        trial = Trial(name="t", config={})
        with trial.begin():
            evaluate()

        assert refs[0]() is None
        assert isinstance(trial.exception, ValueError)
        assert trial.exception.__traceback__ is None
        text = trial.traceback
        assert text is not None
        assert "in evaluate" in text
        assert 'raise ValueError("boom")' in text
        assert text.rstrip().endswith("ValueError: boom")

    def test_chained_exceptions_are_in_the_text_and_released(self) -> None:
        def inner() -> None:
            raise KeyError("first")

        def outer() -> None:
            try:
                inner()
            except KeyError as error:
                raise RuntimeError("second") from error

        trial = Trial(name="t", config={})
        with trial.begin():
            outer()

        exc = trial.exception
        assert isinstance(exc, RuntimeError)
        assert exc.__traceback__ is None
        assert exc.__cause__ is not None and exc.__cause__.__traceback__ is None
        text = trial.traceback or ""
        assert "KeyError: 'first'" in text
        assert "direct cause" in text
        assert text.rstrip().endswith("RuntimeError: second")

    def test_traceback_text_is_stable_and_settable(self) -> None:
        trial = Trial(name="t", config={})
        with trial.begin():
            raise ValueError("x")
        first = trial.traceback
        assert first is not None and first == trial.traceback
        trial.traceback = "replaced"
        assert trial.traceback == "replaced"


class TestProfile:
    def test_nested_profiles_join_names(self) -> None:
        trial = _trial()
        with trial.profile("outer"):
            with trial.profile("a"):
                pass
            with trial.profile("b"), trial.profile("c"):
                pass
        assert set(trial.profiles) == {"outer", "outer:a", "outer:b", "outer:b:c"}
        outer, inner = trial.profiles["outer"].time, trial.profiles["outer:a"].time
        assert outer.start <= inner.start <= inner.end <= outer.end

    def test_profile_does_not_touch_trial_time(self) -> None:
        trial = _trial()
        with trial.profile("x"):
            pass
        assert math.isnan(trial.time.start)
        assert not math.isnan(trial.profiles["x"].time.end)

    def test_summary_true_writes_prefixed_keys(self) -> None:
        trial = _trial()
        with trial.profile("outer"), trial.profile("step", summary=True):
            pass
        # CPU tracking is off by default: the CPU times are NaN and left out of the summary.
        expected = {f"step:memory:{f}" for f in MEMORY_FIELDS} | {
            f"step:time:{f}" for f in TIME_FIELDS if not f.startswith("cpu_time")
        }
        assert set(trial.summary) == expected
        interval = trial.profiles["outer:step"]
        assert trial.summary["step:time:start"] == interval.time.start
        assert trial.summary["step:time:end"] == interval.time.end
        assert trial.summary["step:memory:end_rss"] == interval.memory.end_rss
        assert trial.summary["step:time:kind"] == Timer.Kind.WALL
        assert trial.summary["step:memory:unit"] == Memory.Unit.BYTES

    def test_summary_false_leaves_summary_alone(self) -> None:
        trial = _trial()
        with trial.profile("quiet"):
            pass
        assert trial.summary == {}

    @pytest.mark.parametrize("summary", [False, True])
    def test_exception_out_of_profile_leaves_the_stack_clean(self, summary: bool) -> None:
        trial = _trial()
        with (
            pytest.raises(RuntimeError, match="boom"),
            trial.profile("outer"),
            trial.profile("inner", summary=summary),
        ):
            raise RuntimeError("boom")
        with trial.profile("next"):
            pass
        assert set(trial.profiles) == {"outer", "outer:inner", "next"}
        assert not math.isnan(trial.profiles["outer:inner"].time.end)
        assert trial.exception is None  # profile() does not swallow, unlike begin()

    @pytest.mark.parametrize(
        "kwargs", [{"time": "hourglass"}, {"memory_unit": "PB"}], ids=["kind", "unit"]
    )
    def test_bad_kind_or_unit_is_named(self, kwargs: dict[str, str]) -> None:
        trial = _trial()
        (bad,) = kwargs.values()
        with pytest.raises(ValueError, match=bad), trial.profile("x", **kwargs):  # type: ignore[arg-type]
            pass

    def test_per_profile_kind_and_unit(self) -> None:
        trial = _trial()
        with trial.profile("x", time="process", memory_unit="KB"):
            pass
        interval = trial.profiles["x"]
        assert interval.time.kind == Timer.Kind.PROCESS
        assert interval.memory.unit == Memory.Unit.KILOBYTES

    def test_disable_and_enable(self) -> None:
        trial = _trial()
        trial.profiler.disable()
        with trial.profile("off"):
            pass
        assert "off" not in trial.profiles
        trial.profiler.enable()
        with trial.profile("on"):
            pass
        assert set(trial.profiles) == {"on"}

    def test_begin_with_a_disabled_profiler_still_catches(self) -> None:
        trial = _trial(profiler=Profiler(disabled=True))
        with trial.begin():
            raise ValueError("caught anyway")
        assert str(trial.exception) == "caught anyway"
        assert dict(trial.profiles) == {}
        assert math.isnan(trial.time.start)

    def test_profiler_defaults_apply(self) -> None:
        trial = _trial(profiler=Profiler(memory_unit="MB", time_kind="cpu"))
        with trial.begin():
            pass
        assert trial.memory.unit == Memory.Unit.MEGABYTES
        assert trial.time.kind == Timer.Kind.CPU


# ====================================================== store / retrieve / delete
class RecordingBucket(PathBucket):
    """A PathBucket that notes which sub-buckets were asked for."""

    subs: ClassVar[list[str]] = []

    def sub(self, name: str, *, create: bool | None = None) -> Any:
        RecordingBucket.subs.append(name)
        return super().sub(name, create=create)


class TestStorage:
    @pytest.mark.parametrize("form", ["None", "str", "Path", "Bucket"])
    def test_store_retrieve_delete(self, form: str) -> None:
        trial = _trial(name="tr", bucket=PathBucket("own"))
        where: Any = {
            "None": None,
            "str": "elsewhere",
            "Path": Path("elsewhere"),
            "Bucket": PathBucket("elsewhere"),
        }[form]
        root = Path("own") if where is None else Path("elsewhere")

        trial.store({"config.json": {"x": 1}, "note.txt": "hello"}, where=where)
        assert trial.storage == {"config.json", "note.txt"}
        assert (root / "tr" / "config.json").is_file()
        assert (root / "tr" / "note.txt").read_text() == "hello"

        assert trial.retrieve("config.json", where=where) == {"x": 1}
        assert trial.retrieve("note.txt", where=where, check=str) == "hello"

        result = trial.delete_from_storage(["config.json"], where=where)
        assert result == {"config.json": True}
        assert not (root / "tr" / "config.json").exists()
        assert trial.storage == {"note.txt"}

    def test_delete_of_a_missing_key_reports_false(self) -> None:
        trial = _trial(name="tr", bucket=PathBucket("own"))
        trial.store({"a.json": [1]})
        assert trial.delete_from_storage(["never.json"]) == {"never.json": False}
        assert trial.storage == {"a.json"}

    def test_callable_where(self) -> None:
        stored: list[tuple[str, dict[str, Any]]] = []
        deleted: list[tuple[str, list[str]]] = []

        def put(name: str, items: Mapping[str, Any]) -> None:
            stored.append((name, dict(items)))

        def remove(name: str, keys: Iterable[str]) -> dict[str, bool]:
            keys = list(keys)
            deleted.append((name, keys))
            return {k: k == "a" for k in keys}

        trial = _trial(name="tr")
        trial.store({"a": 1, "b": 2}, where=put)
        assert stored == [("tr", {"a": 1, "b": 2})]
        assert trial.storage == {"a", "b"}

        assert trial.delete_from_storage(["a", "b"], where=remove) == {"a": True, "b": False}
        assert deleted == [("tr", ["a", "b"])]
        assert trial.storage == {"b"}
        assert list(Path(".").iterdir()) == []  # nothing touched the disk

    def test_bucket_subclass_is_used_with_the_trial_name(self) -> None:
        RecordingBucket.subs = []
        bucket = RecordingBucket("rec")
        assert isinstance(bucket, Bucket)
        trial = _trial(name="tr")
        trial.store({"x.json": {"v": 1}}, where=bucket)
        assert trial.retrieve("x.json", where=bucket) == {"v": 1}
        assert RecordingBucket.subs  # the given bucket was used ...
        assert set(RecordingBucket.subs) == {"tr"}  # ... through the trial's sub-bucket
        assert Path("rec", "tr", "x.json").is_file()

    def test_retrieve_check_refuses_the_wrong_type(self) -> None:
        trial = _trial(name="tr", bucket=PathBucket("own"))
        trial.store({"config.json": {"x": 1}})
        with pytest.raises(TypeError):
            trial.retrieve("config.json", check=int)
        assert trial.retrieve("config.json", check=dict) == {"x": 1}

    @pytest.mark.parametrize("kind", ["parent", "absolute"])
    def test_key_escaping_the_bucket_is_refused(self, kind: str, tmp_path: Path) -> None:
        outside = tmp_path / "outside"
        key = "../x.json" if kind == "parent" else str(outside / "x.json")
        trial = _trial(name="tr", bucket=PathBucket("own"))
        with pytest.raises(ValueError):
            trial.store({key: {"a": 1}})
        assert trial.storage == set()
        assert _files_under(tmp_path) == []
        assert not outside.exists()

    def test_store_with_one_bad_key_writes_nothing(self, tmp_path: Path) -> None:
        trial = _trial(name="tr", bucket=PathBucket("own"))
        with pytest.raises(ValueError):
            trial.store({"good.json": {"a": 1}, "../bad.json": {"a": 2}})
        assert trial.storage == set()
        # A refused store must not leave behind a file that .storage does not list.
        assert _files_under(tmp_path) == []

    def test_report_store_and_retrieve_go_to_the_trial(self) -> None:
        trial = _trial(name="tr", bucket=PathBucket("own"))
        report = trial.success()
        report.store({"r.json": {"k": 2}})
        assert trial.storage == {"r.json"}
        assert report.retrieve("r.json") == {"k": 2}
        assert Path("own", "tr", "r.json").is_file()


# ================================================================= other methods
class TestMisc:
    def test_attach_extra(self) -> None:
        trial = _trial()
        plugin = object()
        trial.attach_extra("plugin", plugin)
        trial.attach_extra("other", 1)
        assert trial.extras["plugin"] is plugin
        assert trial.extras == {"plugin": plugin, "other": 1}
        trial.attach_extra("other", 2)
        assert trial.extras["other"] == 2

    def test_copy_is_deep(self) -> None:
        trial = _trial(config={"x": [1, 2]}, metrics=[LOSS], seed=7)
        with trial.begin(), trial.profile("p"):
            pass
        trial.summary["s"] = {"nested": 1}
        trial.attach_extra("e", [1])
        trial.storage.add("k")

        clone = trial.copy()
        assert clone is not trial
        assert clone == trial
        assert clone.time == trial.time
        assert clone.memory == trial.memory
        assert set(clone.profiles) == {"trial", "trial:p"}

        clone.summary["s"]["nested"] = 2
        clone.summary["new"] = 1
        clone.config["x"].append(3)  # type: ignore[index]
        clone.extras["e"].append(2)
        clone.storage.add("k2")
        with clone.profile("only-in-clone"):
            pass

        assert trial.summary == {"s": {"nested": 1}}
        assert trial.config == {"x": [1, 2]}
        assert trial.extras == {"e": [1]}
        assert trial.storage == {"k"}
        assert "only-in-clone" not in trial.profiles

    def test_trial_repr(self) -> None:
        trial = _trial(name="my-trial", config={"a": 1}, metrics=[LOSS], seed=3)
        text = repr(trial)
        assert text.startswith("Trial(name='my-trial', config={'a': 1}, bucket=PathBucket(")
        assert "metrics=[Metric(name='loss', minimize=True, bounds=None)], seed=3," in text

    def test_trial_rich_and_html(self) -> None:
        from rich.console import Console

        trial = _trial(name="rich-trial-name", metrics=[LOSS])
        with trial.begin():
            raise ValueError("shown in red")
        console = Console(record=True, file=io.StringIO(), width=120)
        console.print(trial)
        text = console.export_text()
        assert "rich-trial-name" in text
        assert "shown in red" in text
        html = trial._repr_html_()
        assert isinstance(html, str)
        assert "rich-trial-name" in html
        assert isinstance(trial._repr_pretty_(), str)

    def test_report_rich_and_html(self) -> None:
        from rich.console import Console

        trial = _trial(name="rich-report-name", metrics=[LOSS])
        report = trial.success(loss=0.125)
        console = Console(record=True, file=io.StringIO(), width=120)
        console.print(report)
        text = console.export_text()
        assert "rich-report-name" in text
        assert "success" in text
        assert "0.125" in text
        html = report._repr_html_()
        assert isinstance(html, str)
        assert "rich-report-name" in html
        assert repr(report).startswith("Trial.Report(trial=Trial(name='rich-report-name'")


# ===================================================================== Status
class TestStatus:
    def test_values_and_str(self) -> None:
        expected = {
            "SUCCESS": "success",
            "FAIL": "fail",
            "CRASHED": "crashed",
            "UNKNOWN": "unknown",
        }
        assert {s.name: s.value for s in Trial.Status} == expected
        for name, value in expected.items():
            status = Trial.Status[name]
            assert str(status) == value
            assert status == value
            assert isinstance(status, str)
            assert Trial.Status(value) is status
        assert repr(Trial.Status.SUCCESS) == "<Status.SUCCESS: 'success'>"

    def test_unknown_value_is_refused(self) -> None:
        with pytest.raises(ValueError):
            Trial.Status("exploded")


# ===================================================================== Report
def _rich_report(status: str) -> Trial.Report:
    """A report with a seed, nested profiles, summary entries and (maybe) an exception."""
    acc = Metric("acc", minimize=False, bounds=(0, 1))
    trial = Trial(
        name=f"report-{status}",
        config={"lr": 0.01, "depth": 3, "kind": "rf"},
        metrics=[LOSS, acc],
        seed=42,
        bucket=PathBucket("bucket-dir"),
    )
    with trial.begin():
        with trial.profile("fit"), trial.profile("epoch", summary=True):
            pass
        with trial.profile("predict", time="process", memory_unit="MB"):
            pass
        trial.summary["n_rows"] = 120
        trial.summary["score"] = 0.75
        if status != "success":
            raise ValueError(f"{status} on purpose")
    if status == "success":
        return trial.success(loss=0.5, acc=0.9)
    if status == "fail":
        return trial.fail(loss=0.75)
    return trial.crashed()


class TestReport:
    def test_properties(self) -> None:
        info = {"optimizer": "random"}
        trial = _trial(
            name="props",
            config={"x": 1},
            metrics=[LOSS],
            info=info,
            bucket=PathBucket("bk"),
            seed=5,
        )
        with trial.begin():
            raise ValueError("oops")
        trial.summary["s"] = 1
        trial.store({"k.json": [1]})
        report = trial.fail()

        assert report.trial is trial
        assert report.status is Trial.Status.FAIL
        assert report.name == "props"
        assert report.config == {"x": 1}
        assert report.summary == {"s": 1}
        assert report.storage == {"k.json"}
        assert report.time == trial.time
        assert report.memory == trial.memory
        assert report.bucket == PathBucket("bk")
        assert report.info is info
        assert report.exception is trial.exception
        assert str(report.exception) == "oops"
        assert report.traceback == trial.traceback
        assert report.metrics == {"loss": math.inf}
        assert report.metric_names == ("loss",)
        assert report.metric_defs == {"loss": LOSS}
        assert report.metric_values == (LOSS.worst,)
        assert report.metric_values[0].metric == LOSS
        assert set(report.profiles) == {"trial"}

    def test_df_switches_drop_their_columns(self) -> None:
        report = _rich_report("success")
        head = ["status", "trial_seed", "exception", "traceback", "bucket"]
        full = report.df()
        cols = list(full.columns)
        assert cols[:5] == head
        prefixes = ("metric:", "summary:", "config:", "profile:", "memory:", "time:")
        for prefix in prefixes:
            assert any(c.startswith(prefix) for c in cols), prefix

        switches = {
            "metrics": ("metric:",),
            "summary": ("summary:",),
            "configs": ("config:",),
            "profiles": ("profile:", "memory:", "time:"),
        }
        for switch, dropped in switches.items():
            df = report.df(**{switch: False})
            kept = [c for c in cols if not c.startswith(dropped)]
            assert list(df.columns) == kept, switch
            assert len(df.columns) < len(cols)

        bare = report.df(profiles=False, configs=False, summary=False, metrics=False)
        assert list(bare.columns) == head
        assert list(bare.index) == ["report-success"]

    def test_df_values(self) -> None:
        report = _rich_report("fail")
        row = report.df().iloc[0]
        assert row["status"] == "fail"
        assert row["trial_seed"] == 42
        assert row["exception"] == "fail on purpose"
        assert row["traceback"].rstrip().endswith("ValueError: fail on purpose")
        assert row["bucket"] == "bucket-dir"
        assert row["metric:loss (minimize)"] == 0.75
        assert row["metric:acc [0.0, 1.0] (maximize)"] == 0.0
        assert row["config:kind"] == "rf"
        assert row["summary:n_rows"] == 120
        assert row["profile:trial:predict:memory:unit"] == "megabytes"
        assert row["profile:trial:predict:time:kind"] == "process"
        assert row["time:kind"] == "wall"
        assert row["memory:unit"] == "bytes"
        assert row["time:duration"] == report.time.duration

    @pytest.mark.parametrize("status", ["success", "fail", "crashed"])
    def test_from_df_round_trip(self, status: str) -> None:
        report = _rich_report(status)
        df = report.df()
        back = Trial.Report.from_df(df)
        pd.testing.assert_frame_equal(back.df(), df)
        assert back.status == Trial.Status(status)
        assert back.name == report.name
        assert back.metrics == report.metrics
        assert back.metric_names == report.metric_names
        assert back.summary["n_rows"] == 120
        assert set(back.profiles) == set(report.profiles)
        assert back.time.duration == report.time.duration
        assert back.memory.end_rss == report.memory.end_rss
        if status == "success":
            assert back.exception is None
        else:
            assert str(back.exception) == f"{status} on purpose"

    def test_from_df_accepts_a_row(self) -> None:
        report = _rich_report("success")
        df = report.df()
        back = Trial.Report.from_df(df.iloc[0])
        pd.testing.assert_frame_equal(back.df(), df)

    def test_from_df_refuses_two_rows(self) -> None:
        frames = [_rich_report("success").df(), _rich_report("fail").df()]
        both = pd.concat(frames)
        with pytest.raises(ValueError, match="2 rows"):
            Trial.Report.from_df(both)
