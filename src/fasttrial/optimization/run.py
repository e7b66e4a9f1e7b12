"""``optimize()``: run an optimizer's trials here, on threads, processes, any Executor or Dask.

::

    import fasttrial

    history = fasttrial.optimize(
        target,              # target(trial) -> Trial.Report; picklable for processes
        optimizer,           # anything with ask()/tell() and .metrics
        n_trials=10_000,
        executor="processes",
        history="run/history.journal",  # resumes a killed run
    )

The driver (the calling thread) asks, tells and keeps the history; the engine only runs
``target(trial)``.  Every report, crashed ones included, is added to the history and told to
the optimizer in the order the reports arrive.

**What a crash becomes.** Each of these is a CRASHED report, and the run goes on:

* the target raised outside ``with trial.begin():``, returned something that is not a
  report (or another trial's report), or returned a report that cannot be pickled back
  from its process (``TargetError``, with the worker's traceback where there is one);
* ``executor="processes"``: the worker process died (SIGKILL, a segfault, ``os._exit``)
  while it held the trial (``WorkerDied``, naming the worker, its pid and the signal or exit
  code).  Only the trial it was running and any finished trial whose report had not been
  sent yet are crashed; the trials queued behind them run on another worker, and the dead
  worker is replaced;
* a Dask ``distributed.Client``: Dask itself runs a task again when its worker dies, up to
  ``distributed.scheduler.allowed-failures`` times (3 by default); when it gives up
  (``KilledWorker``) on a task of several trials, each of them is run again in a task of its
  own, and the trial whose task Dask gives up on is crashed with the ``KilledWorker`` error
  (``EngineError``).  Trials may so run more than once (Dask's at-least-once); each is
  reported once (the driver keeps the first report of a name and drops any other);
* any other ``concurrent.futures.Executor``: a task the executor fails is treated the same
  way: a batch is split into one task per trial, a single trial's failed task crashes it
  (``EngineError``).  A stdlib ``ProcessPoolExecutor`` whose worker dies breaks for good and
  fails every task in it, without saying which trial killed it: every trial in flight is
  crashed, then ``optimize()`` raises ``ExecutorBroken`` (its ``.history`` holds every
  report).  Use ``executor="processes"`` to have dead workers replaced.

**Resume.** With ``history=path``, the history is ``History.open(path)``, a journal that
also records each trial as it is handed out.  If the run is killed (even with kill -9), the
same call continues it: the trials that were in flight become CRASHED reports
(``TrialLost``, "lost when the run stopped"), the optimizer is brought up to date with its
optional ``restore(history)`` method (``RandomSearch`` has one: it never reuses a name), and
``n_trials`` counts every report already in the history.

**Stopping.** ``timeout`` seconds after the start, no more trials are asked and the trials
in flight finish.  The first Ctrl-C does the same; a second one cancels the trials in
flight (CRASHED, ``TrialCancelled``; worker processes are killed, an Executor's running
tasks are abandoned); ``optimize()`` then raises ``KeyboardInterrupt`` with the history
(and its journal) complete and closed.

**Batching.** Where a task costs more than the trial (cheap trials), several trials go in
one task: the engine's workers time every trial, and the batch size is the number of
trials that fill ``TASK_SECONDS`` of work for that engine (10 ms for worker processes,
20 ms for an Executor, 50 ms for Dask), at most 256, at most 4 times the last one, starting at 1;
the last trials of a run are shared out evenly.  Trials that take longer than that go one per task.

**Worker processes** (``"processes"``) fork from multiprocessing's forkserver (spawn where
there is none), so the target must be importable by name: define it at module level, and
guard a script's main code with ``if __name__ == "__main__":``.  They start with
``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``, ``VECLIB_MAXIMUM_THREADS``
and ``NUMEXPR_NUM_THREADS`` set to 1 unless the environment sets them (``n_workers``
processes already use the cores), as Dask's workers do.  Ctrl-C is left to the driver.

**In flight.** At most ``n_workers`` tasks run at once.  While trials are cheap (shorter
than half of ``TASK_SECONDS``), each worker also has one more task queued, so a worker
never waits for the driver: the optimizer is then at most ``2 * n_workers`` batches of
about ``TASK_SECONDS`` of work ahead of the results.  Otherwise exactly ``n_workers``
trials are in flight.
"""

from __future__ import annotations

import math
import os
import pickle
import queue
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fasttrial.optimization import _pool
from fasttrial.optimization._pool import DIED, ENGINE, ERROR, REPORT, Outcome, Timing
from fasttrial.optimization.history import History
from fasttrial.optimization.metric import Metric
from fasttrial.optimization.trial import Trial

__all__ = [
    "EngineError",
    "ExecutorBroken",
    "RunError",
    "TargetError",
    "TrialCancelled",
    "TrialLost",
    "WorkerDied",
    "optimize",
]

TASK_SECONDS = {"processes": 0.010, "executor": 0.020, "dask": 0.050}
MAX_BATCH = 256
_POLL_SECONDS = 0.1  # how often the driver looks at Ctrl-C and the timeout while it waits


class RunError(RuntimeError):
    """Base of the exceptions ``optimize()`` puts in CRASHED reports."""


class TargetError(RunError):
    """The target raised outside ``begin()``, returned no report, or an unpicklable one."""


class WorkerDied(RunError):
    """The worker process holding the trial died (the message names it and how)."""


class EngineError(RunError):
    """The executor (a stdlib pool, Dask, ...) failed the task that held the trial."""


class TrialLost(RunError):
    """The trial was in flight when the run was killed; the resumed run does not rerun it."""


class TrialCancelled(RunError):
    """A second Ctrl-C cancelled the trial before it finished."""


class ExecutorBroken(RunError):
    """The executor cannot run any more tasks; ``.history`` holds every report so far."""

    def __init__(self, message: str, history: History | None = None) -> None:
        super().__init__(message)
        self.history = history


_KINDS: dict[int, type[RunError]] = {ERROR: TargetError, DIED: WorkerDied, ENGINE: EngineError}


# ------------------------------------------------------------------------------- engines


class _ExecutorEngine:
    """Tasks on a ``concurrent.futures.Executor`` or a Dask ``distributed.Client``."""

    def __init__(self, executor: Any, target: Any, n: int, *, dask: bool, owned: bool) -> None:
        self.executor = executor
        self.target = target
        self.n = n
        self.dask = dask
        self.owned = owned
        self.done: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.tasks: dict[int, tuple[Any, list[Trial[Any]]]] = {}
        self.in_flight = 0
        self.failure: str | None = None
        self._failed_in_a_row = 0
        self._ok = 0
        self._pid = os.getpid()
        self._token = os.urandom(4).hex()
        self._count = 0
        self.solo: set[str] = set()  # trials of a failed batch: one per task from now on

    def free(self, depth: int) -> list[Any]:
        if self.failure is not None:
            return []
        return [None] * max(0, self.n * depth - len(self.tasks))

    def submit(self, handle: Any, trials: list[Trial[Any]]) -> list[Outcome]:
        if self.solo and len(trials) > 1 and any(t.name in self.solo for t in trials):
            bad: list[Outcome] = []
            for trial in trials:
                bad.extend(self.submit(handle, [trial]))
            return bad
        self.solo.discard(trials[0].name)
        try:
            if self.dask:
                self._count += 1
                future = self.executor.submit(
                    _pool.run_task,
                    self.target,
                    trials,
                    self._pid,
                    pure=False,
                    key=f"fasttrial-{trials[0].name}-{self._token}-{self._count}",
                )
            else:
                future = self.executor.submit(_pool.run_task, self.target, trials, self._pid)
        except Exception as error:
            self.failure = f"the executor refused a new task: {type(error).__name__}: {error}"
            return [(t, ENGINE, (self.failure, None)) for t in trials]
        self.tasks[id(future)] = (future, trials)
        self.in_flight += len(trials)
        future.add_done_callback(self.done.put)
        return []

    def poll(self, timeout: float) -> tuple[list[Outcome], list[Trial[Any]], list[Timing]]:
        try:
            futures = [self.done.get(timeout=timeout)]
        except queue.Empty:
            return [], [], []
        while True:
            try:
                futures.append(self.done.get_nowait())
            except queue.Empty:
                break
        outcomes: list[Outcome] = []
        again: list[Trial[Any]] = []
        timings: list[Timing] = []
        for future in futures:
            entry = self.tasks.pop(id(future), None)
            if entry is None:  # cancelled by a second Ctrl-C
                continue
            trials = entry[1]
            self.in_flight -= len(trials)
            try:
                result = future.result()
                if isinstance(result, bytes):
                    result = pickle.loads(result)
            except BaseException as error:
                message = self._explain(error)
                if len(trials) > 1 and self.failure is None:
                    # A batch failed as a whole (its worker died, say): run each of its
                    # trials again in a task of its own, so that only the culprit crashes.
                    self.solo.update(t.name for t in trials)
                    again.extend(trials)
                else:
                    outcomes.extend((t, ENGINE, (message, None)) for t in trials)
                continue
            busy, items = result
            self._ok += 1
            self._failed_in_a_row = 0
            timings.append((len(items), busy))
            outcomes.extend((trials[i], kind, payload) for i, kind, payload in items)
        return outcomes, again, timings

    def _explain(self, error: BaseException) -> str:
        from concurrent.futures import BrokenExecutor

        name = type(error).__name__
        self._failed_in_a_row += 1
        if isinstance(error, BrokenExecutor):
            self.failure = (
                f"the executor broke ({name}: {error}); a concurrent.futures pool cannot say "
                "which trial's worker died, so every trial in flight is reported crashed. Use "
                "executor='processes' to have dead workers replaced and only their trials "
                "crashed"
            )
            return f"the executor broke while this trial was in flight: {name}: {error}"
        if self.dask and name == "KilledWorker":
            return (
                f"Dask gave up on this trial's task: {name}: {error} (Dask reruns a task whose "
                "worker dies, up to distributed.scheduler.allowed-failures times)"
            )
        if self._ok == 0 and self._failed_in_a_row >= max(4, 2 * self.n):
            self.failure = f"every task failed in the executor, the last with {name}: {error}"
        return f"the executor failed this trial's task: {name}: {error}"

    def cancel(self) -> list[Trial[Any]]:
        held: list[Trial[Any]] = []
        for future, trials in self.tasks.values():
            future.cancel()
            held.extend(trials)
        self.tasks.clear()
        self.in_flight = 0
        return held

    def close(self, *, cancel: bool = False) -> None:
        if cancel:
            self.cancel()
        if self.owned:
            self.executor.shutdown(wait=not cancel, cancel_futures=cancel)
        self.tasks.clear()


class _Batcher:
    """How many trials go in the next task (see the module docstring)."""

    __slots__ = ("k", "per_trial", "task_seconds")

    def __init__(self, task_seconds: float) -> None:
        self.task_seconds = task_seconds
        self.per_trial: float | None = None  # seconds, moving average
        self.k = 1

    def observe(self, timings: list[Timing]) -> None:
        for n, busy in timings:
            if n <= 0:
                continue
            per = busy / n
            self.per_trial = per if self.per_trial is None else 0.7 * self.per_trial + 0.3 * per

    @property
    def cheap(self) -> bool:
        return self.per_trial is not None and self.per_trial < self.task_seconds / 2

    def size(self, left: int, n_workers: int) -> int:
        """The batch size for the tasks of this round, with ``left`` trials to hand out."""
        if self.per_trial is not None:
            want = int(self.task_seconds / max(self.per_trial, 1e-9))
            self.k = max(1, min(MAX_BATCH, 4 * self.k, want))
        return max(1, min(self.k, math.ceil(left / n_workers)))  # share the last ones out


# ------------------------------------------------------------------------------- progress


def _first_metric(metrics: Any) -> Metric | None:
    if isinstance(metrics, Metric):
        return metrics
    if isinstance(metrics, Mapping):
        metrics = list(metrics.values())
    if isinstance(metrics, Sequence) and metrics and isinstance(metrics[0], Metric):
        return metrics[0]
    return None


class _Bar:
    """A rich progress bar: trials/s, best so far, failed and crashed counts."""

    def __init__(self, total: int, done: int, metric: Metric | None) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        self.metric = metric
        self.best: float | None = None
        self.failed = self.crashed = 0
        self.start_done = done
        self.t0 = time.monotonic()
        self.last = 0.0
        self.progress = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            "{task.fields[rate]}",
            "{task.fields[best]}",
            "[yellow]{task.fields[failed]} failed",
            "[red]{task.fields[crashed]} crashed",
            TimeElapsedColumn(),
        )
        self.task = self.progress.add_task(
            "trials", total=total, completed=done, rate="", best="", failed=0, crashed=0
        )
        self.done = done
        self.progress.start()

    def tick(self, report: Trial.Report[Any]) -> None:
        self.done += 1
        status = report.status
        if status is Trial.Status.SUCCESS:
            if self.metric is not None:
                value = report.metrics.get(self.metric.name)
                if value is not None and (
                    self.best is None
                    or (value < self.best if self.metric.minimize else value > self.best)
                ):
                    self.best = value
        elif status is Trial.Status.FAIL:
            self.failed += 1
        elif status is Trial.Status.CRASHED:
            self.crashed += 1
        now = time.monotonic()
        if now - self.last >= 0.1:
            self.refresh(now)

    def refresh(self, now: float) -> None:
        self.last = now
        elapsed = now - self.t0
        rate = (self.done - self.start_done) / elapsed if elapsed > 0 else 0.0
        best = (
            ""
            if self.best is None or self.metric is None
            else (f"best {self.metric.name}={self.best:.6g}")
        )
        self.progress.update(
            self.task,
            completed=self.done,
            rate=f"{rate:.1f} trials/s",
            best=best,
            failed=self.failed,
            crashed=self.crashed,
        )

    def close(self) -> None:
        self.refresh(time.monotonic())
        self.progress.stop()


# ------------------------------------------------------------------------------- the run


def _name_taken(name: str) -> ValueError:
    return ValueError(
        f"optimizer.ask() returned trial {name!r}, a name this run already used (the history "
        "has it). An optimizer resumed from a history must skip the names in it: give it a "
        "restore(history) method, as RandomSearch has."
    )


def _history_names(history: History) -> list[str]:
    names = getattr(history, "_names", None)
    if callable(names):
        return [str(n) for n in names()]
    return [r.name for r in history]


class _Run:
    def __init__(
        self,
        target: Callable[[Trial[Any]], Any],
        optimizer: Any,
        history: History,
        n_trials: int,
        timeout: float | None,
        progress: bool,
    ) -> None:
        self.target = target
        self.optimizer = optimizer
        self.history = history
        self.journal = getattr(history, "journal", None)
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.stopping = False  # no more asking
        self.cancel = False  # a second Ctrl-C
        self.interrupts = 0
        self.in_target = False
        self.duplicates = 0
        self._resume()
        self.used = set(_history_names(history))
        self.left = max(0, n_trials - len(history))
        self.bar: _Bar | None = None
        if progress and self.left:
            metric = _first_metric(getattr(optimizer, "metrics", None))
            self.bar = _Bar(n_trials, len(history), metric)

    def _resume(self) -> None:
        journal = self.journal
        if journal is not None:
            lost = journal.pending()
            if lost:
                self.history.add(
                    [
                        trial.crashed(
                            TrialLost(
                                f"trial {name!r} was in flight when the run stopped (lost when "
                                "the run stopped); the resumed run did not run it again"
                            )
                        )
                        for name, trial in lost.items()
                    ]
                )
        restore = getattr(self.optimizer, "restore", None)
        if callable(restore) and len(self.history):
            restore(self.history)

    # -- Ctrl-C ------------------------------------------------------------------------

    def _on_sigint(self, signum: int, frame: Any) -> None:
        self.interrupts += 1
        self.stopping = True
        if self.interrupts > 1:
            self.cancel = True
            if self.in_target:  # executor=None: stop the target itself
                raise KeyboardInterrupt

    def _ask(self, k: int) -> list[Trial[Any]]:
        k = min(k, self.left)
        if k <= 0:
            return []
        trials = [self.optimizer.ask()] if k == 1 else list(self.optimizer.ask(k))
        used = self.used
        for trial in trials:
            if not isinstance(trial, Trial):
                raise TypeError(f"optimizer.ask() returned {type(trial).__name__}, not a Trial")
            name = trial.name
            if name in used:
                raise _name_taken(name)
            used.add(name)
        if self.journal is not None:
            self.journal.record_asked(trials)
        self.left -= len(trials)
        return trials

    def _keep(self, report: Trial.Report[Any]) -> None:
        self.history.add(report)
        self.optimizer.tell(report)
        if self.bar is not None:
            self.bar.tick(report)

    def _keep_all(self, reports: list[Trial.Report[Any]]) -> None:
        self.history.add(reports)  # one call: cheaper per report, one journal write
        tell = self.optimizer.tell
        for report in reports:
            tell(report)
        if self.bar is not None:
            for report in reports:
                self.bar.tick(report)

    def _crash(self, trial: Trial[Any], kind: int, payload: Any) -> Trial.Report[Any]:
        message, tb = payload
        return trial.crashed(exception=_KINDS[kind](message), traceback=tb)

    def _check_time(self) -> None:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.stopping = True

    # -- executor=None -------------------------------------------------------------------

    def inline(self) -> None:
        target = self.target
        ask = self.optimizer.ask
        tell = self.optimizer.tell
        add = self.history.add
        journal = self.journal
        used = self.used
        bar = self.bar
        deadline = self.deadline
        report_type = Trial.Report
        monotonic = time.monotonic
        while self.left > 0 and not self.stopping:
            trial = ask()
            name = trial.name
            if name in used:
                raise _name_taken(name)
            used.add(name)
            if journal is not None:
                journal.record_asked([trial])
            self.left -= 1
            self.in_target = True
            try:
                result = target(trial)
                self.in_target = False
            except KeyboardInterrupt:  # a second Ctrl-C
                self.in_target = False
                report = trial.crashed(
                    exception=TrialCancelled("cancelled by a second Ctrl-C while it ran")
                )
            except Exception as error:
                self.in_target = False
                report = self._crash(trial, ERROR, _pool.describe_raise(error))
            else:
                if type(result) is report_type and result.trial is trial:
                    report = result
                else:
                    kind, payload = _pool.check_result(trial, result)
                    report = result if kind == REPORT else self._crash(trial, kind, payload)
            add(report)
            tell(report)
            if bar is not None:
                bar.tick(report)
            if deadline is not None and monotonic() >= deadline:
                self.stopping = True

    # -- an engine -----------------------------------------------------------------------

    def parallel(self, engine: Any, n_workers: int, task_seconds: float) -> None:
        in_flight: dict[str, Trial[Any]] = {}
        again: deque[Trial[Any]] = deque()
        batcher = _Batcher(task_seconds)

        def settle(outcomes: list[Outcome]) -> None:
            reports = []
            for trial, kind, payload in outcomes:
                if in_flight.pop(trial.name, None) is None:  # a rerun's second report
                    self.duplicates += 1
                    continue
                reports.append(payload if kind == REPORT else self._crash(trial, kind, payload))
            if reports:
                self._keep_all(reports)

        def crash_all(message: str) -> None:
            held = engine.cancel() + list(again)
            again.clear()
            settle([(t, ENGINE, (message, None)) for t in held])
            # Nothing should be left; never leave a trial without a report all the same.
            settle([(t, ENGINE, (message, None)) for t in list(in_flight.values())])

        while True:
            if self.cancel:
                held = engine.cancel() + list(again)
                again.clear()
                for trial in held:
                    if in_flight.pop(trial.name, None) is not None:
                        self._keep(
                            trial.crashed(
                                exception=TrialCancelled(
                                    "cancelled by a second Ctrl-C before it finished"
                                )
                            )
                        )
                return
            feeding = bool(again) or (not self.stopping and self.left > 0)
            if feeding:
                k = batcher.size(len(again) + self.left, n_workers)
                for handle in engine.free(2 if batcher.cheap else 1):
                    if again:
                        trials = [again.popleft() for _ in range(min(k, len(again)))]
                    elif not self.stopping:
                        trials = self._ask(k)
                    else:
                        trials = []
                    if not trials:
                        break
                    for trial in trials:
                        in_flight[trial.name] = trial
                    settle(engine.submit(handle, trials))
            if engine.failure is not None:
                message = engine.failure
                crash_all(message)
                raise ExecutorBroken(
                    f"fasttrial.optimize stopped: {message}. Every report so far is in the "
                    "history (this exception's .history).",
                    self.history,
                )
            if not in_flight and not again and (self.stopping or self.left <= 0):
                return
            wait = _POLL_SECONDS
            if self.deadline is not None:
                wait = max(0.0, min(wait, self.deadline - time.monotonic()))
            outcomes, rerun, timings = engine.poll(wait)
            batcher.observe(timings)
            settle(outcomes)
            again.extend(rerun)
            self._check_time()


# ------------------------------------------------------------------------------- optimize


def _resolve_history(history: Any) -> tuple[History, bool]:
    if history is None:
        return History(), False
    if isinstance(history, History):
        return history, False
    if isinstance(history, (str, os.PathLike)):
        opener = getattr(History, "open", None)
        if opener is None:
            raise RuntimeError(
                "history=<path> needs History.open (the journal), which this fasttrial does "
                "not have; pass a History instead"
            )
        return opener(history), True
    raise TypeError(
        f"history must be None, a History or a journal path, got {type(history).__name__}"
    )


def _is_dask_client(executor: Any) -> bool:
    cls = type(executor)
    return cls.__module__.split(".")[0] == "distributed" and hasattr(executor, "nthreads")


def optimize(
    target: Callable[[Trial[Any]], Trial.Report[Any]],
    optimizer: Any,
    *,
    n_trials: int,
    executor: Any = None,
    n_workers: int | None = None,
    history: History | str | os.PathLike[str] | None = None,
    timeout: float | None = None,
    progress: bool = True,
) -> History:
    """Run ``n_trials`` trials of ``optimizer`` through ``target``; return the history.

    See the module docstring (``fasttrial.optimization.run``) for what happens on a crash,
    on Ctrl-C and on resume, and how trials are batched.

    Args:
        target: ``target(trial) -> Trial.Report`` (``trial.success(...)``, ``trial.fail()``,
            ``trial.crashed()``). For ``"processes"`` it must be picklable: a function
            defined at module level.
        optimizer: Has ``ask()``, ``ask(n)``, ``tell(report)`` and ``metrics``; optionally
            ``restore(history)``.
        n_trials: The number of reports the history holds at the end (a resumed run counts
            the reports already in it).
        executor: ``None`` (here, in this thread), ``"threads"``, ``"processes"``, a
            ``concurrent.futures.Executor`` or a Dask ``distributed.Client``.
        n_workers: How many trials run at once: threads or worker processes to start, or
            the tasks kept running on a given executor (default: ``os.cpu_count()``; for a
            Dask client, its workers' threads).
        history: A ``History`` to add to, a journal path (``History.open(path)``: the run
            resumes from it, and the journal is closed at the end), or ``None`` (a new one).
        timeout: Seconds after which no more trials are asked; those in flight finish.
        progress: Show a rich progress bar.

    Raises:
        KeyboardInterrupt: After a Ctrl-C stopped the run (the history is complete).
        ExecutorBroken: If the executor cannot run more tasks (``.history`` has the reports).
        TypeError, ValueError: For a bad argument (the message names it).
    """
    if not callable(target):
        raise TypeError(f"target must be callable, got {type(target).__name__}")
    for attr in ("ask", "tell"):
        if not callable(getattr(optimizer, attr, None)):
            raise TypeError(
                f"optimizer must have ask() and tell(); {type(optimizer).__name__} has no {attr}()"
            )
    if not isinstance(n_trials, int) or isinstance(n_trials, bool) or n_trials < 0:
        raise ValueError(f"n_trials must be an int >= 0, got {n_trials!r}")
    if n_workers is not None and (
        not isinstance(n_workers, int) or isinstance(n_workers, bool) or n_workers < 1
    ):
        raise ValueError(f"n_workers must be an int >= 1 or None, got {n_workers!r}")
    if timeout is not None and (
        not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not timeout > 0
    ):
        raise ValueError(f"timeout must be a number of seconds > 0 or None, got {timeout!r}")
    if isinstance(executor, str) and executor not in ("threads", "processes"):
        raise ValueError(
            f"executor must be None, 'threads', 'processes', a concurrent.futures.Executor "
            f"or a distributed.Client, got {executor!r}"
        )
    if (
        executor is not None
        and not isinstance(executor, str)
        and not callable(getattr(executor, "submit", None))
    ):
        raise TypeError(
            f"executor must be None, 'threads', 'processes', a concurrent.futures.Executor "
            f"or a distributed.Client, got {type(executor).__name__}"
        )

    hist, owned = _resolve_history(history)
    old_handler: Any = None
    run: _Run | None = None
    engine: Any = None
    ok = False
    try:
        run = _Run(target, optimizer, hist, n_trials, timeout, progress)
        if threading.current_thread() is threading.main_thread():
            old_handler = signal.signal(signal.SIGINT, run._on_sigint)
        if run.left > 0:
            if executor is None:
                run.inline()
            else:
                n = n_workers
                if executor == "processes":
                    n = min(n or os.cpu_count() or 1, run.left)  # no idle workers to start
                    engine = _pool.ProcessPool(target, n)
                    kind = "processes"
                elif executor == "threads":
                    from concurrent.futures import ThreadPoolExecutor

                    n = min(n or os.cpu_count() or 1, run.left)
                    engine = _ExecutorEngine(
                        ThreadPoolExecutor(n, thread_name_prefix="fasttrial"),
                        target,
                        n,
                        dask=False,
                        owned=True,
                    )
                    kind = "executor"
                elif _is_dask_client(executor):
                    n = n or max(1, sum(executor.nthreads().values()))
                    engine = _ExecutorEngine(executor, target, n, dask=True, owned=False)
                    kind = "dask"
                else:
                    n = n or getattr(executor, "_max_workers", None) or os.cpu_count() or 1
                    engine = _ExecutorEngine(executor, target, n, dask=False, owned=False)
                    kind = "executor"
                run.parallel(engine, n, TASK_SECONDS[kind])
        ok = True
    finally:
        try:
            if engine is not None:
                engine.close(cancel=not ok or (run is not None and run.cancel))
        finally:
            if old_handler is not None:
                signal.signal(signal.SIGINT, old_handler)
            if run is not None and run.bar is not None:
                run.bar.close()
            if owned:
                hist.close()
    if run.interrupts:
        raise KeyboardInterrupt
    return hist
