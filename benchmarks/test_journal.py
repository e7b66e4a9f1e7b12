"""The journal of ``History.open(path)`` (issue 9): what durability costs per trial, next to
an in-memory History and to Optuna's ``JournalStorage``, and how fast a journal reopens.

Groups:

* ``journal-loop``: ``Trial(...)`` + an empty ``begin()`` + ``success()`` + ``add()``, into an
  in-memory History (the reference) and into a journal (durability "process": one
  ``write(2)`` per add), per trial.
* ``journal-optuna``: Optuna's ``JournalStorage(JournalFileBackend)``, one ``ask()`` +
  ``tell()`` of a random-sampler study per trial (skipped when optuna is not installed).
* ``journal-reopen``: ``History.open(path, mode="r")`` of a journal of ``REOPEN_N`` reports,
  compacted (column blocks) and as written (one row record per report).

Two tests that can fail, with their own interleaved timer, so they run under
``--benchmark-disable`` too (CPU time of the process, user + system, so the ``write(2)``
calls count): the journal loop costs at most ``MAX_LOOP_RATIO`` times the in-memory loop,
and at least ``MIN_OPTUNA_RATIO`` times less than Optuna's ask/tell.

``FASTTRIAL_BENCH_JOURNAL_N`` sets ``REOPEN_N`` (default 100,000; the issue's figure is for
1,000,000: ``FASTTRIAL_BENCH_JOURNAL_N=1000000``).
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Any

import pytest

from fasttrial.optimization import History, Metric, Trial

LOSS = Metric("loss", minimize=True)
REOPEN_N = int(os.environ.get("FASTTRIAL_BENCH_JOURNAL_N", "100000"))
MAX_LOOP_RATIO = 1.5
MIN_OPTUNA_RATIO = 100.0
ROUNDS = 15  # interleaved batches per side; the median is kept
BATCH = 1000  # trials per batch
PREFILL = 2000  # trials already in both journals when Optuna is compared

try:
    import optuna

    HAVE_OPTUNA = True
except ImportError:  # optional: pip install optuna
    HAVE_OPTUNA = False

needs_optuna = pytest.mark.skipif(
    not HAVE_OPTUNA, reason="optuna is not installed (pip install optuna to compare)"
)


class Loop:
    """The full per-trial loop into one history; ``run(k)`` does k trials."""

    def __init__(self, history: History) -> None:
        self.history = history
        self.i = 0

    def run(self, k: int) -> None:
        add = self.history.add
        i = self.i
        for j in range(i, i + k):
            trial: Trial[Any] = Trial(name=f"t{j}", config={"x": j, "k": "a"}, metrics=[LOSS])
            with trial.begin():
                pass
            add(trial.success(loss=0.5))
        self.i = i + k


def per_trial(fn: Any, k: int, clock: Any = time.process_time) -> float:
    # By default the CPU time of this process (user + system, so the write(2) calls count):
    # on a shared, loaded machine wall time mostly measures the other processes.
    t0 = clock()
    fn(k)
    return (clock() - t0) / k


def interleaved(
    sides: dict[str, Any], k: int, rounds: int = ROUNDS, clock: Any = time.process_time
) -> dict[str, float]:
    """Median seconds per trial of each side, batches of ``k`` taken in turn."""
    times: dict[str, list[float]] = {name: [] for name in sides}
    for fn in sides.values():
        fn(max(1, k // 10))  # warm up
    for _ in range(rounds):
        for name, fn in sides.items():
            times[name].append(per_trial(fn, k, clock))
    return {name: statistics.median(ts) for name, ts in times.items()}


class OptunaLoop:
    """One ask() + tell() per trial of a study kept in an Optuna JournalStorage file."""

    def __init__(self, path: Path) -> None:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        storage = optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(path))
        )
        self.study = optuna.create_study(
            storage=storage, sampler=optuna.samplers.RandomSampler(seed=0)
        )

        self.i = 0

    def run(self, k: int) -> None:
        study = self.study
        for _ in range(k):
            trial = study.ask()
            x = trial.suggest_float("x", 0.0, 1.0)
            study.tell(trial, x)
        self.i += k


# ------------------------------------------------------------------ pytest-benchmark groups
@pytest.mark.benchmark(group="journal-loop")
def test_loop_in_memory(benchmark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    loop = Loop(History())
    benchmark(loop.run, 1)
    assert len(loop.history) == loop.i


@pytest.mark.benchmark(group="journal-loop")
def test_loop_into_journal(benchmark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with History.open(tmp_path / "h.journal") as h:
        loop = Loop(h)
        benchmark(loop.run, 1)
    assert len(History.open(tmp_path / "h.journal", mode="r")) == loop.i


@needs_optuna
@pytest.mark.benchmark(group="journal-optuna")
def test_optuna_journal_ask_tell(benchmark: Any, tmp_path: Path) -> None:
    loop = OptunaLoop(tmp_path / "optuna.log")
    benchmark.pedantic(loop.run, args=(1,), rounds=100, iterations=1, warmup_rounds=5)
    assert len(loop.study.trials) == loop.i > 0


def _journal_of(path: Path, n: int, *, compact: bool) -> History:
    h = History.open(path)
    reports = []
    for j in range(n):
        trial: Trial[Any] = Trial(name=f"t{j}", config={"x": j, "k": "ab"[j % 2]}, metrics=[LOSS])
        with trial.begin():
            pass
        reports.append(trial.success(loss=j / n))
        if len(reports) == 10_000:
            h.add(reports)
            reports = []
    h.add(reports)
    if compact:
        h.compact()
    assert h.journal is not None
    h.journal.close()  # the journal's own close: no auto-compaction, kept as written
    return h


@pytest.fixture(scope="module")
def journals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, History]]:
    d = tmp_path_factory.mktemp("journals")
    out = {}
    for compact in (True, False):
        path = d / f"{'compact' if compact else 'rows'}.journal"
        out["compact" if compact else "rows"] = (path, _journal_of(path, REOPEN_N, compact=compact))
    return out


@pytest.mark.parametrize("kind", ["compact", "rows"])
@pytest.mark.benchmark(group="journal-reopen")
def test_reopen(
    benchmark: Any,
    journals: dict[str, tuple[Path, History]],
    kind: str,
    history_lines: list[str],
) -> None:
    path, original = journals[kind]
    back = benchmark.pedantic(
        History.open, args=(path,), kwargs={"mode": "r"}, rounds=3, iterations=1
    )
    assert len(back) == REOPEN_N
    assert back.best().name == original.best().name
    size = path.stat().st_size
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        median = stats.stats.median
        history_lines.append(
            f"journal reopen ({kind}) of {REOPEN_N} reports: {median:.3f} s = "
            f"{median / REOPEN_N * 1e6:.2f} us/report; {size / REOPEN_N:.0f} B/report on disk"
        )


# ------------------------------------------------------------------------ ratio tests
@pytest.mark.ratios
def test_journal_loop_costs_at_most_1_5x_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ratio_lines: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    memory = Loop(History())
    figures = []
    with History.open(tmp_path / "h.journal") as h:
        journal = Loop(h)
        # The median of the rounds' ratios (a round times both loops back to back, so a
        # change of the machine's load between rounds cancels); a figure over the budget is
        # measured once more before it fails, as the overhead guard does.
        for _attempt in range(2):
            ratio, medians = _loop_ratio(memory, journal)
            line = (
                f"journal-loop  in-memory {medians['memory'] * 1e6:7.2f} us   journal "
                f"{medians['journal'] * 1e6:7.2f} us   journal/in-memory = {ratio:5.2f}x "
                f"(median of {ROUNDS} rounds' ratios; must be <= {MAX_LOOP_RATIO:g}x)"
            )
            print(line)
            figures.append(line)
            if ratio <= MAX_LOOP_RATIO:
                break
    ratio_lines.extend(figures)
    assert len(History.open(tmp_path / "h.journal", mode="r")) == journal.i
    assert ratio <= MAX_LOOP_RATIO, "\n".join(figures)


def _loop_ratio(memory: Loop, journal: Loop) -> tuple[float, dict[str, float]]:
    memory.run(BATCH // 10)  # warm up
    journal.run(BATCH // 10)
    ratios, times = [], {"memory": [], "journal": []}
    for _ in range(ROUNDS):
        m = per_trial(memory.run, BATCH)
        j = per_trial(journal.run, BATCH)
        times["memory"].append(m)
        times["journal"].append(j)
        ratios.append(j / m)
    return statistics.median(ratios), {k: statistics.median(v) for k, v in times.items()}


@needs_optuna
@pytest.mark.ratios
def test_journal_is_100x_cheaper_than_optuna_journal_storage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ratio_lines: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    # Both sides start from a run of PREFILL trials, untimed: Optuna's cost per trial grows
    # with the study (measured here: ~1.4 ms at 0 trials, ~2.0 ms at 1,800, ~2.6 ms at
    # 2,250), fasttrial's does not; a run of a few thousand trials is the case to compare.
    opt = OptunaLoop(tmp_path / "optuna.log")
    opt.run(PREFILL)
    with History.open(tmp_path / "h.journal") as h:
        ours = Loop(h)
        ours.run(PREFILL)
        # Optuna's ask/tell costs milliseconds: fewer trials per batch on its side.  Wall
        # time on both sides: much of Optuna's cost is waiting for its file (it locks,
        # writes and syncs it per operation), which CPU time does not see and a user does.
        wall = time.perf_counter
        medians = {
            **interleaved({"fasttrial": ours.run}, BATCH, rounds=7, clock=wall),
            **interleaved({"optuna": opt.run}, 20, rounds=7, clock=wall),
        }
    ratio = medians["optuna"] / medians["fasttrial"]
    line = (
        f"journal-optuna  (after {PREFILL} trials) fasttrial journal loop "
        f"{medians['fasttrial'] * 1e6:7.2f} us   optuna "
        f"JournalStorage ask/tell {medians['optuna'] * 1e6:9.1f} us   optuna/fasttrial = "
        f"{ratio:6.1f}x (must be >= {MIN_OPTUNA_RATIO:g}x)"
    )
    print(line)
    ratio_lines.append(line)
    assert ratio >= MIN_OPTUNA_RATIO, line
