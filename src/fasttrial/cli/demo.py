"""``fasttrial demo``: an HPO loop with every trial profiled, and what that cost.

The optimizer is fasttrial's ``RandomSearch`` (``--optimizer random``, the default), or
Optuna or SMAC through ``fasttrial.optimization.optimizers`` (``--optimizer optuna|smac``;
the library must be installed: ``pip install 'fasttrial[optuna]'`` / ``'fasttrial[smac]'``).

The objective trains a linear model with full-batch gradient descent in numpy on a fixed
synthetic regression problem (400 rows, 12 partly correlated features) and returns the
validation mean squared error (``loss``, minimized) and R^2 (``r2``, maximized). A too large
learning rate makes gradient descent diverge: numpy's overflow (``np.errstate(over="raise")``)
or a validation loss far above the trivial model's raises ``FloatingPointError``, and the trial
is reported with ``trial.fail()``. Raw (unstandardized) features diverge at smaller learning
rates, so the categorical ``features`` choice matters.

Each trial is ``optimizer.ask()``, ``with trial.begin():`` around the evaluation, with
``trial.profile("fit")`` and ``trial.profile("score")`` inside, then ``trial.success(...)`` or
``trial.fail()``, ``optimizer.tell(report)`` and ``history.add(report)``.

The profiling cost is measured after the loop, in the same process: the three profiled
blocks of a trial (``begin``, ``fit``, ``score``) with empty bodies, timed against the same
code without them (batches back to back, 15 rounds, the median of the per-round
differences), and multiplied by the number of trials;
likewise the whole per-trial bookkeeping (ask, Trial, profiling, success, tell, History.add)
and, for comparison, the three blocks done the amltk way (``fasttrial._reference``:
``time.time()`` and a new ``psutil.Process()`` at each boundary). Each is shown per trial
and as a share of the loop's measured wall time.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fasttrial._bench import median_excess
from fasttrial.cli import CLIError
from fasttrial.cli import console as make_console
from fasttrial.optimization import History, Metric, Optimizer, RandomSearch, Trial

SPACE: dict[str, Any] = {
    "lr": {"low": 1e-3, "high": 0.5, "log": True},
    "l2": {"low": 1e-6, "high": 1.0, "log": True},
    "steps": (10, 100),
    "features": ["standardized", "raw"],
}
METRICS = [Metric("loss", minimize=True), Metric("r2", minimize=False)]
HISTORY_FILE = "history.parquet"
JOURNAL_FILE = "history.journal"
OPTIMIZERS = ("random", "optuna", "smac")
# SMAC costs a failed trial at the crash cost; the metrics are unbounded, so it is given: a
# diverged run is as bad as the divergence threshold (loss 10x the all-zero model's, so
# r2 = -9, a cost of 9 for the maximized r2).
SMAC_CRASH_COST = {"r2": 9.0}


@dataclass
class Problem:
    """A fixed regression problem: train/validation splits, raw and standardized."""

    x_train: dict[str, np.ndarray]
    y_train: np.ndarray
    x_val: dict[str, np.ndarray]
    y_val: np.ndarray
    baseline: float  # validation MSE of the all-zero model

    @classmethod
    def make(cls, seed: int = 1234, n: int = 400, d: int = 12) -> Problem:
        rng = np.random.default_rng(seed)
        latent = rng.normal(size=(n, d // 2))
        mix = rng.normal(size=(d // 2, d))
        scales = np.geomspace(0.5, 2.0, d)
        x_raw = (latent @ mix + 0.3 * rng.normal(size=(n, d))) * scales
        y = x_raw @ (rng.normal(size=d) / scales) + rng.normal(scale=0.5, size=n)
        y = y - y.mean()
        mean, std = x_raw.mean(axis=0), x_raw.std(axis=0)
        x_std = (x_raw - mean) / std
        cut = n * 3 // 4
        x_train = {"raw": x_raw[:cut], "standardized": x_std[:cut]}
        x_val = {"raw": x_raw[cut:], "standardized": x_std[cut:]}
        y_val = y[cut:]
        return cls(x_train, y[:cut], x_val, y_val, float(np.mean(y_val**2)))


def fit(problem: Problem, config: dict[str, Any]) -> np.ndarray:
    """Full-batch gradient descent on the L2-regularized squared loss.

    Raises:
        FloatingPointError: If the weights overflow (the learning rate is too large).
    """
    x = problem.x_train[config["features"]]
    y = problem.y_train
    lr, l2, n = config["lr"], config["l2"], len(y)
    w = np.zeros(x.shape[1])
    with np.errstate(over="raise", invalid="raise"):
        for _ in range(config["steps"]):
            w -= lr * (x.T @ (x @ w - y) / n + l2 * w)
    return w


def score(problem: Problem, config: dict[str, Any], w: np.ndarray) -> tuple[float, float]:
    """Validation MSE and R^2 of ``w``.

    Raises:
        FloatingPointError: If the loss is not finite or far above the all-zero model's.
    """
    with np.errstate(over="ignore", invalid="ignore"):  # a huge loss is caught below
        residual = problem.x_val[config["features"]] @ w - problem.y_val
        loss = float(np.mean(residual**2))
    if not np.isfinite(loss) or loss > 10 * problem.baseline:
        raise FloatingPointError(
            f"gradient descent diverged: validation loss {loss:.3g} "
            f"(lr={config['lr']:.3g}, features={config['features']})"
        )
    return loss, 1.0 - loss / problem.baseline


@dataclass
class DemoResult:
    history: History
    loop_seconds: float
    status: Counter[str]
    costs: dict[str, float] = field(default_factory=dict)  # seconds per trial, by name
    saved: Path | None = None
    journal: Path | None = None
    optimizer: str = "random"


def make_optimizer(name: str, seed: int, trials: int, problem: Problem) -> Optimizer:
    """The demo's optimizer ``name`` (one of ``OPTIMIZERS``), seeded.

    Raises:
        CLIError: If ``name`` is unknown, or its library is not installed (naming the extra).
    """
    if name == "random":
        return RandomSearch(SPACE, metrics=METRICS, seed=seed)
    if name not in OPTIMIZERS:
        raise CLIError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}")
    try:
        if name == "optuna":
            from fasttrial.optimization.optimizers.optuna import OptunaOptimizer, optuna

            optuna.logging.set_verbosity(optuna.logging.ERROR)  # no line per trial
            return OptunaOptimizer.create(space=SPACE, metrics=METRICS, seed=seed)
        from fasttrial.optimization.optimizers.smac import SMACOptimizer
    except ImportError as error:
        first = (str(error).strip().splitlines() or ["ImportError"])[0]
        raise CLIError(f"--optimizer {name}: {first}") from None
    return SMACOptimizer.create(
        space=SPACE,
        metrics=METRICS,
        seed=seed,
        crash_cost=[10 * problem.baseline, SMAC_CRASH_COST["r2"]],
        n_trials=max(trials, 1),  # sizes SMAC's initial design
    )


def run_loop(
    problem: Problem,
    optimizer: Optimizer,
    trials: int,
    advance: Callable[[], None] | None = None,
    history: History | None = None,
) -> History:
    """The HPO loop: ask, evaluate inside begin()/profile(), report, tell, keep (in
    ``history``, a new in-memory one by default)."""
    if history is None:
        history = History()
    for _ in range(trials):
        trial = optimizer.ask()
        config = trial.config
        with trial.begin():
            with trial.profile("fit"):
                w = fit(problem, config)
            with trial.profile("score"):
                loss, r2 = score(problem, config, w)
        report = trial.success(loss=loss, r2=r2) if trial.exception is None else trial.fail()
        optimizer.tell(report)
        history.add(report)
        if advance is not None:
            advance()
    return history


_PROBLEM: Problem | None = None  # a worker process's own copy, made on its first trial


def objective(trial: Trial[Any]) -> Trial.Report[Any]:
    """One trial of the demo as a target for ``fasttrial.optimize`` (``--workers``)."""
    global _PROBLEM
    if _PROBLEM is None:
        _PROBLEM = Problem.make()
    problem, config = _PROBLEM, trial.config
    with trial.begin():
        with trial.profile("fit"):
            w = fit(problem, config)
        with trial.profile("score"):
            loss, r2 = score(problem, config, w)
    return trial.success(loss=loss, r2=r2) if trial.exception is None else trial.fail()


def run_on_workers(
    trials: int,
    seed: int,
    out: Path | None,
    workers: int,
    *,
    progress: bool,
    optimizer: str = "random",
) -> DemoResult:
    """``--workers N``: the same search through ``fasttrial.optimize`` on N processes.

    With ``out``, the run is journaled in ``out/history.journal`` and a rerun after a kill
    resumes it (a complete journal is moved to ``history.journal.prev`` and a new run
    starts); the history is also saved as ``out/history.parquet`` at the end.
    """
    import fasttrial

    search = make_optimizer(optimizer, seed, trials, Problem.make())
    history: History | None = None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        path = out / JOURNAL_FILE
        history = History.open(path)
        assert history.journal is not None
        if len(history) >= trials and not history.journal.pending():  # a finished run
            history.close()
            path.replace(out / (JOURNAL_FILE + ".prev"))
            history = History.open(path)
    t0 = time.perf_counter()
    try:
        result = fasttrial.optimize(
            objective,
            search,
            n_trials=trials,
            executor="processes",
            n_workers=workers,
            history=history,
            progress=progress,
        )
    finally:
        if history is not None:
            history.close()
    demo = DemoResult(
        history=result,
        loop_seconds=time.perf_counter() - t0,
        status=Counter(str(r.status) for r in result),
        optimizer=optimizer,
    )
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        demo.saved = out / HISTORY_FILE
        result.to_parquet(demo.saved)
    demo.costs = measure_costs(seed)
    return demo


def measure_costs(seed: int) -> dict[str, float]:
    """Seconds per trial of fasttrial's calls, with empty bodies (see the module docstring).

    Returns:
        ``profiling``: begin + profile("fit") + profile("score") beyond the same code without
        them; ``bookkeeping``: a whole empty trial (ask, Trial, the three blocks, success,
        tell, History.add) beyond the bare loop; ``reference``: the three blocks done the
        amltk way, beyond the same code without them.
    """
    from fasttrial import _reference

    trial: Trial[Any] = Trial(name="cost", config={}, metrics=METRICS)
    ref_trial = _reference.Trial(name="cost", config={})

    def bare() -> None:
        with nullcontext(), nullcontext(), nullcontext():
            pass

    def profiled() -> None:
        with trial.begin():
            with trial.profile("fit"):
                pass
            with trial.profile("score"):
                pass

    def reference() -> None:
        with ref_trial.begin():
            with ref_trial.profile("fit"):
                pass
            with ref_trial.profile("score"):
                pass

    optimizer = RandomSearch(SPACE, metrics=METRICS, seed=seed)
    history = History()

    def whole_trial() -> None:
        t = optimizer.ask()
        with t.begin():
            with t.profile("fit"):
                pass
            with t.profile("score"):
                pass
        report = t.success(loss=1.0, r2=0.5)
        optimizer.tell(report)
        history.add(report)

    excess = median_excess(
        {"bare": bare, "profiling": profiled, "bookkeeping": whole_trial, "reference": reference},
        "bare",
        repeats=15,
        batch_seconds=0.004,
    )
    return excess


def run_demo(
    trials: int,
    seed: int,
    out: Path | None,
    *,
    progress: bool = True,
    console: Any = None,
    workers: int | None = None,
    optimizer: str = "random",
) -> DemoResult:
    """Run the loop (with a progress bar), save the history, measure the costs.

    Raises:
        CLIError: If ``optimizer``'s library is not installed.
    """
    if workers is not None:
        return run_on_workers(trials, seed, out, workers, progress=progress, optimizer=optimizer)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    problem = Problem.make()
    search = make_optimizer(optimizer, seed, trials, problem)
    journal: History | None = None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        path = out / JOURNAL_FILE
        journal = History.open(path)  # refused while another demo writes it
        if len(journal):  # a previous demo's: kept beside, never mixed with this run
            journal.close()
            path.replace(out / (JOURNAL_FILE + ".prev"))
            journal = History.open(path)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not progress,
        transient=False,
    ) as bar:
        task = bar.add_task("trials", total=trials)

        def advance() -> None:
            bar.advance(task)

        t0 = time.perf_counter()
        try:
            history = run_loop(
                problem, search, trials, advance if progress else None, history=journal
            )
        finally:
            if journal is not None:
                journal.close()
        loop_seconds = time.perf_counter() - t0
    result = DemoResult(
        history=history,
        loop_seconds=loop_seconds,
        status=Counter(str(r.status) for r in history),
        optimizer=optimizer,
    )
    if out is not None:
        path = out / HISTORY_FILE
        history.to_parquet(path)
        result.saved = path
        result.journal = out / JOURNAL_FILE
    result.costs = measure_costs(seed)
    return result


def render(result: DemoResult) -> Any:
    """A rich renderable of the demo's outcome."""
    from rich.table import Table

    history = result.history
    n = len(history)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    per = result.loop_seconds / max(n, 1)
    grid.add_row("optimizer", _OPTIMIZER_LABELS.get(result.optimizer, result.optimizer))
    grid.add_row("trials", f"{n} in {result.loop_seconds:.2f} s ({per * 1e3:.3f} ms/trial)")
    grid.add_row(
        "status", ", ".join(f"{k}={v}" for k, v in sorted(result.status.items())) or "none"
    )
    if result.status.get("success"):
        best = history.best("loss")
        grid.add_row(
            "best",
            f"{best.name}: loss={best.metrics['loss']:.6g}, r2={best.metrics['r2']:.4f}",
        )
        grid.add_row("best config", ", ".join(f"{k}={_fmt(v)}" for k, v in best.config.items()))
    for key, label in (
        ("profiling", "profiling (begin, fit, score)"),
        ("bookkeeping", "all fasttrial calls"),
        ("reference", "amltk way, for scale"),
    ):
        cost = result.costs.get(key)
        if cost is None:
            continue
        share = cost * n / result.loop_seconds if result.loop_seconds > 0 else float("nan")
        grid.add_row(label, f"{cost * 1e6:.2f} us/trial = {share:.2%} of the loop's time")
    if result.saved is not None:
        grid.add_row("saved", f"{result.saved} ({n} rows)")
        if result.journal is not None:
            grid.add_row("journal", f"{result.journal} (written as the trials ran)")
        grid.add_row("next", f"fasttrial show {result.saved}")
    return grid


_OPTIMIZER_LABELS = {
    "random": "random (fasttrial.optimization.RandomSearch)",
    "optuna": "optuna (OptunaOptimizer, NSGA-II on loss and r2)",
    "smac": "smac (SMACOptimizer, HPO facade on loss and r2)",
}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def run(args: argparse.Namespace) -> int:
    """``fasttrial demo``."""
    console = make_console()
    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out {out} exists and is not a directory")
    optimizer = getattr(args, "optimizer", "random")
    what = "random search" if optimizer == "random" else optimizer
    where = f" on {args.workers} worker processes" if args.workers else ""
    console.print(
        f"[bold]fasttrial demo[/]: {args.trials} trials of {what} (seed {args.seed}) "
        f"over a numpy gradient-descent objective{where}, every trial profiled"
    )
    try:
        result = run_demo(
            args.trials,
            args.seed,
            out,
            progress=not args.no_progress,
            console=console,
            workers=args.workers,
            optimizer=optimizer,
        )
    except ImportError as error:  # pyarrow (Parquet) missing or broken
        first = (str(error).strip().splitlines() or ["ImportError"])[0]
        raise CLIError(f"a package is missing: {first}") from None
    except OSError as error:
        raise CLIError(f"cannot write to {out}: {error.strerror or error}") from None
    except RuntimeError as error:  # JournalLockedError: another demo writes to --out
        raise CLIError(str(error)) from None
    console.print(render(result))
    return 0
