"""A seed of 0 is a seed (kept by every frame, file and journal), and a RandomSearch trial's
files go to ``bucket/<trial name>/``, once."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fasttrial.optimization import History, Metric, RandomSearch, Trial
from fasttrial.store import PathBucket

LOSS = Metric("loss", minimize=True)


def _report(name: str, seed: int | None) -> Trial.Report:
    trial = Trial(name=name, config={"x": 1}, metrics=[LOSS], seed=seed)
    with trial.begin():
        pass
    return trial.success(loss=0.5)


def test_seed_zero_in_report_and_history_frames() -> None:
    reports = [_report("a", 0), _report("b", 0), _report("c", None), _report("d", 7)]
    assert reports[0].df()["trial_seed"].iloc[0] == 0
    history = History(reports)  # "b" goes through the fast path of "a"'s signature
    seeds = history.df()["trial_seed"].tolist()
    assert seeds[0] == 0 and seeds[1] == 0 and seeds[3] == 7
    assert pd.isna(seeds[2])
    back = History.from_df(history.df())
    assert [r.trial.seed for r in back] == [0, 0, None, 7]


def test_seed_zero_survives_parquet_csv_and_journal(tmp_path: Path) -> None:
    reports = [_report("a", 0), _report("b", 0), _report("c", None)]
    history = History(reports)
    history.to_parquet(tmp_path / "h.parquet")
    history.to_csv(tmp_path / "h.csv")
    with History.open(tmp_path / "h.journal") as journal:
        journal.add(reports)
    for loaded in (
        History.from_parquet(tmp_path / "h.parquet"),
        History.from_csv(tmp_path / "h.csv"),
        History.open(tmp_path / "h.journal", mode="r"),
    ):
        assert [r.trial.seed for r in loaded] == [0, 0, None]


def test_random_search_trial_stores_under_its_name_once(tmp_path: Path) -> None:
    bucket = PathBucket(tmp_path / "results")
    search = RandomSearch({"x": (0.0, 1.0)}, metrics=LOSS, seed=0, bucket=bucket)
    trial = search.ask()
    trial.store({"model.json": {"a": 1}})
    assert (tmp_path / "results" / trial.name / "model.json").is_file()
    assert not (tmp_path / "results" / trial.name / trial.name).exists()
    assert trial.retrieve("model.json") == {"a": 1}
