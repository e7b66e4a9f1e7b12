"""Overhead of the Optuna and SMAC bridges over calling Optuna / SMAC directly, and next to
amltk 1.10's bridges when amltk is installed.

One operation is a run of ``N`` ask/tell pairs on a freshly made optimizer (made outside the
timing, the same seed for every implementation, so each one's sampler does the same work on
a study of the same size):

* ``optuna``: ``t = study.ask(space)`` / ``study.tell(t, value)``;
* ``fasttrial``: ``trial = optimizer.ask()`` / ``optimizer.tell(trial.success(loss=value))``;
* ``amltk``: the same through ``amltk.optimization.optimizers.{optuna,smac}`` (made with
  their constructors around the same study / facade, since amltk 1.10's ``create()`` drops
  the sampler); skipped with a message when amltk is not installed;
* ``smac``: ``info = facade.ask()`` / ``facade.tell(info, TrialValue(cost=value), save=False)``.

Groups: ``optimizer-optuna-random`` (RandomSampler), ``optimizer-optuna-tpe`` (TPESampler,
past its 10 random startup trials), ``optimizer-smac`` (inside SMAC's initial design, where
its model is not trained: a training takes seconds and would bury every difference), and
``optimizer-optuna-bridge-only`` (the two Optuna bridges around a ``NullStudy`` that samples
nothing, so only the bridges' own work is timed).

``test_bridge_overhead_ratios`` times the same runs with its own interleaved timer (so it
also runs under ``--benchmark-disable``): the ratio of two implementations is the median
over rounds of their ratio within a round. It fails if the Optuna bridge costs more than
``MAX_RATIO`` times raw Optuna (random and TPE), or if fasttrial's Optuna bridge's own work
costs more than amltk's. (End to end, both Optuna bridges are within a few per cent of raw
Optuna, whose ask/tell takes about a millisecond: too close to tell apart on a shared
machine, so the comparison with amltk is made on the bridge's own work.)
"""

from __future__ import annotations

import importlib.util
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

HAVE_OPTUNA = importlib.util.find_spec("optuna") is not None
HAVE_SMAC = importlib.util.find_spec("smac") is not None
HAVE_AMLTK = importlib.util.find_spec("amltk") is not None

NEEDS_OPTUNA = pytest.mark.skipif(
    not HAVE_OPTUNA, reason="optuna is not installed (pip install 'fasttrial[optuna]')"
)
NEEDS_SMAC = pytest.mark.skipif(
    not HAVE_SMAC, reason="smac is not installed (pip install 'fasttrial[smac]')"
)
AMLTK = pytest.param(
    "amltk",
    marks=pytest.mark.skipif(
        not HAVE_AMLTK, reason="amltk is not installed (optional: pip install 'amltk==1.10.*')"
    ),
)

MAX_RATIO = 1.2  # fasttrial's bridge / raw Optuna, medians of the same run
PAIRS = {"random": 100, "tpe": 30, "smac": 8}
REPEATS = 11  # rounds of the pytest-benchmark groups
RATIO_REPEATS = 21  # rounds of the ratio test (a loaded 2-core machine is noisy)


def value_of(config: Any) -> float:
    return float((config["x"] - 1.0) ** 2 + config["n"] * config["lr"] + (config["k"] == "b"))


# -- Optuna ---------------------------------------------------------------------------------


def _optuna_space() -> dict[str, Any]:
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    return {
        "x": FloatDistribution(-5.0, 5.0),
        "lr": FloatDistribution(1e-4, 1.0, log=True),
        "n": IntDistribution(1, 10),
        "k": CategoricalDistribution(["a", "b", "c"]),
    }


def _study(sampler: str) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    s = (
        optuna.samplers.RandomSampler(seed=0)
        if sampler == "random"
        else optuna.samplers.TPESampler(seed=0, n_startup_trials=10)
    )
    return optuna.create_study(sampler=s)


def optuna_run(impl: str, sampler: str, tmp: Path) -> Callable[[], int]:
    """A fresh optimizer of ``impl`` and a function doing ``PAIRS[sampler]`` ask/tell pairs."""
    n = PAIRS[sampler]
    study = _study(sampler)
    space = _optuna_space()
    if impl == "optuna":

        def run() -> int:
            for _ in range(n):
                t = study.ask(space)
                study.tell(t, value_of(t.params))
            return len(study.trials)

        return run
    if impl == "fasttrial":
        from fasttrial.optimization import Metric
        from fasttrial.optimization.optimizers.optuna import OptunaOptimizer

        optimizer: Any = OptunaOptimizer(
            study=study, metrics=Metric("loss"), space=space, bucket=tmp / "ft", seed=0
        )
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from amltk.optimization import Metric as AMetric
            from amltk.optimization.optimizers.optuna import OptunaOptimizer as AOptuna
            from amltk.store import PathBucket as APathBucket

        optimizer = AOptuna(
            study=study,
            metrics=AMetric("loss"),
            space=space,
            bucket=APathBucket(tmp / "amltk"),
            seed=0,
        )

    def run_bridge() -> int:
        for _ in range(n):
            trial = optimizer.ask()
            optimizer.tell(trial.success(loss=value_of(trial.config)))
        return len(study.trials)

    return run_bridge


class NullStudy:
    """A study that samples nothing: ``ask()`` returns a ready ``optuna.trial.FixedTrial``
    with the next number, ``tell()`` does nothing. Around it, a bridge's ask/tell costs only
    the bridge's own work (a few microseconds, against a millisecond for Optuna's), so that
    work can be compared between bridges without Optuna's noise."""

    def __init__(self) -> None:
        from optuna.study import StudyDirection
        from optuna.trial import FixedTrial

        self.directions = [StudyDirection.MINIMIZE]
        self.direction = StudyDirection.MINIMIZE  # amltk reads this one
        self._fixed = FixedTrial
        self._params = {"x": 0.5, "lr": 0.01, "n": 3, "k": "a"}
        self.number = 0
        self.told = 0

    def ask(self, fixed_distributions: Any = None) -> Any:
        self.number += 1
        return self._fixed(self._params, self.number)

    def tell(self, *args: Any, **kwargs: Any) -> None:
        self.told += 1


def bridge_only_run(impl: str, tmp: Path, n: int = 2000) -> Callable[[], int]:
    """``n`` ask/tell pairs of ``impl``'s Optuna bridge around a ``NullStudy``."""
    study = NullStudy()
    space = _optuna_space()
    if impl == "fasttrial":
        from fasttrial.optimization import Metric
        from fasttrial.optimization.optimizers.optuna import OptunaOptimizer

        optimizer: Any = OptunaOptimizer(
            study=study, metrics=Metric("loss"), space=space, bucket=tmp / "ft", seed=0
        )
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from amltk.optimization import Metric as AMetric
            from amltk.optimization.optimizers.optuna import OptunaOptimizer as AOptuna
            from amltk.store import PathBucket as APathBucket

        optimizer = AOptuna(
            study=study,  # type: ignore[arg-type]
            metrics=AMetric("loss"),
            space=space,
            bucket=APathBucket(tmp / "amltk"),
            seed=0,
        )

    def run() -> int:
        for _ in range(n):
            trial = optimizer.ask()
            optimizer.tell(trial.success(loss=1.0))
        return study.told

    return run


# -- SMAC -----------------------------------------------------------------------------------


def _facade(tmp: Path) -> Any:
    from ConfigSpace import ConfigurationSpace
    from smac import HyperparameterOptimizationFacade, Scenario

    cs = ConfigurationSpace(
        {"x": (-5.0, 5.0), "lr": (1e-4, 1.0), "n": (1, 10), "k": ["a", "b", "c"]}, seed=0
    )
    scenario = Scenario(
        cs,
        objectives="loss",
        seed=0,
        deterministic=True,
        crash_cost=100.0,
        n_trials=1000,  # an initial design of 40 configurations: no model training timed
        output_directory=Path(tempfile.mkdtemp(dir=tmp)),
    )
    return HyperparameterOptimizationFacade(scenario, "dummy", overwrite=True, logging_level=False)


def smac_run(impl: str, tmp: Path) -> Callable[[], int]:
    """A fresh facade, the optimizer of ``impl`` around it, and ``PAIRS["smac"]`` pairs."""
    n = PAIRS["smac"]
    facade = _facade(tmp)
    if impl == "smac":
        from smac.runhistory import TrialValue

        def run() -> int:
            for _ in range(n):
                info = facade.ask()
                facade.tell(info, TrialValue(cost=value_of(info.config)), save=False)
            return len(facade.runhistory)

        return run
    if impl == "fasttrial":
        from fasttrial.optimization import Metric
        from fasttrial.optimization.optimizers.smac import SMACOptimizer

        optimizer: Any = SMACOptimizer(
            facade=facade, metrics=Metric("loss", bounds=(0.0, 100.0)), save=False
        )
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from amltk.optimization import Metric as AMetric
            from amltk.optimization.optimizers.smac import SMACOptimizer as ASMAC
            from amltk.store import PathBucket as APathBucket

        # amltk 1.10 tells SMAC with save=True (all of its run history written per tell).
        optimizer = ASMAC(
            facade=facade,
            metrics=AMetric("loss", bounds=(0.0, 100.0)),
            bucket=APathBucket(tmp / "amltk"),
        )

    def run_bridge() -> int:
        for _ in range(n):
            trial = optimizer.ask()
            optimizer.tell(trial.success(loss=value_of(trial.config)))
        return len(facade.runhistory)

    return run_bridge


# -- pytest-benchmark groups ----------------------------------------------------------------


def _bench(benchmark: Any, make: Callable[[], Callable[[], int]], expected: int) -> None:
    def setup() -> tuple[tuple[Callable[[], int]], dict[str, Any]]:
        return (make(),), {}

    done = benchmark.pedantic(lambda run: run(), setup=setup, rounds=REPEATS, iterations=1)
    assert done == expected


@NEEDS_OPTUNA
@pytest.mark.parametrize("impl", ["optuna", "fasttrial", AMLTK])
@pytest.mark.parametrize("sampler", ["random", "tpe"])
def test_optuna_ask_tell(benchmark: Any, impl: str, sampler: str, tmp_path: Path) -> None:
    benchmark.group = f"optimizer-optuna-{sampler}"
    benchmark.extra_info["label"] = impl
    _bench(benchmark, lambda: optuna_run(impl, sampler, tmp_path), PAIRS[sampler])


@NEEDS_OPTUNA
@pytest.mark.parametrize("impl", ["fasttrial", AMLTK])
def test_optuna_bridge_only(benchmark: Any, impl: str, tmp_path: Path) -> None:
    benchmark.group = "optimizer-optuna-bridge-only"
    benchmark.extra_info["label"] = impl
    _bench(benchmark, lambda: bridge_only_run(impl, tmp_path), 2000)


@NEEDS_SMAC
@pytest.mark.parametrize("impl", ["smac", "fasttrial", AMLTK])
def test_smac_ask_tell(benchmark: Any, impl: str, tmp_path: Path) -> None:
    benchmark.group = "optimizer-smac"
    benchmark.extra_info["label"] = impl
    _bench(benchmark, lambda: smac_run(impl, tmp_path), PAIRS["smac"])


# -- the ratio test (own timer) -------------------------------------------------------------


def _samples(
    makers: dict[str, Callable[[], Callable[[], int]]], pairs: int
) -> dict[str, list[float]]:
    """Seconds per ask/tell pair of each implementation in each of ``RATIO_REPEATS`` rounds: a
    fresh run of each per round, back to back, the order alternating between rounds."""
    names = list(makers)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(RATIO_REPEATS):
        for name in names if r % 2 == 0 else names[::-1]:
            run = makers[name]()
            t0 = time.perf_counter()
            run()
            samples[name].append((time.perf_counter() - t0) / pairs)
    return samples


def _ratio(a: list[float], b: list[float]) -> float:
    """Median over rounds of a/b within the round (drift of a shared machine cancels)."""
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


@pytest.mark.ratios
def test_bridge_overhead_ratios(tmp_path: Path, ratio_lines: list[str]) -> None:
    cases: list[tuple[str, str, dict[str, Callable[[], Callable[[], int]]], int]] = []
    if HAVE_OPTUNA:
        for sampler in ("random", "tpe"):
            impls = ["optuna", "fasttrial"] + (["amltk"] if HAVE_AMLTK else [])
            makers = {
                i: (lambda i=i, s=sampler: optuna_run(i, s, tmp_path))  # type: ignore[misc]
                for i in impls
            }
            cases.append((f"optuna-{sampler}", "optuna", makers, PAIRS[sampler]))
        if HAVE_AMLTK:
            makers = {
                i: (lambda i=i: bridge_only_run(i, tmp_path))  # type: ignore[misc]
                for i in ("amltk", "fasttrial")
            }
            cases.append(("optuna-bridge", "amltk", makers, 2000))
    if HAVE_SMAC:
        impls = ["smac", "fasttrial"] + (["amltk"] if HAVE_AMLTK else [])
        makers = {i: (lambda i=i: smac_run(i, tmp_path)) for i in impls}  # type: ignore[misc]
        cases.append(("smac", "smac", makers, PAIRS["smac"]))
    if not cases:
        pytest.skip("neither optuna nor smac is installed (pip install 'fasttrial[optuna,smac]')")
    if not HAVE_AMLTK:
        ratio_lines.append("optimizers: amltk is not installed, its bridges are not compared")
    failures = []
    for group, raw, makers, pairs in cases:
        samples = _samples(makers, pairs)
        med = {name: statistics.median(s) for name, s in samples.items()}
        ratio = _ratio(samples["fasttrial"], samples[raw])
        line = f"{group:<14} {raw} {med[raw] * 1e6:9.1f} us/pair   fasttrial"
        line += f" {med['fasttrial'] * 1e6:9.1f} us/pair   fasttrial/{raw} = {ratio:5.3f}x"
        vs_amltk = None
        if "amltk" in med and raw != "amltk":
            vs_amltk = _ratio(samples["amltk"], samples["fasttrial"])
            line += f"   amltk {med['amltk'] * 1e6:9.1f} us/pair ({vs_amltk:5.2f}x ours)"
        print(line)
        ratio_lines.append(line)
        if raw == "optuna" and ratio > MAX_RATIO:
            failures.append(f"{line}   (must be <= {MAX_RATIO}x)")
        if raw == "amltk" and ratio > 1.0:
            failures.append(f"{line}   (must be no slower than amltk's bridge)")
    assert not failures, "a bridge costs too much:\n" + "\n".join(failures)
