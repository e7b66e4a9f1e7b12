"""Random-search HPO over the Branin function, every trial profiled by fasttrial.

The README's main job is ``fasttrial demo`` (a similar loop, built in); this script is the
same idea as a plain file to read and adapt::

    pip install . && python examples/hpo_loop.py

Each trial is a ``Trial`` profiled with ``trial.begin()`` (and a ``trial.profile("fit")``
inside); evaluations in part of the search space raise ``ValueError`` on purpose and are
reported with ``trial.fail()``; every report goes into a ``History``.  At the end the script
prints the status counts, the best trial, and what the profiling cost: the same loop body is
timed without fasttrial (the objective alone) and with it, a few times each, and the
difference of the medians is reported per trial and as a share of the loop's time.

Nothing is written unless ``--out DIR`` is given; then ``history.df()`` is saved there as
``history.parquet`` (needs pyarrow) and ``history.csv``.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from fasttrial.optimization import History, Metric, Trial

# Branin's domain: x1 in [-5, 10], x2 in [0, 15]; global minimum 0.397887 at three points.
BOUNDS = {"x1": (-5.0, 10.0), "x2": (0.0, 15.0)}
UNSTABLE_X2 = 1.0  # configurations with x2 below this "diverge" (about 6.7% of the space)


def branin(x1: float, x2: float) -> float:
    """The Branin-Hoo function; raises ValueError in the region that fails on purpose."""
    if x2 < UNSTABLE_X2:
        raise ValueError(f"training diverged for x2={x2:.3f} < {UNSTABLE_X2}")
    a, b, c = 1.0, 5.1 / (4 * math.pi**2), 5 / math.pi
    r, s, t = 6.0, 10.0, 1 / (8 * math.pi)
    return a * (x2 - b * x1**2 + c * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s


def sample_configs(n: int, seed: int) -> list[dict[str, float]]:
    """``n`` configurations drawn uniformly from the domain (numpy's seeded generator)."""
    rng = np.random.default_rng(seed)
    columns = {name: rng.uniform(lo, hi, size=n).tolist() for name, (lo, hi) in BOUNDS.items()}
    return [{"x1": x1, "x2": x2} for x1, x2 in zip(columns["x1"], columns["x2"], strict=True)]


def run_with_fasttrial(configs: list[dict[str, float]], seed: int) -> History:
    """The HPO loop: one profiled Trial per configuration, every report in a History."""
    loss = Metric("loss", minimize=True)
    history = History()
    for i, config in enumerate(configs):
        trial = Trial(name=f"trial-{i}", config=config, metrics=[loss], seed=seed + i)
        with trial.begin(), trial.profile("fit"):
            y = branin(**config)
        report = trial.fail() if trial.exception is not None else trial.success(loss=y)
        history.add(report)
    return history


def run_without_fasttrial(configs: list[dict[str, float]], seed: int) -> list[Any]:
    """The same loop body with no profiling: evaluate, catch the failure, keep the result."""
    results = []
    for i, config in enumerate(configs):
        name = f"trial-{i}"
        try:
            y = branin(**config)
        except ValueError as error:
            results.append((name, config, seed + i, "fail", error))
        else:
            results.append((name, config, seed + i, "success", y))
    return results


def seconds(fn: Callable[[], Any]) -> float:
    """Wall time of one call of ``fn()`` (``time.perf_counter``)."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=10_000, help="number of trials (10000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of numpy's generator (0)")
    parser.add_argument(
        "--repeats", type=int, default=5, help="timed repeats of each loop for the cost (5)"
    )
    parser.add_argument("--out", type=Path, help="save history.df() as parquet and csv here")
    args = parser.parse_args(argv)
    if args.trials < 1:
        parser.error("--trials must be at least 1")
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    configs = sample_configs(args.trials, args.seed)

    # The main job: the HPO loop itself.
    t0 = time.perf_counter()
    history = run_with_fasttrial(configs, args.seed)
    elapsed = time.perf_counter() - t0

    counts = Counter(str(report.status) for report in history)
    best = history.best("loss")
    print(f"trials:        {len(history)}  ({elapsed:.3f} s for the profiled loop)")
    print("status:        " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    print(f"best:          {best.name}  loss={best.metrics['loss']:.6f}")
    print("best config:   " + ", ".join(f"{k}={v:.6f}" for k, v in best.config.items()))
    print(
        f"best time:     {best.time.duration * 1e6:.1f} us in begin(), "
        f"memory rss {best.memory.end_rss / 2**20:.1f} MiB"
    )

    # The profiling cost: the same loop without and with fasttrial, interleaved repeats.
    without, with_ft = [], []
    for _ in range(args.repeats):
        without.append(seconds(lambda: run_without_fasttrial(configs, args.seed)))
        with_ft.append(seconds(lambda: run_with_fasttrial(configs, args.seed)))
    base = statistics.median(without) / args.trials
    prof = statistics.median(with_ft) / args.trials
    cost = prof - base
    print(f"loop without fasttrial: {base * 1e6:8.2f} us/trial  (median of {args.repeats})")
    print(f"loop with fasttrial:    {prof * 1e6:8.2f} us/trial  (median of {args.repeats})")
    print(
        f"fasttrial cost:         {cost * 1e6:8.2f} us/trial = {cost / prof:.0%} of the loop's time"
        " (Trial, begin, profile, success/fail, History.add; the objective here is tiny)"
    )

    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        df = history.df()
        csv_path = args.out / "history.csv"
        df.to_csv(csv_path)
        print(f"wrote {csv_path} ({len(df)} rows x {len(df.columns)} columns)")
        parquet_path = args.out / "history.parquet"
        try:
            df.to_parquet(parquet_path)
        except ImportError as error:
            print(f"skipped {parquet_path}: {error}", file=sys.stderr)
        else:
            print(f"wrote {parquet_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
