"""Tests of ``History.to_parquet`` / ``from_parquet`` / ``to_csv`` / ``from_csv``.

The promise (docs/compat.md, "Additions"): a file written by ``to_X`` reads back with
``from_X`` to the same ``df(normalize_time=False)`` -- dtypes, NaN, keys only some reports
have, config keys of mixed types -- files are replaced atomically, and plain CSV/Parquet
files of a ``df()`` frame written by pandas load too.

Every exact comparison uses ``check_exact=True`` (``assert_frame_equal`` otherwise allows a
relative error of 1e-5 on floats).  Where a per-report value is checked, the reference is
the in-memory round trip ``History.from_df(h.df(normalize_time=False))``: the file must
add no loss of its own on top of what ``df()`` already does.
"""

from __future__ import annotations

import json
import math
import os
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fasttrial.optimization import History, Metric, Trial

LOSS = Metric("loss", minimize=True)
ACC = Metric("acc", minimize=False, bounds=(0.0, 1.0))
ERR = Metric("err", minimize=True, bounds=(-5.0, 5.0))

FORMATS = ("parquet", "csv")

TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/x/y, z.py", line 3, in <module>\n'
    "    f(a='1,2', b=\"q\")\r\n"
    "ValueError: bad value \"x\", expected 'y'\n"
)
EXC_TEXT = "bad value \"x\",\nexpected 'y' — ü"
NA_LIKE = ("NA", "nan", "", "null", "None", "NaN", "N/A", "<NA>", "#N/A", "-nan", "n/a", " ")


# ------------------------------------------------------------------------------ helpers
def write(h: History, fmt: str, path: str | os.PathLike[str]) -> None:
    getattr(h, f"to_{fmt}")(path)


def read(fmt: str, path: str | os.PathLike[str]) -> History:
    return getattr(History, f"from_{fmt}")(path)


def round_trip(h: History, fmt: str, path: str | os.PathLike[str] | None = None) -> History:
    path = f"history.{fmt}" if path is None else path
    write(h, fmt, path)
    return read(fmt, path)


def assert_same_frame(back: History, h: History) -> None:
    got, want = back.df(normalize_time=False), h.df(normalize_time=False)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    # assert_frame_equal takes None for NaN (and a tuple for a list) in object columns;
    # df() tells them apart (a None value vs a missing key), so must the file.
    for col in want.columns:
        if want[col].dtype == object:
            assert [(type(v), repr(v)) for v in got[col]] == [
                (type(v), repr(v)) for v in want[col]
            ], col


def canon(d: Any) -> str:
    """A comparable form that tells 1 from 1.0, True, "1", a tuple from a list and
    {1: ..} from {"1": ..}, and NaN equal to NaN."""
    return repr(d)


def assert_same_reports(back: History, h: History) -> None:
    """Per-report fields of ``back`` equal those of the in-memory round trip of ``h``."""
    ref = History.from_df(h.df(normalize_time=False))
    assert len(back) == len(ref) == len(h)
    assert [r.name for r in back] == [r.name for r in h]
    assert [canon(r.config) for r in back] == [canon(r.config) for r in ref]
    assert [canon(r.summary) for r in back] == [canon(r.summary) for r in ref]
    assert [canon(r.metrics) for r in back] == [canon(r.metrics) for r in ref]
    assert [r.status for r in back] == [r.status for r in h]
    assert [r.traceback for r in back] == [r.traceback for r in ref]
    assert [str(r.exception) for r in back] == [str(r.exception) for r in ref]
    assert back.metrics == h.metrics


def _ran(
    trial: Trial[Any], *, profile: str | None = None, raise_inside: bool = False
) -> Trial[Any]:
    with trial.begin():
        if profile is not None:
            with trial.profile(profile):
                pass
        if raise_inside:
            raise ValueError('boom, "inside"\nsecond line')
    return trial


def simple_history(n: int = 5, metric: Metric = LOSS, prefix: str = "t") -> History:
    reports = []
    for i in range(n):
        trial = _ran(Trial(name=f"{prefix}{i}", config={"i": i}, metrics=[metric]))
        reports.append(trial.success(**{metric.name: 0.25 * ((i * 3) % n)}))
    return History(reports)


def rich_reports() -> list[Trial.Report]:
    """Everything item 1 of the brief lists, in one history of 10 reports."""
    mixed = [1, "one", 1.5, True, None, [1, "a", None, 2.5], {"a": {"b": [1, 2]}, "c": ""}, ""]
    specs: list[dict[str, Any]] = [
        # config, summary, metrics (+ values or a status), seed, profile
        dict(seed=0, metrics={"loss": 0.5, "acc": 0.25}, profile="fit"),
        dict(seed=None, metrics={"loss": None, "acc": None}, status="fail"),
        dict(seed=2**62, metrics={"acc": 0.875, "err": -1.5}, profile="predict"),
        dict(seed=7, metrics={"loss": 0.125, "acc": 0.75, "err": 4.0}),
        dict(seed=None, metrics={"loss": None, "acc": None}, status="crashed"),
        dict(seed=123456789, metrics={"err": -5.0}, profile="fit"),
        dict(seed=1, metrics={"loss": 0.1 + 0.2, "acc": 1.0}),
        dict(seed=None, metrics={}, status="raised"),
        dict(seed=2**31 - 1, metrics={"loss": 2.5e-300, "acc": 0.0, "err": 5.0}),
        dict(seed=3, metrics={"loss": 1e300}),
    ]
    reports = []
    for i, spec in enumerate(specs):
        config: dict[str, Any] = {
            "mixed": mixed[i % len(mixed)],
            "na_str": NA_LIKE[i],  # a pure string column holding "" and NA-like strings
            "int": i - 3,
            "near53": [2**53 - 1, 2**53, 2**53 + 1, -(2**53) - 1][i % 4],
            "huge": [2**63, 5, -(2**63) - 7, "s", 2**64 + 1, None, 2**100, 0, -1, 2**63 - 1][i],
            "flt": [0.1, 1 / 3, 5e-324, 1.7976931348623157e308, -0.5][i % 5],
            "text": ['a,b "c"\nd', "é ☃ 日本語", "x\r\ny", "'", "#comment", "\t"][i % 6],
        }
        if i % 3 == 0:
            config["partial"] = ["only", "some"][i % 2]
        if i == 4:
            config["lone_list"] = []
        if i in (2, 5):
            config["only_bool"] = i == 2
        if i == 6:
            config['ключ, "q"\n'] = "κλειδί"
        trial: Trial[Any] = Trial(
            name=f"trial_{i}" if i != 6 else 'tr ü, "6"',
            config=config,
            metrics=[{"loss": LOSS, "acc": ACC, "err": ERR}[k] for k in spec["metrics"]],
            seed=spec["seed"],
        )
        _ran(trial, profile=spec.get("profile"), raise_inside=spec.get("status") == "raised")
        if i % 2 == 0:
            trial.summary["s_float"] = [math.nan, math.inf, -math.inf, 1.5, 0.1][(i // 2) % 5]
        if i in (1, 3, 9):
            trial.summary["s_mixed"] = {1: 2, 3: "three", 9: math.nan}[i]
        if i == 5:
            trial.summary["s_text"] = TRACEBACK
        status = spec.get("status")
        if status == "fail":
            reports.append(trial.fail())
        elif status == "crashed":
            reports.append(trial.crashed(exception=ValueError(EXC_TEXT), traceback=TRACEBACK))
        elif status == "raised":
            reports.append(trial.crashed())
        else:
            reports.append(trial.success(**spec["metrics"]))
    return reports


# A compact random generator: config keys of mixed types (subset, random order), summary
# keys with NaN/inf, subsets of metrics, seeds, profiles, fail/crashed.  Only values the
# files promise to keep (numbers, strings, bools, None, lists, dicts with str keys).
_PALETTE: tuple[Callable[[random.Random], Any], ...] = (
    lambda r: r.randint(-3, 3),
    lambda r: float(r.randint(0, 3)),
    lambda r: r.random(),
    lambda r: r.choice(["a", "", "NA", "nan", "None", "x,y", 'q"q', "l1\nl2", "ü"]),
    lambda r: r.random() < 0.5,
    lambda r: None,
    lambda r: math.nan,
    lambda r: r.choice([math.inf, -math.inf]),
    lambda r: [1, r.randint(0, 2), "s"],
    lambda r: {"x": {"y": r.randint(0, 2)}},
    lambda r: 2**53 + r.randint(-2, 2),
    lambda r: r.choice([2**64 + 1, -(2**63) - 7]),
)
_SUMMARY: tuple[Callable[[random.Random], Any], ...] = (
    lambda r: math.nan,
    lambda r: math.inf,
    lambda r: -math.inf,
    lambda r: r.random(),
    lambda r: r.randint(0, 5),
    lambda r: r.choice(["s", "", "NA"]),
)


def random_history(seed: int) -> History:
    rng = random.Random(seed)
    reports = []
    for i in range(rng.randint(2, 25)):
        keys = rng.sample(["a", "b", "c", "d"], rng.randint(0, 4))
        config = {k: rng.choice(_PALETTE)(rng) for k in keys}
        metrics = [m for m in (LOSS, ACC, ERR) if rng.random() < 0.6]
        trial: Trial[Any] = Trial(
            name=f"r{i}", config=config, metrics=metrics, seed=rng.choice([None, 0, 2**40 + i])
        )
        raised = rng.random() < 0.1
        if rng.random() < 0.8:
            _ran(trial, profile=rng.choice([None, "fit"]), raise_inside=raised)
        else:
            raised = False
        for k in rng.sample(["s1", "s2"], rng.randint(0, 2)):
            trial.summary[k] = rng.choice(_SUMMARY)(rng)
        u = rng.random()
        if raised:
            reports.append(trial.crashed())
        elif u < 0.1:
            reports.append(trial.crashed(exception=KeyError(f"k{i}, 'x'"), traceback=TRACEBACK))
        elif u < 0.2:
            reports.append(trial.fail())
        else:
            values = {}
            for m in metrics:
                lo, hi = m.bounds if m.bounds is not None else (-10.0, 10.0)
                values[m.name] = rng.choice([lo, hi, lo + (hi - lo) * rng.random()])
            reports.append(trial.success(**values))
    return History(reports)


def listing(directory: str | os.PathLike[str] = ".") -> list[str]:
    return sorted(os.listdir(directory))


# ================================================================= 1. exact round trip
@pytest.mark.parametrize("fmt", FORMATS)
class TestExactRoundTrip:
    def test_rich_history_frame(self, fmt: str) -> None:
        h = History(rich_reports())
        assert_same_frame(round_trip(h, fmt), h)

    def test_rich_history_reports(self, fmt: str) -> None:
        h = History(rich_reports())
        assert_same_reports(round_trip(h, fmt), h)

    def test_rich_history_is_what_it_claims(self, fmt: str) -> None:
        # Guard on the fixture: the frame really holds the hard cases (else the round trip
        # tests above would pass vacuously).
        df = History(rich_reports()).df(normalize_time=False)
        assert df["config:mixed"].dtype == object
        assert df["config:huge"].dtype == object
        assert str(df["config:near53"].dtype) == "Int64"
        assert str(df["config:na_str"].dtype) == "string"
        assert "" in set(df["config:na_str"].dropna())
        assert df.loc["trial_1", "metric:loss (minimize)"] == math.inf
        assert any(c.startswith("profile:trial:fit:") for c in df.columns)
        assert any(c.startswith("profile:trial:predict:") for c in df.columns)
        assert df["summary:s_float"].isna().sum() > 0
        assert set(df["status"]) == {"success", "fail", "crashed"}

    @pytest.mark.parametrize("seed", range(8))
    def test_random_histories(self, fmt: str, seed: int) -> None:
        h = random_history(seed)
        back = round_trip(h, fmt)
        assert_same_frame(back, h)
        assert_same_reports(back, h)

    def test_empty_history(self, fmt: str) -> None:
        h = History()
        back = round_trip(h, fmt)
        assert len(back) == 0
        assert back.metrics == {}
        pd.testing.assert_frame_equal(
            back.df(normalize_time=False), h.df(normalize_time=False), check_exact=True
        )

    def test_nan_inf_and_partial_summary(self, fmt: str) -> None:
        reports = []
        summaries: list[dict[str, Any]] = [
            {"a": math.nan, "b": 1.0},
            {"a": math.inf},
            {},
            {"a": -math.inf, "c": "x"},
        ]
        for i, summary in enumerate(summaries):
            trial: Trial[Any] = Trial(name=f"t{i}", config={}, metrics=[LOSS])
            trial.summary.update(summary)
            reports.append(trial.success(loss=float(i)))
        h = History(reports)
        back = round_trip(h, fmt)
        assert_same_frame(back, h)
        assert_same_reports(back, h)
        assert back["t2"].summary == {}
        assert back["t3"].summary == {"a": -math.inf, "c": "x"}
        assert back["t1"].summary == {"a": math.inf}

    def test_mixed_config_types_keep_their_types(self, fmt: str) -> None:
        values: list[Any] = [7, "7", 7.5, True, None, [1, "a"], {"k": [None, 1.5]}, "", 2**63]
        reports = [
            Trial(name=f"t{i}", config={"k": v}, metrics=[LOSS]).success(loss=1.0)
            for i, v in enumerate(values)
        ]
        h = History(reports)
        back = round_trip(h, fmt)
        assert_same_frame(back, h)
        got = [back[f"t{i}"].config.get("k", "<missing>") for i in range(len(values))]
        ref = History.from_df(h.df(normalize_time=False))
        want = [ref[f"t{i}"].config.get("k", "<missing>") for i in range(len(values))]
        assert [(type(v), v) for v in got] == [(type(v), v) for v in want]
        assert back["t0"].config["k"] == 7 and type(back["t0"].config["k"]) is int
        assert back["t1"].config["k"] == "7"
        assert back["t7"].config["k"] == ""
        assert back["t8"].config["k"] == 2**63

    @pytest.mark.parametrize("with_empty", [True, False], ids=["with-empty", "without-empty"])
    @pytest.mark.parametrize("where", ["string-column", "mixed-column", "name"])
    def test_na_like_strings(self, fmt: str, where: str, with_empty: bool) -> None:
        # Without "" a CSV string column is written as plain text (not JSON): then the
        # reader itself must not take "NA", "nan", "None"... for missing.
        strings = NA_LIKE if with_empty else tuple(s for s in NA_LIKE if s != "")
        reports = []
        for i, s in enumerate(strings):
            config: dict[str, Any] = {"s": s}
            if where == "mixed-column":
                config["s"] = s if i % 2 else [s]
            name = s if where == "name" else f"t{i}"
            reports.append(Trial(name=name, config=config, metrics=[LOSS]).success(loss=i))
        h = History(reports)
        back = round_trip(h, fmt)
        assert_same_frame(back, h)
        assert_same_reports(back, h)
        if where == "string-column":
            assert str(h.df()["config:s"].dtype) == "string"
            assert [r.config["s"] for r in back] == list(strings)
        if where == "name":
            assert [r.name for r in back] == list(strings)

    def test_tracebacks_and_exception_text(self, fmt: str) -> None:
        t0 = _ran(Trial(name="a", config={}, metrics=[LOSS]))
        t1 = _ran(Trial(name="b", config={}, metrics=[LOSS]), raise_inside=True)
        t2 = _ran(Trial(name="c", config={}, metrics=[LOSS]))
        h = History(
            [
                t0.crashed(exception=RuntimeError(EXC_TEXT), traceback=TRACEBACK),
                t1.fail(),
                t2.success(loss=1.0),
            ]
        )
        back = round_trip(h, fmt)
        assert_same_frame(back, h)
        for name in "abc":
            assert back[name].traceback == h[name].traceback
            assert str(back[name].exception) == str(h[name].exception)
        assert back["a"].traceback == TRACEBACK
        assert str(back["a"].exception) == EXC_TEXT

    def test_ints_near_and_beyond_int64(self, fmt: str) -> None:
        ints = [2**53 - 1, 2**53, 2**53 + 1, 2**63 - 1, -(2**63)]
        reports = [
            Trial(
                name=f"t{i}", config={"n": v, "m": [v, 2**63, -(2**63) - 1, 2**64 + 1][i % 4]}
            ).success()
            for i, v in enumerate(ints)
        ]
        h = History(reports)
        back = round_trip(h, fmt)
        assert_same_frame(back, h)
        assert [r.config["n"] for r in back] == ints
        assert back["t1"].config["m"] == 2**63
        assert back["t2"].config["m"] == -(2**63) - 1
        assert back["t3"].config["m"] == 2**64 + 1

    def test_float_bits(self, fmt: str) -> None:
        rng = random.Random(1)
        floats = [rng.random() * 10.0 ** rng.randint(-300, 300) for _ in range(40)]
        floats += [5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 0.1 + 0.2, 1 / 3]
        reports = [
            Trial(name=f"t{i}", config={"f": f}, metrics=[LOSS]).success(loss=f)
            for i, f in enumerate(floats)
        ]
        h = History(reports)
        back = round_trip(h, fmt)
        assert_same_frame(back, h)
        assert [r.config["f"] for r in back] == floats
        assert [r.metrics["loss"] for r in back] == floats

    def test_seeds(self, fmt: str) -> None:
        seeds = [0, None, 1, 2**31 - 1, 2**62]
        h = History([Trial(name=f"t{i}", config={}, seed=s).success() for i, s in enumerate(seeds)])
        back = round_trip(h, fmt)
        assert_same_frame(back, h)
        assert [r.trial.seed for r in back] == [r.trial.seed for r in History.from_df(h.df())]
        assert back["t4"].trial.seed == 2**62

    def test_file_is_not_a_plain_pandas_dump(self, fmt: str) -> None:
        # The header is present: a reader that ignored it could not round-trip the mixed
        # column above, so make sure it is actually written.
        write(History(rich_reports()), fmt, f"h.{fmt}")
        if fmt == "csv":
            first = Path("h.csv").read_text(encoding="utf-8").split("\n", 1)[0]
            assert first.startswith("#fasttrial-history ")
            header = json.loads(first[len("#fasttrial-history ") :])
        else:
            import pyarrow.parquet as pq

            header = json.loads(pq.read_schema("h.parquet").metadata[b"fasttrial"])
        assert header["version"] == 1
        assert "config:mixed" in header["json_columns"]


# ============================================================= 2. queries after reading
@pytest.mark.parametrize("fmt", FORMATS)
class TestQueriesAfterReading:
    def test_best_sortby_incumbents_pareto(self, fmt: str) -> None:
        h = History(rich_reports())
        back = round_trip(h, fmt)

        def names(reports: Sequence[Trial.Report]) -> list[str]:
            return [r.name for r in reports]

        assert back.metrics == h.metrics
        assert list(back.metrics) == ["loss", "acc", "err"]
        for m in ("loss", "acc", "err"):
            assert back.best(m).name == h.best(m).name
            assert names(back.sortby(m)) == names(h.sortby(m))
            assert names(back.sortby(m, reverse=True)) == names(h.sortby(m, reverse=True))
            assert names(back.incumbents(m)) == names(h.incumbents(m))
            assert names(back.incumbents(m, ffill=True)) == names(h.incumbents(m, ffill=True))
            assert np.array_equal(back.metric_values(m), h.metric_values(m), equal_nan=True)
        assert names(back.pareto_front()) == names(h.pareto_front())
        assert names(back.pareto_front(["loss", "acc"])) == names(h.pareto_front(["loss", "acc"]))
        # guard: these are not trivially empty
        assert h.best("acc").name == 'tr ü, "6"'
        assert len(h.pareto_front(["loss", "acc"])) >= 2

    def test_statuses_tracebacks_exceptions(self, fmt: str) -> None:
        h = History(rich_reports())
        back = round_trip(h, fmt)
        assert [r.status for r in back] == [r.status for r in h]
        assert [str(r.status) for r in back].count("crashed") == 2
        for r in h:
            assert back[r.name].traceback == r.traceback
            assert str(back[r.name].exception) == str(r.exception)
            assert back[r.name].metrics == r.metrics
        assert back["trial_4"].traceback == TRACEBACK
        assert str(back["trial_4"].exception) == EXC_TEXT
        assert "inside" in str(back["trial_7"].exception)

    def test_single_metric_best(self, fmt: str) -> None:
        h = simple_history(6)
        back = round_trip(h, fmt)
        assert back.best().name == h.best().name == "t0"
        assert [r.name for r in back.sortby("loss")] == [r.name for r in h.sortby("loss")]


# ===================================================================== 3. atomic writes
@pytest.mark.parametrize("fmt", FORMATS)
class TestAtomic:
    def test_no_temp_file_after_success(self, fmt: str, tmp_path: Path) -> None:
        out = tmp_path / "out"
        write(simple_history(), fmt, out / f"h.{fmt}")
        assert listing(out) == [f"h.{fmt}"]

    def test_overwrite_replaces(self, fmt: str, tmp_path: Path) -> None:
        path = tmp_path / f"h.{fmt}"
        first = History(rich_reports())
        second = simple_history(3, prefix="second")
        write(first, fmt, path)
        write(second, fmt, path)
        assert_same_frame(read(fmt, path), second)
        assert listing(tmp_path) == [f"h.{fmt}"]
        # and back the other way: a smaller file replaced by a bigger one
        write(first, fmt, path)
        assert_same_frame(read(fmt, path), first)
        assert listing(tmp_path) == [f"h.{fmt}"]

    def test_value_without_json_form(self, fmt: str, tmp_path: Path) -> None:
        class Custom:
            pass

        path = tmp_path / f"h.{fmt}"
        write(simple_history(), fmt, path)
        before = path.read_bytes()
        bad = History(
            [
                Trial(name="a", config={"obj": 1}).success(),
                Trial(name="b", config={"obj": Custom()}).success(),
            ]
        )
        with pytest.raises(TypeError, match="config:obj"):
            write(bad, fmt, path)
        assert path.read_bytes() == before
        assert listing(tmp_path) == [f"h.{fmt}"]
        # and with no file there before: none made
        with pytest.raises(TypeError, match="config:obj"):
            write(bad, fmt, tmp_path / f"new.{fmt}")
        assert listing(tmp_path) == [f"h.{fmt}"]

    def test_summary_value_without_json_form_names_the_column(self, fmt: str) -> None:
        trial: Trial[Any] = Trial(name="a", config={}, metrics=[LOSS])
        trial.summary["model"] = object()
        trial2: Trial[Any] = Trial(name="b", config={}, metrics=[LOSS])
        trial2.summary["model"] = "x"
        with pytest.raises(TypeError, match="summary:model"):
            write(History([trial.success(loss=1.0), trial2.success(loss=2.0)]), fmt, f"h.{fmt}")
        assert listing() == []

    @pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
    def test_failure_in_the_middle_of_writing(
        self, fmt: str, error: BaseException, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        path = tmp_path / f"h.{fmt}"
        original = simple_history(4)
        write(original, fmt, path)
        before = path.read_bytes()
        seen: list[str] = []

        if fmt == "parquet":
            import pyarrow.parquet as pq

            def broken_write_table(table: Any, where: Any, *args: Any, **kwargs: Any) -> None:
                seen.append(os.fspath(where))
                with open(where, "wb") as f:
                    f.write(b"PAR1 half a file")
                raise error

            monkeypatch.setattr(pq, "write_table", broken_write_table)
        else:

            def broken_to_csv(self: pd.DataFrame, f: Any, *args: Any, **kwargs: Any) -> None:
                seen.append(getattr(f, "name", str(f)))
                f.write("t0,succ")
                f.flush()
                raise error

            monkeypatch.setattr(pd.DataFrame, "to_csv", broken_to_csv)

        with pytest.raises(type(error)):
            write(simple_history(2, prefix="new"), fmt, path)
        monkeypatch.undo()
        assert seen, "the patched writer was not called"
        assert os.fspath(path) not in seen, "wrote into the target itself, not a temp file"
        assert path.read_bytes() == before
        assert listing(tmp_path) == [f"h.{fmt}"]
        assert_same_frame(read(fmt, path), original)

    def test_target_is_a_directory(self, fmt: str, tmp_path: Path) -> None:
        target = tmp_path / "somedir"
        target.mkdir()
        (target / "keep").write_text("x")
        with pytest.raises(OSError):
            write(simple_history(), fmt, target)
        assert listing(tmp_path) == ["somedir"]
        assert listing(target) == ["keep"]


# ============================================================================ 4. errors
@pytest.mark.parametrize("fmt", FORMATS)
class TestErrors:
    @pytest.mark.parametrize("as_path", [False, True], ids=["str", "Path"])
    def test_missing_file(self, fmt: str, as_path: bool, tmp_path: Path) -> None:
        path = tmp_path / "nowhere" / f"missing.{fmt}"
        with pytest.raises(FileNotFoundError) as info:
            read(fmt, path if as_path else str(path))
        assert str(path) in str(info.value)
        assert not (tmp_path / "nowhere").exists()

    def test_directory(self, fmt: str, tmp_path: Path) -> None:
        d = tmp_path / f"dir.{fmt}"
        d.mkdir()
        with pytest.raises(IsADirectoryError) as info:
            read(fmt, d)
        assert str(d) in str(info.value)

    def test_file_without_status(self, fmt: str) -> None:
        frame = simple_history().df(normalize_time=False).drop(columns="status")
        if fmt == "csv":
            frame.to_csv("h.csv")
        else:
            frame.reset_index().to_parquet("h.parquet")
        with pytest.raises(ValueError, match="'status'"):
            read(fmt, f"h.{fmt}")

    def test_fasttrial_file_without_status(self, fmt: str) -> None:
        # A file with fasttrial's header whose status column was removed.
        write(simple_history(), fmt, f"full.{fmt}")
        if fmt == "csv":
            first = Path("full.csv").read_text(encoding="utf-8").split("\n", 1)[0]
            header = json.loads(first[len("#fasttrial-history ") :])
            del header["dtypes"]["status"]
            # An edited file: its size and checksum no longer hold, so they are dropped.
            del header["body_bytes"], header["body_sha256"]
            frame = pd.read_csv("full.csv", skiprows=1, dtype=str, keep_default_na=False)
            with open("h.csv", "w", encoding="utf-8", newline="") as f:
                f.write("#fasttrial-history " + json.dumps(header) + "\n")
                frame.drop(columns="status").to_csv(f, index=False)
        else:
            import pyarrow.parquet as pq

            table = pq.read_table("full.parquet")
            assert b"fasttrial" in table.schema.metadata
            pq.write_table(table.drop_columns(["status"]), "h.parquet")
        with pytest.raises(ValueError, match="'status'"):
            read(fmt, f"h.{fmt}")

    def test_future_format_version(self, fmt: str) -> None:
        h = simple_history()
        write(h, fmt, f"h.{fmt}")
        if fmt == "csv":
            text = Path("h.csv").read_text(encoding="utf-8")
            first, rest = text.split("\n", 1)
            header = json.loads(first[len("#fasttrial-history ") :])
            header["version"] = 2
            Path("h.csv").write_text(
                "#fasttrial-history " + json.dumps(header) + "\n" + rest, encoding="utf-8"
            )
        else:
            import pyarrow.parquet as pq

            table = pq.read_table("h.parquet")
            meta = dict(table.schema.metadata)
            header = json.loads(meta[b"fasttrial"])
            header["version"] = 2
            meta[b"fasttrial"] = json.dumps(header).encode()
            pq.write_table(table.replace_schema_metadata(meta), "h.parquet")
        with pytest.raises(ValueError, match=r"(?i)upgrade") as info:
            read(fmt, f"h.{fmt}")
        assert "h." + fmt in str(info.value)
        assert "2" in str(info.value)


def test_csv_without_name_column() -> None:
    simple_history().df().to_csv("h.csv", index=False)
    with pytest.raises(ValueError, match="'name'"):
        History.from_csv("h.csv")


def test_fasttrial_csv_without_name_column() -> None:
    # A fasttrial header over a frame with the name column removed.
    simple_history().to_csv("h.csv")
    frame = pd.read_csv("h.csv", skiprows=1).drop(columns="name")
    first = Path("h.csv").read_text(encoding="utf-8").split("\n", 1)[0]
    header = json.loads(first[len("#fasttrial-history ") :])
    del header["body_bytes"], header["body_sha256"]  # an edited file (see above)
    with open("h2.csv", "w", encoding="utf-8", newline="") as f:
        f.write("#fasttrial-history " + json.dumps(header) + "\n")
        frame.to_csv(f, index=False)
    with pytest.raises(ValueError, match="'name'"):
        History.from_csv("h2.csv")


# ============================================================ 5. plain pandas-made files
def plain_history() -> History:
    """Several metrics, reports lacking some, fail/crashed, a traceback; config columns of
    one type each (pandas' own Parquet writer refuses columns of mixed types)."""
    reports = []
    for i in range(7):
        metrics = [[LOSS, ACC], [LOSS], [ACC], [LOSS, ACC]][i % 4]
        trial = _ran(
            Trial(name=f"p{i}", config={"x": i, "kind": "abc"[i % 3]}, metrics=metrics, seed=i),
            profile="fit" if i % 2 else None,
        )
        trial.summary["note"] = i * 0.5
        if i == 2:
            reports.append(trial.fail())
        elif i == 5:
            reports.append(trial.crashed(exception=ValueError(EXC_TEXT), traceback=TRACEBACK))
        else:
            reports.append(
                trial.success(**{m.name: [0.7, 0.2, 0.9, 0.4, 0.3, 0.6, 0.05][i] for m in metrics})
            )
    return History(reports)


def assert_same_values(back: History, h: History) -> None:
    assert [r.name for r in back] == [r.name for r in h]
    assert [str(r.status) for r in back] == [str(r.status) for r in h]
    assert [r.metrics for r in back] == [r.metrics for r in h]
    assert back.metrics == h.metrics
    for m in h.metrics:
        assert back.best(m).name == h.best(m).name
    assert [r.name for r in back.pareto_front()] == [r.name for r in h.pareto_front()]


class TestPlainFiles:
    def test_guard_plain_history(self) -> None:
        h = plain_history()
        assert (h.best("loss").name, h.best("acc").name) == ("p1", "p0")
        assert [r.name for r in h.pareto_front()] == ["p0", "p3", "p4"]

    @pytest.mark.parametrize("normalize_time", [True, False])
    def test_pandas_csv(self, normalize_time: bool) -> None:
        h = plain_history()
        h.df(normalize_time=normalize_time).to_csv("plain.csv")
        back = History.from_csv("plain.csv")
        assert_same_values(back, h)
        assert back["p5"].traceback == TRACEBACK
        assert str(back["p5"].exception) == EXC_TEXT

    def test_pandas_csv_of_a_mixed_history(self) -> None:
        h = History(rich_reports())
        h.df().to_csv("plain.csv")
        back = History.from_csv("plain.csv")
        assert [str(r.status) for r in back] == [str(r.status) for r in h]
        assert [r.metrics for r in back] == [r.metrics for r in h]
        for m in h.metrics:
            assert back.best(m).name == h.best(m).name

    def test_pandas_parquet(self) -> None:
        h = plain_history()
        h.df().to_parquet("plain.parquet")
        assert_same_values(History.from_parquet("plain.parquet"), h)

    def test_pandas_parquet_with_name_column(self) -> None:
        h = plain_history()
        h.df().reset_index().to_parquet("plain.parquet", index=False)
        assert_same_values(History.from_parquet("plain.parquet"), h)


# ============================================================================= 6. paths
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", ["str", "Path"])
class TestPaths:
    def test_path_types_and_parent_dirs(self, fmt: str, kind: str, tmp_path: Path) -> None:
        h = simple_history()
        target = tmp_path / "a" / "b c" / "ü" / f"h.{fmt}"
        path: str | Path = str(target) if kind == "str" else target
        write(h, fmt, path)
        assert target.is_file()
        assert listing(target.parent) == [f"h.{fmt}"]
        assert_same_frame(read(fmt, path), h)

    def test_relative_path(self, fmt: str, kind: str, tmp_path: Path) -> None:
        h = simple_history()
        rel = os.path.join("sub", f"h.{fmt}")
        path: str | Path = rel if kind == "str" else Path(rel)
        write(h, fmt, path)
        assert (tmp_path / "sub" / f"h.{fmt}").is_file()  # cwd is tmp_path
        assert_same_frame(read(fmt, path), h)
        write(h, fmt, f"bare.{fmt}" if kind == "str" else Path(f"bare.{fmt}"))
        assert (tmp_path / f"bare.{fmt}").is_file()


# ======================================================================= regressions
class TestRegressions:
    def test_csv_uint64_column(self) -> None:
        h = History(
            [
                Trial(name="a", config={"k": 2**63}).success(),
                Trial(name="b", config={"k": 2**64 - 1}).success(),
            ]
        )
        back = round_trip(h, "csv")
        assert back["a"].config["k"] == 2**63
        assert_same_frame(back, h)

    @pytest.mark.parametrize("value", [np.int32(3), np.float32(0.5)], ids=["int32", "float32"])
    def test_csv_narrow_numpy_columns(self, value: Any) -> None:
        h = History([Trial(name="a", config={"k": value}).success()])
        assert_same_frame(round_trip(h, "csv"), h)

    def test_parquet_uint64_and_narrow_columns(self) -> None:
        # The same frames do round-trip through Parquet (contrast with the CSV bugs).
        h = History(
            [
                Trial(
                    name="a", config={"k": 2**63, "i": np.int32(3), "f": np.float32(0.5)}
                ).success(),
                Trial(
                    name="b", config={"k": 2**64 - 1, "i": np.int32(4), "f": np.float32(2)}
                ).success(),
            ]
        )
        assert [str(h.df()[c].dtype) for c in ("config:k", "config:i", "config:f")] == [
            "UInt64",
            "Int32",
            "Float32",
        ]
        assert_same_frame(round_trip(h, "parquet"), h)

    @pytest.mark.parametrize("fmt", FORMATS)
    def test_single_report_with_dict_config(self, fmt: str) -> None:
        h = History([Trial(name="a", config={"d": {"x": 1}}).success()])
        back = round_trip(h, fmt)
        assert back["a"].config == {"d": {"x": 1}}

    @pytest.mark.parametrize("fmt", FORMATS)
    @pytest.mark.parametrize("value", [(1, "a"), {1: "x"}], ids=["tuple", "int-key-dict"])
    def test_values_json_changes(self, fmt: str, value: Any) -> None:
        h = History(
            [
                Trial(name="a", config={"v": value}).success(),
                Trial(name="b", config={"v": 2}).success(),
            ]
        )
        assert_same_reports(round_trip(h, fmt), h)
