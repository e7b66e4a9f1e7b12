"""Every code example of the seed page (amltk 1.10's ``Trial`` doc page), with ``amltk``
replaced by ``fasttrial``, run for real.

Each test keeps the example's code as the page shows it (``time.sleep(1)`` shortened) and
checks what it prints or returns against the page: column names and counts, exact error
messages and exact reprs where nothing on the page depends on time or memory, and the field
names and units of the ``Memory.Interval`` / ``Timer.Interval`` reprs where it does.

Documented differences from amltk (see DESIGN.md, "Compatibility"):

* constructing a ``Trial`` creates no folder (amltk creates ``unknown-trial-bucket/``);
* ``delete_from_storage`` removes the deleted keys from ``.storage`` (amltk leaves them, so
  the page prints ``{'config.json'}`` after deleting; fasttrial prints ``set()``).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

#: How the page prints a path inside a PathBucket repr (``PosixPath`` on the page's Linux).
PATH_TYPE = type(Path()).__name__

FLOAT = r"-?\d+(?:\.\d+)?(?:e[+-]?\d+)?"
MEMORY_REPR = re.compile(
    rf"Memory\.Interval\(start_vms=(?P<start_vms>{FLOAT}), start_rss=(?P<start_rss>{FLOAT}), "
    rf"end_vms=(?P<end_vms>{FLOAT}), end_rss=(?P<end_rss>{FLOAT}), unit=bytes\)"
)
TIMER_REPR = re.compile(
    rf"Timer\.Interval\(start=(?P<start>{FLOAT}), end=(?P<end>{FLOAT}), "
    r"kind=wall, unit=seconds\)"
)

#: The page's 12 profile columns, in its order, with fasttrial's three additions
#: (``memory:peak_rss``, ``time:cpu_time``, ``time:cpu_time_children``; docs/compat.md)
#: inserted so that the page's columns keep their order and a frame still begins with
#: memory:start_vms memory:end_vms and ends with time:duration time:kind time:unit (what
#: the page's truncated prints show).
ADDED_COLUMNS = ["memory:peak_rss", "time:cpu_time", "time:cpu_time_children"]
PROFILE_COLUMNS = [
    "memory:start_vms",
    "memory:end_vms",
    "memory:diff_vms",
    "memory:start_rss",
    "memory:end_rss",
    "memory:diff_rss",
    "memory:peak_rss",
    "memory:unit",
    "time:start",
    "time:end",
    "time:cpu_time",
    "time:cpu_time_children",
    "time:duration",
    "time:kind",
    "time:unit",
]
N_ADDED = len(ADDED_COLUMNS)
REPORT_HEAD_COLUMNS = ["status", "trial_seed", "exception", "traceback", "bucket"]


def _printed_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().out.splitlines()


def _check_memory_repr(line: str) -> None:
    match = MEMORY_REPR.fullmatch(line)
    assert match is not None, line
    for field in ("start_vms", "start_rss", "end_vms", "end_rss"):
        assert float(match[field]) > 0, line


def _check_timer_repr(line: str) -> None:
    match = TIMER_REPR.fullmatch(line)
    assert match is not None, line
    assert float(match["start"]) <= float(match["end"])


def _cwd_entries() -> list[str]:
    return sorted(os.listdir("."))


# ------------------------------------------------------------------ Trial (first example)
def test_trial_usage_example_df_has_the_20_columns_of_the_page() -> None:
    from fasttrial.optimization import Metric, Trial
    from fasttrial.store import PathBucket  # noqa: F401  (imported by the page's example)

    cost = Metric("cost", minimize=True)

    def target_function(trial: Trial) -> Trial.Report:
        x = trial.config["x"]
        y = trial.config["y"]

        with trial.begin():
            cost = x**2 - y

        if trial.exception:
            return trial.fail()

        return trial.success(cost=cost)

    # ... usually obtained from an optimizer
    trial = Trial(name="some-unique-name", config={"x": 1, "y": 2}, metrics=[cost])

    report = target_function(trial)
    df = report.df()

    # "[1 rows x 20 columns]", and the 3 columns fasttrial adds
    assert df.shape == (1, 20 + N_ADDED)
    assert df.index.name == "name"
    assert list(df.index) == ["some-unique-name"]
    assert list(df.columns) == [
        *REPORT_HEAD_COLUMNS,
        "metric:cost (minimize)",
        "config:x",
        "config:y",
        *PROFILE_COLUMNS,
    ]
    row = df.iloc[0]
    assert row["status"] == "success"
    assert pd.isna(row["trial_seed"])
    assert row["time:kind"] == "wall"
    assert row["time:unit"] == "seconds"
    assert row["metric:cost (minimize)"] == -1
    assert report.metrics == {"cost": -1.0}


def test_trial_usage_example_creates_no_folder() -> None:
    from fasttrial.optimization import Metric, Trial

    assert _cwd_entries() == []
    trial = Trial(
        name="some-unique-name", config={"x": 1, "y": 2}, metrics=[Metric("cost", minimize=True)]
    )
    with trial.begin():
        pass
    report = trial.success(cost=1)
    report.df()
    # amltk 1.10 creates ./unknown-trial-bucket here; fasttrial creates nothing until
    # something is stored.
    assert _cwd_entries() == []


# --------------------------------------------------------------------- invalid metric
def test_invalid_metric_example_prints_the_page_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from fasttrial.optimization import Metric, Trial

    # Gotten from some optimizer usually, i.e. via `optimizer.ask()`
    trial = Trial(
        name="example_trial",
        config={"param": 42},
        metrics=[Metric(name="accuracy", minimize=False)],
    )

    # Incorrect usage (will raise an error)
    try:
        report = trial.success(invalid_metric=0.95)
    except ValueError as error:
        print(error)

    # Correct usage
    report = trial.success(accuracy=0.95)

    # The page prints its message with an unfilled "{provided_key}" placeholder and without
    # the name given; fasttrial fills it and names it (docs/compat.md, "Messages").
    assert capsys.readouterr().out == (
        "Cannot report success without self.metrics=[Metric(name='accuracy', minimize=False,"
        " bounds=None)]. Please provide a value for the metric 'accuracy'. It was given"
        " 'invalid_metric' instead.\n"
        "Please provide 'accuracy' as `trial.success(accuracy=value)` or rename your metric"
        " to `Metric(name='invalid_metric', minimize=False, bounds=None)`\n"
    )
    assert report.metrics == {"accuracy": 0.95}
    assert report.status == Trial.Status.SUCCESS


# ------------------------------------------------------------------ profiling a trial
def test_profile_example_profiler_df_has_the_12_columns_of_the_page() -> None:
    from fasttrial.optimization import Trial

    trial = Trial(name="some-unique-name", config={})

    # ... somewhere where you've begun your trial.
    with trial.profile("some_interval"):
        for _work in range(100):
            pass

    df = trial.profiler.df()
    # "[1 rows x 12 columns]", first columns memory:start_vms memory:end_vms, last
    # time:kind time:unit.
    assert df.shape == (1, 12 + N_ADDED)
    assert list(df.index) == ["some_interval"]
    assert list(df.columns) == PROFILE_COLUMNS
    row = df.loc["some_interval"]
    assert row["memory:start_vms"] > 0
    assert row["memory:end_vms"] > 0
    assert str(row["time:kind"]) == "wall"
    assert str(row["time:unit"]) == "seconds"


def test_profile_interval_example_prints_a_timer_interval(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import time

    from fasttrial.optimization import Trial

    trial = Trial(name="trial", config={"x": 1})

    with trial.profile("some_interval"):
        # Do some work
        time.sleep(0.05)

    print(trial.profiler["some_interval"].time)

    (line,) = _printed_lines(capsys)
    _check_timer_repr(line)
    interval = trial.profiler["some_interval"].time
    # the block slept 0.05 s; a duration below that would be wrong, whatever the machine
    assert interval.duration >= 0.05 - 1e-6
    assert interval.end - interval.start >= 0.05 - 1e-3


# --------------------------------------------------------------------------- Report
def test_report_example_df_has_the_19_columns_of_the_page() -> None:
    from fasttrial.optimization import Metric, Trial

    loss = Metric("loss", minimize=True)

    trial = Trial(name="trial", config={"x": 1}, metrics=[loss])

    with trial.begin():
        # Do some work
        # ...
        report: Trial.Report = trial.success(loss=1)

    df = report.df()
    # "[1 rows x 19 columns]", and the 3 columns fasttrial adds
    assert df.shape == (1, 19 + N_ADDED)
    assert list(df.index) == ["trial"]
    assert list(df.columns) == [
        *REPORT_HEAD_COLUMNS,
        "metric:loss (minimize)",
        "config:x",
        *PROFILE_COLUMNS,
    ]
    row = df.iloc[0]
    # "trial  success        <NA>        NA  ...      0.000024      wall    seconds"
    assert row["status"] == "success"
    assert pd.isna(row["trial_seed"])
    assert row["exception"] == "NA"
    assert row["time:duration"] >= 0
    assert row["time:kind"] == "wall"
    assert row["time:unit"] == "seconds"
    assert report.trial is trial
    assert report.status == Trial.Status.SUCCESS


# ---------------------------------------------------------------------------- begin
def test_begin_example_prints_memory_and_time_intervals(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from fasttrial.optimization import Trial

    trial = Trial(name="trial", config={"x": 1})

    with trial.begin():
        # Do some work
        pass

    print(trial.memory)
    print(trial.time)

    memory_line, time_line = _printed_lines(capsys)
    _check_memory_repr(memory_line)
    _check_timer_repr(time_line)
    assert trial.exception is None
    assert trial.traceback is None


def test_begin_fail_example_keeps_exception_and_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from fasttrial.optimization import Trial

    trial = Trial(name="trial", config={"x": -1})

    with trial.begin():
        raise ValueError("x must be positive")

    print(trial.exception)
    print(trial.traceback)
    print(trial.memory)
    print(trial.time)

    out = capsys.readouterr().out
    assert out.startswith("x must be positive\nTraceback (most recent call last):\n")
    lines = out.splitlines()
    _check_memory_repr(lines[-2])
    _check_timer_repr(lines[-1])

    assert isinstance(trial.exception, ValueError)
    assert str(trial.exception) == "x must be positive"
    tb = trial.traceback
    assert tb is not None
    assert tb.startswith("Traceback (most recent call last):\n")
    assert 'raise ValueError("x must be positive")' in tb
    assert f'File "{__file__}"' in tb
    assert tb.rstrip().endswith("ValueError: x must be positive")


# ----------------------------------------------------------------------------- fail
def test_fail_example_prints_the_page_metrics_and_repr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from fasttrial.optimization import Metric, Trial

    loss = Metric("loss", minimize=True, bounds=(0, 1_000))
    trial = Trial(name="trial", config={"x": 1}, metrics=[loss])

    with trial.begin():
        raise ValueError("This is an error")  # Something went wrong

    if trial.exception:  # You can check for an exception of the trial here
        report = trial.fail()

    print(report.metrics)
    print(report)

    assert report.metrics == {"loss": 1000.0}
    expected = (
        "Trial.Report(trial=Trial(name='trial', config={'x': 1},"
        f" bucket=PathBucket({PATH_TYPE}('unknown-trial-bucket')),"
        " metrics=[Metric(name='loss', minimize=True, bounds=(0.0, 1000.0))], seed=None,"
        " fidelities=None, summary={}, exception=ValueError('This is an error'),"
        " storage=set(), extras={}), status=<Status.FAIL: 'fail'>, metrics={'loss': 1000.0},"
        " metric_values=(Metric.Value(metric=Metric(name='loss', minimize=True,"
        " bounds=(0.0, 1000.0)), value=1000.0),), metric_defs={'loss': Metric(name='loss',"
        " minimize=True, bounds=(0.0, 1000.0))}, metric_names=('loss',))"
    )
    assert _printed_lines(capsys) == ["{'loss': 1000.0}", expected]
    assert repr(report) == expected


# -------------------------------------------------------------------------- success
def test_success_example_prints_the_page_repr(capsys: pytest.CaptureFixture[str]) -> None:
    from fasttrial.optimization import Metric, Trial

    loss_metric = Metric("loss", minimize=True)

    trial = Trial(name="trial", config={"x": 1}, metrics=[loss_metric])

    with trial.begin():
        # Do some work
        report = trial.success(loss=1)

    print(report)

    expected = (
        "Trial.Report(trial=Trial(name='trial', config={'x': 1},"
        f" bucket=PathBucket({PATH_TYPE}('unknown-trial-bucket')),"
        " metrics=[Metric(name='loss', minimize=True, bounds=None)], seed=None,"
        " fidelities=None, summary={}, exception=None, storage=set(), extras={}),"
        " status=<Status.SUCCESS: 'success'>, metrics={'loss': 1.0},"
        " metric_values=(Metric.Value(metric=Metric(name='loss', minimize=True,"
        " bounds=None), value=1.0),), metric_defs={'loss': Metric(name='loss',"
        " minimize=True, bounds=None)}, metric_names=('loss',))"
    )
    assert _printed_lines(capsys) == [expected]
    assert repr(report) == expected
    # printing the report (which shows the default bucket) still creates no folder
    assert _cwd_entries() == []


# ---------------------------------------------------------------------------- store
def test_store_example(capsys: pytest.CaptureFixture[str]) -> None:
    from fasttrial.optimization import Trial
    from fasttrial.store import PathBucket

    trial = Trial(name="trial", config={"x": 1}, bucket=PathBucket("results"))
    assert not Path("results", "trial").exists()  # the trial's sub-bucket waits for a store
    trial.store({"config.json": trial.config})

    print(trial.storage)

    assert _printed_lines(capsys) == ["{'config.json'}"]
    # <bucket>/<trial name>/<key>
    stored = Path("results", "trial", "config.json")
    assert stored.is_file()
    assert json.loads(stored.read_text()) == {"x": 1}
    assert _cwd_entries() == ["results"]


def test_store_bucket_example(capsys: pytest.CaptureFixture[str]) -> None:
    from fasttrial.optimization import Trial

    trial = Trial(name="trial", config={"x": 1})
    trial.store({"config.json": trial.config}, where="./results")

    print(trial.storage)

    assert _printed_lines(capsys) == ["{'config.json'}"]
    stored = Path("results", "trial", "config.json")
    assert json.loads(stored.read_text()) == {"x": 1}
    # where= was given: the trial's own default bucket was never created
    assert _cwd_entries() == ["results"]


# ------------------------------------------------------------------------- retrieve
def test_retrieve_example(capsys: pytest.CaptureFixture[str]) -> None:
    from fasttrial.optimization import Trial
    from fasttrial.store import PathBucket

    bucket = PathBucket("results")

    # Create a trial, normally done by an optimizer
    trial = Trial(name="trial", config={"x": 1}, bucket=bucket)

    trial.store({"config.json": trial.config})
    config = trial.retrieve("config.json")

    print(config)

    assert _printed_lines(capsys) == ["{'x': 1}"]
    assert config == {"x": 1}


def test_retrieve_with_where_path_example(capsys: pytest.CaptureFixture[str]) -> None:
    from fasttrial.optimization import Trial
    from fasttrial.store import PathBucket  # noqa: F401  (imported by the page's example)

    path = "./config_path"

    trial = Trial(name="trial", config={"x": 1})

    trial.store({"config.json": trial.config}, where=path)

    config = trial.retrieve("config.json", where=path)
    print(config)

    assert _printed_lines(capsys) == ["{'x': 1}"]
    assert Path("config_path", "trial", "config.json").is_file()
    assert _cwd_entries() == ["config_path"]
    shutil.rmtree(path)
    assert _cwd_entries() == []


@pytest.mark.parametrize("variant", ["retrieve", "retrieve-bucket"])
def test_report_retrieve_examples(variant: str, capsys: pytest.CaptureFixture[str]) -> None:
    # The page's two Report.retrieve examples differ only in comments and blank lines.
    from fasttrial.optimization import Trial
    from fasttrial.store import PathBucket

    bucket = PathBucket("results")
    trial = Trial(name="trial", config={"x": 1}, bucket=bucket)

    trial.store({"config.json": trial.config})
    with trial.begin():
        report = trial.success()

    config = report.retrieve("config.json")
    print(config)

    assert _printed_lines(capsys) == ["{'x': 1}"], variant
    assert report.status == Trial.Status.SUCCESS
    assert report.metrics == {}
    assert report.storage == {"config.json"}


# ------------------------------------------------------------------ delete_from_storage
def test_delete_storage_example(capsys: pytest.CaptureFixture[str]) -> None:
    from fasttrial.optimization import Trial
    from fasttrial.store import PathBucket

    bucket = PathBucket("results")
    trial = Trial(name="trial", config={"x": 1}, info={}, bucket=bucket)

    trial.store({"config.json": trial.config})
    result = trial.delete_from_storage(items=["config.json"])

    print(trial.storage)

    # fasttrial deliberately REMOVES deleted keys from `.storage`: the page (amltk 1.10)
    # prints {'config.json'} here, fasttrial prints set().
    assert _printed_lines(capsys) == ["set()"]
    assert result == {"config.json": True}
    assert not Path("results", "trial", "config.json").exists()


def test_delete_storage_bucket_example(capsys: pytest.CaptureFixture[str]) -> None:
    from fasttrial.optimization import Trial
    from fasttrial.store import PathBucket

    bucket = PathBucket("results")
    trial = Trial(name="trial", config={"x": 1}, bucket=bucket)

    trial.store({"config.json": trial.config})
    assert Path("results", "trial", "config.json").is_file()
    trial.delete_from_storage(items=["config.json"])

    print(trial.storage)

    # Deliberate difference from the page's {'config.json'}: deleted keys leave .storage.
    assert _printed_lines(capsys) == ["set()"]
    assert not Path("results", "trial", "config.json").exists()


# ------------------------------------------------------------------- misc page claims
def test_trial_defaults_documented_on_the_page() -> None:
    from fasttrial.optimization import Trial
    from fasttrial.profiling import Memory, Timer
    from fasttrial.store import PathBucket

    trial = Trial(name="t", config={"a": 1})
    assert isinstance(trial.bucket, PathBucket)
    assert trial.bucket.path == Path("unknown-trial-bucket")
    assert trial.metrics == []
    assert trial.seed is None
    assert trial.fidelities is None
    assert trial.info is None
    assert trial.exception is None
    assert trial.traceback is None
    assert trial.summary == {}
    assert trial.storage == set()
    assert trial.extras == {}
    assert dict(trial.profiles) == {}
    assert trial.profiler.memory_unit == Memory.Unit.BYTES
    assert trial.profiler.time_kind == Timer.Kind.WALL
    assert math.isnan(trial.time.start)
    assert math.isnan(trial.memory.start_rss)
    # reading every default made nothing appear on disk
    assert _cwd_entries() == []
