"""SMACOptimizer: amltk's ask/tell API over a real SMAC3 facade.

SMAC's random forest is slow to train on this machine, so runs are short: ``n_trials=20``
makes the initial design 5 configurations, and most tests stay inside it."""

from __future__ import annotations

import gc
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest

pytest.importorskip("smac")

from ConfigSpace import ConfigurationSpace, Float, Integer
from smac.runhistory import StatusType, TrialInfo

from fasttrial.optimization import History, Metric, Optimizer, SearchSpaceError, Trial
from fasttrial.optimization.optimizers.smac import SMACOptimizer
from fasttrial.store import PathBucket

LOSS = Metric("loss", minimize=True, bounds=(0.0, 100.0))
ACC = Metric("acc", minimize=False, bounds=(0.0, 1.0))
SPACE: dict[str, Any] = {
    "x": (-5.0, 5.0),
    "n": (1, 10),
    "lr": {"low": 1e-4, "high": 1.0, "log": True},
    "kind": ["a", True, 3],
}
SMALL = {"n_trials": 20}


def make(**kwargs: Any) -> SMACOptimizer:
    kwargs.setdefault("space", SPACE)
    kwargs.setdefault("metrics", LOSS)
    kwargs.setdefault("seed", 0)
    for k, v in SMALL.items():
        kwargs.setdefault(k, v)
    return SMACOptimizer.create(**kwargs)


def loss_of(config: Any) -> float:
    return (config["x"] - 1.0) ** 2 / 2 + config["n"] * config["lr"]


def target(trial: Trial[Any]) -> Trial.Report[Any]:
    with trial.begin():
        loss = loss_of(trial.config)
    return trial.success(loss=loss)


def values(optimizer: SMACOptimizer) -> list[Any]:
    rh = optimizer.facade.runhistory
    return [(k.config_id, v.status, v.cost) for k, v in rh.items()]


def test_amltk_flow_with_fasttrial_forms(tmp_path: Path) -> None:
    bucket = PathBucket(tmp_path / "b")
    optimizer = make(bucket=bucket)
    history = History()
    for _ in range(5):
        trial = optimizer.ask()
        c = trial.config
        assert set(c) == set(SPACE)
        assert type(c["x"]) is float and -5.0 <= c["x"] <= 5.0
        assert type(c["n"]) is int and 1 <= c["n"] <= 10
        assert 1e-4 <= c["lr"] <= 1.0
        assert c["kind"] in SPACE["kind"] and type(c["kind"]) in (str, bool, int)
        assert isinstance(trial.info, TrialInfo)
        assert trial.seed == trial.info.seed
        assert trial.fidelities is None
        config_id = optimizer.facade.runhistory.config_ids[trial.info.config]
        assert trial.name == f"config_id={config_id}_seed={trial.seed}_budget=None_instance=None"
        assert trial.bucket is optimizer.bucket
        report = target(trial)
        optimizer.tell(report)
        history.add(report)
    told = values(optimizer)
    assert [s for _, s, _ in told] == [StatusType.SUCCESS] * 5
    # A bounded metric's cost is its distance to the optimal bound (here the loss itself).
    assert [c for _, _, c in told] == pytest.approx([r.metrics["loss"] for r in history])
    assert (tmp_path / "b" / "smac3_output").is_dir()  # SMAC's files, as amltk puts them


def test_native_configspace_and_hyperparameter_entries() -> None:
    cs = ConfigurationSpace(seed=0)
    cs.add([Float("x", (-5.0, 5.0)), Integer("n", (1, 10))])
    for space in (cs, {"x": Float("x", (-5.0, 5.0)), "n": (1, 10)}):
        optimizer = make(space=space)
        trial = optimizer.ask()
        assert set(trial.config) == {"x", "n"}
        assert type(trial.config["n"]) is int
        optimizer.tell(trial.success(loss=abs(trial.config["x"])))
        assert values(optimizer)[0][1] == StatusType.SUCCESS
    with pytest.raises(SearchSpaceError, match="named 'y'"):
        make(space={"x": Float("y", (0.0, 1.0))})


def test_object_with_search_space_is_asked_with_the_preferred_parser() -> None:
    class Pipeline:
        parsers: ClassVar[list[Any]] = []

        def search_space(self, parser: Any) -> ConfigurationSpace:
            self.parsers.append(parser)
            return ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)

    optimizer = make(space=Pipeline())
    assert Pipeline.parsers == ["configspace"] == [SMACOptimizer.preferred_parser()]
    assert set(optimizer.ask().config) == {"x"}


def test_metrics_is_a_sequence_in_order() -> None:
    optimizer = make(metrics=[LOSS, ACC])
    assert isinstance(optimizer, Optimizer)  # fasttrial's ask/tell protocol
    assert optimizer.metrics == [LOSS, ACC]
    assert tuple(m.worst for m in optimizer.metrics) == (LOSS.worst, ACC.worst)
    assert optimizer.metrics_by_name == {"loss": LOSS, "acc": ACC}


def test_multi_objective_costs_in_metric_order() -> None:
    optimizer = make(metrics=[ACC, LOSS])
    assert optimizer.facade.scenario.objectives == ["acc", "loss"]
    assert optimizer.facade.scenario.crash_cost == [1.0, 100.0]
    expected = []
    for _ in range(4):
        trial = optimizer.ask()
        loss, acc = loss_of(trial.config), 1.0 / (1.0 + trial.config["n"])
        optimizer.tell(trial.success(loss=loss, acc=acc))
        expected.append([pytest.approx(1.0 - acc), pytest.approx(loss)])  # distances to optimal
    assert [c for _, _, c in values(optimizer)] == expected


def test_fail_crashed_and_unknown_costs_and_statuses() -> None:
    optimizer = make()
    a, b, c, d, e = optimizer.ask(5)
    optimizer.tell(a.fail())  # the worst value: the crash cost
    optimizer.tell(b.fail(loss=40.0))  # a failure with a value costs that value
    with c.begin():
        raise MemoryError("out of memory")
    optimizer.tell(c.crashed())
    optimizer.tell(d.crashed(TimeoutError("too slow")))
    optimizer.tell(Trial.Report(e, Trial.Status.UNKNOWN, (LOSS.worst,)))
    told = values(optimizer)
    assert [s for _, s, _ in told] == [
        StatusType.CRASHED,
        StatusType.CRASHED,
        StatusType.MEMORYOUT,
        StatusType.TIMEOUT,
        StatusType.CRASHED,
    ]
    assert [cost for _, _, cost in told] == [100.0, 40.0, 100.0, 100.0, 100.0]
    rh = optimizer.facade.runhistory
    (info,) = [v for k, v in rh.items() if k.config_id == rh.config_ids[c.info.config]]
    assert info.additional_info["exception"] == "out of memory"
    assert "MemoryError" in info.additional_info["traceback"]


def test_crash_cost_needs_bounds_or_crash_cost() -> None:
    unbounded = Metric("score", minimize=False)
    with pytest.raises(ValueError, match="needs bounds on metric 'score'"):
        make(metrics=unbounded)
    optimizer = make(metrics=unbounded, crash_cost=50.0)
    assert optimizer.facade.scenario.crash_cost == 50.0
    a, b = optimizer.ask(2)
    optimizer.tell(a.success(score=3.0))  # unbounded: the loss, here -score
    optimizer.tell(b.fail())  # worst is -inf: the crash cost
    assert [cost for _, _, cost in values(optimizer)] == [-3.0, 50.0]
    for bad in ([1.0, 2.0], float("inf"), "1"):
        with pytest.raises(ValueError, match="crash_cost"):
            make(metrics=unbounded, crash_cost=bad)
    assert SMACOptimizer.crash_cost([LOSS, unbounded]) == [100.0, float("inf")]


def test_one_fidelity_uses_the_multi_fidelity_facade() -> None:
    optimizer = make(fidelities={"epochs": (1, 9)})
    assert type(optimizer.facade).__name__ == "MultiFidelityFacade"
    trials = optimizer.ask(4)
    for trial in trials:
        assert set(trial.fidelities) == {"epochs"}
        assert 1 <= trial.fidelities["epochs"] <= 9
        assert trial.fidelities["epochs"] == trial.info.budget
        assert f"budget={trial.info.budget}" in trial.name
        optimizer.tell(target(trial))
    assert all(s == StatusType.SUCCESS for _, s, _ in values(optimizer))


def test_several_fidelities_are_one_budget_as_in_amltk() -> None:
    optimizer = make(fidelities={"epochs": (1, 10), "rows": (100, 1000)})
    trial = optimizer.ask()
    assert set(trial.fidelities) == {"budget"}
    assert 1.0 <= trial.fidelities["budget"] <= 100.0
    for bad in ({"epochs": (0, 10)}, {"epochs": (5, 5)}, {"epochs": 10}, {"e": ("1", "9")}):
        with pytest.raises(ValueError, match="fidelity"):
            make(fidelities=bad)


def test_ask_n_gives_unique_names_and_configs() -> None:
    optimizer = make()
    trials = optimizer.ask(6)
    assert len({t.name for t in trials}) == 6
    assert len({tuple(sorted(t.config.items(), key=str)) for t in trials}) == 6
    assert optimizer.ask(0) == []
    with pytest.raises(ValueError, match="ask"):
        optimizer.ask(-2)
    for t in reversed(trials):
        optimizer.tell(target(t))
    assert len(values(optimizer)) == 6


def _run(optimizer: SMACOptimizer, n: int) -> list[dict[str, Any]]:
    out = []
    for _ in range(n):
        trial = optimizer.ask()
        out.append(dict(trial.config))
        optimizer.tell(target(trial))
    return out


def _small_forest(seed: int, tmp: Path) -> SMACOptimizer:
    # The amltk-style constructor around a facade made here: SMAC's own random forest, with
    # 4 trees on one thread, and a smaller acquisition search (its defaults, 10 trees on
    # every core and 10,000 challengers, take seconds per training on a loaded 2-core machine).
    from smac import HyperparameterOptimizationFacade, Scenario
    from smac.model.random_forest import RandomForest

    from fasttrial.optimization.optimizers.smac import to_configspace

    cs = to_configspace(SPACE, seed)
    scenario = Scenario(
        cs,
        objectives="loss",
        seed=seed,
        deterministic=True,  # as create() makes it
        crash_cost=100.0,
        n_trials=20,
        output_directory=tmp,
    )
    facade = HyperparameterOptimizationFacade(
        scenario,
        "dummy",
        model=RandomForest(cs, n_trees=4, n_jobs=1, seed=seed),
        acquisition_maximizer=HyperparameterOptimizationFacade.get_acquisition_maximizer(
            scenario, challengers=200, local_search_iterations=2
        ),
        overwrite=True,
        logging_level=False,
    )
    return SMACOptimizer(facade=facade, metrics=LOSS, save=False)


def test_seed_makes_the_configurations_reproducible(tmp_path: Path) -> None:
    # 20 configurations: the 5 of the initial design, then 15 from SMAC's random forest.
    optimizer = _small_forest(3, tmp_path / "a")
    first = _run(optimizer, 20)
    assert first == _run(_small_forest(3, tmp_path / "b"), 20)
    origins = [c.origin for c in optimizer.facade.runhistory.get_configs()]
    assert sum("Initial Design" in str(o) for o in origins) == 5
    # the rest: the forest's local search, and SMAC's interleaved random configurations
    assert sum("Acquisition Function Maximizer" in str(o) for o in origins) >= 5
    # create(seed=): the initial design (its default forest is too slow for a unit test).
    assert _run(make(seed=3), 5) == _run(make(seed=3), 5) != _run(make(seed=4), 5)


def test_constructor_checks_the_crash_cost(tmp_path: Path) -> None:
    optimizer = _small_forest(0, tmp_path)
    with pytest.raises(ValueError, match=r"crash_cost=100\.0"):
        SMACOptimizer(facade=optimizer.facade, metrics=Metric("loss", bounds=(0.0, 1.0)))


def test_time_profile_is_told_to_smac() -> None:
    optimizer = make(time_profile="fit")
    trial = optimizer.ask()
    with trial.begin(), trial.profile("fit"):
        pass
    optimizer.tell(trial.success(loss=1.0))
    value = next(iter(optimizer.facade.runhistory.values()))
    fit = trial.profiles["trial:fit"].time  # its name inside begin()
    assert (value.starttime, value.endtime) == (fit.start, fit.end)
    missing = optimizer.ask()
    with pytest.raises(ValueError, match="no profile 'fit'"):
        optimizer.tell(missing.success(loss=1.0))
    optimizer.tell(missing.fail())  # a failure need not have been timed


def test_default_bucket_leaves_no_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    optimizer = make()
    output = Path(optimizer.facade.scenario.output_directory)
    assert output.exists() and tmp_path not in output.parents
    optimizer.tell(target(optimizer.ask()))
    assert os.listdir(tmp_path) == []
    del optimizer
    gc.collect()
    assert not output.exists()


def test_a_pickled_report_is_told() -> None:
    optimizer = make()
    trial = optimizer.ask()
    optimizer.tell(pickle.loads(pickle.dumps(target(pickle.loads(pickle.dumps(trial))))))
    assert values(optimizer)[0][1] == StatusType.SUCCESS


# -- bad input ------------------------------------------------------------------------------


def test_bad_spaces_metrics_and_scenario_fields() -> None:
    with pytest.raises(SearchSpaceError, match="'bad'"):
        make(space={"ok": (0.0, 1.0), "bad": (0.0, 1.0, 2.0)})
    with pytest.raises(TypeError, match="space"):
        make(space=[("x", (0.0, 1.0))])
    with pytest.raises(TypeError, match="no direction"):
        make(metrics="loss")
    with pytest.raises(ValueError, match=r"\['objectives', 'output_directory'\] are set by"):
        make(objectives=["x"], output_directory="elsewhere")


def test_tell_of_a_trial_never_asked_or_told_twice_changes_nothing() -> None:
    optimizer = make()
    trial = optimizer.ask()
    stranger = Trial(name="stranger", config=dict(trial.config), metrics=[LOSS])
    before = values(optimizer)
    with pytest.raises(ValueError, match="'stranger' is not a trial this SMACOptimizer asked"):
        optimizer.tell(stranger.success(loss=1.0))
    foreign = Trial(name=trial.name, config=dict(trial.config), metrics=[Metric("loss")])
    with pytest.raises(ValueError, match="differs"):
        optimizer.tell(foreign.success(loss=1.0))
    assert values(optimizer) == before  # still RUNNING
    report = target(trial)
    optimizer.tell(report)
    after = values(optimizer)
    with pytest.raises(ValueError, match="was told already"):
        optimizer.tell(report)
    assert values(optimizer) == after


# -- restore --------------------------------------------------------------------------------


def test_restore_tells_the_run_history_and_names_stay_unique(tmp_path: Path) -> None:
    first = _small_forest(0, tmp_path / "first")
    trials = first.ask(5)
    reports = [t.fail() if i == 3 else target(t) for i, t in enumerate(trials) if i != 1]
    for r in reports:
        first.tell(r)
    fresh = _small_forest(0, tmp_path / "fresh")
    fresh.restore(History(reports))
    told = values(fresh)
    assert len(told) == 4
    assert [s for _, s, _ in told] == [StatusType.SUCCESS] * 2 + [StatusType.CRASHED] + [
        StatusType.SUCCESS
    ]
    rh = fresh.facade.runhistory
    assert {tuple(sorted(dict(c).items(), key=str)) for c in rh.get_configs()} == {
        tuple(sorted(r.config.items(), key=str)) for r in reports
    }
    # Trial 1 was out when the first run died; SMAC numbers its next config 5, and no name
    # the first run used comes back.
    new = fresh.ask(3)
    assert not {t.name for t in new} & {r.name for r in reports}
    assert len({t.name for t in new}) == 3
    with pytest.raises(RuntimeError, match="before the first ask"):
        fresh.restore([])


def test_restore_checks_everything_first() -> None:
    first = make()
    trials = first.ask(3)
    reports = [target(t) for t in trials]
    fresh = make()
    far = Trial(name="far", config={**reports[0].config, "x": 99.0}, metrics=[LOSS], seed=1)
    extra = Trial(name="extra", config={**reports[0].config, "y": 1}, metrics=[LOSS], seed=1)
    seedless = Trial(name="seedless", config=dict(reports[0].config), metrics=[LOSS])
    cases = [
        ([*reports, far.success(loss=1.0)], ValueError, "'far' does not fit the space"),
        ([*reports, extra.success(loss=1.0)], ValueError, "config key 'y'"),
        ([*reports, seedless.success(loss=1.0)], ValueError, "'seedless' has seed None"),
        ([*reports, reports[1]], ValueError, "restored twice"),
        ([*reports, 1], TypeError, "position 3"),
    ]
    for bad, error, match in cases:
        with pytest.raises(error, match=match):
            fresh.restore(bad)
        assert len(fresh.facade.runhistory) == 0
    fresh.restore(reports)
    assert len(fresh.facade.runhistory) == 3
    with pytest.raises(ValueError, match="known to this SMACOptimizer"):
        fresh.restore(reports[:1])


def test_restore_with_fidelities_needs_the_budget() -> None:
    first = make(fidelities={"epochs": (1, 9)})
    report = target(first.ask())
    fresh = make(fidelities={"epochs": (1, 9)})
    no_budget = Trial(name="nb", config=dict(report.config), metrics=[LOSS], seed=report.trial.seed)
    with pytest.raises(ValueError, match="'nb' has no budget"):
        fresh.restore([no_budget.success(loss=1.0)])
    fresh.restore([report])
    (key,) = fresh.facade.runhistory.keys()
    assert key.budget == report.trial.fidelities["epochs"]


# -- import ---------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["smac", "ConfigSpace"])
def test_missing_smac_names_the_extra(missing: str) -> None:
    code = (
        f"import sys; sys.modules[{missing!r}] = None\n"
        "try:\n"
        "    import fasttrial.optimization.optimizers.smac\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'fasttrial[smac]'" in result.stdout
    assert "needs SMAC" in result.stdout


# -- fasttrial demo --optimizer smac --------------------------------------------------------


def test_demo_with_smac(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from fasttrial.cli import main

    out = tmp_path / "run"
    args = ["demo", "--optimizer", "smac", "--trials", "6", "--seed", "2", "--no-progress"]
    assert main([*args, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "SMACOptimizer" in printed
    history = History.from_parquet(out / "history.parquet")
    assert len(history) == 6
    assert all(r.name.startswith("config_id=") for r in history)
    assert len({r.name for r in history}) == 6
