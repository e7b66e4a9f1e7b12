"""Tests of the columnar ``History`` (issue 3) against row-wise definitions.

The columnar ``History`` keeps its reports' fields column by column and builds frames,
subsets and metric queries from those columns.  Every test here compares it with a plain
definition worked out from the reports themselves:

* ``df()`` against ``build_frame`` of each report's ``_row()`` (and, where that is known to
  agree, against pandas' own inference, ``reference_frame``);
* slices / ``filter`` / ``groupby`` against a history made from the same reports;
* ``from_df`` against the frame it was loaded from and the reports it came from;
* ``best`` / ``sortby`` / ``incumbents`` / ``pareto_front`` / ``metric_values`` against
  naive Python loops over ``Metric.Value``.

Random histories are made with seeded ``random.Random`` generators (deterministic).
"""

from __future__ import annotations

import gc
import io
import itertools
import math
import pickle
import random
import re
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fasttrial import _core
from fasttrial.optimization import History, Metric, Trial
from fasttrial.optimization._frames import build_frame, reference_frame

LOSS = Metric("loss", minimize=True)
ACC = Metric("acc", minimize=False, bounds=(0.0, 1.0))
ERR = Metric("err", minimize=True, bounds=(-5.0, 5.0))
SCORE = Metric("score", minimize=False)
METRICS = (LOSS, ACC, ERR, SCORE)

SUCCESS, FAIL, CRASHED = Trial.Status.SUCCESS, Trial.Status.FAIL, Trial.Status.CRASHED

# ----------------------------------------------------------------------------- palettes
# Config values of mixed types; every key draws from the same palette, so one key holds
# ints, floats, strings, bools, None, numpy scalars, containers... across reports.
_BASE_PALETTE: tuple[Callable[[random.Random], Any], ...] = (
    lambda r: r.randint(-3, 3),
    lambda r: float(r.randint(0, 3)),  # whole floats (2.0) next to ints
    lambda r: r.random(),
    lambda r: r.choice("abc"),
    lambda r: r.choice(["", "é", "a b"]),
    lambda r: r.random() < 0.5,
    lambda r: None,
    lambda r: math.nan,
    lambda r: r.choice([math.inf, -math.inf]),
    lambda r: -0.0,
    lambda r: np.float64(r.choice([1.5, 2.0])),
    lambda r: np.int64(r.randint(0, 9)),
    lambda r: np.bool_(r.random() < 0.5),
    lambda r: [1, r.randint(0, 2)],
    lambda r: (1, "a"),
    lambda r: {"x": {"y": r.randint(0, 2)}},
    lambda r: 2**53 + r.randint(2, 9),  # above 2**53, below 2**63
)
# numpy scalars whose dtype pandas keeps as its own (Int32, Float32).
_NARROW_NUMPY: tuple[Callable[[random.Random], Any], ...] = (
    lambda r: np.int32(r.randint(0, 9)),
    lambda r: np.float32(0.5),
)
# Python ints outside int64 (and 2**53 + 1, the first int float64 cannot hold).
_HUGE_INTS: tuple[Callable[[random.Random], Any], ...] = (
    lambda r: 2**53 + 1,
    lambda r: 2**64 + 1,
    lambda r: -(2**63) - 7,
)

# Every key draws from all of these; the "h*" keys also get huge ints next to small ints,
# strings and None only.
FRAME_PALETTE = _BASE_PALETTE + _NARROW_NUMPY + _HUGE_INTS
HUGE_KEY_PALETTE: tuple[Callable[[random.Random], Any], ...] = (
    lambda r: 2**64 + 1,
    lambda r: -(2**63) - 7,
    lambda r: 2**63,
    lambda r: r.randint(0, 3),
    lambda r: "s",
    lambda r: None,
)
# What from_df() round-trips exactly (numpy uint64 next to int64 does not: TestKnownBugs).
ROUND_TRIP_PALETTE = FRAME_PALETTE

SUMMARY_PALETTE: tuple[Callable[[random.Random], Any], ...] = (
    lambda r: math.nan,
    lambda r: math.inf,
    lambda r: -math.inf,
    lambda r: r.random(),
    lambda r: r.randint(0, 5),
    lambda r: f"s{r.randint(0, 2)}",
    lambda r: 3.0,
)


def _metric_value(rng: random.Random, m: Metric) -> float | int:
    """A value for ``m``: from a small set (ties) or random; bounds included."""
    if m.bounds is None:
        return rng.choice([1.0, 2.0, 0.5, rng.random() * 10, rng.randint(-2, 2), 7])
    lo, hi = m.bounds
    return rng.choice([lo, hi, (lo + hi) / 2, lo + (hi - lo) * rng.random()])


def random_report(
    rng: random.Random,
    i: int,
    *,
    palette: Sequence[Callable[[random.Random], Any]] = FRAME_PALETTE,
    huge_keys: bool = False,
    metrics: Sequence[Metric] = METRICS,
    begin_rate: float = 0.75,
    prefix: str = "t",
) -> Trial.Report:
    """A real report: random config keys (subset, random order, mixed types), random
    metrics (subset, random order), seed None/0/int, begin() or not, named profiles,
    summaries with NaN/inf, success/fail/crashed, exceptions raised inside begin()."""
    keys = rng.sample(["a", "b", "c", "d", "e"], rng.randint(0, 5))
    config = {k: rng.choice(palette)(rng) for k in keys}
    if huge_keys:
        for k in rng.sample(["h1", "h2"], rng.randint(0, 2)):
            config[k] = rng.choice(HUGE_KEY_PALETTE)(rng)
    chosen = [m for m in metrics if rng.random() < 0.6]
    rng.shuffle(chosen)
    seed = rng.choice([None, 0, rng.randint(1, 10**6)])
    trial = Trial(name=f"{prefix}{i}", config=config, metrics=chosen, seed=seed)
    raised = False
    if rng.random() < begin_rate:
        with trial.begin():
            if rng.random() < 0.3:
                with trial.profile(rng.choice(["fit", "predict"])):
                    pass
            if rng.random() < 0.15:
                raised = True
                raise ValueError(f"boom {i}")
    for k in rng.sample(["s1", "s2", "s3"], rng.randint(0, 3)):
        trial.summary[k] = rng.choice(SUMMARY_PALETTE)(rng)
    u = rng.random()
    if raised:
        return trial.crashed() if u < 0.5 else trial.fail()
    if u < 0.1:
        return trial.crashed(exception=RuntimeError(f"crash {i}"), traceback="tb text")
    if u < 0.25:
        return trial.fail()
    return trial.success(**{m.name: _metric_value(rng, m) for m in chosen})


def random_reports(seed: int, n: int | None = None, **kwargs: Any) -> list[Trial.Report]:
    rng = random.Random(seed)
    n = rng.randint(1, 30) if n is None else n
    return [random_report(rng, i, **kwargs) for i in range(n)]


def rows(reports: Sequence[Trial.Report], **sections: bool) -> list[dict[str, Any]]:
    return [r._row(**sections) for r in reports]


def first_seen_metrics(reports: Sequence[Trial.Report]) -> dict[str, Metric]:
    out: dict[str, Metric] = {}
    for r in reports:
        for v in r.metric_values:
            out.setdefault(v.metric.name, v.metric)
    return out


def assert_same_history(sub: History, reports: Sequence[Trial.Report]) -> None:
    """``sub`` holds exactly ``reports`` (the same objects) and frames them as
    ``build_frame`` does."""
    assert len(sub) == len(reports)
    assert all(a is b for a, b in zip(sub, reports, strict=True))
    assert sub.metrics == first_seen_metrics(reports)
    if reports:
        pd.testing.assert_frame_equal(sub.df(normalize_time=False), build_frame(rows(reports)))
    else:
        assert len(sub.df()) == 0


SECTIONS = ("profiles", "configs", "summary", "metrics")


# ====================================================================== 1. df() equivalence
class TestDfEquivalence:
    @pytest.mark.parametrize("block", range(2))
    def test_df_equals_build_frame_of_rows(self, block: int) -> None:
        for seed in range(block * 7, block * 7 + 7):
            reports = random_reports(seed, huge_keys=True)
            h = History(reports)
            pd.testing.assert_frame_equal(
                h.df(normalize_time=False), build_frame(rows(reports)), obj=f"seed {seed}"
            )

    def test_df_equals_build_frame_built_one_add_at_a_time(self) -> None:
        # Columns created late (a key first seen at report 17) must be padded for the
        # reports before it; batches and single adds must give the same table.
        for seed in range(3):
            reports = random_reports(seed, n=25, huge_keys=True)
            one_by_one = History()
            for r in reports:
                one_by_one.add(r)
            batches = History()
            rng = random.Random(seed)
            i = 0
            while i < len(reports):
                k = rng.randint(1, 6)
                batches.add(reports[i : i + k])
                i += k
            expected = build_frame(rows(reports))
            pd.testing.assert_frame_equal(one_by_one.df(normalize_time=False), expected)
            pd.testing.assert_frame_equal(batches.df(normalize_time=False), expected)

    def test_df_between_adds(self) -> None:
        # df() pads every column to the current length; adds after it must append after
        # the padding (new keys, keys that come back, kinds that widen).
        reports = random_reports(77, n=30, huge_keys=True)
        h = History()
        for k in range(0, 30, 4):
            h.add(reports[k : k + 4])
            pd.testing.assert_frame_equal(
                h.df(normalize_time=False), build_frame(rows(reports[: k + 4])), obj=f"k={k}"
            )
            if k % 8 == 0:
                _ = h[::2].df()  # a subset in between must not disturb the parent

    def test_many_distinct_strings(self) -> None:
        # String columns keep a code table until they hold too many distinct strings, then
        # hold the values themselves (the name column: 650 distinct names, some repeated).
        # Frames before and after the switch, and subsets of either, must be the same.
        rng = random.Random(5)
        reports = []
        for i in range(700):
            cfg: dict[str, Any] = {
                "s": rng.choice([f"v{rng.randint(0, 600)}", f"w{i % 3}", "z"]),
                "t": f"k{i % 5}",
            }
            if i > 640:
                cfg["s"] = rng.choice([None, True, "q", 1.5])
            if i > 500:
                cfg["u"] = rng.choice([True, np.bool_(False)]) if i < 690 else None
            reports.append(Trial(name=f"n{i % 650}", config=cfg).success())
        h = History()
        for k in range(0, 700, 100):
            h.add(reports[k : k + 100])
            done = reports[: k + 100]
            pd.testing.assert_frame_equal(h.df(normalize_time=False), build_frame(rows(done)))
            sub = h[k // 2 :: 3]
            pd.testing.assert_frame_equal(
                sub.df(normalize_time=False), build_frame(rows(done[k // 2 :: 3]))
            )
        assert h.find("n10") is reports[660]  # duplicate names: the last one

    def test_sections_equal_build_frame_of_rows(self) -> None:
        combos = list(itertools.product([True, False], repeat=4))
        for seed in range(4):
            reports = random_reports(seed + 40, n=20, huge_keys=True)
            h = History(reports)
            # all 16 combinations over the seeds, each seed 4 of them
            for flags in combos[seed::4]:
                kw = dict(zip(SECTIONS, flags, strict=True))
                pd.testing.assert_frame_equal(
                    h.df(normalize_time=False, **kw),
                    build_frame(rows(reports, **kw)),
                    obj=f"seed {seed} {kw}",
                )

    def test_df_equals_pandas_own_inference(self) -> None:
        # reference_frame is pandas' DataFrame.from_records(...).convert_dtypes().
        for seed in range(5):
            reports = random_reports(seed)
            h = History(reports)
            pd.testing.assert_frame_equal(
                h.df(normalize_time=False), reference_frame(rows(reports)), obj=f"seed {seed}"
            )
            kw = {"profiles": False, "summary": False}
            pd.testing.assert_frame_equal(
                h.df(normalize_time=False, **kw), reference_frame(rows(reports, **kw))
            )

    def test_columns_first_seen_order_and_dict_order_kept(self) -> None:
        t1 = Trial(name="r1", config={"b": 1, "a": "x"}, metrics=[ACC])
        t2 = Trial(name="r2", config={"c": 2.5, "a": "y", "b": 2}, metrics=[LOSS, ACC])
        h = History([t1.success(acc=0.5), t2.success(loss=1.0, acc=0.25)])
        cols = [c for c in h.df().columns if c.startswith(("config:", "metric:"))]
        assert cols == [
            "metric:acc [0.0, 1.0] (maximize)",
            "config:b",
            "config:a",
            "metric:loss (minimize)",
            "config:c",
        ]
        df = h.df()
        assert str(df["config:b"].dtype) == "Int64"
        assert str(df["config:c"].dtype) == "Float64"
        assert pd.isna(df.loc["r1", "config:c"]) and pd.isna(df.loc["r1", "metric:loss (minimize)"])

    def test_seed_zero_none_and_int(self) -> None:
        reports = [
            Trial(name=f"r{i}", config={}, seed=s).success() for i, s in enumerate([None, 0, 7])
        ]
        df = History(reports).df()
        assert pd.isna(df.loc["r0", "trial_seed"])
        assert df.loc["r1", "trial_seed"] == 0  # a seed (amltk writes it as missing)
        assert df.loc["r2", "trial_seed"] == 7
        pd.testing.assert_frame_equal(df, build_frame(rows(reports)))

    def test_snapshot_taken_at_add(self) -> None:
        t = Trial(name="r", config={"a": 1}, metrics=[LOSS])
        r = t.success(loss=1.0)
        h = History([r])
        before = h.df(normalize_time=False)
        r.summary["late"] = 5
        pd.testing.assert_frame_equal(h.df(normalize_time=False), before)
        assert h[0] is r and h[0].summary == {"late": 5}

    def test_normalize_time(self) -> None:
        for seed in range(3):
            reports = random_reports(seed, n=12, begin_rate=0.6)
            h = History(reports)
            raw = h.df(normalize_time=False)
            norm = h.df()
            time_cols = [c for c in raw.columns if c.endswith(("time:start", "time:end"))]
            starts = [r.time.start for r in reports if not math.isnan(r.time.start)]
            for col in raw.columns:
                if col in time_cols and starts:
                    expected = raw[col] - min(starts)
                    pd.testing.assert_series_equal(norm[col], expected, rtol=0, atol=1e-9)
                else:
                    pd.testing.assert_series_equal(norm[col], raw[col])
            if starts:
                assert norm["time:start"].min() == 0.0
            shifted = h.df(normalize_time=10.0)
            for col in time_cols:
                pd.testing.assert_series_equal(shifted[col], raw[col] - 10.0, rtol=0, atol=1e-9)

    def test_normalize_time_without_any_begin(self) -> None:
        reports = [Trial(name=f"r{i}", config={"i": i}).success() for i in range(3)]
        h = History(reports)
        pd.testing.assert_frame_equal(h.df(), h.df(normalize_time=False))
        assert "time:start" not in h.df().columns


# ============================================================================ 2. subsets
class TestSubsets:
    def test_slices(self) -> None:
        for seed in range(3):
            reports = random_reports(seed, n=random.Random(seed).randint(0, 20), huge_keys=True)
            h = History(reports)
            rng = random.Random(1000 + seed)
            cuts = [
                slice(None),
                slice(None, None, -1),
                slice(-3, None),
                slice(None, -2),
                slice(5, 5),
                slice(100, None),
            ]
            for _ in range(4):
                a, b = rng.randint(-25, 25), rng.randint(-25, 25)
                cuts.append(slice(a, b, rng.choice([None, 1, 2, 3, -1, -2])))
            for cut in cuts:
                sub = h[cut]
                assert isinstance(sub, History)
                assert_same_history(sub, reports[cut])

    def test_filter_and_groupby(self) -> None:
        for seed in range(2):
            reports = random_reports(seed, n=16, huge_keys=True)
            h = History(reports)
            keep = h.filter(lambda r: "a" in r.config)
            assert_same_history(keep, [r for r in reports if "a" in r.config])
            assert_same_history(h.filter(lambda r: False), [])
            groups = h.groupby("status")
            assert list(groups) == list(dict.fromkeys(r.status for r in reports))
            for status, g in groups.items():
                assert_same_history(g, [r for r in reports if r.status == status])
            by_type = h.groupby(lambda r: type(r.config.get("b")).__name__)
            for k, g in by_type.items():
                assert_same_history(
                    g, [r for r in reports if type(r.config.get("b")).__name__ == k]
                )

    def test_subset_drops_columns_absent_from_its_reports(self) -> None:
        r0 = Trial(name="r0", config={"only0": "x", "both": 1}, metrics=[LOSS]).success(loss=1)
        r1 = Trial(name="r1", config={"both": 2.5}, metrics=[ACC]).success(acc=0.5)
        r1.trial.summary["late"] = 1  # after the report, before the add: in the columns
        h = History([r0, r1])
        sub = h[1:]
        assert sub.df().loc["r1", "summary:late"] == 1
        assert "summary:late" in h.df().columns and pd.isna(h.df().loc["r0", "summary:late"])
        assert "config:only0" not in sub.df().columns
        assert "metric:loss (minimize)" not in sub.df().columns
        assert sub.metrics == {"acc": ACC}
        # dtypes are inferred again on the subset: 2.5 alone is Float64, 1 alone Int64
        assert str(h.df()["config:both"].dtype) == "Float64"
        assert str(h[:1].df()["config:both"].dtype) == "Int64"
        with pytest.raises(ValueError, match="loss"):
            sub.best("loss")

    def test_adding_to_a_subset_and_to_its_parent(self) -> None:
        # A subset shares the parent's string tables until one of them appends a new
        # string: each must then see only its own strings.
        for seed in range(3):
            reports = random_reports(seed, n=16, huge_keys=True)
            extra_a = random_reports(seed + 100, n=6, prefix="x", huge_keys=True)
            extra_b = random_reports(seed + 200, n=6, prefix="y", huge_keys=True)
            h = History(reports)
            sub = h[2:10]
            sub.add(extra_a)
            h.add(extra_b)
            assert_same_history(sub, reports[2:10] + extra_a)
            assert_same_history(h, reports + extra_b)
            # and a subset of the grown subset
            assert_same_history(sub[::2], (reports[2:10] + extra_a)[::2])

    def test_new_strings_after_take(self) -> None:
        reports = [
            Trial(name=f"r{i}", config={"k": s}, metrics=[LOSS]).success(loss=float(i))
            for i, s in enumerate("aab")
        ]
        h = History(reports)
        sub = h[:2]
        more_parent = [Trial(name="p", config={"k": "zz"}, metrics=[LOSS]).success(loss=0.0)]
        more_sub = [Trial(name="s", config={"k": "qq"}, metrics=[LOSS]).success(loss=0.0)]
        h.add(more_parent)
        sub.add(more_sub)
        assert list(h.df()["config:k"]) == ["a", "a", "b", "zz"]
        assert list(sub.df()["config:k"]) == ["a", "a", "qq"]
        assert list(h[:2].df()["config:k"]) == ["a", "a"]


# ========================================================================= 3. from_df
def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _without_missing(d: Any) -> dict[str, Any]:
    """Entries that are not None/NaN, numbers as floats (a frame column of ints and floats
    is a float column: ints above 2**53 come back rounded, as pandas reads them)."""
    out = {}
    for k, v in dict(d).items():
        v = _plain(v)
        if _missing(v):
            continue
        out[k] = float(v) if type(v) in (int, float) else v
    return out


AMLTK_COLUMNS = (
    "name",
    "status",
    "trial_seed",
    "exception",
    "traceback",
    "bucket",
    "metric:loss (minimize)",
    "metric:acc [0.0, 1.0] (maximize)",
    "summary:s",
    "config:x",
    "config:k",
    "memory:start_vms",
    "memory:end_vms",
    "memory:diff_vms",
    "memory:start_rss",
    "memory:end_rss",
    "memory:diff_rss",
    "memory:unit",
    "time:start",
    "time:end",
    "time:duration",
    "time:kind",
    "time:unit",
)
AMLTK_CSV = (
    ",".join(f'"{c}"' for c in AMLTK_COLUMNS)
    + """
t0,success,,NA,NA,unknown-trial-bucket,3.0,0.0,0.0,0,a,584204288,584204288,0,187011072,187011072,0,bytes,0.0,2.2411346435546875e-05,2.2411346435546875e-05,wall,seconds
t1,success,1,NA,NA,unknown-trial-bucket,2.0,0.2,1.5,1,b,584204288,584204288,0,187015168,187015168,0,bytes,0.00045013427734375,0.00046181678771972656,1.1682510375976562e-05,wall,seconds
t2,fail,2,boom,"Traceback (most recent call last):
ValueError: boom
",unknown-trial-bucket,inf,0.0,,2,a,584204288,584204288,0,187019264,187129856,110592,bytes,0.0008170604705810547,0.001669168472290039,0.0008521080017089844,wall,seconds
t3,success,3,NA,NA,unknown-trial-bucket,0.0,0.6000000000000001,4.5,3,b,584204288,584204288,0,187129856,187129856,0,bytes,0.0020668506622314453,0.0020813941955566406,1.4543533325195312e-05,wall,seconds
"""
)


class TestFromDf:
    @pytest.mark.parametrize("normalize_time", [False, True])
    def test_round_trip(self, normalize_time: bool) -> None:
        for seed in range(2 if normalize_time else 3):
            reports = random_reports(seed + 7 * normalize_time, palette=ROUND_TRIP_PALETTE)
            h = History(reports)
            df = h.df(normalize_time=normalize_time)
            back = History.from_df(df)
            assert len(back) == len(h)
            assert back.metrics == h.metrics
            pd.testing.assert_frame_equal(
                back.df(normalize_time=normalize_time), df, obj=f"seed {seed}"
            )
            with_name = History.from_df(df.reset_index())
            pd.testing.assert_frame_equal(with_name.df(normalize_time=normalize_time), df)
            # a second trip changes nothing either
            again = History.from_df(back.df(normalize_time=False))
            pd.testing.assert_frame_equal(
                again.df(normalize_time=False), back.df(normalize_time=False)
            )

    def test_rebuilt_reports_have_the_originals_fields(self) -> None:
        for seed in range(6):
            reports = random_reports(seed, palette=ROUND_TRIP_PALETTE)
            back = History.from_df(History(reports).df(normalize_time=False))
            assert [r.name for r in back] == [r.name for r in reports]
            for orig, got in zip(reports, back, strict=True):
                assert got.status == orig.status
                assert got.metrics == orig.metrics
                assert got.metric_defs == orig.metric_defs
                assert _without_missing(got.config) == _without_missing(orig.config)
                assert _without_missing(got.summary) == _without_missing(orig.summary)
                assert got.trial.seed == orig.trial.seed
                assert (got.exception is None) == (orig.exception is None)
                if orig.exception is not None:
                    assert str(got.exception) == str(orig.exception)
                if not math.isnan(orig.time.start):
                    assert got.time.start == orig.time.start
                    assert got.time.end == orig.time.end
                    # (a rebuilt report may gain NaN profiles other rows had, as in amltk)
                    assert set(orig.profiles) <= set(got.profiles)
            # a report is rebuilt once and then kept
            assert back[0] is back[0]
            assert back.find(reports[-1].name) is back[-1]

    def test_queries_on_a_loaded_history(self) -> None:
        for seed in range(4):
            reports = random_reports(seed, n=25, palette=ROUND_TRIP_PALETTE, begin_rate=1.0)
            h = History(reports)
            back = History.from_df(h.df(normalize_time=False))

            def names(rs: Sequence[Trial.Report]) -> list[str]:
                return [r.name for r in rs]

            for m in h.metrics:
                assert back.best(m).name == h.best(m).name
                for rev in (None, True, False):
                    assert names(back.sortby(m, reverse=rev)) == names(h.sortby(m, reverse=rev))
                for ffill in (True, False):
                    assert names(back.incumbents(m, ffill=ffill)) == names(
                        h.incumbents(m, ffill=ffill)
                    )
                for form in ("value", "loss", "score"):
                    np.testing.assert_array_equal(
                        back.metric_values(m, form=form), h.metric_values(m, form=form)
                    )
            if h.metrics:
                assert names(back.pareto_front()) == names(h.pareto_front())
            assert names(back.sortby(lambda r: r.name)) == names(h.sortby(lambda r: r.name))
            groups = back.groupby("status")
            assert {k: names(g) for k, g in groups.items()} == {
                k: names(g) for k, g in h.groupby("status").items()
            }

    def test_missing_status_column_is_refused(self) -> None:
        df = History(random_reports(1, palette=ROUND_TRIP_PALETTE)).df()
        with pytest.raises(ValueError, match="'status'"):
            History.from_df(df.drop(columns=["status"]))

    def test_unknown_status_is_refused(self) -> None:
        df = History(random_reports(1, n=5, palette=ROUND_TRIP_PALETTE)).df()
        df["status"] = df["status"].astype(object)
        df.iloc[3, df.columns.get_loc("status")] = "exploded"
        with pytest.raises(ValueError, match=r"'status'.*'exploded'|'exploded'.*'status'"):
            History.from_df(df)

    def test_non_numeric_metric_column_is_refused(self) -> None:
        reports = [
            Trial(name=f"r{i}", config={}, metrics=[LOSS]).success(loss=float(i)) for i in range(4)
        ]
        df = History(reports).df()
        col = "metric:loss (minimize)"
        df[col] = df[col].astype(object)
        df.loc["r2", col] = "oops"
        with pytest.raises(ValueError, match=re.escape(repr(col))):
            History.from_df(df)

    def test_duplicate_names_in_a_frame(self) -> None:
        reports = [
            Trial(name=n, config={"i": i}, metrics=[LOSS]).success(loss=float(i))
            for i, n in enumerate(["a", "b", "a"])
        ]
        h = History(reports)
        assert h.find("a") is reports[2]
        back = History.from_df(h.df())
        assert len(back) == 3
        assert back.find("a").config == {"i": 2}  # the last one, as in a history
        pd.testing.assert_frame_equal(back.df(), h.df())

    def test_missing_name_is_refused(self) -> None:
        df = History(random_reports(2, n=4, palette=ROUND_TRIP_PALETTE)).df().reset_index()
        df.loc[1, "name"] = None
        with pytest.raises(ValueError, match="name"):
            History.from_df(df)

    def test_loaded_history_grows_and_slices(self) -> None:
        for seed in range(2):
            reports = random_reports(seed, n=15, palette=ROUND_TRIP_PALETTE)
            more = random_reports(seed + 50, n=7, palette=ROUND_TRIP_PALETTE, prefix="m")
            loaded = History.from_df(History(reports).df(normalize_time=False))
            loaded.add(more[:3])
            assert loaded.find(more[0].name) is more[0]
            loaded.add(more[3:])
            assert len(loaded) == len(reports) + len(more)
            assert loaded[-1] is more[-1]
            assert loaded.metrics == History(reports + more).metrics
            pd.testing.assert_frame_equal(
                loaded.df(normalize_time=False),
                History(reports + more).df(normalize_time=False),
                obj=f"seed {seed}",
            )
            # slices of the loaded part: the rows of the loaded frame
            full = loaded.df(normalize_time=False)
            sub = loaded[len(reports) :]
            assert all(a is b for a, b in zip(sub, more, strict=True))
            pd.testing.assert_frame_equal(
                sub.df(normalize_time=False), History(more).df(normalize_time=False)
            )
            assert list(full.index) == [r.name for r in reports + more]
            # a slice of the loaded part frames like a history loaded from those rows
            frame = History(reports).df(normalize_time=False)
            n = len(reports)
            for cut in (slice(2, 6), slice(None, n, 3), slice(n - 1, None, -2)):
                got = loaded[cut].df(normalize_time=False)
                want = History.from_df(frame.iloc[cut]).df(normalize_time=False)
                assert list(got.columns) == list(want.columns)
                pd.testing.assert_index_equal(got.index, want.index)
                for col in want.columns:
                    if want[col].isna().all():  # dtype of all-NA columns: TestKnownBugs
                        assert got[col].isna().all(), col
                    else:
                        pd.testing.assert_series_equal(got[col], want[col], obj=f"{seed} {col}")

    def test_loads_a_frame_written_by_amltk(self) -> None:
        # amltk 1.10's History.df() of four reports (t2 failed), written with to_csv().
        df = pd.read_csv(io.StringIO(AMLTK_CSV)).convert_dtypes()
        h = History.from_df(df)
        assert [r.name for r in h] == ["t0", "t1", "t2", "t3"]
        assert [r.status for r in h] == [SUCCESS, SUCCESS, FAIL, SUCCESS]
        assert h.metrics == {"loss": LOSS, "acc": ACC}
        assert h[2].metrics == {"loss": math.inf, "acc": 0.0}
        assert h[1].config == {"x": 1, "k": "b"} and h[1].trial.seed == 1
        assert h[0].trial.seed is None and h[2].summary == {} and h[3].summary == {"s": 4.5}
        assert str(h[2].exception) == "boom"
        assert h.best("loss").name == h.best("acc").name == "t3"
        assert _names(h.incumbents("loss")) == ["t0", "t1", "t3"]
        assert _names(h.incumbents("acc", ffill=True)) == ["t0", "t1", "t1", "t3"]
        assert _names(h.sortby("acc")) == ["t3", "t1", "t0", "t2"]
        np.testing.assert_array_equal(h.metric_values("loss"), [3.0, 2.0, math.inf, 0.0])
        assert _names(h.pareto_front(["loss"])) == ["t3"]
        assert h.df().loc["t3", "time:start"] == pytest.approx(0.0020668506622314453 - 0.0)
        pd.testing.assert_frame_equal(History.from_df(h.df()).df(), h.df())

    def test_pickle_round_trip(self) -> None:
        reports = random_reports(3, n=12, palette=ROUND_TRIP_PALETTE)
        h = History(reports)
        back = pickle.loads(pickle.dumps(h))
        # (not back == h: a NaN summary value makes the unpickled trial unequal to itself)
        assert [(r.name, r.status, r.metrics) for r in back] == [
            (r.name, r.status, r.metrics) for r in h
        ]
        assert back.metrics == h.metrics
        plain = History(_simple_reports(5))
        assert pickle.loads(pickle.dumps(plain)) == plain
        pd.testing.assert_frame_equal(back.df(normalize_time=False), h.df(normalize_time=False))
        assert [r.name for r in back[3:7]] == [r.name for r in reports[3:7]]


# ============================================================= 4. kernels vs naive Python
def _losses(reports: Sequence[Trial.Report], name: str) -> list[float | None]:
    out: list[float | None] = []
    for r in reports:
        v = next((v for v in r.metric_values if v.metric.name == name), None)
        out.append(None if v is None else v.loss)
    return out


def naive_best(reports: Sequence[Trial.Report], name: str) -> Trial.Report:
    best, best_loss = None, math.inf
    for r, loss in zip(reports, _losses(reports, name), strict=True):
        if loss is not None and (best is None or loss < best_loss):
            best, best_loss = r, loss
    assert best is not None
    return best


def naive_sortby(
    reports: Sequence[Trial.Report], name: str, reverse: bool | None
) -> list[Trial.Report]:
    having = [r for r in reports if name in r.metrics]
    if reverse is None:
        return sorted(having, key=lambda r: r.metric_values[r.metric_names.index(name)].loss)
    return sorted(having, key=lambda r: r.metrics[name], reverse=reverse)


def naive_incumbents(visit: Sequence[Trial.Report], name: str, ffill: bool) -> list[Trial.Report]:
    out: list[Trial.Report] = []
    cur: Trial.Report | None = None
    cur_loss = math.inf
    for r, loss in zip(visit, _losses(visit, name), strict=True):
        if loss is None:
            continue
        if cur is None or loss < cur_loss:
            cur, cur_loss = r, loss
            out.append(r)
        elif ffill:
            out.append(cur)
    return out


def by_end_time(reports: Sequence[Trial.Report], reverse: bool) -> list[Trial.Report]:
    ran = [r for r in reports if not math.isnan(r.time.end)]
    never = [r for r in reports if math.isnan(r.time.end)]
    return sorted(ran, key=lambda r: r.time.end, reverse=reverse) + never


def naive_pareto(reports: Sequence[Trial.Report], names: Sequence[str]) -> list[Trial.Report]:
    cands = []
    for r in reports:
        vals = {v.metric.name: v.loss for v in r.metric_values}
        if all(n in vals for n in names):
            cands.append((r, [vals[n] for n in names]))
    front = []
    for r, a in cands:
        dominated = any(
            all(x <= y for x, y in zip(b, a, strict=True))
            and any(x < y for x, y in zip(b, a, strict=True))
            for _, b in cands
        )
        if not dominated:
            front.append(r)
    return front


def _names(reports: Sequence[Trial.Report]) -> list[str]:
    return [r.name for r in reports]


class TestKernels:
    def test_best(self) -> None:
        for seed in range(25):
            reports = random_reports(seed, n=20)
            h = History(reports)
            for name in h.metrics:
                assert h.best(name) is naive_best(reports, name), (seed, name)
            if len(h.metrics) == 1:
                assert h.best() is naive_best(reports, next(iter(h.metrics)))
            elif len(h.metrics) > 1:
                with pytest.raises(ValueError, match="multiple metrics"):
                    h.best()

    def test_best_ties_pick_the_first(self) -> None:
        reports = [
            Trial(name=f"r{i}", config={}, metrics=[ACC]).success(acc=v)
            for i, v in enumerate([0.5, 0.9, 0.2, 0.9])
        ]
        assert History(reports).best().name == "r1"
        fails = [Trial(name=f"f{i}", config={}, metrics=[LOSS]).fail() for i in range(3)]
        assert History(fails).best().name == "f0"  # all inf: still the first

    def test_best_errors(self) -> None:
        h = History(random_reports(4, n=10))
        with pytest.raises(ValueError, match=r"nope.*'loss'|'loss'.*nope"):
            h.best("nope")
        with pytest.raises(ValueError, match="metric"):
            History([Trial(name="x", config={}).success()]).best()

    def test_sortby(self) -> None:
        for seed in range(25):
            reports = random_reports(seed, n=20)
            h = History(reports)
            for name in h.metrics:
                for rev in (None, True, False):
                    got = h.sortby(name, reverse=rev)
                    assert _names(got) == _names(naive_sortby(reports, name, rev)), (seed, rev)
            got = h.sortby(lambda r: r.config.get("a") is None)
            assert _names(got) == _names(sorted(reports, key=lambda r: r.config.get("a") is None))

    def test_sortby_ties_keep_insertion_order(self) -> None:
        values = [2, 1, 2, 1, 3, 1, 2]
        reports = [
            Trial(name=f"r{i}", config={}, metrics=[SCORE]).success(score=v)
            for i, v in enumerate(values)
        ]
        h = History(reports)
        assert _names(h.sortby("score")) == ["r4", "r0", "r2", "r6", "r1", "r3", "r5"]
        assert _names(h.sortby("score", reverse=False)) == [
            "r1",
            "r3",
            "r5",
            "r0",
            "r2",
            "r6",
            "r4",
        ]
        assert _names(h.sortby("score", reverse=True)) == _names(h.sortby("score"))

    def test_incumbents(self) -> None:
        for seed in range(10):
            reports = random_reports(seed, n=20, begin_rate=0.8)
            h = History(reports)
            for name in h.metrics:
                for ffill, rev in itertools.product((True, False), (None, True, False)):
                    # default order: end time, never-run reports last
                    got = h.incumbents(name, ffill=ffill, reverse=rev)
                    want = naive_incumbents(by_end_time(reports, bool(rev)), name, ffill)
                    assert _names(got) == _names(want), (seed, name, ffill, rev)
                    # visiting by a callable
                    key = lambda r: (len(r.config), r.name)  # noqa: E731
                    got = h.incumbents(name, sortby=key, reverse=rev, ffill=ffill)
                    visit = sorted(reports, key=key, reverse=bool(rev))
                    assert _names(got) == _names(naive_incumbents(visit, name, ffill))
                    # visiting by a metric (reports without it are not visited)
                    for other in h.metrics:
                        got = h.incumbents(name, sortby=other, reverse=rev, ffill=ffill)
                        visit = naive_sortby(reports, other, rev)
                        assert _names(got) == _names(naive_incumbents(visit, name, ffill))

    def test_incumbents_callable_key(self) -> None:
        for seed in range(8):
            reports = random_reports(seed, n=15, metrics=[LOSS], begin_rate=1.0)
            h = History(reports)

            def better(new: Trial.Report, cur: Trial.Report) -> bool:
                return new.metrics.get("loss", math.inf) < cur.metrics.get("loss", math.inf)

            for ffill in (True, False):
                out: list[Trial.Report] = []
                cur = None
                for r in by_end_time(reports, False):
                    if cur is None or better(r, cur):
                        cur = r
                        out.append(r)
                    elif ffill:
                        out.append(cur)
                assert _names(h.incumbents(better, ffill=ffill)) == _names(out)

    @staticmethod
    def _pareto_histories(
        seed: int, metrics: Sequence[Metric], count: int
    ) -> list[list[Trial.Report]]:
        rng = random.Random(seed)
        out = []
        for _ in range(count):
            reports = []
            for i in range(rng.randint(1, 40)):
                have = [m for m in metrics if rng.random() < 0.9]
                t = Trial(name=f"r{i}", config={}, metrics=have)
                if rng.random() < 0.1:
                    reports.append(t.fail())  # worst values: inf for unbounded metrics
                else:
                    # few distinct values: ties and duplicates
                    values = {m.name: rng.choice([0, 1, 2, 3]) for m in have}
                    reports.append(t.success(**values))
            out.append(reports)
        return out

    def _check_pareto(self, reports: list[Trial.Report], names_: list[str]) -> None:
        h = History(reports)
        if not all(n in h.metrics for n in names_):
            return
        assert _names(h.pareto_front()) == _names(naive_pareto(reports, list(h.metrics)))
        assert _names(h.pareto_front(names_)) == _names(naive_pareto(reports, names_))
        assert _names(h.pareto_front(names_[::-1])) == _names(naive_pareto(reports, names_))
        for one in names_:
            assert _names(h.pareto_front([one])) == _names(naive_pareto(reports, [one]))
            assert _names(h.pareto_front(one)) == _names(naive_pareto(reports, [one]))

    def test_pareto_front_minimized_metrics(self) -> None:
        m3 = Metric("m3", minimize=True, bounds=(0.0, 3.0))
        m4 = Metric("m4", minimize=True)
        for k, ms in enumerate(([LOSS, m4], [LOSS, m4, m3])):
            for reports in self._pareto_histories(k, ms, 25):
                self._check_pareto(reports, [m.name for m in ms])

    def test_pareto_front_keeps_equal_reports_and_leaves_out_missing(self) -> None:
        m4 = Metric("m4", minimize=True)
        specs = [(1, 1), (1, 1), (0, 2), (2, 0), (2, 2), (None, 0)]
        reports = []
        for i, (a, b) in enumerate(specs):
            ms = [m4] if a is None else [LOSS, m4]
            vals = {"m4": b} if a is None else {"loss": a, "m4": b}
            reports.append(Trial(name=f"r{i}", config={}, metrics=ms).success(**vals))
        h = History(reports)
        assert _names(h.pareto_front()) == ["r0", "r1", "r2", "r3"]
        assert _names(h.pareto_front(["m4"])) == ["r3", "r5"]

    def test_pareto_front_errors(self) -> None:
        h = History(random_reports(5, n=10))
        with pytest.raises(ValueError, match="nope"):
            h.pareto_front(["loss", "nope"])
        with pytest.raises(ValueError, match="at least one metric"):
            h.pareto_front([])

    def test_metric_values_forms(self) -> None:
        for seed in range(20):
            reports = random_reports(seed, n=20)
            h = History(reports)
            for name, m in h.metrics.items():
                vals = [
                    next((v for v in r.metric_values if v.metric.name == name), None)
                    for r in reports
                ]
                forms: dict[str, Callable[[Metric.Value], float]] = {
                    "value": lambda v: float(v.value),
                    "loss": lambda v: v.loss,
                    "score": lambda v: v.score,
                }
                if m.bounds is not None:
                    width = m.bounds[1] - m.bounds[0]
                    forms["distance_to_optimal"] = lambda v: v.distance_to_optimal
                    forms["normalized_loss"] = lambda v, w=width: v.distance_to_optimal / w
                for form, f in forms.items():
                    got = h.metric_values(name, form=form)  # type: ignore[arg-type]
                    assert got.dtype == np.float64 and got.shape == (len(reports),)
                    want = np.array([math.nan if v is None else f(v) for v in vals])
                    np.testing.assert_array_equal(got, want, err_msg=f"{seed} {name} {form}")
                if m.bounds is None:
                    for form in ("distance_to_optimal", "normalized_loss"):
                        with pytest.raises(ValueError, match=f"{name}.*bounds"):
                            h.metric_values(name, form=form)  # type: ignore[arg-type]
            if len(h.metrics) == 1:
                np.testing.assert_array_equal(
                    h.metric_values(), h.metric_values(next(iter(h.metrics)))
                )

    def test_metric_values_out_of_bounds_names_the_report(self) -> None:
        good = [Trial(name=f"g{i}", config={}, metrics=[ACC]).success(acc=0.5) for i in range(3)]
        bad = Trial(name="bad_one", config={}, metrics=[ACC]).success(acc=1.5)
        h = History([*good, bad])
        np.testing.assert_array_equal(h.metric_values("acc", form="loss"), [-0.5] * 3 + [-1.5])
        for form in ("distance_to_optimal", "normalized_loss"):
            with pytest.raises(ValueError, match="bad_one"):
                h.metric_values("acc", form=form)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="form"):
            h.metric_values("acc", form="nope")  # type: ignore[arg-type]

    def test_metric_values_of_a_subset_and_of_a_missing_metric(self) -> None:
        reports = [
            Trial(name="l", config={}, metrics=[LOSS]).success(loss=2.0),
            Trial(name="a", config={}, metrics=[ACC]).success(acc=0.25),
        ]
        h = History(reports)
        np.testing.assert_array_equal(h.metric_values("acc"), [math.nan, 0.25])
        np.testing.assert_array_equal(h[1:].metric_values("acc", form="loss"), [-0.25])
        with pytest.raises(ValueError, match="loss"):
            h[1:].metric_values("loss")

    def test_to_float64_accepts(self) -> None:
        got = _core.to_float64(
            [
                1,
                2.5,
                np.float32(0.5),
                np.int64(3),
                np.int32(-4),
                np.uint8(7),
                None,
                math.nan,
                np.float16(1.5),
                np.array(2.0),
                2**60,
            ],
            "col",
        )
        np.testing.assert_array_equal(
            np.asarray(got), [1, 2.5, 0.5, 3, -4, 7, math.nan, math.nan, 1.5, 2.0, 2.0**60]
        )
        for arr in (
            np.arange(4),
            np.arange(4, dtype=np.float32),
            np.arange(8.0)[::2],
            np.arange(4, dtype=np.uint64),
            np.arange(4, dtype=">f8"),
        ):
            np.testing.assert_array_equal(np.asarray(_core.to_float64(arr, "c")), arr.astype(float))
        assert len(_core.to_float64([], "c")) == 0

    def test_to_float64_refuses_naming_the_position(self) -> None:
        cases = [
            ([1.0, "x"], 1),
            ([1.0, 2.0, True], 2),
            ([np.bool_(False)], 0),
            (np.array([1.0, 2.0]).astype(bool), 0),
            ([0.5, [1.0]], 1),
            ([1, 2, 3, b"4"], 3),
            ([1.0, 2**2000], 1),
            ([1.0, None, {"a": 1}], 2),
        ]
        for values, pos in cases:
            with pytest.raises(ValueError, match=re.escape(f"col[{pos}]")):
                _core.to_float64(values, "col")


# ========================================================================== 5. add()
class TestAdd:
    def test_conflicting_metric_adds_nothing(self) -> None:
        reports = random_reports(11, n=12)
        h = History(reports)
        before = h.df(normalize_time=False)
        metrics_before = dict(h.metrics)
        other = Metric("acc", minimize=True)  # acc is maximized in the history
        new_metric = Metric("brand_new")
        good = Trial(name="fine", config={"zz_new_key": 1}, metrics=[new_metric])
        bad = Trial(name="clash", config={"zz_other": "x"}, metrics=[new_metric, other])
        batch = [good.success(brand_new=1.0), bad.success(brand_new=2.0, acc=0.3)]
        with pytest.raises(ValueError) as info:
            h.add(batch)
        msg = str(info.value)
        assert "acc (minimize)" in msg and "acc [0.0, 1.0] (maximize)" in msg, msg
        assert len(h) == len(reports)
        assert h.metrics == metrics_before
        pd.testing.assert_frame_equal(h.df(normalize_time=False), before)
        with pytest.raises(KeyError):
            h.find("fine")
        # and the history still works normally afterwards
        h.add(batch[0])
        assert_same_history(h, [*reports, batch[0]])

    def test_conflict_within_one_batch(self) -> None:
        h = History()
        a = Trial(name="a", config={}, metrics=[Metric("q", bounds=(0, 1))]).success(q=0.5)
        b = Trial(name="b", config={}, metrics=[Metric("q")]).success(q=0.5)
        with pytest.raises(ValueError, match=r"q.*q"):
            h.add([a, b])
        assert len(h) == 0 and h.metrics == {}
        assert len(h.df()) == 0

    def test_non_report_in_a_batch_adds_nothing(self) -> None:
        reports = random_reports(12, n=8)
        h = History(reports)
        _ = h.find(reports[0].name)  # build the lookup first
        before = h.df(normalize_time=False)
        extra = random_reports(13, n=3, prefix="x")
        for bad in ([*extra, "nope"], [extra[0], None], [extra[1], extra[0].trial]):
            with pytest.raises(TypeError):
                h.add(bad)
            assert len(h) == len(reports)
            pd.testing.assert_frame_equal(h.df(normalize_time=False), before)
            with pytest.raises(KeyError):
                h.find(extra[0].name)
        for bad_single in ("t0", 3, None, extra[0].trial):
            with pytest.raises(TypeError):
                h.add(bad_single)
        assert len(h) == len(reports)

    def test_reports_are_not_copied(self) -> None:
        reports = random_reports(14, n=10)
        h = History()
        h.add(reports[:4])
        h.add(iter(reports[4:]))
        assert all(h[i] is r for i, r in enumerate(reports))
        assert all(h[r.name] is r for r in reports)
        assert all(a is b for a, b in zip(h, reports, strict=True))
        assert all(a is b for a, b in zip(h.reports, reports, strict=True))
        assert h[-1] is reports[-1] and h[-10] is reports[0]
        assert h[np.int64(3)] is reports[3] and h[np.intp(-2)] is reports[-2]
        with pytest.raises(IndexError):
            h[10]
        with pytest.raises(IndexError):
            h[-11]

    def test_table_extend_is_all_or_nothing(self) -> None:
        # History checks a batch before it touches its table; the table itself must still
        # undo a half-appended batch (new keys, new layouts, widened columns).
        from types import MappingProxyType

        from fasttrial.optimization._frames import table_frame
        from fasttrial.optimization._table import Table

        rows0 = [{"name": "a", "x": 1, "b": True, "s": "p"}, {"name": "b", "s": "q", "x": 2}]
        table = Table()
        table.extend(rows0)
        before = table_frame(table)
        bad = [
            {"name": "c", "x": 2.5, "s": "new", "b": None, "k": 1},
            {"name": "d", "y": 3, "s": 7},
            {"name": "e", "x": 2**60},
            MappingProxyType({"name": "f", "z": 1}),  # not a dict: refused by the core
        ]
        with pytest.raises(TypeError):
            table.extend(bad)  # type: ignore[arg-type]
        assert table.n == 2 and table.keys == ["name", "x", "b", "s"]
        assert [table.row(i) for i in range(2)] == rows0
        pd.testing.assert_frame_equal(table_frame(table), before)
        more = [{"name": "c", "x": 2.5, "s": "new"}, {"name": "d", "y": 3}]
        table.extend(more)
        pd.testing.assert_frame_equal(table_frame(table), build_frame(rows0 + more))
        assert ["y" in table.row(i) for i in range(4)] == [False, False, False, True]

    def test_find_after_many_adds_and_duplicates(self) -> None:
        rng = random.Random(3)
        h = History()
        expected: dict[str, Trial.Report] = {}
        for step in range(300):
            name = f"n{rng.randint(0, 80)}"
            r = Trial(name=name, config={"step": step}, metrics=[LOSS]).success(loss=step)
            h.add(r if step % 2 else [r])
            expected[name] = r  # the last report of a name wins
            if step % 37 == 0:  # the lookup is built at some point, then kept up to date
                probe = rng.choice(list(expected))
                assert h.find(probe) is expected[probe]
        assert all(h.find(n) is r for n, r in expected.items())
        assert all(h[n] is r for n, r in expected.items())
        fresh = History(list(h))  # lookup built from scratch: the same answer
        assert all(fresh.find(n) is r for n, r in expected.items())
        with pytest.raises(KeyError, match="missing"):
            h.find("missing")

    def test_equality(self) -> None:
        reports = random_reports(15, n=8)
        h = History(reports)
        assert h == History(reports)
        assert h[2:5] == History(reports[2:5])
        assert h != History(reports[::-1])


# ===================================================================== 6. memory budget
def _simple_reports(n: int, start: int = 0) -> list[Trial.Report]:
    out = []
    for i in range(start, start + n):
        t = Trial(
            name=f"trial-{i}", config={"lr": 0.001 * (i % 97), "depth": i % 7}, metrics=[LOSS]
        )
        with t.begin():
            pass
        out.append(t.success(loss=float(i % 101)))
    return out


def test_retained_memory_per_report() -> None:
    n = 20_000
    warm = History(_simple_reports(50))
    warm.best()
    warm.sortby("loss")
    warm.incumbents("loss")
    del warm
    gc.collect()
    tracemalloc.start()
    try:
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
        h = History(_simple_reports(n))
        gc.collect()
        after_add = tracemalloc.get_traced_memory()[0] - base
        h.best()
        h.sortby("loss")
        h.incumbents("loss")
        gc.collect()
        after_queries = tracemalloc.get_traced_memory()[0] - base
        assert len(h) == n
    finally:
        tracemalloc.stop()
    per_report = max(after_add, after_queries) / n
    print(
        f"\nretained bytes per report (History and its reports, n={n}): "
        f"{after_add / n:.0f} after add, {after_queries / n:.0f} after queries"
    )
    assert per_report <= 1024, per_report


# =========================================================================== 7. display
def test_display_of_a_huge_history_is_bounded() -> None:
    from rich.console import Console

    n = 50_000
    h = History(
        Trial(name=f"trial_{i}", config={"i": i}, metrics=[LOSS]).success(loss=float(i % 13))
        for i in range(n)
    )
    console = Console(width=250, record=True, file=io.StringIO(), color_system=None)
    console.print(h)
    text = console.export_text()
    names = set(re.findall(r"\btrial_\d+\b", text))
    assert {"trial_0", "trial_9", f"trial_{n - 10}", f"trial_{n - 1}"} <= names
    assert len(names) <= 20
    assert str(n) in text.replace(",", "")
    assert "more rows" in text
    assert len(text.splitlines()) < 200

    html = h._repr_html_()
    names = set(re.findall(r"\btrial_\d+\b", html))
    assert {"trial_0", "trial_9", f"trial_{n - 10}", f"trial_{n - 1}"} <= names
    assert len(names) <= 20
    assert html.count("<tr") <= 60


def test_html_of_a_long_history_mentions_the_total() -> None:
    h = History(Trial(name=f"trial_{i}", config={}).success() for i in range(123))
    html = h._repr_html_()
    assert "trial_50" not in html
    assert "123" in html


# ========================================================================= known bugs
class TestRegressions:
    """Minimal cases of bugs these tests found in the first columnar History."""

    def test_subset_metrics_in_first_seen_order(self) -> None:
        reports = [
            Trial(name="l", config={}, metrics=[LOSS]).success(loss=1.0),
            Trial(name="a", config={}, metrics=[ACC]).success(acc=0.5),
        ]
        h = History(reports)
        rev = h[::-1]
        assert list(rev.df().columns).index("metric:acc [0.0, 1.0] (maximize)") < list(
            rev.df().columns
        ).index("metric:loss (minimize)")
        assert list(rev.metrics) == list(History(reports[::-1]).metrics) == ["acc", "loss"]

    def test_pareto_front_maximized_metric(self) -> None:
        reports = [
            Trial(name=f"r{i}", config={}, metrics=[ACC]).success(acc=v)
            for i, v in enumerate([0.1, 0.9])
        ]
        assert _names(History(reports).pareto_front()) == ["r1"]

    def test_pareto_front_mixed_directions(self) -> None:
        m2 = Metric("m2", minimize=False)
        m3 = Metric("m3", minimize=True, bounds=(0.0, 3.0))
        for k, ms in enumerate(([LOSS, m2], [LOSS, m2, m3], [SCORE, m2])):
            for reports in TestKernels._pareto_histories(10 + k, ms, 20):
                TestKernels()._check_pareto(reports, [m.name for m in ms])

    def test_from_df_keeps_ints_just_above_2_53(self) -> None:
        reports = [Trial(name="r", config={"x": 2**53 + 1}).success()]
        df = History(reports).df()
        assert df.loc["r", "config:x"] == 2**53 + 1
        back = History.from_df(df)
        assert back.df().loc["r", "config:x"] == 2**53 + 1
        assert back[0].config["x"] == 2**53 + 1

    def test_from_df_keeps_narrow_numpy_dtypes(self) -> None:
        reports = [
            Trial(name=f"r{i}", config={"n": np.int32(i), "f": np.float32(0.5)}).success()
            for i in range(3)
        ]
        df = History(reports).df()
        assert str(df["config:n"].dtype) == "Int32" and str(df["config:f"].dtype) == "Float32"
        pd.testing.assert_frame_equal(History.from_df(df).df(), df)

    def test_huge_int_next_to_a_float(self) -> None:
        reports = [
            Trial(name="a", config={"x": -(2**63) - 7}).success(),
            Trial(name="b", config={"x": 1.0}).success(),
        ]
        h = History(reports)
        assert h.df().loc["a", "config:x"] == -(2**63) - 7
        pd.testing.assert_frame_equal(h.df(normalize_time=False), reference_frame(rows(reports)))

    def test_numpy_int64_then_uint64(self) -> None:
        reports = [
            Trial(name="a", config={"x": np.int64(3)}).success(),
            Trial(name="b", config={"x": np.uint64(5)}).success(),
        ]
        h = History(reports)
        pd.testing.assert_frame_equal(h.df(normalize_time=False), build_frame(rows(reports)))

    def test_pickled_loaded_history_keeps_its_frame(self) -> None:
        t = Trial(name="b", config={}, metrics=[LOSS])
        with t.begin():
            pass
        h = History([Trial(name="a", config={"k": 1}).success(), t.success(loss=1.0)])
        loaded = History.from_df(h.df(normalize_time=False))
        again = pickle.loads(pickle.dumps(loaded))
        pd.testing.assert_frame_equal(
            again.df(normalize_time=False), loaded.df(normalize_time=False)
        )

    def test_slice_of_loaded_history_all_missing_string_column(self) -> None:
        reports = [
            Trial(name="a", config={"k": "x"}).success(),
            Trial(name="b", config={"j": 1}).success(),
        ]
        frame = History(reports).df()
        loaded = History.from_df(frame)
        pd.testing.assert_frame_equal(loaded[1:].df(), History.from_df(frame.iloc[1:]).df())

    def test_round_trip_of_numpy_int64_next_to_uint64(self) -> None:
        reports = [
            Trial(name="a", config={"x": np.int64(7)}).success(),
            Trial(name="b", config={"x": np.uint64(5)}).success(),
        ]
        df = History(reports).df()
        assert df["config:x"].dtype == object  # as pandas infers it (reference_frame)
        pd.testing.assert_frame_equal(History.from_df(df).df(), df)


# ===================================================================== add() fast path
class TestAddFastPath:
    """``History.add`` writes a report straight from its C fields once a report of the same
    signature (metrics, summary and config keys, profile names) went through ``_row()``."""

    @staticmethod
    def _ran(name: str, config: dict[str, Any], *, fit: bool = True) -> Trial[Any]:
        trial = Trial(name=name, config=config, metrics=[LOSS, ACC])
        with trial.begin():
            if fit:
                with trial.profile("fit"):
                    pass
        return trial

    def test_fast_rows_equal_row_dicts(self) -> None:
        reports = []
        for i in range(40):
            trial = self._ran(f"t{i}", {"x": [1, 2.5, "a", True, None, 2**60][i % 6], "k": i})
            if i % 4 == 0:
                trial.summary["s"] = float(i)
            reports.append(trial.success(loss=float(i), acc=0.5))
        h = History()
        for r in reports:
            h.add(r)
        assert _core.report_signature(reports[-1]) in h._table.plans
        pd.testing.assert_frame_equal(
            h.df(normalize_time=False), build_frame(rows(reports)), check_exact=True
        )

    def test_reports_the_fast_path_does_not_take(self) -> None:
        from fasttrial.profiling import Memory, Profile, Timer

        h = History()
        expected: list[dict[str, Any]] = []

        def add(report: Trial.Report) -> None:
            expected.append(report._row())  # the row as it is when added
            h.add(report)

        done = self._ran("done", {"x": 1}).success(loss=1.0, acc=0.5)
        assert _core.report_signature(done) is not None
        add(done)
        add(done)  # the second one of a signature is fast
        running = Trial(name="running", config={"x": 1}, metrics=[LOSS, ACC])
        with running.begin():
            with running.profile("fit"):
                pass
            report = running.success(loss=2.0, acc=0.5)
            assert _core.report_signature(report) is None  # "trial" is still running
            add(report)
        given = self._ran("given", {"x": 3})
        given.profiler.profiles["trial:fit"] = Profile.Interval(
            memory=Memory.Interval(1.0, 2.0, 3.0, 4.0, Memory.Unit.BYTES),
            time=Timer.Interval(1.0, 2.0, Timer.Kind.WALL, Timer.Unit.SECONDS),
        )
        given_report = given.success(loss=3.0, acc=0.5)
        odd = self._ran("odd", {"x": 1})
        odd.config = _Config({"x": 4})
        odd_report = odd.success(loss=4.0, acc=0.5)
        assert _core.report_signature(given_report) is None
        assert _core.report_signature(odd_report) is None
        for r in (given_report, odd_report, done, given_report, odd_report):
            add(r)
        pd.testing.assert_frame_equal(
            h.df(normalize_time=False), build_frame(expected), check_exact=True
        )

    def test_a_failing_batch_leaves_the_table_as_it_was(self) -> None:
        good = [self._ran(f"g{i}", {"x": i}).success(loss=1.0, acc=0.5) for i in range(3)]
        h = History(good)
        before = h.df(normalize_time=False)
        plans = dict(h._table.plans)
        bad = self._ran("bad", {"x": 9}).success(loss=1.0, acc=0.5)
        bad.trial.config = ["not", "a", "dict"]  # type: ignore[assignment]
        with pytest.raises(AttributeError):
            h.add([self._ran("g3", {"x": 3}).success(loss=1.0, acc=0.5), bad])
        assert len(h) == 3
        assert h._table.plans == plans
        pd.testing.assert_frame_equal(h.df(normalize_time=False), before)


class _Config(dict):  # type: ignore[type-arg]
    """A dict subclass: the fast path leaves it to _row()."""
