"""History at scale (issue 3): add, df, from_df, best, incumbents, sortby, pandas' floor and
retained memory per report, at 1,000 / 10,000 (/ 100,000) reports; and the same-run
comparison with amltk 1.10 at 500 reports.

Written against the public History API only, so it measures the list-of-reports History and
the columnar one alike.  The reports come from ``_history_data.py`` (real ``begin()`` /
``profile("fit")`` / ``success()`` / ``fail()`` / ``crashed()`` calls, two metrics, mixed
config types, summary entries on some reports only).  Every benchmark checks its result
against values computed without the History.

Sizes: 1,000 and 10,000 always; 100,000 only with ``FASTTRIAL_BENCH_LARGE=1`` in the
environment (before the columnar rewrite, ``df()`` of 100,000 reports took ~10 s and
``from_df()`` over a minute per call).  The
memory budget test (<= 1 KB per report at 100,000) runs only with
``FASTTRIAL_BENCH_MEMORY_BUDGET=1`` as well.  See benchmarks/README.md.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import pandas.testing as pdt
import pytest
from _history_data import (
    LOSS,
    SCORE,
    ReportSet,
    build_reports,
    cached_reports,
    floor_columns,
    floor_frame,
    measure_retained_subprocess,
    status_of,
)
from _impls import HAVE_AMLTK, load_impl


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


LARGE = _env_flag("FASTTRIAL_BENCH_LARGE")
MEMORY_BUDGET = _env_flag("FASTTRIAL_BENCH_MEMORY_BUDGET")
LARGE_N = 100_000
BYTES_PER_REPORT_BUDGET = 1024  # issue 3: <= 1 KB per report in a History of 100,000
FULL_ROUND_TRIP = (1_000, LARGE_N)  # sizes where from_df(df()).df() is compared in full
N_COMPARE = 500  # the same-run comparison with amltk

SIZES = [pytest.param(1_000, id="1k"), pytest.param(10_000, id="10k")]
if LARGE:  # not even collected otherwise (the budget test's skip message says how)
    SIZES.append(pytest.param(LARGE_N, id="100k"))

# Timing: each benchmark gets about this many seconds (or --benchmark-max-time if larger),
# at least MIN_ROUNDS rounds, and SLOW_ROUNDS when one call takes longer than SLOW_CALL.
TARGET_SECONDS = 1.0
MIN_ROUNDS = 5
SLOW_CALL = 0.5
SLOW_ROUNDS = 3
MAX_ROUNDS = 200


def timed(
    benchmark: Any,
    fn: Callable[..., Any],
    *args: Any,
    setup: Callable[[], tuple[Any, ...]] | None = None,
) -> Any:
    """Time ``fn(*args)``, or ``fn(*setup())`` with arguments made fresh (untimed) per round.

    pytest-benchmark's own calibration calls a slow function a dozen times (calibration,
    warm-up and rounds); here one untimed call serves as warm-up and sizes the rounds, so a
    call of seconds is timed ``SLOW_ROUNDS`` times.  With ``--benchmark-disable`` ``fn`` runs
    once.  Returns ``fn``'s result (of the last round).
    """

    def make_args() -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (setup() if setup is not None else args), {}

    if benchmark.disabled:
        return benchmark.pedantic(fn, setup=make_args)
    first = make_args()[0]
    t0 = time.perf_counter()
    fn(*first)
    one = time.perf_counter() - t0
    del first
    budget = max(TARGET_SECONDS, float(getattr(benchmark, "_max_time", 0.0) or 0.0))
    iterations = 1
    if setup is None and one < 1e-3:  # batch fast calls so the clock's resolution is moot
        iterations = max(1, math.ceil(1e-3 / max(one, 1e-7)))
    if one > SLOW_CALL:
        rounds = SLOW_ROUNDS
    else:
        rounds = min(MAX_ROUNDS, max(MIN_ROUNDS, int(budget / max(one * iterations, 1e-9))))
    if setup is not None:
        return benchmark.pedantic(fn, setup=make_args, rounds=rounds, iterations=1)
    return benchmark.pedantic(fn, args=args, rounds=rounds, iterations=iterations)


def _names(reports: Any) -> list[str]:
    return [r.name for r in reports]


def _metric_column(frame: pd.DataFrame, metric: str) -> str:
    cols = [c for c in frame.columns if str(c).startswith(f"metric:{metric}")]
    assert len(cols) == 1, list(frame.columns)
    return str(cols[0])


STACK_SAMPLE = 200  # reports whose own df() frames define the columns (and, at 1k, the frame)


def _stack(rs: ReportSet) -> list[pd.DataFrame]:
    """Each of the first ``STACK_SAMPLE`` reports' own ``report.df()``: they have every kind of
    row (fail, crashed, each summary key, both branches of the conditional config)."""
    return [r.df() for r in rs.reports[:STACK_SAMPLE]]


def _expected_columns(frames: list[pd.DataFrame]) -> list[str]:
    """The columns of stacking ``frames`` (first-seen order, as ``pd.concat`` gives them)."""
    order: dict[str, None] = {}
    for f in frames:
        order.update(dict.fromkeys(f.columns))
    return list(order)


def _visit_order(rs: ReportSet) -> list[int]:
    """The order ``incumbents()`` visits reports in by default: by ``report.time.end``."""
    return sorted(range(len(rs)), key=lambda i: rs.reports[i].time.end)


class Scale:
    """What the benchmarks of one size share: made once, only when needed."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.impl = load_impl("fasttrial")
        self.rs = build_reports(self.impl, n)  # freed with this size's fixture
        self._history: Any = None
        self.frame: pd.DataFrame | None = None
        self._floor: tuple[dict[str, Any], Any] | None = None
        self._stack: list[pd.DataFrame] | None = None

    @property
    def history(self) -> Any:
        if self._history is None:
            h = self.impl.History()
            h.add(self.rs.reports)
            self._history = h
        return self._history

    def df(self) -> pd.DataFrame:
        if self.frame is None:
            self.frame = self.history.df()
        return self.frame

    def floor(self) -> tuple[dict[str, Any], Any]:
        if self._floor is None:
            self._floor = floor_columns(self.df())
        return self._floor

    def stack(self) -> list[pd.DataFrame]:
        if self._stack is None:
            self._stack = _stack(self.rs)
        return self._stack

    def columns(self) -> list[str]:
        return _expected_columns(self.stack())


_RETAINED: dict[int, dict[str, Any]] = {}


def retained(n: int) -> dict[str, Any]:
    """fasttrial's retained memory at ``n`` reports (fresh interpreter), once per run."""
    if n not in _RETAINED:
        _RETAINED[n] = measure_retained_subprocess("fasttrial", n)
    return _RETAINED[n]


@pytest.fixture(scope="module", params=SIZES)
def scale(request: pytest.FixtureRequest) -> Iterator[Scale]:
    """One size at a time (pytest runs every test of a size before the next size)."""
    n = int(request.param)
    state = Scale(n)
    yield state
    del state  # this size's reports, history and frame go before the next size is made


def _mark(benchmark: Any, scale: Scale, label: str) -> None:
    benchmark.group = f"history-{scale.n}"
    benchmark.extra_info["label"] = label
    benchmark.extra_info["reports"] = scale.n


# -- add -------------------------------------------------------------------------------------


def _memory_line(mem: dict[str, Any]) -> str:
    return (
        f"{mem['impl']:<9} {mem['n']:>7,} reports: {mem['bytes_per_report']:8.0f} B/report"
        f"  (after add {mem['bytes_per_report_after_add']:.0f},"
        f" after best/sortby/incumbents {mem['bytes_per_report_after_queries']:.0f};"
        f" RSS growth, rough: {mem['rss_bytes_per_report_rough']:.0f})"
    )


def test_add(benchmark: Any, scale: Scale, history_lines: list[str]) -> None:
    """``History().add(reports)``: all reports in one call, from empty."""
    _mark(benchmark, scale, "add")
    rs, History = scale.rs, scale.impl.History

    def add(h: Any) -> Any:
        h.add(rs.reports)
        return h

    h = timed(benchmark, add, setup=lambda: (History(),))
    assert len(h) == scale.n
    mid = scale.n // 2
    assert h[mid] is rs.reports[mid]  # a report is not copied on add()
    assert h[rs.names[-1]] is rs.reports[-1]
    assert set(h.metrics) == {LOSS, SCORE}

    # Retained memory per report, measured in a fresh interpreter (see _history_data.py).
    mem = retained(scale.n)
    benchmark.extra_info.update({f"memory_{k}": v for k, v in mem.items() if k != "impl"})
    line = _memory_line(mem)
    print(line)
    history_lines.append(line)
    assert mem["bytes_per_report"] > 0


def test_add_each(benchmark: Any, scale: Scale) -> None:
    """``history.add(report)`` once per report, as an optimization loop does, from empty."""
    _mark(benchmark, scale, "add-each")
    rs, History = scale.rs, scale.impl.History

    def add_each(h: Any) -> Any:
        for r in rs.reports:
            h.add(r)
        return h

    h = timed(benchmark, add_each, setup=lambda: (History(),))
    assert len(h) == scale.n
    assert _names(h[:3]) == rs.names[:3]
    assert h[-1] is rs.reports[-1]


# -- df ----------------------------------------------------------------------------------------


def test_df(benchmark: Any, scale: Scale) -> None:
    """``history.df()`` with its defaults (profiles, configs, summary, metrics, normalized)."""
    _mark(benchmark, scale, "df")
    h, rs = scale.history, scale.rs
    frame = timed(benchmark, h.df)
    scale.frame = frame  # reused by from_df and the floor

    assert frame.shape == (scale.n, len(scale.columns()))
    assert list(frame.columns) == scale.columns()
    assert list(frame.index) == rs.names
    assert frame.index.name == "name"
    assert list(frame["status"]) == rs.statuses
    assert frame[_metric_column(frame, LOSS)].to_numpy(dtype=float).tolist() == rs.loss.tolist()
    assert frame[_metric_column(frame, SCORE)].to_numpy(dtype=float).tolist() == rs.score.tolist()
    assert frame["time:start"].min() == 0.0  # normalize_time=True
    assert (frame["time:duration"] >= 0).all()
    assert frame["summary:n_iter"].notna().sum() == sum(
        1 for i, s in enumerate(rs.statuses) if s == "success" and i % 3 == 0
    )
    if scale.n == 1_000:
        # The definition (amltk's): each report's df(), stacked, then convert_dtypes(); on
        # the first STACK_SAMPLE reports (pd.concat of 1,000 one-row frames takes seconds).
        sample = scale.impl.History()
        sample.add(rs.reports[:STACK_SAMPLE])
        stacked = pd.concat(scale.stack()).convert_dtypes()
        pdt.assert_frame_equal(sample.df(normalize_time=False), stacked)


# -- from_df -----------------------------------------------------------------------------------


def test_from_df(benchmark: Any, scale: Scale) -> None:
    """``History.from_df(frame)`` of the frame ``df()`` made (made before, untimed)."""
    _mark(benchmark, scale, "from_df")
    frame, rs, History = scale.df(), scale.rs, scale.impl.History
    h2 = timed(benchmark, History.from_df, frame)
    assert len(h2) == scale.n
    assert h2[0].name == rs.names[0]
    assert h2[rs.names[-1]].name == rs.names[-1]
    assert h2.best(LOSS).name == rs.expected_best(LOSS)
    assert [status_of(h2[i]) for i in (0, scale.n // 2, scale.n - 1)] == [
        rs.statuses[i] for i in (0, scale.n // 2, scale.n - 1)
    ]
    if scale.n in FULL_ROUND_TRIP:
        pdt.assert_frame_equal(h2.df(), frame)


# -- best, incumbents, sortby --------------------------------------------------------------


def test_best(benchmark: Any, scale: Scale) -> None:
    """``history.best("loss")``."""
    _mark(benchmark, scale, "best")
    h, rs = scale.history, scale.rs
    best = timed(benchmark, h.best, LOSS)
    assert best.name == rs.expected_best(LOSS)
    assert best is rs.reports[rs.names.index(best.name)]
    assert h.best(SCORE).name == rs.expected_best(SCORE)


def test_incumbents(benchmark: Any, scale: Scale) -> None:
    """``history.incumbents("loss")`` (visited by end time, the default)."""
    _mark(benchmark, scale, "incumbents")
    h, rs = scale.history, scale.rs
    trace = timed(benchmark, h.incumbents, LOSS)
    order = _visit_order(rs)
    assert _names(trace) == rs.expected_incumbents(order, LOSS)
    assert _names(h.incumbents(SCORE)) == rs.expected_incumbents(order, SCORE)


def test_sortby(benchmark: Any, scale: Scale) -> None:
    """``history.sortby("loss")`` (best first; ties in insertion order, as ``sorted``)."""
    _mark(benchmark, scale, "sortby")
    h, rs = scale.history, scale.rs
    ordered = timed(benchmark, h.sortby, LOSS)
    assert _names(ordered) == rs.expected_sortby(LOSS)
    assert _names(h.sortby(SCORE)) == rs.expected_sortby(SCORE)


# -- pandas' floor -------------------------------------------------------------------------


def test_pandas_floor(benchmark: Any, scale: Scale) -> None:
    """``pd.DataFrame(dict_of_numpy_arrays, index=...)`` of the same shape as ``df()``, from
    float64 / int64 / object columns made before (untimed): what pandas needs at least."""
    _mark(benchmark, scale, "floor")
    columns, index = scale.floor()
    frame = timed(benchmark, floor_frame, columns, index)
    ref = scale.df()
    assert frame.shape == ref.shape == (scale.n, len(scale.columns()))
    assert list(frame.columns) == list(ref.columns)
    assert list(frame.index) == scale.rs.names


# -- the memory budget (opt-in) ----------------------------------------------------


@pytest.mark.memory
@pytest.mark.skipif(
    not (LARGE and MEMORY_BUDGET),
    reason="issue 3's memory budget (<= 1 KB/report at 100,000): set FASTTRIAL_BENCH_LARGE=1"
    " and FASTTRIAL_BENCH_MEMORY_BUDGET=1",
)
def test_retained_bytes_per_report(history_lines: list[str]) -> None:
    """Issue 3: a History of 100,000 reports retains at most 1 KB per report, reports
    included (tracemalloc, fresh interpreter; see ``_history_data.measure_retained``)."""
    mem = retained(LARGE_N)
    line = _memory_line(mem) + f"   budget {BYTES_PER_REPORT_BUDGET} B"
    print(line)
    history_lines.append(line)
    assert mem["bytes_per_report"] <= BYTES_PER_REPORT_BUDGET, (
        f"issue 3: {mem['bytes_per_report']:.0f} B retained per report at {LARGE_N:,} reports"
        f" > {BYTES_PER_REPORT_BUDGET} B ({mem})"
    )


# -- same run against amltk 1.10, 500 reports ----------------------------------------------

AMLTK_SKIP = pytest.mark.skipif(not HAVE_AMLTK, reason="amltk is not installed (optional)")
IMPLS = ["fasttrial", pytest.param("amltk", marks=AMLTK_SKIP)]


@pytest.fixture(params=IMPLS)
def compare(
    request: pytest.FixtureRequest, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, ReportSet]:
    """(History class, 500 reports) of each implementation, from an empty directory
    (amltk's Trial, also the ones ``from_df`` makes, creates ``unknown-trial-bucket/``)."""
    monkeypatch.chdir(tmp_path)
    name = str(request.param)
    return load_impl(name).History, cached_reports(name, N_COMPARE)


def _history(History: Any, rs: ReportSet) -> Any:
    h = History()
    h.add(rs.reports)
    return h


@pytest.mark.benchmark(group=f"history-{N_COMPARE}-df")
def test_compare_df(benchmark: Any, compare: tuple[Any, ReportSet]) -> None:
    History, rs = compare
    h = _history(History, rs)
    frame = timed(benchmark, h.df)
    assert frame.shape == (N_COMPARE, len(_expected_columns(_stack(rs))))
    assert list(frame.index) == rs.names
    assert list(frame["status"]) == rs.statuses
    assert frame[_metric_column(frame, LOSS)].to_numpy(dtype=float).tolist() == rs.loss.tolist()


@pytest.mark.benchmark(group=f"history-{N_COMPARE}-from_df")
def test_compare_from_df(benchmark: Any, compare: tuple[Any, ReportSet]) -> None:
    History, rs = compare
    frame = _history(History, rs).df()
    h2 = timed(benchmark, History.from_df, frame)
    assert len(h2) == N_COMPARE
    assert _names(h2) == rs.names
    assert h2.best(LOSS).name == rs.expected_best(LOSS)


@pytest.mark.benchmark(group=f"history-{N_COMPARE}-queries")
def test_compare_queries(benchmark: Any, compare: tuple[Any, ReportSet]) -> None:
    """``best`` + ``incumbents`` + ``sortby`` of one metric, one call each."""
    History, rs = compare
    h = _history(History, rs)

    def queries() -> tuple[Any, list[Any], list[Any]]:
        return h.best(LOSS), h.incumbents(LOSS), h.sortby(LOSS)

    best, trace, ordered = timed(benchmark, queries)
    assert best.name == rs.expected_best(LOSS)
    assert _names(trace) == rs.expected_incumbents(_visit_order(rs), LOSS)
    assert _names(ordered) == rs.expected_sortby(LOSS)
