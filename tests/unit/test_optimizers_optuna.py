"""OptunaOptimizer: amltk's ask/tell API over a real Optuna study."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from typing import Any

import pytest

optuna = pytest.importorskip("optuna")

from optuna.distributions import (  # noqa: E402
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import TrialState  # noqa: E402

from fasttrial.optimization import (  # noqa: E402
    History,
    Metric,
    Optimizer,
    RandomSearch,
    SearchSpaceError,
    Trial,
)
from fasttrial.optimization.optimizers.optuna import OptunaOptimizer  # noqa: E402
from fasttrial.store import PathBucket  # noqa: E402

LOSS = Metric("loss", minimize=True)
ACC = Metric("acc", minimize=False, bounds=(0.0, 1.0))
SPACE: dict[str, Any] = {
    "x": (-5.0, 5.0),
    "n": (1, 10),
    "lr": {"low": 1e-4, "high": 1.0, "log": True},
    "kind": ["a", "b", "c"],
}


@pytest.fixture(autouse=True)
def _quiet_optuna() -> Any:
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    yield
    optuna.logging.set_verbosity(level)


def target(trial: Trial[Any]) -> Trial.Report[Any]:
    c = trial.config
    with trial.begin():
        loss = (c["x"] - 1.0) ** 2 + c["n"] * c["lr"] + (0.5 if c["kind"] == "b" else 0.0)
    return trial.success(loss=loss)


def check_config(config: dict[str, Any]) -> None:
    assert set(config) == set(SPACE)
    assert -5.0 <= config["x"] <= 5.0 and isinstance(config["x"], float)
    assert 1 <= config["n"] <= 10 and isinstance(config["n"], int)
    assert 1e-4 <= config["lr"] <= 1.0
    assert config["kind"] in ("a", "b", "c")


class _Pipeline:
    """An object with amltk's ``search_space(parser)`` method (as an amltk pipeline)."""

    def __init__(self) -> None:
        self.parsers: list[Any] = []

    def search_space(self, parser: Any) -> dict[str, Any]:
        self.parsers.append(parser)
        return {"x": FloatDistribution(-5.0, 5.0), "n": IntDistribution(1, 10)}


@pytest.mark.parametrize(
    "space",
    [
        pytest.param(SPACE, id="fasttrial-forms"),
        pytest.param(
            {
                "x": FloatDistribution(-5.0, 5.0),
                "n": IntDistribution(1, 10),
                "lr": FloatDistribution(1e-4, 1.0, log=True),
                "kind": CategoricalDistribution(["a", "b", "c"]),
            },
            id="optuna-distributions",
        ),
        pytest.param(
            {**SPACE, "x": FloatDistribution(-5.0, 5.0)},
            id="mixed",
        ),
    ],
)
def test_amltk_flow_with_each_space_form(space: dict[str, Any], tmp_path: Any) -> None:
    optimizer = OptunaOptimizer.create(
        space=space, metrics=LOSS, seed=1, bucket=PathBucket(tmp_path / "b")
    )
    history = History()
    for i in range(8):
        trial = optimizer.ask()
        check_config(dict(trial.config))
        assert isinstance(trial.info, optuna.trial.Trial)
        assert trial.info.number == i
        assert trial.name == f"trial_number={i}"  # amltk's names
        assert trial.seed == 1  # amltk gives every trial the optimizer's seed
        assert list(trial.metrics) == [LOSS]
        assert trial.bucket.path == tmp_path / "b"  # store() writes into b/<trial name>/
        report = target(trial)
        optimizer.tell(report)
        history.add(report)
        frozen = optimizer.study.trials[i]
        assert frozen.state == TrialState.COMPLETE
        assert frozen.value == report.metrics["loss"]
        assert frozen.params == dict(trial.config)
    assert len(history) == 8
    assert optimizer.study.best_value == min(r.metrics["loss"] for r in history)


def test_object_with_search_space_is_asked_with_the_preferred_parser() -> None:
    pipeline = _Pipeline()
    optimizer = OptunaOptimizer.create(space=pipeline, metrics=LOSS, seed=0)
    assert pipeline.parsers == ["optuna"] == [OptunaOptimizer.preferred_parser()]
    trial = optimizer.ask()
    assert set(trial.config) == {"x", "n"}
    optimizer.tell(trial.success(loss=trial.config["x"] ** 2))
    assert optimizer.study.trials[0].state == TrialState.COMPLETE


def test_metrics_is_a_sequence_in_order_with_a_by_name_lookup() -> None:
    optimizer = OptunaOptimizer.create(space=SPACE, metrics=[LOSS, ACC], seed=0)
    assert isinstance(optimizer, Optimizer)  # fasttrial's ask/tell protocol
    assert optimizer.metrics == [LOSS, ACC]
    assert tuple(m.worst for m in optimizer.metrics) == (LOSS.worst, ACC.worst)
    assert optimizer.metrics_by_name == {"loss": LOSS, "acc": ACC}


def test_multi_objective_tells_values_in_metric_order() -> None:
    # The study's directions follow the metrics; values go in metric order whatever order
    # the target passes them in.
    optimizer = OptunaOptimizer.create(space=SPACE, metrics=[ACC, LOSS], seed=0)
    assert [d.name for d in optimizer.study.directions] == ["MAXIMIZE", "MINIMIZE"]
    assert type(optimizer.study.sampler).__name__ == "NSGAIISampler"
    told = []
    for _ in range(6):
        trial = optimizer.ask()
        loss, acc = abs(trial.config["x"]), 1.0 / (1.0 + trial.config["n"])
        optimizer.tell(trial.success(loss=loss, acc=acc))
        told.append([acc, loss])
    assert [t.values for t in optimizer.study.trials] == told
    assert optimizer.study.best_trials  # a Pareto front exists


def test_fail_crashed_and_unknown_are_failed_trials() -> None:
    optimizer = OptunaOptimizer.create(space=SPACE, metrics=LOSS, seed=0)
    a, b, c, d = optimizer.ask(4)
    optimizer.tell(a.fail())
    with b.begin():
        raise ValueError("boom")
    optimizer.tell(b.crashed())
    optimizer.tell(Trial.Report(c, Trial.Status.UNKNOWN, (LOSS.worst,)))
    optimizer.tell(d.success(loss=0.25))
    states = [t.state for t in optimizer.study.trials]
    assert states == [TrialState.FAIL] * 3 + [TrialState.COMPLETE]
    assert optimizer.study.best_value == 0.25


def test_ask_n_gives_unique_names_and_configs() -> None:
    optimizer = OptunaOptimizer.create(space=SPACE, metrics=LOSS, seed=3)
    trials = optimizer.ask(12)
    assert isinstance(trials, list) and len(trials) == 12
    assert len({t.name for t in trials}) == 12
    assert len({tuple(sorted(t.config.items())) for t in trials}) == 12
    assert optimizer.ask(0) == []
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="ask"):
            optimizer.ask(bad)
    for t in trials:  # pending trials can be told in any order
        optimizer.tell(target(t))
    assert all(t.state == TrialState.COMPLETE for t in optimizer.study.trials)


def _configs(seed: Any, sampler: Any = None, n: int = 20) -> list[dict[str, Any]]:
    optimizer = OptunaOptimizer.create(space=SPACE, metrics=LOSS, seed=seed, sampler=sampler)
    out = []
    for _ in range(n):
        trial = optimizer.ask()
        out.append(dict(trial.config))
        optimizer.tell(target(trial))
    return out


def test_seed_makes_the_configurations_reproducible() -> None:
    # 20 configurations, past TPE's 10 random startup trials, asked twice with one seed.
    first = _configs(7)
    assert first == _configs(7)
    assert first != _configs(8)
    # A seed drawn from the operating system still gives a seeded (reproducible) sampler.
    optimizer = OptunaOptimizer.create(space=SPACE, metrics=LOSS)
    assert isinstance(optimizer.seed, int)
    assert _configs(optimizer.seed, n=5) == _configs(optimizer.seed, n=5)


def test_seed_from_a_numpy_generator_and_a_given_sampler() -> None:
    np = pytest.importorskip("numpy")
    a = _configs(np.random.default_rng(5), n=5)
    assert a == _configs(np.random.default_rng(5), n=5)
    random_sampler = optuna.samplers.RandomSampler(seed=11)
    b = _configs(0, sampler=random_sampler, n=5)
    assert b == _configs(0, sampler=optuna.samplers.RandomSampler(seed=11), n=5)
    with pytest.raises(TypeError, match="seed"):
        OptunaOptimizer.create(space=SPACE, metrics=LOSS, seed="0")


def test_no_folder_is_created_by_default(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    optimizer = OptunaOptimizer.create(space=SPACE, metrics=LOSS, seed=0)
    trial = optimizer.ask()
    optimizer.tell(target(trial))
    assert os.listdir(tmp_path) == []
    trial.store({"note.txt": "hi"})  # the trial's own sub-bucket, made on first store
    assert (tmp_path / optimizer.bucket.path / trial.name / "note.txt").read_text() == "hi"


def test_a_pickled_trial_is_light_and_its_report_is_told() -> None:
    # As through a process pool: the trial goes out as a copy, its report comes back as one.
    optimizer = OptunaOptimizer.create(
        space=SPACE, metrics=LOSS, seed=0, sampler=optuna.samplers.RandomSampler(seed=0)
    )
    for _ in range(300):
        optimizer.tell(target(optimizer.ask()))
    trial = optimizer.ask()
    assert isinstance(trial.info, optuna.trial.Trial)
    sent = pickle.dumps(trial)
    # Not a copy of the study and its 300 trials (a pickled optuna Trial is ~55 KB here).
    assert len(sent) < 5000
    there = pickle.loads(sent)
    assert isinstance(there.info, optuna.trial.FixedTrial)
    assert there.info.number == trial.info.number == 300
    # A FixedTrial answers suggest_*() with the sampled values (then lists them as params).
    assert there.info.suggest_float("x", -5.0, 5.0) == trial.config["x"]
    assert there.info.suggest_int("n", 1, 10) == trial.config["n"]
    assert there.info.suggest_float("lr", 1e-4, 1.0, log=True) == trial.config["lr"]
    assert there.info.suggest_categorical("kind", ["a", "b", "c"]) == trial.config["kind"]
    assert there.info.params == trial.info.params == dict(trial.config)
    optimizer.tell(pickle.loads(pickle.dumps(target(there))))
    assert optimizer.study.trials[300].state == TrialState.COMPLETE
    assert optimizer.study.trials[300].value == target(there).metrics["loss"]


# -- bad input ------------------------------------------------------------------------------


def test_direction_is_refused() -> None:
    for key in ("direction", "directions"):
        with pytest.raises(ValueError, match=key):
            OptunaOptimizer.create(space=SPACE, metrics=LOSS, **{key: "maximize"})


@pytest.mark.parametrize(
    ("entry", "match"),
    [
        ([object()], "categorical choices must be None, bool, int, float or str"),
        ([(1, 2), (3, 4)], "categorical choices"),
        ((1, 2, 3), "unknown form"),
        ({"low": 0.0, "high": 1.0, "step": 0.1}, "unknown keys"),
        ({"low": 0.0, "high": 1.0, "log": True}, "log scale needs 0 < low"),
        ("x", "unknown form"),
    ],
)
def test_a_space_entry_optuna_cannot_express_is_named(entry: Any, match: str) -> None:
    with pytest.raises(SearchSpaceError, match=match) as info:
        OptunaOptimizer.create(space={"ok": (0.0, 1.0), "bad": entry}, metrics=LOSS)
    assert "'bad'" in str(info.value)


def test_bad_spaces_and_metrics() -> None:
    with pytest.raises(TypeError, match="space"):
        OptunaOptimizer.create(space=[("x", (0.0, 1.0))], metrics=LOSS)
    with pytest.raises(TypeError, match="no direction"):
        OptunaOptimizer.create(space=SPACE, metrics="loss")
    with pytest.raises(TypeError, match="Metric"):
        OptunaOptimizer.create(space=SPACE, metrics=[LOSS, "acc"])
    with pytest.raises(ValueError, match="at least one metric"):
        OptunaOptimizer.create(space=SPACE, metrics=[])
    with pytest.raises(ValueError, match="unique"):
        OptunaOptimizer.create(space=SPACE, metrics=[LOSS, Metric("loss", minimize=False)])
    study = optuna.create_study(direction="maximize")
    with pytest.raises(ValueError, match="directions"):
        OptunaOptimizer(study=study, metrics=LOSS, space=SPACE)


def _snapshot(optimizer: OptunaOptimizer) -> list[Any]:
    return [(t.number, t.state, t.values, t.params) for t in optimizer.study.trials]


def test_tell_of_a_trial_never_asked_or_told_twice_changes_nothing() -> None:
    optimizer = OptunaOptimizer.create(space=SPACE, metrics=LOSS, seed=0)
    other = RandomSearch({"x": (0.0, 1.0)}, metrics=LOSS, seed=0).ask()
    trial = optimizer.ask()
    before = _snapshot(optimizer)
    with pytest.raises(ValueError, match="'trial-0' is not a trial this OptunaOptimizer asked"):
        optimizer.tell(other.success(loss=1.0))
    with pytest.raises(TypeError, match=r"Trial\.Report"):
        optimizer.tell(trial)  # type: ignore[arg-type]
    assert _snapshot(optimizer) == before
    report = target(trial)
    optimizer.tell(report)
    after = _snapshot(optimizer)
    with pytest.raises(ValueError, match="'trial_number=0' was told already"):
        optimizer.tell(report)
    assert _snapshot(optimizer) == after


def test_tell_of_a_report_with_other_metrics_changes_nothing() -> None:
    optimizer = OptunaOptimizer.create(space=SPACE, metrics=LOSS, seed=0)
    trial = optimizer.ask()
    foreign = Trial(name=trial.name, config=trial.config, metrics=[Metric("loss", minimize=False)])
    with pytest.raises(ValueError, match="differs"):
        optimizer.tell(foreign.success(loss=1.0))
    assert optimizer.study.trials[0].state == TrialState.RUNNING
    optimizer.tell(trial.success(loss=1.0))  # the real report is still taken
    assert optimizer.study.trials[0].value == 1.0


# -- restore --------------------------------------------------------------------------------


def _run(optimizer: OptunaOptimizer, n: int) -> list[Trial.Report[Any]]:
    reports = []
    for i in range(n):
        trial = optimizer.ask()
        report = trial.fail() if i % 4 == 3 else target(trial)
        optimizer.tell(report)
        reports.append(report)
    return reports


def test_restore_adds_finished_trials_the_sampler_knows() -> None:
    reports = _run(OptunaOptimizer.create(space=SPACE, metrics=LOSS, seed=0), 12)
    history = History(reports)
    fresh = OptunaOptimizer.create(space=SPACE, metrics=LOSS, seed=0)
    fresh.restore(history)
    trials = fresh.study.trials
    assert len(trials) == 12
    for frozen, report in zip(trials, reports, strict=True):
        assert frozen.params == dict(report.config)
        assert frozen.user_attrs["fasttrial_name"] == report.name
        if report.status is Trial.Status.SUCCESS:
            assert frozen.state == TrialState.COMPLETE
            assert frozen.value == report.metrics["loss"]
        else:
            assert frozen.state == TrialState.FAIL
    best = min(r.metrics["loss"] for r in reports if r.status is Trial.Status.SUCCESS)
    assert fresh.study.best_value == best
    # Past TPE's startup trials, so this ask is a TPE suggestion built on the restored ones.
    nxt = fresh.ask()
    assert nxt.name == "trial_number=12"
    assert nxt.name not in {r.name for r in reports}


def test_names_after_restore_are_never_reused() -> None:
    # Trial 2 was out when the run died: its report is missing, so the restored study holds
    # four trials and Optuna numbers the next one 4, a name the old run used already.
    first = OptunaOptimizer.create(space=SPACE, metrics=LOSS, seed=0)
    trials = first.ask(5)
    reports = [target(t) for i, t in enumerate(trials) if i != 2]
    fresh = OptunaOptimizer.create(space=SPACE, metrics=LOSS, seed=0)
    fresh.restore(reports)
    names = [t.name for t in fresh.ask(4)]
    assert names == ["trial_number=4_2", "trial_number=5", "trial_number=6", "trial_number=7"]
    used = {r.name for r in reports}
    assert not used & set(names)
    with pytest.raises(ValueError, match="known to this OptunaOptimizer already"):
        fresh.restore(reports[:1])


def test_restore_checks_everything_first() -> None:
    reports = _run(OptunaOptimizer.create(space=SPACE, metrics=LOSS, seed=0), 3)
    fresh = OptunaOptimizer.create(space=SPACE, metrics=LOSS, seed=0)
    out_of_range = Trial(name="far", config={**reports[0].config, "x": 99.0}, metrics=[LOSS])
    unknown_key = Trial(name="extra", config={**reports[0].config, "y": 1}, metrics=[LOSS])
    cases = [
        ([*reports, out_of_range.success(loss=1.0)], ValueError, "'far' does not fit"),
        ([*reports, unknown_key.success(loss=1.0)], ValueError, r"'extra' has config keys \['y'\]"),
        ([*reports, reports[0]], ValueError, "restored twice"),
        ([*reports, "not a report"], TypeError, "position 3"),
    ]
    for bad, error, match in cases:
        with pytest.raises(error, match=match):
            fresh.restore(bad)
        assert fresh.study.trials == []
    fresh.restore(reports)  # nothing was half restored: the good ones still go in
    assert len(fresh.study.trials) == 3
    pending = fresh.ask()
    with pytest.raises(ValueError, match="still out"):
        fresh.restore([target(pending)])


# -- import ---------------------------------------------------------------------------------


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )


def test_missing_optuna_names_the_extra() -> None:
    result = _python(
        "import sys; sys.modules['optuna'] = None\n"
        "try:\n"
        "    import fasttrial.optimization.optimizers.optuna\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'fasttrial[optuna]'" in result.stdout
    assert "needs Optuna" in result.stdout


def test_import_fasttrial_does_not_import_optuna() -> None:
    result = _python(
        "import sys, fasttrial, fasttrial.optimization.optimizers\n"
        "print(sorted(m for m in ('optuna', 'smac', 'ConfigSpace') if m in sys.modules))"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# -- fasttrial demo --optimizer optuna ------------------------------------------------------


def test_demo_with_optuna(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from fasttrial.cli import main

    out = tmp_path / "run"
    args = ["demo", "--optimizer", "optuna", "--trials", "25", "--seed", "2", "--no-progress"]
    assert main([*args, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "OptunaOptimizer" in printed and "best" in printed
    history = History.from_parquet(out / "history.parquet")
    assert len(history) == 25
    assert {r.name for r in history} == {f"trial_number={i}" for i in range(25)}
    # The same seed gives the same configurations (the seeded NSGA-II sampler).
    assert main([*args, "--out", str(tmp_path / "again")]) == 0
    again = History.from_parquet(tmp_path / "again" / "history.parquet")
    assert [dict(r.config) for r in again] == [dict(r.config) for r in history]


def test_demo_without_optuna_names_the_extra(tmp_path: Any) -> None:
    result = _python(
        "import sys; sys.modules['optuna'] = None\n"
        "from fasttrial.cli import main\n"
        f"sys.exit(main(['demo', '--optimizer', 'optuna', '--trials', '3', '--out', "
        f"{str(tmp_path / 'x')!r}, '--no-progress']))\n"
    )
    assert result.returncode == 2, result.stderr
    assert "pip install 'fasttrial[optuna]'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x").exists()
