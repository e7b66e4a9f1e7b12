"""Regression tests of issue 12: no bad input may crash or silently corrupt a History.

Each test names the item of the issue it pins down.  The rule behind them: a bad input gets
a clear error naming what was wrong (key, column, file, byte offset), and what was recorded
stays as it was.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fasttrial._corecheck import _core
from fasttrial.optimization import History, Metric, Trial, _schema

LOSS = Metric("loss", minimize=True)


def _report(name: str, config: dict[Any, Any] | None = None, **kw: Any) -> Trial.Report:
    trial = Trial(name=name, config={"x": 1} if config is None else config, metrics=[LOSS], **kw)
    with trial.begin():
        pass
    return trial.success(loss=0.5)


def _frozen(h: History) -> pd.DataFrame:
    return h.df(normalize_time=False)


# ------------------------------------------------------------------ 1. keys that print alike
@pytest.mark.parametrize(
    "config",
    [{1: "a", "1": "b"}, {None: 1, "None": 2}, {(1, 2): 1, "(1, 2)": 2}],
    ids=["int-str", "None-str", "tuple-str"],
)
@pytest.mark.parametrize("where", ["config", "summary"])
def test_keys_that_print_alike_are_refused_and_leave_the_history(
    config: dict[Any, Any], where: str
) -> None:
    # Used to crash History.add with SIGSEGV (the core wrote past the column ids).
    h = History()
    for i in range(5):
        h.add(_report(f"ok{i}"))
    before = _frozen(h)
    for i in range(50):
        if where == "config":
            bad = _report(f"bad{i}", config=config)
        else:
            bad = _report(f"bad{i}")
            bad.trial.summary.update(config)
        with pytest.raises(ValueError, match=f"'{where}:") as info:
            h.add(bad)
        first, second = list(config)
        assert repr(first) in str(info.value) and repr(second) in str(info.value)
    pd.testing.assert_frame_equal(_frozen(h), before)
    assert len(h) == 5


def test_keys_that_print_alike_do_not_crash_a_fresh_process() -> None:
    # The crash needed a learnt fast-path plan: run the exact recipe in a child, so
    # a regression shows as a signal, not as the loss of this test process.
    code = (
        "from fasttrial import History, Metric, Trial\n"
        "h = History()\n"
        "m = Metric('loss', minimize=True)\n"
        "for i in range(50):\n"
        "    t = Trial(name=f't{i}', config={1: 'a', '1': 'b'}, metrics=[m])\n"
        "    with t.begin():\n"
        "        pass\n"
        "    try:\n"
        "        h.add(t.success(loss=1.0))\n"
        "    except ValueError:\n"
        "        pass\n"
        "print(len(h))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "0"


# --------------------------------------------------- 2. keys equal but printed differently
def test_equal_keys_that_print_differently_keep_their_own_columns() -> None:
    # 1 == True == 1.0 == np.float64(1): they shared one fast-path signature, so History.df()
    # showed config:1 where each report.df() shows config:True / config:1.0.
    keys: list[Any] = [1, True, 1.0, np.float64(1), "1"]
    reports = []
    for round_ in range(3):
        for i, k in enumerate(keys):
            reports.append(_report(f"r{round_}-{i}", config={k: i}))
    h = History()
    for r in reports:
        h.add(r)
    frame = _frozen(h)
    for r, (_, row) in zip(reports, frame.iterrows(), strict=True):
        own = r.df()
        config_cols = [c for c in own.columns if c.startswith("config:")]
        assert len(config_cols) == 1
        col = config_cols[0]
        assert row[col] == own[col].iloc[0]
        others = [c for c in frame.columns if c.startswith("config:") and c != col]
        assert all(pd.isna(row[c]) for c in others)
    assert sorted(c for c in frame.columns if c.startswith("config:")) == sorted(
        {"config:1", "config:True", "config:1.0"}
    )


# ---------------------------------------------------------------------------- 3. threads
def test_add_from_threads_keeps_every_row_whole() -> None:
    # Four threads adding 3,000 reports each used to leave ~1,000 rows holding another
    # report's cells, and h[i] not row i.
    h = History()
    per_thread = 3000
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(per_thread):
                trial = Trial(name=f"t{t}-{i}", config={"t": t, "i": i}, metrics=[LOSS])
                with trial.begin():
                    pass
                trial.summary["id"] = f"{t}-{i}"
                h.add(trial.success(loss=float(t * per_thread + i)))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    def read() -> None:
        try:
            while any(w.is_alive() for w in workers):
                h.df()
                if len(h):
                    h[len(h) - 1]
                time.sleep(0.005)  # a reader, not a hog: the writers must get the lock
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    reader = threading.Thread(target=read)
    for w in workers:
        w.start()
    reader.start()
    for w in workers:
        w.join(timeout=300)
    reader.join(timeout=300)
    assert not any(w.is_alive() for w in [*workers, reader])
    assert not errors, errors
    frame = _frozen(h)
    assert len(frame) == len(h) == 4 * per_thread
    t = frame["config:t"].to_numpy()
    i = frame["config:i"].to_numpy()
    assert (frame.index == [f"t{a}-{b}" for a, b in zip(t, i, strict=True)]).all()
    assert (frame["summary:id"] == [f"{a}-{b}" for a, b in zip(t, i, strict=True)]).all()
    assert (frame["metric:loss (minimize)"].to_numpy() == t * per_thread + i).all()
    for k in range(0, len(h), 97):
        assert h[k].name == frame.index[k]


# ----------------------------------------------------------------------- 4. damaged files
def _small_history() -> History:
    h = History()
    for i in range(6):
        r = _report(f"r{i}", config={"x": i, "s": "abc"[i % 3]})
        r.trial.summary["tiny"] = 1.61e-07 * (i + 1)
        h.add(r)
    return h


def test_csv_cut_in_a_row_is_refused_with_its_byte_offset(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    _small_history().to_csv(path)
    data = path.read_bytes()
    # Cut inside the last number of the file (1.61e-07 used to read back as 1.61).
    cut = data.rindex(b"e-07") + 2
    path.write_bytes(data[:cut])
    with pytest.raises(ValueError, match="cut short") as info:
        History.from_csv(path)
    assert str(path) in str(info.value)
    assert f"byte offset {cut}" in str(info.value)


def test_csv_with_a_changed_byte_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    _small_history().to_csv(path)
    data = bytearray(path.read_bytes())
    at = data.rindex(b"1.61")
    data[at] = ord("7")
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="checksum") as info:
        History.from_csv(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "header",
    ["{not json", "[1, 2]", '{"version": 1}', '{"version": 1, "dtypes": {"a": "banana"}}'],
    ids=["not-json", "not-object", "no-dtypes", "bad-dtype"],
)
def test_damaged_csv_header_names_the_file(tmp_path: Path, header: str) -> None:
    # Used to raise JSONDecodeError, AttributeError or KeyError: 'dtypes'.
    path = tmp_path / "h.csv"
    _small_history().to_csv(path)
    body = path.read_bytes().split(b"\n", 1)[1]
    path.write_bytes(b"#fasttrial-history " + header.encode() + b"\n" + body)
    with pytest.raises(ValueError) as info:
        History.from_csv(path)
    assert str(path) in str(info.value)


def test_damaged_parquet_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "h.parquet"
    _small_history().to_parquet(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError) as info:
        History.from_parquet(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("bad", [None, {"status": ["success"]}, [1, 2], "h.csv", 3])
def test_from_df_of_a_non_frame_is_a_type_error(bad: Any) -> None:
    # Used to raise "object of type 'NoneType' has no len()" or AttributeError.
    with pytest.raises(TypeError, match="DataFrame"):
        History.from_df(bad)
    with pytest.raises(TypeError, match="DataFrame"):
        Trial.Report.from_df(bad)


# ---------------------------------------------------------------- 5. empty exception text
@pytest.mark.parametrize("via", ["frame", "parquet", "csv"])
def test_exception_with_an_empty_message_round_trips(tmp_path: Path, via: str) -> None:
    trial = Trial(name="t", config={}, metrics=[LOSS])
    with trial.begin():
        raise AssertionError  # a bare `assert`: str(exception) == ""
    h = History([trial.crashed()])
    assert h.df()["exception"].iloc[0] == ""
    if via == "frame":
        back = History.from_df(h.df())
    else:
        getattr(h, f"to_{via}")(tmp_path / f"h.{via}")
        back = getattr(History, f"from_{via}")(tmp_path / f"h.{via}")
    assert back[0].exception is not None
    assert back[0].exception == ""
    assert back.df()["exception"].iloc[0] == ""
    assert back[0].traceback is not None and "AssertionError" in back[0].traceback


# ------------------------------------------------------------------ 6. garbage cells
def _row() -> dict[str, Any]:
    d = _report("t").df().iloc[0].to_dict()
    d["name"] = "t"
    return d


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("time:start", "yesterday"),
        ("memory:start_rss", "lots"),
        ("time:kind", "banana"),
        ("memory:unit", "furlongs"),
        ("metric:loss (minimize)", "abc"),
        ("time:duration", [1, 2]),
        ("trial_seed", "seven"),
        ("trial_seed", 1.5),
        ("status", "great"),
        ("exception", 3),
    ],
)
def test_from_dict_refuses_garbage_naming_the_column(column: str, value: Any) -> None:
    d = _row()
    d[column] = value
    with pytest.raises(ValueError) as info:
        Trial.Report.from_dict(d)
    assert repr(column) in str(info.value)


def test_from_dict_names_the_column_of_a_named_profile() -> None:
    trial = Trial(name="t", config={}, metrics=[LOSS])
    with trial.begin(), trial.profile("fit"):
        pass
    d = trial.success(loss=1.0).df().iloc[0].to_dict()
    d["name"] = "t"
    d["profile:fit:time:end"] = "later"
    with pytest.raises(ValueError, match="'profile:fit:time:end'"):
        Trial.Report.from_dict(d)


def test_from_dict_still_reads_a_good_row() -> None:
    r = _report("t")
    back = Trial.Report.from_df(r.df())
    assert back.metrics == r.metrics
    assert back.time.kind == r.time.kind
    assert back.memory.start_rss == r.memory.start_rss


# ------------------------------------------------------------------------- 7. smaller
@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_files_honour_the_umask(tmp_path: Path, fmt: str) -> None:
    old = os.umask(0o022)
    try:
        path = tmp_path / f"h.{fmt}"
        getattr(_small_history(), f"to_{fmt}")(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        os.umask(0o077)
        other = tmp_path / f"g.{fmt}"
        getattr(_small_history(), f"to_{fmt}")(other)
        assert stat.S_IMODE(other.stat().st_mode) == 0o600
        # Replacing a file keeps its mode.
        path.chmod(0o640)
        getattr(_small_history(), f"to_{fmt}")(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
    finally:
        os.umask(old)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_files_are_fsynced_before_the_rename(
    tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Spies around the real calls: the data must reach the disk before the rename makes
    # it the file, or a machine crash can leave an empty file under the name.
    calls: list[tuple[str, Any]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        where = f"/proc/self/fd/{fd}"
        calls.append(("fsync", os.readlink(where) if os.path.exists(where) else None))
        real_fsync(fd)

    def replace(src: Any, dst: Any) -> None:
        calls.append(("replace", os.fspath(src)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    getattr(_small_history(), f"to_{fmt}")(tmp_path / f"h.{fmt}")
    kinds = [c[0] for c in calls]
    assert "replace" in kinds
    at = kinds.index("replace")
    tmp = calls[at][1]
    assert any(k == "fsync" and p in (None, tmp) for k, p in calls[:at])


@pytest.mark.parametrize("name", [1, 1.5, None, ("a",), b"t"])
def test_trial_names_must_be_str(name: Any) -> None:
    # Trial(name=1) was accepted, and history.find(1) then raised KeyError.
    with pytest.raises(TypeError, match="trial name must be a str"):
        Trial(name=name, config={})


def test_str_subclass_names_become_str() -> None:
    class Name(str):
        pass

    trial = Trial(name=Name("t"), config={})
    assert type(trial.name) is str
    h = History([trial.fail()])
    assert h.find("t").name == "t"


def test_numpy_float_metrics_report_as_floats() -> None:
    trial = Trial(name="t", config={}, metrics=[LOSS])
    report = trial.success(loss=np.float64(0.25))
    assert report.metrics == {"loss": 0.25}
    assert type(report.metrics["loss"]) is float
    with pytest.raises(ValueError, match="finite"):
        Trial(name="u", config={}, metrics=[LOSS]).success(loss=np.float64("nan"))


# --------------------------------------------------------------- the schema's one home
def test_the_core_refuses_a_schema_it_does_not_write() -> None:
    bad = dict(_schema.SCHEMA, base_keys=("name", "status", "seed"))
    with pytest.raises(ImportError, match="base_keys"):
        _core.set_schema(bad)
    bad = dict(_schema.SCHEMA, profile_fields=_schema.PROFILE_FIELDS[::-1])
    with pytest.raises(ImportError, match="profile_fields"):
        _core.set_schema(bad)
    _core.set_schema(_schema.SCHEMA)  # and the real one is what it writes


def test_the_fast_path_writes_the_rows_of_the_schema() -> None:
    r = _report("t")
    row = r._row()
    assert tuple(row)[: len(_schema.BASE_KEYS)] == _schema.BASE_KEYS
    assert tuple(row)[-len(_schema.PROFILE_FIELDS) :] == _schema.PROFILE_FIELDS
    assert _core.report_width(r) == len(row)


def test_the_core_checks_a_row_layout_before_writing() -> None:
    r = _report("t")
    columns: list[Any] = [None] * 40
    width = _core.report_width(r)
    with pytest.raises(ValueError, match="layout"):
        _core.table_append_report(columns, tuple(range(width - 1)), r, 0)
    with pytest.raises(ValueError, match="out of range"):
        _core.table_append_report(columns, (*tuple(range(width - 1)), 10**6), r, 0)
    assert columns == [None] * 40


def test_column_parts_that_would_read_out_of_bounds_are_refused() -> None:
    codes = np.array([0, 5], dtype=np.int32)
    with pytest.raises(ValueError, match="code 5"):
        _core.Column.from_parts(_core.COL_STR, 2, codes, cats=["a"])
    with pytest.raises(ValueError, match="holds 7"):
        _core.Column.from_parts(_core.COL_BOOL, 1, np.array([7], dtype=np.uint8))
    with pytest.raises(ValueError, match="kind"):
        _core.Column.from_parts(9, 0, [])


def test_span_kind_and_unit_cannot_be_set_out_of_range() -> None:
    span = _core.Span()
    with pytest.raises(AttributeError):
        span._unit = 99  # type: ignore[misc]
    from fasttrial.profiling import Profiler

    p = Profiler()
    with pytest.raises(ValueError):
        p._kind = 7
    with pytest.raises(ValueError):
        p._unit = -1


def test_table_from_columns_checks_its_parts() -> None:
    from fasttrial.optimization._table import Table

    col = _core.Column.from_parts(_core.COL_NUM, 2, np.array([1.0, 2.0]), _core.NUM_FLOAT)
    t = Table.from_columns(["a"], [col], 2)
    assert t.row(1) == {"a": 2.0}
    with pytest.raises(ValueError, match="rows"):
        Table.from_columns(["a"], [col], 3)
    with pytest.raises(ValueError, match="distinct"):
        Table.from_columns(["a", "a"], [col, col], 2)
    with pytest.raises(TypeError):
        Table.from_columns(["a"], [[1.0, 2.0]], 2)


def test_json_header_written_by_to_csv_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    _small_history().to_csv(path)
    first = path.read_text(encoding="utf-8").split("\n", 1)[0]
    info = json.loads(first[len("#fasttrial-history ") :])
    assert info["rows"] == 6
    assert {"body_bytes", "body_sha256"} <= set(info)


# ------------------------------------------------- Timer and Memory on the core's Span
def test_span_figures_are_named() -> None:
    from fasttrial.profiling._figures import DONE, SpanFigures

    span = _core.Span()
    span._start_recording("wall", "KB")
    f = span._stop_figures()
    assert isinstance(f, SpanFigures)
    assert f.state == DONE and f.kind == _core.WALL and f.unit == _core.KILOBYTES
    assert tuple(f)[:11] == span._raw() + span._raw_usage()[:1]
    assert f.cpu_time_children != f.cpu_time_children or f.cpu_time_children >= 0.0
    with pytest.raises(RuntimeError, match="not running"):
        span._stop_figures()


def test_timer_is_a_span() -> None:
    from fasttrial.profiling import Timer, set_tracking

    before = set_tracking(cpu=True)
    try:
        timer = Timer.start("process")
        sum(range(20000))
        interval = timer.stop()
    finally:
        set_tracking(peak=before.peak, cpu=before.cpu)
    assert interval.kind == Timer.Kind.PROCESS
    assert interval.duration == pytest.approx(interval.end - interval.start, abs=1e-6)
    assert interval.cpu_time >= 0.0
    # A Timer made by hand still measures from when it was made.
    by_hand = Timer(start_time=0.0, kind="wall").stop()
    assert by_hand.start == 0.0 and by_hand.duration >= 0.0
