"""The ask/tell ``Optimizer`` protocol and ``RandomSearch`` over a plain search-space dict."""

from __future__ import annotations

import math
import pickle
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import fasttrial
from fasttrial.optimization import (
    History,
    Metric,
    Optimizer,
    RandomSearch,
    SearchSpaceError,
    Trial,
)
from fasttrial.store import PathBucket

LOSS = Metric("loss", minimize=True)

SPACE: dict[str, Any] = {
    "lr": {"low": 1e-4, "high": 1.0, "log": True},
    "dropout": (0.0, 0.5),
    "layers": (1, 4),
    "units": {"low": 8, "high": 512, "log": True},
    "activation": ["relu", "tanh", "gelu"],
    "fixed": ["adam"],
    "width": {"low": 1, "high": 3, "type": "float"},
}


def test_exported_from_both_packages() -> None:
    assert fasttrial.RandomSearch is RandomSearch
    assert fasttrial.Optimizer is Optimizer


def test_random_search_is_an_optimizer() -> None:
    assert isinstance(RandomSearch(SPACE, metrics=LOSS, seed=0), Optimizer)


def test_ask_one_trial_with_name_config_seed_and_metrics() -> None:
    search = RandomSearch(SPACE, metrics=[LOSS], seed=0)
    trial = search.ask()
    assert isinstance(trial, Trial)
    assert trial.name == "trial-0"
    assert set(trial.config) == set(SPACE)
    assert isinstance(trial.seed, int)
    assert list(trial.metrics) == [LOSS]
    assert search.metrics == [LOSS]  # a sequence in order, as amltk's Optimizer.metrics
    assert search.metrics_by_name == {"loss": LOSS}
    assert tuple(m.worst for m in search.metrics) == (LOSS.worst,)


def test_ask_n_returns_a_list_with_unique_names() -> None:
    search = RandomSearch(SPACE, metrics=LOSS, seed=0)
    trials = search.ask(5)
    assert isinstance(trials, list)
    assert [t.name for t in trials] == [f"trial-{i}" for i in range(5)]
    assert search.ask(0) == []
    assert search.ask().name == "trial-5"


@pytest.mark.parametrize("n", [-1, 1.5, "3", True])
def test_ask_refuses_a_bad_count(n: Any) -> None:
    with pytest.raises(ValueError, match=r"ask\(n\) needs an int n >= 0"):
        RandomSearch(SPACE, metrics=LOSS, seed=0).ask(n)


def test_same_seed_same_configs_and_seeds() -> None:
    a = RandomSearch(SPACE, metrics=LOSS, seed=42).ask(50)
    b = RandomSearch(SPACE, metrics=LOSS, seed=42).ask(50)
    c = RandomSearch(SPACE, metrics=LOSS, seed=43).ask(50)
    assert [(t.config, t.seed) for t in a] == [(t.config, t.seed) for t in b]
    assert [t.config for t in a] != [t.config for t in c]


def test_ask_one_at_a_time_equals_ask_many() -> None:
    one = RandomSearch(SPACE, metrics=LOSS, seed=7)
    many = RandomSearch(SPACE, metrics=LOSS, seed=7)
    singles = [one.ask() for _ in range(20)]
    assert [t.config for t in singles] == [t.config for t in many.ask(20)]


def test_known_values_are_stable() -> None:
    """Python's Random is the same on every platform: pin the first draws."""
    trial = RandomSearch({"x": (0.0, 1.0), "k": ["a", "b", "c"]}, metrics=LOSS, seed=0).ask()
    assert trial.config == {"x": pytest.approx(0.8444218515250481), "k": "b"}


def test_samples_stay_in_their_domains() -> None:
    configs = [t.config for t in RandomSearch(SPACE, metrics=LOSS, seed=1).ask(3000)]
    lr = [c["lr"] for c in configs]
    assert all(isinstance(v, float) and 1e-4 <= v <= 1.0 for v in lr)
    # log-uniform: about as many draws below 1e-2 as above (the geometric middle)
    below = sum(v < 1e-2 for v in lr)
    assert 0.4 < below / len(lr) < 0.6
    assert all(isinstance(c["dropout"], float) and 0.0 <= c["dropout"] < 0.5 for c in configs)
    layers = Counter(c["layers"] for c in configs)
    assert set(layers) == {1, 2, 3, 4}  # both ends included
    assert all(type(c["layers"]) is int for c in configs)
    units = [c["units"] for c in configs]
    assert all(type(u) is int and 8 <= u <= 512 for u in units)
    assert min(units) == 8
    assert max(units) == 512
    assert sum(u < 64 for u in units) / len(units) == pytest.approx(0.5, abs=0.1)
    assert set(c["activation"] for c in configs) == {"relu", "tanh", "gelu"}
    assert {c["fixed"] for c in configs} == {"adam"}
    assert all(isinstance(c["width"], float) and 1 <= c["width"] <= 3 for c in configs)


@pytest.mark.parametrize(
    ("entry", "match"),
    [
        (0.1, r"'p': unknown form 0\.1 \(float\)"),
        ("relu", r"'p': unknown form 'relu' \(str\)"),
        ({1, 2}, r"unknown form"),
        ((1, 2, 3), r"unknown form \(1, 2, 3\)"),
        ([], r"unknown form \[\]"),
        ((1.0, 1.0), r"low must be below high"),
        ((5, 1), r"low must be below high"),
        ((0.0, math.inf), r"bounds must be finite"),
        (("a", "b"), r"bounds must be numbers"),
        ((True, 3), r"bounds must be numbers"),
        ({"low": 0, "high": 1, "step": 2}, r"unknown keys \['step'\]"),
        ({"low": 0}, r"no low/high"),
        ({"low": 0.0, "high": 1.0, "log": True}, r"log scale needs 0 < low"),
        ({"low": 1e-3, "high": 1.0, "log": "yes"}, r'"log" must be True or False'),
        ({"low": 1, "high": 3, "type": "str"}, r'"type" must be "int" or "float"'),
        ({"low": 1.0, "high": 3, "type": "int"}, r'"type": "int" needs int bounds'),
    ],
)
def test_unknown_forms_get_a_one_line_error(entry: Any, match: str) -> None:
    with pytest.raises(SearchSpaceError, match=match) as info:
        RandomSearch({"p": entry}, metrics=LOSS, seed=0)
    assert "\n" not in str(info.value)
    assert "'p'" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_error_lists_the_accepted_forms() -> None:
    with pytest.raises(SearchSpaceError, match=r"use \(low, high\), \{.*\} or a non-empty list"):
        RandomSearch({"p": None}, metrics=LOSS)


def test_space_must_be_a_mapping_with_string_names() -> None:
    with pytest.raises(TypeError, match="dict of name -> entry"):
        RandomSearch([("x", (0, 1))], metrics=LOSS)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="names must be strings"):
        RandomSearch({1: (0, 1)}, metrics=LOSS)  # type: ignore[dict-item]


def test_metrics_are_required_and_checked() -> None:
    with pytest.raises(ValueError, match="at least one metric"):
        RandomSearch(SPACE, metrics=[])
    with pytest.raises(TypeError, match="Metric objects"):
        RandomSearch(SPACE, metrics=["loss"])  # type: ignore[list-item]
    acc = Metric("acc", minimize=False)
    search = RandomSearch(SPACE, metrics={"loss": LOSS, "acc": acc})
    assert [m.name for m in search.ask().metrics] == ["loss", "acc"]


def test_tell_takes_reports_of_asked_trials_once() -> None:
    search = RandomSearch(SPACE, metrics=LOSS, seed=0)
    trial = search.ask()
    with trial.begin():
        pass
    report = trial.success(loss=0.5)
    search.tell(report)
    assert search.told == 1
    with pytest.raises(ValueError, match="told already"):
        search.tell(report)
    stranger = Trial(name="stranger", config={}, metrics=[LOSS]).success(loss=1.0)
    with pytest.raises(ValueError, match="'stranger' is not a trial this RandomSearch asked"):
        search.tell(stranger)
    with pytest.raises(TypeError, match=r"takes a Trial\.Report"):
        search.tell(trial)  # type: ignore[arg-type]


def test_a_full_ask_tell_loop_fills_a_history() -> None:
    search = RandomSearch({"x": (-2.0, 2.0)}, metrics=LOSS, seed=3)
    history = History()
    for _ in range(100):
        trial = search.ask()
        with trial.begin(), trial.profile("fit"):
            if trial.config["x"] > 1.5:
                raise ValueError("too big")
            y = trial.config["x"] ** 2
        report = trial.fail() if trial.exception else trial.success(loss=y)
        search.tell(report)
        history.add(report)
    assert len(history) == 100
    assert search.told == 100
    statuses = Counter(str(r.status) for r in history)
    assert statuses["fail"] > 0
    assert statuses["success"] > 0
    assert abs(history.best("loss").config["x"]) < 0.2
    assert "RandomSearch(" in repr(search)


def test_bucket_is_handed_to_each_trial_which_stores_under_its_name(tmp_path: Path) -> None:
    bucket = PathBucket(tmp_path / "run", lazy=True)
    search = RandomSearch(SPACE, metrics=LOSS, seed=0, bucket=bucket, prefix="cfg")
    trial = search.ask()
    assert trial.name == "cfg-0"
    assert Path(trial.bucket.path) == tmp_path / "run"  # as amltk's optimizers hand it out
    assert not (tmp_path / "run").exists()  # nothing on disk until something is stored
    trial.store({"note.txt": "hi"})
    assert (tmp_path / "run" / "cfg-0" / "note.txt").read_text() == "hi"


def test_no_folder_is_created_by_default(tmp_path: Path) -> None:
    RandomSearch(SPACE, metrics=LOSS, seed=0).ask(3)
    assert list(Path.cwd().iterdir()) == []


def test_asked_trials_pickle() -> None:
    trial = RandomSearch(SPACE, metrics=LOSS, seed=0).ask()
    again = pickle.loads(pickle.dumps(trial))
    assert again.config == trial.config
    assert again.seed == trial.seed
