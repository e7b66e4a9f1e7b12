"""Tests of ``fasttrial.optimization.History``."""

from __future__ import annotations

import io
import math
import pickle
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from fasttrial.optimization import History, Metric, Trial

LOSS = Metric("loss", minimize=True)
ACC = Metric("acc", minimize=False, bounds=(0.0, 1.0))

TRACEBACK = 'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: x'


def read_csv_exact(path: Path) -> pd.DataFrame:
    """Read a CSV with floats parsed exactly (pandas >= 3 does so by default and deprecates
    ``float_precision``)."""
    if int(pd.__version__.split(".")[0]) < 3:
        return pd.read_csv(path, float_precision="round_trip")
    return pd.read_csv(path)


def _ran(trial: Trial[Any], *, fail_inside: bool = False, nested: bool = False) -> Trial[Any]:
    with trial.begin():
        if nested:
            with trial.profile("trial"), trial.profile("dummy"):
                pass
        if fail_inside:
            raise ValueError("boom")
    return trial


def _reports(
    values: Sequence[float], metric: Metric = LOSS, prefix: str = "trial"
) -> list[Trial.Report]:
    out = []
    for i, v in enumerate(values):
        trial = _ran(Trial(name=f"{prefix}_{i}", config={"i": i}, metrics=[metric]))
        out.append(trial.success(**{metric.name: v}))
    return out


def _mixed_reports(*, nested: bool = False, partial_summary: bool = True) -> list[Trial.Report]:
    """Success, fail and crashed reports of two metrics; by default with summary entries on
    some reports only (else every report has the same summary keys)."""
    reports = []
    for i in range(6):
        trial = Trial(
            name=f"trial_{i}",
            config={"x": i, "kind": "abc"[i % 3], "lr": 10.0**-i},
            metrics=[LOSS, ACC],
            seed=i + 1,
        )
        _ran(trial, fail_inside=(i == 1), nested=nested)
        if not partial_summary:
            trial.summary.update(note_value=i * 1.5, tag=f"t{i}")
        if i % 2 == 0:
            trial.summary["note_value"] = i * 1.5
        if i == 3:
            trial.summary["tag"] = "three"
        if i == 1:
            reports.append(trial.fail())
        elif i == 4:
            reports.append(trial.crashed(exception=ValueError("x"), traceback=TRACEBACK))
        else:
            reports.append(trial.success(loss=0.5 * i, acc=0.1 * i))
    return reports


# ------------------------------------------------------------------------ add / access
class TestAdd:
    def test_empty(self) -> None:
        h = History()
        assert len(h) == 0
        assert list(h) == []
        assert h.metrics == {}
        assert len(h.df()) == 0

    def test_add_one_and_many(self) -> None:
        r0, r1, r2 = _reports([3.0, 1.0, 2.0])
        h = History()
        h.add(r0)
        assert len(h) == 1
        h.add([r1, r2])
        assert len(h) == 3
        assert list(h) == [r0, r1, r2]
        h.add(r for r in _reports([9.0, 8.0]))  # any iterable, generators included
        assert len(h) == 5

    def test_constructors(self) -> None:
        reports = _reports([1.0, 2.0])
        assert list(History(reports)) == reports
        assert list(History.from_reports(reports)) == reports
        assert History(reports) == History.from_reports(iter(reports))

    @pytest.mark.parametrize("bad", [5, "trial_0", None, {"a": 1}.values(), 1.5])
    def test_non_reports_raise_type_error(self, bad: Any) -> None:
        h = History(_reports([1.0]))
        with pytest.raises(TypeError):
            h.add(bad)
        assert len(h) == 1

    def test_iterable_with_a_non_report_adds_nothing(self) -> None:
        good = _reports([1.0, 2.0])
        h = History()
        with pytest.raises(TypeError, match=r"Trial\.Report"):
            h.add([good[0], "not a report", good[1]])  # type: ignore[list-item]
        assert len(h) == 0
        assert h.metrics == {}
        with pytest.raises(KeyError):
            h.find("trial_0")

    def test_metrics(self) -> None:
        h = History(_mixed_reports())
        assert h.metrics == {"loss": LOSS, "acc": ACC}
        assert list(h.metrics) == ["loss", "acc"]

    def test_conflicting_metric_definition(self) -> None:
        h = History(_reports([1.0]))
        other_loss = Metric("loss", minimize=False)
        new_metric = Metric("new_one")
        trial = _ran(Trial(name="bad", config={}, metrics=[new_metric, other_loss]))
        bad = trial.success(new_one=1.0, loss=2.0)
        with pytest.raises(ValueError, match="conflicting definitions") as info:
            h.add(bad)
        assert "loss (maximize)" in str(info.value) and "loss (minimize)" in str(info.value)
        assert len(h) == 1
        assert h.metrics == {"loss": LOSS}  # not even the new metric was registered
        with pytest.raises(KeyError):
            h.find("bad")

    def test_conflicting_bounds(self) -> None:
        h = History(_reports([1.0]))
        bounded = Metric("loss", bounds=(0, 10))
        with pytest.raises(ValueError, match="conflicting"):
            h.add(_reports([1.0], metric=bounded))
        assert h.metrics == {"loss": LOSS}


class TestAccess:
    def test_getitem(self) -> None:
        reports = _reports([5.0, 4.0, 3.0, 2.0])
        h = History(reports)
        assert h[0] is reports[0]
        assert h[-1] is reports[-1]
        assert h["trial_2"] is reports[2]
        sub = h[1:3]
        assert isinstance(sub, History)
        assert list(sub) == reports[1:3]
        assert sub["trial_1"] is reports[1]
        assert list(h[::-1]) == reports[::-1]
        with pytest.raises(IndexError):
            h[10]
        with pytest.raises(KeyError):
            h["trial_9"]

    def test_find(self) -> None:
        reports = _reports([5.0, 4.0])
        h = History(reports)
        assert h.find("trial_1") is reports[1]
        with pytest.raises(KeyError, match="nope"):
            h.find("nope")

    def test_iter_and_len(self) -> None:
        reports = _reports([1.0, 2.0, 3.0])
        h = History(reports)
        assert len(h) == 3
        assert [r.name for r in h] == ["trial_0", "trial_1", "trial_2"]

    def test_equality(self) -> None:
        reports = _reports([1.0, 2.0])
        assert History(reports) == History(reports)
        assert History(reports) != History(reports[::-1])
        assert History(reports) != History(reports[:1])
        assert History() == History()
        assert History(reports) != reports

    def test_pickle(self) -> None:
        h = History(_mixed_reports())
        back = pickle.loads(pickle.dumps(h))
        assert len(back) == len(h)
        assert back.metrics == h.metrics
        assert [r.name for r in back] == [r.name for r in h]
        assert [r.metrics for r in back] == [r.metrics for r in h]

    def test_repr(self) -> None:
        r = repr(History(_reports([1.0, 2.0])))
        assert "History" in r and "2" in r and "loss" in r


# -------------------------------------------------------------------------------- df
class TestDataFrame:
    def test_rows_and_columns_match_the_reports_frames(self) -> None:
        reports = _mixed_reports(nested=True)
        h = History(reports)
        df = h.df(normalize_time=False)
        stacked = pd.concat([r.df() for r in reports])
        assert len(df) == len(reports)
        assert list(df.index) == [r.name for r in reports]
        assert df.index.name == "name"
        assert set(df.columns) == set(stacked.columns)
        cols = list(stacked.columns)
        pd.testing.assert_frame_equal(df[cols], stacked[cols], check_dtype=False)

    def test_expected_columns(self) -> None:
        df = History(_mixed_reports(nested=True)).df(normalize_time=False)
        for col in (
            "status",
            "trial_seed",
            "exception",
            "traceback",
            "bucket",
            "metric:loss (minimize)",
            "metric:acc [0.0, 1.0] (maximize)",
            "summary:note_value",
            "summary:tag",
            "config:x",
            "config:kind",
            "memory:start_rss",
            "time:start",
            "time:duration",
            "profile:trial:trial:time:duration",
            "profile:trial:trial:dummy:memory:diff_rss",
        ):
            assert col in df.columns, col
        assert list(df["status"]) == ["success", "fail", "success", "success", "crashed", "success"]
        assert df.loc["trial_1", "metric:loss (minimize)"] == math.inf
        assert df.loc["trial_4", "metric:acc [0.0, 1.0] (maximize)"] == 0.0
        assert df.loc["trial_4", "exception"] == "x"
        assert df.loc["trial_1", "exception"] == "boom"
        assert df.loc["trial_0", "exception"] == "NA"
        assert pd.isna(df.loc["trial_1", "summary:note_value"])
        assert df.loc["trial_2", "summary:note_value"] == 3.0
        assert df.loc["trial_3", "summary:tag"] == "three"

    def test_subsets_of_columns(self) -> None:
        h = History(_mixed_reports())
        cols = h.df(profiles=False, configs=False, summary=False, metrics=False).columns
        assert not any(
            c.startswith(("memory:", "time:", "config:", "summary:", "metric:")) for c in cols
        )
        assert "status" in cols
        only_metrics = h.df(profiles=False, configs=False, summary=False).columns
        assert [c for c in only_metrics if c.startswith("metric:")] == [
            "metric:loss (minimize)",
            "metric:acc [0.0, 1.0] (maximize)",
        ]

    def test_normalize_time_true(self) -> None:
        reports = _mixed_reports(nested=True)
        h = History(reports)
        raw = h.df(normalize_time=False)
        norm = h.df(normalize_time=True)
        default = h.df()
        pd.testing.assert_frame_equal(norm, default)
        offset = min(r.time.start for r in reports)
        assert norm["time:start"].min() == 0.0
        time_cols = [c for c in raw.columns if c.endswith(("time:start", "time:end"))]
        assert "profile:trial:trial:dummy:time:end" in time_cols
        for col in time_cols:
            expected = raw[col] - offset
            pd.testing.assert_series_equal(norm[col], expected, check_exact=False, atol=1e-9)
        # durations and everything else are untouched
        other = [c for c in raw.columns if c not in time_cols]
        pd.testing.assert_frame_equal(norm[other], raw[other])
        assert (norm["time:end"] >= norm["time:start"]).all()

    def test_normalize_time_float(self) -> None:
        h = History(_reports([1.0, 2.0]))
        raw = h.df(normalize_time=False)
        shifted = h.df(normalize_time=100.0)
        pd.testing.assert_series_equal(
            shifted["time:end"], raw["time:end"] - 100.0, check_exact=False, atol=1e-9
        )
        pd.testing.assert_series_equal(shifted["time:duration"], raw["time:duration"])

    def test_normalize_time_false_keeps_epoch_seconds(self) -> None:
        reports = _reports([1.0, 2.0])
        df = History(reports).df(normalize_time=False)
        assert list(df["time:start"]) == [r.time.start for r in reports]
        assert list(df["time:end"]) == [r.time.end for r in reports]

    @pytest.mark.parametrize(
        "partial_summary", [False, True], ids=["same-summary", "partial-summary"]
    )
    @pytest.mark.parametrize("nested", [False, True], ids=["flat", "nested"])
    def test_from_df_round_trip(self, nested: bool, partial_summary: bool) -> None:
        h = History(_mixed_reports(nested=nested, partial_summary=partial_summary))
        df = h.df(normalize_time=False)
        back = History.from_df(df)
        assert len(back) == len(h)
        assert back.metrics == h.metrics
        pd.testing.assert_frame_equal(back.df(normalize_time=False), df)
        assert [r.status for r in back] == [r.status for r in h]

    def test_round_trip_keeps_each_reports_own_summary(self) -> None:
        # A summary key that only some reports have is a missing cell in the other rows;
        # reading the frame back must not invent that key (as NaN) for those reports, or
        # the rebuilt frame's columns come out in another order.
        h = History(_mixed_reports())
        back = History.from_df(h.df(normalize_time=False))
        assert [dict(r.summary) for r in back] == [dict(r.summary) for r in h]
        assert back["trial_3"].summary == {"tag": "three"}
        assert back["trial_1"].summary == {}

    @pytest.mark.parametrize(
        "partial_summary", [False, True], ids=["same-summary", "partial-summary"]
    )
    @pytest.mark.parametrize("nested", [False, True], ids=["flat", "nested"])
    def test_csv_round_trip(self, nested: bool, partial_summary: bool, tmp_path: Path) -> None:
        h = History(_mixed_reports(nested=nested, partial_summary=partial_summary))
        df = h.df(normalize_time=False)
        path = tmp_path / "history.csv"
        df.to_csv(path)
        back = History.from_df(read_csv_exact(path))
        pd.testing.assert_frame_equal(back.df(normalize_time=False), df, atol=1e-9, rtol=0)
        assert back.metrics == h.metrics
        assert [str(r.status) for r in back] == [str(r.status) for r in h]
        assert str(back["trial_4"].exception) == "x"
        assert back["trial_4"].traceback == TRACEBACK

    def test_round_trip_does_not_invent_metric_values(self) -> None:
        # Reports of different metrics: each row has an empty cell for the metric its
        # report does not have.  Read back, that report must not gain a NaN value for it
        # (best("acc") would then be free to pick a trial that never reported acc).
        reports = _reports([3.0, 1.0], prefix="l") + _reports([0.5, 0.7], metric=ACC, prefix="a")
        h = History(reports)
        back = History.from_df(h.df(normalize_time=False))
        assert [r.metrics for r in back] == [r.metrics for r in h]
        assert [r.metric_names for r in back] == [r.metric_names for r in h]
        assert back.best("acc").name == h.best("acc").name == "a_1"
        assert back.best("loss").name == h.best("loss").name == "l_1"
        assert [r.name for r in back.sortby("acc")] == ["a_1", "a_0"]

    def test_from_empty_df(self) -> None:
        assert len(History.from_df(pd.DataFrame())) == 0


# ------------------------------------------------------------------- filter / groupby
class TestFilterGroupby:
    def test_filter(self) -> None:
        h = History(_mixed_reports())
        ok = h.filter(lambda r: r.status == Trial.Status.SUCCESS)
        assert isinstance(ok, History)
        assert [r.name for r in ok] == ["trial_0", "trial_2", "trial_3", "trial_5"]
        assert len(h) == 6  # the original is untouched
        assert len(h.filter(lambda r: False)) == 0

    def test_groupby_status(self) -> None:
        h = History(_mixed_reports())
        groups = h.groupby("status")
        assert set(groups) == {Trial.Status.SUCCESS, Trial.Status.FAIL, Trial.Status.CRASHED}
        assert [r.name for r in groups[Trial.Status.SUCCESS]] == [
            "trial_0",
            "trial_2",
            "trial_3",
            "trial_5",
        ]
        assert [r.name for r in groups[Trial.Status.FAIL]] == ["trial_1"]
        assert [r.name for r in groups[Trial.Status.CRASHED]] == ["trial_4"]
        assert all(isinstance(g, History) for g in groups.values())

    def test_groupby_callable(self) -> None:
        h = History(_mixed_reports())
        groups = h.groupby(lambda r: r.config["kind"])
        assert {k: [r.name for r in g] for k, g in groups.items()} == {
            "a": ["trial_0", "trial_3"],
            "b": ["trial_1", "trial_4"],
            "c": ["trial_2", "trial_5"],
        }


# ------------------------------------------------------------------------------ sortby
class TestSortby:
    def test_minimized_metric_best_first(self) -> None:
        h = History(_reports([3.0, 1.0, 2.0]))
        assert [r.metrics["loss"] for r in h.sortby("loss")] == [1.0, 2.0, 3.0]

    def test_maximized_metric_best_first(self) -> None:
        h = History(_reports([0.3, 0.9, 0.5], metric=ACC))
        assert [r.metrics["acc"] for r in h.sortby("acc")] == [0.9, 0.5, 0.3]

    def test_reverse(self) -> None:
        # reverse= sets the direction of the sort by value, as in amltk: True is descending
        loss_h = History(_reports([3.0, 1.0, 2.0]))
        assert [r.metrics["loss"] for r in loss_h.sortby("loss", reverse=True)] == [3.0, 2.0, 1.0]
        assert [r.metrics["loss"] for r in loss_h.sortby("loss", reverse=False)] == [1.0, 2.0, 3.0]
        acc_h = History(_reports([0.3, 0.9, 0.5], metric=ACC))
        assert [r.metrics["acc"] for r in acc_h.sortby("acc", reverse=False)] == [0.3, 0.5, 0.9]
        assert [r.metrics["acc"] for r in acc_h.sortby("acc", reverse=True)] == [0.9, 0.5, 0.3]

    def test_callable(self) -> None:
        h = History(_mixed_reports())
        by_lr = h.sortby(lambda r: r.config["lr"])
        assert [r.name for r in by_lr] == [f"trial_{i}" for i in range(5, -1, -1)]
        assert [r.name for r in h.sortby(lambda r: r.config["lr"], reverse=True)] == [
            f"trial_{i}" for i in range(6)
        ]

    def test_returns_a_list(self) -> None:
        assert isinstance(History(_reports([1.0])).sortby("loss"), list)

    def test_metric_name_leaves_out_reports_without_it(self) -> None:
        reports = _reports([3.0, 1.0]) + _reports([0.5], metric=ACC)
        h = History(reports)
        assert [r.metrics["loss"] for r in h.sortby("loss")] == [1.0, 3.0]
        assert [r.metrics["acc"] for r in h.sortby("acc")] == [0.5]

    def test_unknown_metric(self) -> None:
        with pytest.raises(ValueError, match="nope"):
            History(_reports([1.0])).sortby("nope")


# -------------------------------------------------------------------------------- best
class TestBest:
    def test_single_metric_default(self) -> None:
        h = History(_reports([3.0, 1.0, 2.0]))
        assert h.best().name == "trial_1"
        assert h.best("loss").name == "trial_1"

    def test_maximized(self) -> None:
        h = History(_reports([0.3, 0.9, 0.5], metric=ACC))
        assert h.best().name == "trial_1"

    def test_several_metrics_need_a_name(self) -> None:
        h = History(_mixed_reports())
        with pytest.raises(ValueError, match="multiple metrics"):
            h.best()
        assert h.best("loss").name == "trial_0"
        assert h.best("acc").name == "trial_5"

    def test_unknown_metric_names_the_available_ones(self) -> None:
        h = History(_mixed_reports())
        with pytest.raises(ValueError) as info:
            h.best("f1")
        msg = str(info.value)
        assert "f1" in msg and "'loss'" in msg and "'acc'" in msg

    def test_failed_trial_with_worst_value_is_not_preferred(self) -> None:
        reports = []
        for i in range(4):
            trial = _ran(Trial(name=f"trial_{i}", config={}, metrics=[LOSS]))
            reports.append(trial.fail() if i == 0 else trial.success(loss=float(i)))
        h = History(reports)
        assert reports[0].metrics["loss"] == math.inf
        assert h.best().name == "trial_1"

    def test_failed_maximized_trial_gets_the_lower_bound(self) -> None:
        reports = []
        for i in range(3):
            trial = _ran(Trial(name=f"trial_{i}", config={}, metrics=[ACC]))
            reports.append(trial.fail() if i == 2 else trial.success(acc=0.1 * (i + 1)))
        assert History(reports).best().name == "trial_1"

    def test_empty_history(self) -> None:
        with pytest.raises(ValueError):
            History().best()


# -------------------------------------------------------------------------- incumbents
VALUES = [0, -1, 2, -3, 4, -5, 6, -7, 8, -9]
SCORE = Metric("score", minimize=False)


class TestIncumbents:
    def _history(self) -> History:
        reports = []
        for i, v in enumerate(VALUES):
            trial = _ran(Trial(name=f"trial_{i}", config={"i": i}, metrics=[LOSS, SCORE]))
            reports.append(trial.success(loss=v, score=v))
        return History(reports)

    def test_loss_ffill(self) -> None:
        inc = self._history().incumbents("loss", ffill=True)
        assert [r.metrics["loss"] for r in inc] == [0, -1, -1, -3, -3, -5, -5, -7, -7, -9]

    def test_loss_no_ffill(self) -> None:
        h = self._history()
        inc = h.incumbents("loss", ffill=False)
        assert [r.metrics["loss"] for r in inc] == [0, -1, -3, -5, -7, -9]
        assert [r.metrics["loss"] for r in h.incumbents("loss")] == [0, -1, -3, -5, -7, -9]
        assert all(isinstance(r, Trial.Report) for r in inc)

    def test_score_ffill(self) -> None:
        inc = self._history().incumbents("score", ffill=True)
        assert [r.metrics["score"] for r in inc] == [0, 0, 2, 2, 4, 4, 6, 6, 8, 8]

    def test_score_no_ffill(self) -> None:
        inc = self._history().incumbents("score")
        assert [r.metrics["score"] for r in inc] == [0, 2, 4, 6, 8]

    def test_callable_key(self) -> None:
        h = self._history()
        # "better" = larger absolute value
        # "better" = closer to 3: 0 -> 2 -> 4 (|4-3| == |2-3| is not better) ...
        inc = h.incumbents(
            lambda new, cur: abs(new.metrics["loss"] - 3) < abs(cur.metrics["loss"] - 3)
        )
        assert [r.metrics["loss"] for r in inc] == [0, 2]
        ffilled = h.incumbents(lambda new, cur: new.config["i"] % 3 == 0, ffill=True)
        assert len(ffilled) == len(h)
        assert [r.config["i"] for r in ffilled] == [0, 0, 0, 3, 3, 3, 6, 6, 6, 9]

    def test_sortby_reverse(self) -> None:
        h = self._history()
        inc = h.incumbents("loss", sortby=lambda r: r.config["i"], reverse=True)
        # visiting from the last trial backwards: -9 first, and nothing beats it
        assert [r.metrics["loss"] for r in inc] == [-9]

    def test_unknown_metric(self) -> None:
        with pytest.raises(ValueError, match="nope"):
            self._history().incumbents("nope")

    def test_reports_without_the_metric_are_left_out(self) -> None:
        # As in sortby() and best(): a report that has no value for the metric is not a
        # candidate (rather than a KeyError halfway through the trace).
        reports = [
            *_reports([3.0], prefix="l"),
            *_reports([0.5, 0.2, 0.9], metric=ACC, prefix="a"),
            *_reports([1.0], prefix="m"),
        ]
        h = History(reports)
        assert [r.name for r in h.incumbents("acc")] == ["a_0", "a_2"]
        assert [r.name for r in h.incumbents("acc", ffill=True)] == ["a_0", "a_0", "a_2"]
        assert [r.name for r in h.incumbents("loss")] == ["l_0", "m_0"]


# ----------------------------------------------------------------------------- display
class TestDisplay:
    @pytest.fixture(scope="class")
    def big(self) -> History:
        return History(_reports([float(i % 37) for i in range(1000)]))

    def test_rich_rendering_is_bounded(self, big: History) -> None:
        from rich.console import Console

        console = Console(width=200, record=True, file=io.StringIO(), color_system=None)
        console.print(big)
        text = console.export_text()
        assert "more rows" in text
        names = set(re.findall(r"\btrial_\d+\b", text))
        assert "trial_0" in names
        assert "trial_999" in names
        assert 2 <= len(names) <= 50
        assert len(text.splitlines()) < 200

    def test_repr_html_is_bounded(self, big: History) -> None:
        html = big._repr_html_()
        assert "<table" in html
        names = set(re.findall(r"\btrial_\d+\b", html))
        assert "trial_0" in names
        assert "trial_999" in names
        assert len(names) <= 50
        assert html.count("<tr") <= 60
