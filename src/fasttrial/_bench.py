"""Same-run timings of fasttrial's hot operations next to the amltk way, for ``fasttrial bench``
and the benchmark suite's ratio test.

Each operation is run through several implementations of the same API:

* ``fasttrial``: this package;
* ``reference``: ``fasttrial._reference``, a small pure-Python implementation of what amltk
  1.10 does on the hot path (``time.time()`` and a fresh ``psutil.Process()`` at every
  interval boundary);
* ``amltk``: amltk itself, when it is importable (never a dependency);
* ``floor``: an empty ``with contextlib.nullcontext(): pass``, the cheapest thing of the
  same shape, for scale.

Timing: ``time.perf_counter`` around batches of calls sized to last a few milliseconds (so
the clock's resolution does not matter), repeated, implementations interleaved (the order
alternates between repeats, so drift on a noisy machine hits all alike); the median of the
repeats is kept. Ratios of medians from the same run carry over from machine to machine far
better than the absolute times.
"""

from __future__ import annotations

import functools
import gc
import importlib.util
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from types import ModuleType
from typing import Any

IMPLS = ("fasttrial", "reference", "amltk")


@functools.cache
def have_amltk() -> bool:
    """Whether an amltk with the API compared here (``Trial.begin()``, as in 1.10.0) can be
    imported: amltk 1.10.1's Trial has no ``begin()``, and is left out, not crashed on."""
    if importlib.util.find_spec("amltk") is None:
        return False
    try:
        trial = _load_amltk().Trial
    except Exception:  # a broken install: not measured, like a missing one
        return False
    return callable(getattr(trial, "begin", None))


@dataclass(frozen=True)
class Impl:
    """One implementation of the API: the names a benchmark needs from it."""

    name: str
    Trial: Any
    Metric: Any
    History: Any


def _load_amltk() -> ModuleType:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # amltk's dependencies may warn on import
        import amltk.optimization

    return amltk.optimization


def load_impl(name: str) -> Impl:
    """Return the implementation called ``name`` ('fasttrial', 'reference' or 'amltk')."""
    if name == "fasttrial":
        from fasttrial.optimization import History, Metric, Trial

        return Impl("fasttrial", Trial, Metric, History)
    if name == "reference":
        from fasttrial import _reference

        return Impl("reference", _reference.Trial, _reference.Metric, _reference.History)
    if name == "amltk":
        mod = _load_amltk()
        return Impl("amltk", mod.Trial, mod.Metric, mod.History)
    raise ValueError(f"unknown implementation {name!r}")


def _status(report: Any) -> str:
    status = report.status
    return str(getattr(status, "value", status))


def operations(impl: Impl, *, full: bool = False) -> dict[str, Callable[[], Any]]:
    """The timed operations of ``impl``, each checked once (a broken API fails here).

    ``trial-full`` is ``Trial(...)`` + ``with trial.begin(): pass`` + ``trial.success(...)``;
    ``begin`` and ``profile`` are an empty ``with trial.begin()`` / ``trial.profile("x")``;
    ``report-df`` is ``report.df()`` of a report with a 3-key config and one profile
    (only with ``full``).
    """
    metric = impl.Metric("loss", minimize=True)
    Trial = impl.Trial
    config = {"x": 1.0, "y": 2}
    trial = Trial(name="bench", config=config, metrics=[metric])

    def begin() -> None:
        with trial.begin():
            pass

    def profile() -> None:
        with trial.profile("x"):
            pass

    def trial_full() -> Any:
        t = Trial(name="t", config=config, metrics=[metric])
        with t.begin():
            pass
        return t.success(loss=1.0)

    begin()
    assert trial.exception is None and trial.time.duration >= 0
    profile()
    assert trial.profiles["x"].time.duration >= 0
    assert _status(trial_full()) == "success"
    ops: dict[str, Callable[[], Any]] = {
        "trial-full": trial_full,
        "begin": begin,
        "profile": profile,
    }
    if full:
        t = Trial(name="trial-3", config={"x": 1.5, "y": 3, "kernel": "rbf"}, metrics=[metric])
        with t.begin(), t.profile("fit"):
            pass
        report = t.success(loss=3.0)
        assert len(report.df()) == 1
        ops["report-df"] = report.df
    return ops


def _floor() -> None:
    with nullcontext():
        pass


def batch_size(fn: Callable[[], Any], seconds: float) -> int:
    """Calls per batch so that one batch of ``fn()`` takes about ``seconds``."""
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds / 4 or n >= 1 << 20:
            return max(1, int(n * seconds / max(elapsed, 1e-9)))
        n *= 4


def time_batch(fn: Callable[[], Any], n: int) -> float:
    """Seconds per call of ``fn()``, averaged over one batch of ``n`` calls."""
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def interleaved_samples(
    fns: dict[str, Callable[[], Any]], *, repeats: int, batch_seconds: float
) -> dict[str, list[float]]:
    """Seconds per call of each function in each of ``repeats`` rounds; within a round every
    function runs one batch, in an order that alternates between rounds."""
    names = list(fns)
    sizes = {name: batch_size(fn, batch_seconds) for name, fn in fns.items()}
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names if r % 2 == 0 else names[::-1]:
            samples[name].append(time_batch(fns[name], sizes[name]))
    return samples


def median_interleaved(
    fns: dict[str, Callable[[], Any]], *, repeats: int, batch_seconds: float
) -> dict[str, float]:
    """Median seconds per call of each function, batches interleaved (order alternating)."""
    samples = interleaved_samples(fns, repeats=repeats, batch_seconds=batch_seconds)
    return {name: statistics.median(s) for name, s in samples.items()}


def median_excess(
    fns: dict[str, Callable[[], Any]], base: str, *, repeats: int, batch_seconds: float
) -> dict[str, float]:
    """Seconds per call each function costs beyond ``fns[base]``: the median over rounds of
    the difference within a round (batches run back to back, so slow drift of a shared
    machine cancels), clamped at 0."""
    samples = interleaved_samples(fns, repeats=repeats, batch_seconds=batch_seconds)
    return {
        name: max(0.0, statistics.median(a - b for a, b in zip(s, samples[base], strict=True)))
        for name, s in samples.items()
        if name != base
    }


@contextmanager
def in_temporary_directory() -> Iterator[str]:
    """Run from an empty temporary directory (amltk 1.10 makes ``unknown-trial-bucket/`` in
    the working directory when a Trial is constructed)."""
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="fasttrial-bench-") as tmp:
        os.chdir(tmp)
        try:
            yield tmp
        finally:
            os.chdir(cwd)


def measure(
    names: tuple[str, ...] = ("fasttrial", "reference"),
    *,
    repeats: int = 15,
    batch_seconds: float = 0.004,
    full: bool = False,
    floor: bool = False,
    progress: Callable[[str], None] | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, dict[str, float]]:
    """Median seconds per call: ``{operation: {implementation: seconds}}``.

    Args:
        names: Implementations to time (see ``IMPLS``); the first one's operations are used.
        repeats: Batches per implementation and operation; the median is kept.
        batch_seconds: Aim for batches about this long.
        full: Also time the slower operations (``report-df``).
        floor: Add the empty context manager as implementation ``floor`` to every operation.
        progress: Called with each operation's name before it is timed.
        errors: If given, an implementation after the first that fails (e.g. psutil on a
            machine without ``/proc``) is left out and its error is put here under its name.
    """
    with in_temporary_directory():
        ops = {}
        for name in names:
            try:
                ops[name] = operations(load_impl(name), full=full)
            except Exception as error:  # e.g. psutil without /proc: measure the others
                if errors is None or name == names[0]:
                    raise
                errors[name] = f"{type(error).__name__}: {error}"
        result: dict[str, dict[str, float]] = {}
        for op in ops[names[0]]:
            if progress is not None:
                progress(op)
            fns = {name: ops[name][op] for name in ops if op in ops[name]}
            if floor and op != "report-df":
                fns["floor"] = _floor
            result[op] = median_interleaved(fns, repeats=repeats, batch_seconds=batch_seconds)
    return result


def format_seconds(seconds: float) -> str:
    """``seconds`` in ns, us, ms or s, about 4 significant digits."""
    if seconds < 1e-6:
        return f"{seconds * 1e9:.1f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


# -- ratios to the floor -------------------------------------------------------------------
#
# The floor of an operation is the cheapest code that does its unavoidable work, from the
# compiled core (ext/_floor.pxi): for an interval (``begin``, ``profile``, ``trial-full``)
# ``with _core.IntervalFloor(): pass``, which makes exactly the readings a profiled
# interval makes (memory, usage figures and the conditional peak reset, clocks, at both
# ends) and nothing else; for ``history-add`` ``_core.RowFloor().append(report)``, the
# values of the same row appended straight to typed buffers.  An operation's ratio to its
# floor is what fasttrial adds on top of what any profiler must pay, and carries over from
# machine to machine: both sides make the same system calls.

GUARD_OPS = ("begin", "profile", "trial-full", "history-add", "journal-append")

#: The overhead guard's budgets (``python -m pytest benchmarks/ -m guard``): an operation's
#: time over its floor's must stay at or under these; ``fasttrial bench`` shows them next
#: to the ratios it measures.  Today's figures are in benchmarks/README.md.
#: journal-append measured 3.6-4.7x its floor (a write of the same bytes is most of it).
JOURNAL_APPEND_BUDGET = 5.5
RATIO_BUDGETS = {
    "begin": 1.25,
    "profile": 1.3,
    "trial-full": 1.6,
    "history-add": 12.0,
    "journal-append": JOURNAL_APPEND_BUDGET,
}


class FloorUnavailable(RuntimeError):
    """A floor that cannot be measured here (e.g. no ``/proc``); the message says why."""


@dataclass
class GuardPair:
    """One guarded operation and its floor; ``reset()`` is called before each round (it
    gives ``history-add`` a fresh History and floor, so memory stays bounded)."""

    name: str
    what: str
    op: Callable[[], Any]
    floor: Callable[[], Any] | None
    floor_what: str
    reset: Callable[[], None] | None = None
    floor_error: str | None = None
    close: Callable[[], None] | None = None  # releases what it holds (files): close_pairs


def close_pairs(pairs: dict[str, GuardPair]) -> None:
    """Release what the pairs of ``guard_pairs()`` hold open (the journal-append files)."""
    for pair in pairs.values():
        if pair.close is not None:
            pair.close()


def _interval_floor() -> Callable[[], Any]:
    from fasttrial import _core

    fl = _core.IntervalFloor()

    def floor() -> None:
        with fl:
            pass

    try:
        floor()
    except OSError as error:
        raise FloorUnavailable(str(error)) from None
    duration, start_rss, end_rss, _peak = fl.readings()
    if duration < 0 or start_rss <= 0 or end_rss <= 0:
        raise FloorUnavailable(f"the interval floor read nonsense: {fl.readings()}")
    return floor


def guard_pairs(
    *, interval_floor: Callable[[], Callable[[], Any]] | None = None
) -> dict[str, GuardPair]:
    """The guarded operations of fasttrial, each with its floor, each checked once.

    A floor that cannot be measured here is None, with the reason in ``floor_error``.
    ``interval_floor`` makes the interval floor's callable (default: an ``IntervalFloor``
    block; raises ``FloorUnavailable`` where it cannot be measured).
    """
    from fasttrial import _core
    from fasttrial.optimization import History, Metric, Trial
    from fasttrial.optimization.trial import DEFAULT_BUCKET

    make_floor = interval_floor or _interval_floor
    floor: Callable[[], Any] | None
    error: str | None = None
    try:
        floor = make_floor()
    except FloorUnavailable as exc:
        floor, error = None, str(exc)
    metric = Metric("loss", minimize=True)
    config = {"x": 1.0, "y": 2}
    trial: Any = Trial(name="bench", config=config, metrics=[metric])
    trial_p: Any = Trial(name="bench-p", config=config, metrics=[metric])

    def begin() -> None:
        with trial.begin():
            pass

    def profile() -> None:
        with trial_p.profile("x"):
            pass

    def trial_full() -> Any:
        t: Any = Trial(name="t", config=config, metrics=[metric])
        with t.begin():
            pass
        return t.success(loss=1.0)

    begin()
    assert trial.exception is None and trial.time.duration >= 0
    profile()
    assert trial_p.profiles["x"].time.duration >= 0
    report = trial_full()
    assert _status(report) == "success"

    # history-add: one report (a trial-full one) added again and again, as an optimization
    # loop adds one per trial; a fresh History and RowFloor per round.
    state: dict[str, Any] = {}

    def reset_add() -> None:
        state["history"] = History()
        state["row"] = _core.RowFloor(DEFAULT_BUCKET)
        state["add"] = state["history"].add
        state["append"] = state["row"].append

    reset_add()

    def history_add() -> None:
        state["add"](report)

    def row_floor() -> None:
        state["append"](report)

    history_add()
    row_floor()
    assert len(state["history"]) == 1 and len(state["row"]) == 1
    assert state["row"].values(0) == [1.0]  # the metric value, straight from the report
    interval = "the readings of one profiled interval: IntervalFloor"
    pairs = {
        "begin": GuardPair(
            "begin", "with trial.begin(): pass", begin, floor, interval, floor_error=error
        ),
        "profile": GuardPair(
            "profile", 'with trial.profile("x"): pass', profile, floor, interval, floor_error=error
        ),
        "trial-full": GuardPair(
            "trial-full",
            "Trial(...) + begin() + success()",
            trial_full,
            floor,
            interval,
            floor_error=error,
        ),
        "history-add": GuardPair(
            "history-add",
            "history.add(report)",
            history_add,
            row_floor,
            "the same row appended to typed buffers: RowFloor.append",
            reset=reset_add,
        ),
    }
    # journal-append: the same report added to a history opened on a journal file
    # (History.open, durability "process": one write(2) per add), against the unavoidable
    # work of a journaled add: the row appended to typed buffers (RowFloor) and one write of
    # a record of the same size to an O_APPEND descriptor.  A fresh journal (and floor
    # file) in the working directory per round.
    import os

    jstate: dict[str, Any] = {"round": 0}

    def close_journal() -> None:
        old = jstate.pop("history", None)
        if old is not None:
            old.close()
            os.close(jstate.pop("fd"))

    def reset_journal() -> None:
        close_journal()
        jstate["round"] += 1
        k = jstate["round"]
        for name in (f"guard-{k}.journal", f"guard-{k}.journal.lock", f"guard-{k}.floor"):
            if os.path.exists(name):
                os.remove(name)
        jstate["history"] = History.open(f"guard-{k}.journal")
        jstate["jadd"] = jstate["history"].add
        jstate["row"] = _core.RowFloor(DEFAULT_BUCKET)
        jstate["append"] = jstate["row"].append
        jstate["fd"] = os.open(f"guard-{k}.floor", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    reset_journal()
    jstate["jadd"](report)
    jstate["jadd"](report)  # the second add: the layout is written, the short path runs
    journal = jstate["history"].journal
    size = journal.size
    jstate["jadd"](report)
    record = b"\0" * (journal.size - size)  # what one more add of this report writes
    assert len(record) > 0 and len(jstate["history"]) == 3
    fd_write = os.write

    def journal_append() -> None:
        jstate["jadd"](report)

    def journal_floor() -> None:
        jstate["append"](report)
        fd_write(jstate["fd"], record)

    journal_floor()
    pairs["journal-append"] = GuardPair(
        "journal-append",
        "history.add(report) into History.open(path)",
        journal_append,
        journal_floor,
        "RowFloor.append and one write(2) of a record of the same size (O_APPEND)",
        reset=reset_journal,
        close=close_journal,
    )
    return pairs


def guard_clock() -> tuple[str, Callable[[], float]]:
    """The clock the guard times with: the calling thread's CPU time where it is precise
    (Linux: a preempted batch is not charged for the other processes' time), else
    ``time.perf_counter``."""
    try:
        info = time.get_clock_info("thread_time")
    except (AttributeError, ValueError, OSError):
        return "perf_counter", time.perf_counter
    if info.resolution <= 1e-6:
        return "thread_time", time.thread_time
    return "perf_counter", time.perf_counter


@dataclass
class FloorRatio:
    """Result of ``ratios_to_floor``: ``op`` and ``floor`` are the medians over the rounds
    of each round's lower quartile (seconds per call), ``ratio`` the median of the rounds'
    ratios, ``round_ratios`` every round's."""

    name: str
    op: float
    floor: float
    ratio: float
    round_ratios: list[float]
    clock: str

    def line(self, budget: float | None = None) -> str:
        rounds = " ".join(f"{r:.3f}" for r in self.round_ratios)
        text = (
            f"{self.name:<14} {format_seconds(self.op):>10}  floor {format_seconds(self.floor):>10}"
            f"  = {self.ratio:6.3f}x floor"
        )
        if budget is not None:
            text += f"  (budget <= {budget:g}x)"
        return text + f"  rounds: {rounds}  [{self.clock}]"


def _timed(fn: Callable[[], Any], n: int, clock: Callable[[], float]) -> float:
    t0 = clock()
    for _ in range(n):
        fn()
    return (clock() - t0) / n


def _calibrate(fn: Callable[[], Any], seconds: float) -> int:
    """Calls per batch of ``fn()`` for batches of about ``seconds``: the largest of three
    sizings, so that one sizing slowed by a disturbance does not make every batch short."""
    return max(batch_size(fn, seconds) for _ in range(3))


def lower_quartile(values: list[float]) -> float:
    """The lower quartile of ``values`` (the value a quarter of the way up, sorted)."""
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 4]


def _one_round(
    pair: GuardPair, n_op: int, n_floor: int, batches: int, now: Callable[[], float]
) -> tuple[float, float]:
    """Seconds per call of the operation and of its floor (the lower quartile of
    ``batches`` batches each, interleaved: op, floor, floor, op, ...), the garbage
    collector off."""
    op, floor = pair.op, pair.floor
    assert floor is not None
    if pair.reset is not None:
        pair.reset()
    a: list[float] = []
    b: list[float] = []
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for i in range(batches):
            if i % 2 == 0:
                a.append(_timed(op, n_op, now))
                b.append(_timed(floor, n_floor, now))
            else:
                b.append(_timed(floor, n_floor, now))
                a.append(_timed(op, n_op, now))
    finally:
        if was_enabled:
            gc.enable()
    return lower_quartile(a), lower_quartile(b)


def ratios_to_floor(
    pairs: dict[str, GuardPair],
    *,
    rounds: int = 11,
    batches: int = 31,
    batch_seconds: float = 0.002,
    clock: tuple[str, Callable[[], float]] | None = None,
) -> dict[str, FloorRatio]:
    """Time each operation against its floor (pairs whose floor is None are left out).

    A round of an operation runs ``batches`` batches of it and of its floor, interleaved,
    and takes the ratio of their lower quartiles (the load of a shared machine only ever
    slows a batch down: on the 2-core development machine at a load average of 7.5, the
    median of begin()'s batches read 1.20-1.22x its floor's where the lower quartile read
    1.083-1.087x, as on a quiet machine); the rounds of the operations take turns, so each
    operation's rounds are spread over the whole measurement and a disturbance of a second
    or two (another process's burst on a shared machine) falls on a few rounds of each,
    not on all of one.  An operation's figure is the median of its rounds' ratios.

    The garbage collector is off while the batches run (as ``timeit`` does), after a
    collection before each round: what a collection costs depends on everything else the
    process holds, not on the operation, and would land on whichever batch triggers it.
    """
    clock_name, now = clock or guard_clock()
    todo = {name: p for name, p in pairs.items() if p.floor is not None}
    sizes: dict[str, tuple[int, int]] = {}
    for name, pair in todo.items():
        assert pair.floor is not None
        if pair.reset is not None:
            pair.reset()
        sizes[name] = (_calibrate(pair.op, batch_seconds), _calibrate(pair.floor, batch_seconds))
    per_op: dict[str, list[tuple[float, float]]] = {name: [] for name in todo}
    for _ in range(rounds):
        for name, pair in todo.items():
            per_op[name].append(_one_round(pair, *sizes[name], batches, now))
    out = {}
    for name, rows in per_op.items():
        ratios = [a / b if b > 0 else float("inf") for a, b in rows]
        out[name] = FloorRatio(
            name,
            statistics.median(a for a, _ in rows),
            statistics.median(b for _, b in rows),
            statistics.median(ratios),
            ratios,
            clock_name,
        )
    return out


def ratio_to_floor(
    pair: GuardPair,
    *,
    rounds: int = 11,
    batches: int = 31,
    batch_seconds: float = 0.002,
    clock: tuple[str, Callable[[], float]] | None = None,
) -> FloorRatio:
    """``ratios_to_floor`` of one operation.

    Raises:
        FloorUnavailable: If its floor cannot be measured here.
    """
    if pair.floor is None:
        raise FloorUnavailable(pair.floor_error or f"{pair.name} has no floor here")
    return ratios_to_floor(
        {pair.name: pair},
        rounds=rounds,
        batches=batches,
        batch_seconds=batch_seconds,
        clock=clock,
    )[pair.name]
