"""``fasttrial.optimize`` next to amltk's Scheduler and Optuna, and next to a hand loop.

Two benchmarks that can fail, both timed with their own clock (medians of interleaved
rounds, same run), so they also run under ``--benchmark-disable`` as CI runs them:

* 3,000 trivial trials (an empty ``begin()`` block and ``success()``) on 2 worker processes
  through ``fasttrial.optimize(executor="processes", n_workers=2)``, against amltk 1.10's
  ``Scheduler.with_processes(2)`` driving the same target and fasttrial trials (ask, submit,
  tell and ``History.add`` on each result, 2 in flight) and Optuna's
  ``study.optimize(n_jobs=2)`` with a random sampler and an objective that draws one float.
  fasttrial must be at least ``MIN_VS_AMLTK`` and ``MIN_VS_OPTUNA`` times faster.  Each
  round includes starting the workers (fasttrial's fork from a warm forkserver, amltk's
  ProcessPoolExecutor forks, Optuna uses threads).  A peer that is not installed is
  skipped with a message (neither is a dependency: ``pip install amltk==1.10.* optuna
  scikit-learn``; amltk 1.10 imports scikit-learn).
* ``fasttrial.optimize(executor=None)`` over 5,000 trivial trials against the same loop
  written by hand (ask, begin, success, tell, add), 15 rounds back to back in turns: the
  median of the rounds' ratios is at most ``MAX_INLINE_RATIO``.
"""

from __future__ import annotations

import importlib.util
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import _runner_targets as targets

import fasttrial
from fasttrial.optimization import History, RandomSearch

N_TRIALS = 3000
ROUNDS = 3
MIN_VS_AMLTK = 5.0
MIN_VS_OPTUNA = 3.0
N_INLINE = 5_000
INLINE_ROUNDS = 15
MAX_INLINE_RATIO = 1.2

pytestmark = pytest.mark.ratios


def _have(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def run_fasttrial(n: int) -> float:
    opt = RandomSearch(targets.SPACE, metrics=targets.LOSS, seed=0)
    t0 = time.perf_counter()
    history = fasttrial.optimize(
        targets.trivial, opt, n_trials=n, executor="processes", n_workers=2, progress=False
    )
    seconds = time.perf_counter() - t0
    assert len(history) == n
    assert {str(r.status) for r in history} == {"success"}
    return seconds


def run_amltk(n: int) -> float:
    from amltk.scheduling import Scheduler

    opt = RandomSearch(targets.SPACE, metrics=targets.LOSS, seed=0)
    history = History()
    left = [n]
    t0 = time.perf_counter()
    scheduler = Scheduler.with_processes(2)
    task = scheduler.task(targets.trivial)

    def submit_next() -> None:
        if left[0] > 0:
            left[0] -= 1
            task.submit(opt.ask())

    @scheduler.on_start(repeat=2)
    def launch() -> None:
        submit_next()

    @task.on_result
    def done(_: Any, report: Any) -> None:
        opt.tell(report)
        history.add(report)
        submit_next()

    scheduler.run(display=False)
    seconds = time.perf_counter() - t0
    assert len(history) == n
    return seconds


def run_optuna(n: int) -> float:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    t0 = time.perf_counter()
    study.optimize(targets.optuna_objective, n_trials=n, n_jobs=2)
    seconds = time.perf_counter() - t0
    assert len(study.trials) == n
    return seconds


def test_optimize_on_processes_beats_amltk_and_optuna(ratio_lines: list[str]) -> None:
    peers = {"amltk": (run_amltk, MIN_VS_AMLTK), "optuna": (run_optuna, MIN_VS_OPTUNA)}
    missing = [name for name in peers if not _have(name)]
    for name in missing:
        line = f"runner: {name} is not installed, not compared (pip install {name})"
        print(line)
        ratio_lines.append(line)
        del peers[name]
    if not peers:
        pytest.skip("neither amltk nor optuna is installed: nothing to compare with")
    run_fasttrial(200)  # start the forkserver once: every round below forks from it warm
    times: dict[str, list[float]] = {"fasttrial": [], **{name: [] for name in peers}}
    for _ in range(ROUNDS):
        times["fasttrial"].append(run_fasttrial(N_TRIALS))
        for name, (run, _floor) in peers.items():
            times[name].append(run(N_TRIALS))
    ft = statistics.median(times["fasttrial"])
    line = f"runner: {N_TRIALS} trivial trials on 2 processes: fasttrial {ft:.3f} s"
    print(line)
    ratio_lines.append(line)
    failures = []
    for name, (_run, floor) in peers.items():
        peer = statistics.median(times[name])
        line = (
            f"runner:   {name} {peer:.3f} s = {peer / ft:.1f}x fasttrial's time "
            f"(must be >= {floor:g}x)"
        )
        print(line)
        ratio_lines.append(line)
        if peer / ft < floor:
            failures.append(line)
    assert not failures, "fasttrial.optimize is not fast enough:\n" + "\n".join(failures)


def hand_loop(n: int) -> float:
    opt = RandomSearch(targets.SPACE, metrics=targets.LOSS, seed=0)
    history = History()
    t0 = time.perf_counter()
    for _ in range(n):
        trial = opt.ask()
        with trial.begin():
            pass
        report = trial.success(loss=trial.config["x"])
        opt.tell(report)
        history.add(report)
    seconds = time.perf_counter() - t0
    assert len(history) == n
    return seconds


def optimize_inline(n: int) -> float:
    opt = RandomSearch(targets.SPACE, metrics=targets.LOSS, seed=0)
    t0 = time.perf_counter()
    history = fasttrial.optimize(targets.trivial, opt, n_trials=n, progress=False)
    seconds = time.perf_counter() - t0
    assert len(history) == n
    return seconds


def test_optimize_inline_costs_little_over_a_hand_loop(ratio_lines: list[str]) -> None:
    hand: list[float] = []
    ours: list[float] = []
    hand_loop(2000), optimize_inline(2000)  # warm up
    for i in range(INLINE_ROUNDS):  # back to back, in turns, so drift hits both alike
        if i % 2:
            ours.append(optimize_inline(N_INLINE))
            hand.append(hand_loop(N_INLINE))
        else:
            hand.append(hand_loop(N_INLINE))
            ours.append(optimize_inline(N_INLINE))
    h, o = statistics.median(hand), statistics.median(ours)
    ratio = statistics.median(b / a for a, b in zip(hand, ours, strict=True))
    line = (
        f"runner: executor=None {o / N_INLINE * 1e6:.2f} us/trial, hand loop "
        f"{h / N_INLINE * 1e6:.2f} us/trial: {ratio:.3f}x, median of the rounds' ratios "
        f"(must be <= {MAX_INLINE_RATIO:g}x)"
    )
    print(line)
    ratio_lines.append(line)
    assert ratio <= MAX_INLINE_RATIO, line
