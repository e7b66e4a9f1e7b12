"""Property tests (hypothesis) over every public input of a History (issue 12).

The properties, for configs and summaries with arbitrary hashable keys and values, metric
values of every type, frames and CSV/Parquet files with random damage, and
``Report.from_dict`` with random cells:

* nothing crashes (this file also runs under the ASan build, where an out-of-bounds read or
  write in the core aborts the process);
* the outcome is a clear ``ValueError`` / ``TypeError``, or a correct result (a round trip
  that gives back what went in);
* a failed ``History.add`` leaves the history as it was.

The runs are derandomized (the same examples on every run) with a fixed budget of examples
each, so the file takes a bounded time; ``FASTTRIAL_FUZZ_EXAMPLES`` scales the budget.
"""

from __future__ import annotations

import math
import os
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

hypothesis = pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from fasttrial.optimization import History, Metric, Trial  # noqa: E402
from fasttrial.optimization._frames import build_frame  # noqa: E402

SCALE = float(os.environ.get("FASTTRIAL_FUZZ_EXAMPLES", "1"))


def _budget(n: int) -> Any:
    return settings(
        max_examples=max(1, int(n * SCALE)),
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


LOSS = Metric("loss", minimize=True)
ACC = Metric("acc", minimize=False, bounds=(0.0, 1.0))

keys = st.one_of(
    st.text(max_size=4),
    st.integers(-3, 3),
    st.booleans(),
    st.none(),
    st.floats(-2, 2, allow_nan=False, width=16),
    st.tuples(st.integers(0, 2), st.text(max_size=1)),
    st.sampled_from(["1", "None", "True", "1.0", "(0, '')", "x"]),
)
scalars = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.booleans(),
    st.none(),
    st.builds(np.float64, st.floats(allow_nan=True)),
    st.builds(np.int32, st.integers(-(2**31), 2**31 - 1)),
    st.builds(np.bool_, st.booleans()),
)
values = st.one_of(
    scalars,
    st.lists(st.integers(-5, 5), max_size=3),
    st.tuples(st.integers(-5, 5)),
    st.dictionaries(st.text(max_size=2), st.integers(-5, 5), max_size=2),
)
entries = st.dictionaries(keys, values, max_size=4)


def _report(i: int, config: dict[Any, Any], summary: dict[Any, Any], ran: bool) -> Any:
    trial = Trial(name=f"t{i}", config=config, metrics=[LOSS])
    if ran:
        with trial.begin():
            pass
    trial.summary.update(summary)
    return trial.success(loss=float(i))


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True)


# ----------------------------------------------------------- configs and summaries
@_budget(300)
@given(st.lists(st.tuples(entries, entries, st.booleans()), min_size=1, max_size=6))
def test_add_of_any_config_and_summary(items: list[tuple[dict[Any, Any], dict[Any, Any], bool]]):
    h = History()
    added = []
    for i, (config, summary, ran) in enumerate(items):
        report = _report(i, config, summary, ran)
        before = h.df(normalize_time=False) if len(h) else None
        try:
            h.add(report)
        except (ValueError, TypeError) as error:
            assert str(error)
            assert len(h) == len(added)
            if before is not None:
                _same(h.df(normalize_time=False), before)
            # The report's own frame refuses it the same way.
            with pytest.raises(type(error)):
                report.df()
            continue
        added.append(report)
    assert len(h) == len(added)
    if added:
        _same(h.df(normalize_time=False), build_frame([r._row() for r in added]))
        for k, r in enumerate(added):
            assert h[k] is r


# ------------------------------------------------------------------ metric values
metric_values = st.one_of(
    scalars,
    st.decimals(allow_nan=True),
    st.fractions(max_denominator=50),
    st.complex_numbers(max_magnitude=10),
    st.builds(np.float32, st.floats(width=32, allow_nan=True)),
    st.builds(np.uint64, st.integers(0, 2**64 - 1)),
    st.builds(lambda v: np.array(v), st.floats(allow_nan=False)),
    st.builds(lambda v: np.array([v, v]), st.floats(allow_nan=False)),
    st.lists(st.floats(), max_size=2),
    st.just(object()),
)


@_budget(300)
@given(metric_values, metric_values, st.booleans())
def test_success_and_fail_with_any_metric_value(loss: Any, acc: Any, fail: bool) -> None:
    trial = Trial(name="t", config={}, metrics=[LOSS, ACC])
    try:
        report = trial.fail(loss=loss, acc=acc) if fail else trial.success(loss=loss, acc=acc)
    except (ValueError, TypeError) as error:
        assert str(error)
        return
    got = report.metrics
    assert set(got) == {"loss", "acc"}
    for m, raw in ((LOSS, loss), (ACC, acc)):
        value = got[m.name]
        assert type(value) is float
        if fail and raw is None:  # not given: the metric's worst value
            assert value == m.worst.value
        else:
            assert value == float(raw)
        assert math.isfinite(value) or fail
    h = History([report])
    back = History.from_df(h.df())
    assert back[0].metrics == got


# -------------------------------------------------------------- damaged frames
def _history() -> History:
    h = History()
    for i in range(4):
        trial = Trial(name=f"t{i}", config={"x": i, "s": "ab"[i % 2]}, metrics=[LOSS, ACC])
        with trial.begin():
            pass
        trial.summary["v"] = 0.5 * i
        h.add(trial.success(loss=float(i), acc=0.25 * i) if i % 3 else trial.fail())
    return h


_BASE = _history()
_FRAME = _BASE.df(normalize_time=False)

damage = st.lists(
    st.tuples(
        st.sampled_from(["cell", "drop", "rename", "dtype"]),
        st.integers(0, len(_FRAME.columns) - 1),
        st.integers(0, len(_FRAME) - 1),
        st.one_of(scalars, st.sampled_from(["", "NA", "banana", "success", "1e-07"])),
    ),
    min_size=1,
    max_size=3,
)


def _damaged_frame(changes: list[tuple[str, int, int, Any]]) -> pd.DataFrame:
    frame = _FRAME.copy()
    for kind, col, row, value in changes:
        if not len(frame.columns):
            break
        name = frame.columns[col % len(frame.columns)]
        if kind == "cell":
            frame[name] = frame[name].astype(object)
            frame.iloc[row, col % len(frame.columns)] = value
        elif kind == "drop":
            frame = frame.drop(columns=name)
        elif kind == "rename":
            frame = frame.rename(columns={name: str(value)})
        else:
            frame[name] = frame[name].astype(object)
    return frame


def _read_everything(h: History) -> None:
    """Use a loaded history the way a user would; only clear errors may come out."""
    h.df()
    for i in range(len(h)):
        r = h[i]
        r.df()
        _ = r.metrics, r.time, r.memory, r.status


@_budget(250)
@given(damage)
def test_from_df_of_a_damaged_frame(changes: list[tuple[str, int, int, Any]]) -> None:
    frame = _damaged_frame(changes)
    try:
        h = History.from_df(frame)
        _read_everything(h)
    except (ValueError, TypeError) as error:
        assert str(error)


# ---------------------------------------------------------------- damaged files
file_damage = st.lists(
    st.tuples(
        st.sampled_from(["cut", "flip", "insert", "delete"]),
        st.floats(0, 1),
        st.binary(min_size=1, max_size=4),
    ),
    min_size=1,
    max_size=3,
)


def _damage_bytes(data: bytes, changes: list[tuple[str, float, bytes]]) -> bytes:
    for kind, where, extra in changes:
        at = int(where * len(data))
        if kind == "cut":
            data = data[:at]
        elif kind == "flip" and data:
            at = min(at, len(data) - 1)
            data = data[:at] + bytes([data[at] ^ (extra[0] or 1)]) + data[at + 1 :]
        elif kind == "insert":
            data = data[:at] + extra + data[at:]
        else:
            data = data[:at] + data[at + len(extra) :]
    return data


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_reading_a_damaged_file(fmt: str, tmp_path: Path) -> None:
    good = tmp_path / f"good.{fmt}"
    getattr(_BASE, f"to_{fmt}")(good)
    original = good.read_bytes()
    expected = _BASE.df(normalize_time=False)

    @_budget(150)
    @given(file_damage)
    def check(changes: list[tuple[str, float, bytes]]) -> None:
        data = _damage_bytes(original, changes)
        path = tmp_path / f"bad.{fmt}"
        path.write_bytes(data)
        try:
            h = getattr(History, f"from_{fmt}")(path)
        except (ValueError, TypeError) as error:
            assert str(path) in str(error) or "column" in str(error)
            return
        if data == original:
            _same(h.df(normalize_time=False), expected)
            return
        # Damage the file's checks cannot see (Parquet metadata outside the pages) must
        # still give a usable history or a clear error.
        try:
            _read_everything(h)
        except (ValueError, TypeError) as error:
            assert str(error)

    check()


# ------------------------------------------------------------- Report.from_dict
_ROW = _BASE[1].df().iloc[0].to_dict()
_ROW["name"] = "t1"
_COLUMNS = sorted(_ROW)

cells = st.dictionaries(
    st.one_of(st.sampled_from(_COLUMNS), keys),
    st.one_of(
        scalars,
        st.decimals(allow_nan=True),
        st.sampled_from(["", "NA", "wall", "bytes", "success", "yesterday", pd.NA]),
    ),
    min_size=1,
    max_size=4,
)


@_budget(300)
@given(cells)
def test_from_dict_with_random_cells(changes: dict[Any, Any]) -> None:
    row = dict(_ROW)
    row.update(changes)
    try:
        report = Trial.Report.from_dict(row)
    except (ValueError, TypeError) as error:
        assert str(error)
        return
    # Accepted: the report must be usable (amltk's from_dict kept cells a later df() choked
    # on) and read back to itself.
    frame = report.df()
    again = Trial.Report.from_df(frame)
    assert again.metrics == report.metrics
    assert again.status == report.status
    pd.testing.assert_frame_equal(again.df(), frame, check_exact=True)


def test_from_dict_accepts_numbers_of_every_kind() -> None:
    # The strictness above must not refuse what a frame legitimately holds.
    row = dict(_ROW)
    row["time:start"] = np.float32(1.5)
    row["memory:start_rss"] = Decimal("10")
    row["memory:end_rss"] = Fraction(21, 2)
    row["trial_seed"] = np.int64(3)
    report = Trial.Report.from_dict(row)
    assert report.time.start == 1.5
    assert report.memory.start_rss == 10.0 and report.memory.end_rss == 10.5
    assert report.trial.seed == 3
