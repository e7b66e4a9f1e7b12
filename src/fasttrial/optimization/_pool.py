"""The worker side of ``fasttrial.optimize``, and the worker processes of ``executor="processes"``.

Every engine runs the same task function, ``run_task(target, trials, driver_pid)``: it calls
the target on each trial and turns whatever went wrong (an exception outside ``begin()``,
something that is not a report, the report of another trial) into an outcome the driver
turns into a CRASHED report.  Away from the driver's process the outcomes travel as one
pickle per batch: classes, metric definitions and enum members are written once per batch
instead of once per report (about 260 bytes per report instead of 830), and a report that
cannot be pickled is replaced by an outcome saying so instead of failing the batch.

``ProcessPool`` owns its worker processes, so it knows which worker holds which trial.  Each
worker writes two counters into a small shared memory map (a file in /dev/shm, unlinked at
once on POSIX: the workers get its descriptor): how many of its trials it has started and
how many it has finished.  When a worker dies (SIGKILL, a segfault,
``os._exit``) the driver reads them: the trial started and not finished is the one that
was running; trials finished whose reports never arrived were lost with the worker; trials
never started go back to the driver to run elsewhere.  The dead worker is replaced.

A worker reads its tasks on a thread of its own, so the driver can always send (no
deadlock when both sides' pipes are full), and sends results when a task is done or 5 ms
after its last send, whichever comes first.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import pickle
import queue
import signal
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

from fasttrial.optimization.trial import Trial

if TYPE_CHECKING:  # multiprocessing is imported when a pool starts, not with fasttrial
    from multiprocessing.connection import Connection

REPORT = 0  # payload: the Trial.Report
ERROR = 1  # payload: (message, traceback text or None): the target went wrong, CRASHED
DIED = 2  # payload: (message, None): the worker holding the trial died, CRASHED
ENGINE = 3  # payload: (message, None): the executor failed the task, CRASHED

FLUSH_SECONDS = 0.005  # a worker sends its results at least this often while it runs
_PROTOCOL = pickle.HIGHEST_PROTOCOL
_SLOT_BYTES = 16  # two int64 counters per worker: trials started, trials finished

Outcome = tuple[Trial[Any], int, Any]  # (trial, kind, payload)
Timing = tuple[int, float]  # (trials, busy seconds) as measured by a worker


def call_target(target: Callable[[Any], Any], trial: Trial[Any]) -> tuple[int, Any]:
    """Run ``target(trial)``; return ``(REPORT, report)`` or ``(ERROR, (message, tb))``."""
    try:
        result = target(trial)
    except BaseException as error:
        return ERROR, describe_raise(error)
    return check_result(trial, result)


def describe_raise(error: BaseException) -> tuple[str, str]:
    """``(message, traceback text)`` of an exception the target raised outside begin()."""
    return (
        f"the target raised {type(error).__name__}: {error} outside trial.begin() (an "
        "exception inside `with trial.begin():` is recorded on the trial; one outside it "
        "crashes the trial)",
        "".join(traceback.format_exception(type(error), error, error.__traceback__)),
    )


def check_result(trial: Trial[Any], result: Any) -> tuple[int, Any]:
    if isinstance(result, Trial.Report):
        if result.name == trial.name:
            return REPORT, result
        return ERROR, (
            f"the target returned the report of trial {result.name!r} for trial "
            f"{trial.name!r}; return the report of the trial it was given",
            None,
        )
    text = repr(result)
    if len(text) > 200:
        text = text[:200] + "..."
    return ERROR, (
        f"the target returned {type(result).__name__} ({text}), not a Trial.Report; "
        "return trial.success(...), trial.fail() or trial.crashed()",
        None,
    )


def dump_outcomes(busy: float, outcomes: list[tuple[int, int, Any]], where: str) -> bytes:
    """One pickle of ``(busy seconds, [(index, kind, payload), ...])``; a payload that cannot
    be pickled is replaced by an ERROR outcome naming why."""
    try:
        return pickle.dumps((busy, outcomes), _PROTOCOL)
    except Exception:
        pass
    fixed = []
    for index, kind, payload in outcomes:
        try:
            pickle.dumps(payload, _PROTOCOL)
        except Exception as error:
            kind, payload = (
                ERROR,
                (
                    f"the target's report could not be pickled to send it back from {where}: "
                    f"{type(error).__name__}: {error} (keep config, summary and extras to "
                    "picklable values: no lambdas, locks or open files)",
                    None,
                ),
            )
        fixed.append((index, kind, payload))
    return pickle.dumps((busy, fixed), _PROTOCOL)


def run_task(target: Callable[[Any], Any], trials: Sequence[Trial[Any]], driver_pid: int) -> Any:
    """The task an Executor or Dask runs: every trial of the batch, in order.

    Returns ``(busy seconds, [(index, kind, payload), ...])``, pickled to bytes when run in
    another process than the driver's (so an unpicklable report becomes an outcome, not a
    failed task).
    """
    outcomes = []
    busy = 0.0
    for i, trial in enumerate(trials):
        t0 = time.perf_counter()
        kind, payload = call_target(target, trial)
        busy += time.perf_counter() - t0
        outcomes.append((i, kind, payload))
    if os.getpid() == driver_pid:
        return busy, outcomes
    return dump_outcomes(busy, outcomes, f"worker process {os.getpid()}")


# ------------------------------------------------------------------------------- worker


class _SharedFile:
    """The counters' file, handed to a worker: by descriptor where multiprocessing can pass
    one (POSIX: the file is already unlinked, so a killed run leaves nothing behind), else
    by path."""

    def __init__(self, fd: int, path: str | None) -> None:
        self.fd = fd
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        if self.path is not None:
            return (_open_path, (self.path,))
        from multiprocessing import reduction

        # DupFd must be made while multiprocessing pickles a new process's arguments (as
        # it does for a Connection): it registers the descriptor to pass to the child.
        return (_detach_fd, (reduction.DupFd(self.fd),))


def _open_path(path: str) -> int:
    return os.open(path, os.O_RDWR)


def _detach_fd(dup: Any) -> int:
    return int(dup.detach())


def _worker_main(
    tasks: Connection, results: Connection, target_blob: bytes, fd: int, slot: int, wid: int
) -> None:
    """A worker process: run the trials of each task, report outcomes, exit on EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    try:
        try:
            shared = mmap.mmap(fd, 0)
        finally:
            os.close(fd)
        count = memoryview(shared).cast("q")
        target = pickle.loads(target_blob)
    except BaseException as error:
        results.send_bytes(pickle.dumps((None, f"{type(error).__name__}: {error}"), _PROTOCOL))
        return
    inbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()

    def read() -> None:
        try:
            while True:
                inbox.put(tasks.recv_bytes())
        except (EOFError, OSError):
            inbox.put(None)

    threading.Thread(target=read, name="fasttrial-worker-reader", daemon=True).start()
    where = f"worker {wid} (pid {os.getpid()})"
    started, finished = 2 * slot, 2 * slot + 1
    while True:
        blob = inbox.get()
        if blob is None:
            break
        seq0, trials = pickle.loads(blob)
        outcomes: list[tuple[int, int, Any]] = []
        busy = 0.0
        last_send = time.perf_counter()
        for i, trial in enumerate(trials):
            seq = seq0 + i
            count[started] = seq + 1
            t0 = time.perf_counter()
            kind, payload = call_target(target, trial)
            t1 = time.perf_counter()
            count[finished] = seq + 1
            busy += t1 - t0
            outcomes.append((seq, kind, payload))
            if t1 - last_send >= FLUSH_SECONDS:
                results.send_bytes(dump_outcomes(busy, outcomes, where))
                outcomes, busy, last_send = [], 0.0, time.perf_counter()
        if outcomes:
            results.send_bytes(dump_outcomes(busy, outcomes, where))
    count.release()
    shared.close()


# ------------------------------------------------------------------------------- driver


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name}"
    return f"exited with code {code}"


# Thread pools of numerical libraries: n workers each using every core would oversubscribe
# the machine (a numpy target ran 2x slower on 2 workers here).  Dask's nanny sets the same.
_THREAD_LIMITS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


@contextlib.contextmanager
def _one_thread_per_worker() -> Iterator[None]:
    """Processes started inside get the limits above set to 1, unless already set."""
    added = [k for k in _THREAD_LIMITS if k not in os.environ]
    for key in added:
        os.environ[key] = "1"
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


def _grow_pipe(conn: Connection) -> None:
    """Ask Linux for a 1 MiB pipe buffer (64 KiB by default), so a batch of trials is
    written at once instead of waiting for the worker's reader thread to get the GIL."""
    setsize = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if setsize is None:
        return
    with contextlib.suppress(OSError):  # above /proc/sys/fs/pipe-max-size: keep the default
        fcntl.fcntl(conn.fileno(), setsize, 1 << 20)


class _Worker:
    __slots__ = (
        "ctx_proc",
        "pending",
        "pid",
        "results",
        "seq",
        "slot",
        "task_ends",
        "tasks",
        "wid",
    )

    def __init__(self, proc: Any, tasks: Connection, results: Connection, slot: int, wid: int):
        self.ctx_proc = proc
        self.pid: int = proc.pid
        self.tasks = tasks
        self.results = results
        self.slot = slot
        self.wid = wid
        self.seq = 0  # seq of the next trial sent
        self.pending: deque[tuple[int, Trial[Any]]] = deque()  # sent, no outcome yet
        self.task_ends: deque[int] = deque()  # last seq of each task sent, not done


class ProcessPool:
    """``n`` worker processes fed over pipes; see the module docstring.

    ``poll()`` returns outcomes as ``(trial, kind, payload)`` plus the trials of dead
    workers that never started; a dead worker's other trials come back as ERROR outcomes
    whose message says what happened.
    """

    def __init__(self, target: Callable[[Any], Any], n: int) -> None:
        import multiprocessing as mp
        import tempfile

        try:
            self._blob = pickle.dumps(target, _PROTOCOL)
        except Exception as error:
            raise TypeError(
                f"executor='processes' sends the target to worker processes, but it cannot "
                f"be pickled: {type(error).__name__}: {error}. Define it at module level "
                "(not a lambda or a local function), or use executor='threads'."
            ) from None
        method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        self._ctx: Any = mp.get_context(method)
        if method == "forkserver":
            # Workers fork from a server that has fasttrial (and the target's module) loaded;
            # "__main__" stays first, as in multiprocessing's default.
            preload = ["__main__", "fasttrial"]
            module = getattr(target, "__module__", None)
            if isinstance(module, str) and module not in ("__main__", "builtins"):
                preload.append(module)
            self._ctx.set_forkserver_preload(preload)
        self.n = n
        try:  # memory-backed where there is /dev/shm; any temporary directory will do
            fd, path = tempfile.mkstemp(prefix="fasttrial-workers-", dir="/dev/shm")
        except OSError:
            fd, path = tempfile.mkstemp(prefix="fasttrial-workers-")
        self._counters_path: str | None = path
        if os.name == "posix":  # workers get the descriptor: nothing is left on disk
            os.unlink(path)
            self._counters_path = None
        self._fd = fd
        try:
            os.ftruncate(fd, max(n, 1) * _SLOT_BYTES)
            self._shared = mmap.mmap(fd, 0)
        except BaseException:
            os.close(fd)
            raise
        self._count = memoryview(self._shared).cast("q")
        self._next_wid = 0
        self._workers: list[_Worker | None] = [None] * n
        self._empty_deaths = 0  # deaths in a row of workers that started no trial
        self.failure: str | None = None  # why the workers cannot run at all, once known
        self.in_flight = 0
        try:
            with _one_thread_per_worker():
                if method == "forkserver":  # its environment is its workers'
                    from multiprocessing import forkserver

                    forkserver.ensure_running()
                for slot in range(n):
                    self._start(slot)
        except BaseException:
            self.close(cancel=True)
            raise

    def _start(self, slot: int) -> None:
        self._count[2 * slot] = self._count[2 * slot + 1] = 0
        tasks_r, tasks_w = self._ctx.Pipe(duplex=False)
        results_r, results_w = self._ctx.Pipe(duplex=False)
        for conn in (tasks_w, results_r):
            _grow_pipe(conn)
        wid = self._next_wid
        self._next_wid += 1
        proc = self._ctx.Process(
            target=_worker_main,
            args=(
                tasks_r,
                results_w,
                self._blob,
                _SharedFile(self._fd, self._counters_path),
                slot,
                wid,
            ),
            name=f"fasttrial-worker-{wid}",
            daemon=True,
        )
        try:
            proc.start()
        finally:
            tasks_r.close()
            results_w.close()
        self._workers[slot] = _Worker(proc, tasks_w, results_r, slot, wid)

    # -- feeding ----------------------------------------------------------------------

    def free(self, depth: int) -> list[int]:
        """Slots of live workers with fewer than ``depth`` tasks queued, least loaded first."""
        live = [w for w in self._workers if w is not None and len(w.task_ends) < depth]
        live.sort(key=lambda w: len(w.task_ends))
        return [w.slot for w in live]

    def submit(self, slot: int, trials: list[Trial[Any]]) -> list[tuple[Trial[Any], int, Any]]:
        """Send ``trials`` to the worker in ``slot``; return outcomes for trials that could not
        be pickled (they are not sent)."""
        worker = self._workers[slot]
        assert worker is not None
        bad: list[tuple[Trial[Any], int, Any]] = []
        try:
            blob = pickle.dumps((worker.seq, trials), _PROTOCOL)
        except Exception:
            good = []
            for trial in trials:
                try:
                    pickle.dumps(trial, _PROTOCOL)
                    good.append(trial)
                except Exception as error:
                    bad.append(
                        (
                            trial,
                            ERROR,
                            (
                                f"the trial could not be pickled to send it to a worker process: "
                                f"{type(error).__name__}: {error}",
                                None,
                            ),
                        )
                    )
            trials = good
            if not trials:
                return bad
            blob = pickle.dumps((worker.seq, trials), _PROTOCOL)
        for trial in trials:
            worker.pending.append((worker.seq, trial))
            worker.seq += 1
        worker.task_ends.append(worker.seq - 1)
        self.in_flight += len(trials)
        # If the worker died, poll() sees its sentinel and sorts its trials out.
        with contextlib.suppress(OSError):
            worker.tasks.send_bytes(blob)
        return bad

    # -- results ----------------------------------------------------------------------

    def poll(self, timeout: float) -> tuple[list[Outcome], list[Trial[Any]], list[Timing]]:
        """Wait up to ``timeout`` seconds; return ``(outcomes, trials to run again, timings)``.

        ``timings`` are ``(trials, busy seconds)`` as measured by the workers.  If a worker
        cannot load the target, or workers keep dying before they start a trial,
        ``self.failure`` says so afterwards.
        """
        from multiprocessing.connection import wait

        workers = [w for w in self._workers if w is not None]
        waitables: dict[Any, _Worker] = {}
        for w in workers:
            waitables[w.results] = w
            waitables[w.ctx_proc.sentinel] = w
        ready = wait(list(waitables), timeout)
        outcomes: list[tuple[Trial[Any], int, Any]] = []
        again: list[Trial[Any]] = []
        timings: list[tuple[int, float]] = []
        dead: dict[int, _Worker] = {}
        for obj in ready:
            worker = waitables[obj]
            if worker.slot in dead:
                continue
            if obj is worker.results:
                if not self._drain(worker, outcomes, timings):
                    dead[worker.slot] = worker
            else:
                dead[worker.slot] = worker
        for worker in dead.values():
            self._drain(worker, outcomes, timings)
            self._bury(worker, outcomes, again)
        return outcomes, again, timings

    def _drain(self, worker: _Worker, outcomes: list[Any], timings: list[Any]) -> bool:
        """Read every complete message waiting from ``worker``; False at end of file."""
        conn = worker.results
        try:
            while conn.poll():
                message = pickle.loads(conn.recv_bytes())
                busy, items = message
                if busy is None:  # the worker could not start
                    self.failure = (
                        f"worker {worker.wid} (pid {worker.pid}) could not load the target: "
                        f"{items}. executor='processes' imports the target's module in each "
                        "worker: define the target in an importable module."
                    )
                    continue
                timings.append((len(items), busy))
                pending = worker.pending
                for seq, kind, payload in items:
                    # A worker runs its trials in the order they were sent, so its outcomes
                    # arrive in that order too: the oldest pending trial is this one.
                    sent, trial = pending.popleft()
                    if sent != seq:
                        raise RuntimeError(
                            f"worker {worker.wid} sent the outcome of its trial #{seq} when "
                            f"#{sent} was due (a fasttrial bug: please report it)"
                        )
                    outcomes.append((trial, kind, payload))
                    self.in_flight -= 1
                    while worker.task_ends and worker.task_ends[0] <= seq:
                        worker.task_ends.popleft()
        except (EOFError, OSError):
            return False
        return True

    def _bury(self, worker: _Worker, outcomes: list[Any], again: list[Trial[Any]]) -> None:
        """Sort out the trials of a dead ``worker`` and start another in its slot."""
        proc = worker.ctx_proc
        proc.join(5)
        how = _describe_exit(proc.exitcode)
        started = self._count[2 * worker.slot]
        finished = self._count[2 * worker.slot + 1]
        who = f"worker {worker.wid} (pid {worker.pid})"
        for seq, trial in worker.pending:
            self.in_flight -= 1
            if seq < finished:
                outcomes.append(
                    (
                        trial,
                        DIED,
                        (
                            f"{who} {how} after this trial finished, before its report "
                            "was sent back",
                            None,
                        ),
                    )
                )
            elif seq < started:
                outcomes.append((trial, DIED, (f"{who} {how} while running this trial", None)))
            else:
                again.append(trial)
        worker.pending.clear()
        worker.task_ends.clear()
        worker.tasks.close()
        worker.results.close()
        if proc.exitcode is not None:
            proc.close()
        self._workers[worker.slot] = None
        self._empty_deaths = self._empty_deaths + 1 if started == 0 else 0
        if self._empty_deaths >= 3:
            self.failure = (
                f"3 worker processes in a row died before starting a trial (the last, {who}, "
                f"{how}); the workers cannot run. Worker processes import the target's "
                "module: it must import cleanly, and a script's main code must be under "
                "`if __name__ == '__main__':`"
            )
        elif self.failure is None:
            self._start(worker.slot)

    # -- the end ----------------------------------------------------------------------

    def cancel(self) -> list[Trial[Any]]:
        """Kill every worker; return the trials they held (their outcomes are lost)."""
        held: list[Trial[Any]] = []
        for worker in self._workers:
            if worker is None:
                continue
            if worker.ctx_proc.exitcode is None:
                worker.ctx_proc.kill()
            held.extend(trial for _, trial in worker.pending)
            worker.pending.clear()
            worker.task_ends.clear()
        self.in_flight = 0
        return held

    def close(self, *, cancel: bool = False) -> None:
        """Stop the workers (they finish what they hold unless ``cancel``) and clean up."""
        workers = [w for w in self._workers if w is not None]
        for worker in workers:
            worker.tasks.close()  # end of file: the worker exits when its queue is empty
            if cancel and worker.ctx_proc.exitcode is None:
                worker.ctx_proc.kill()
        deadline = time.monotonic() + 10
        for worker in workers:
            worker.ctx_proc.join(max(0.0, deadline - time.monotonic()))
            if worker.ctx_proc.exitcode is None:
                worker.ctx_proc.kill()
                worker.ctx_proc.join(5)
            worker.results.close()
            if worker.ctx_proc.exitcode is not None:
                worker.ctx_proc.close()
        self._workers = [None] * self.n
        if self._shared is not None:
            self._count.release()
            self._shared.close()
            self._shared = None  # type: ignore[assignment]
            os.close(self._fd)
            if self._counters_path is not None:
                with contextlib.suppress(OSError):
                    os.unlink(self._counters_path)
