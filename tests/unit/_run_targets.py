"""Targets (and a driver script) for ``test_run*.py``, importable by name in worker processes.

The trial's index (``trial-<i>`` from RandomSearch) picks what a target does, so a test
knows exactly which trial should crash and how.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from fasttrial.optimization import Metric, RandomSearch, Trial

SPACE = {"x": (0.0, 1.0)}
LOSS = Metric("loss", minimize=True)


def index(trial: Trial[Any]) -> int:
    return int(trial.name.rsplit("-", 1)[1])


def search(seed: int = 0) -> RandomSearch:
    return RandomSearch(SPACE, metrics=LOSS, seed=seed)


def ok(trial: Trial[Any]) -> Trial.Report[Any]:
    with trial.begin():
        x = trial.config["x"]
    return trial.success(loss=x)


def sleepy(trial: Trial[Any]) -> Trial.Report[Any]:
    """Each trial sleeps ``FASTTRIAL_TEST_SLEEP`` seconds (default 0.05) inside begin()."""
    with trial.begin():
        time.sleep(float(os.environ.get("FASTTRIAL_TEST_SLEEP", "0.05")))
    return trial.success(loss=trial.config["x"])


def marked(trial: Trial[Any]) -> Trial.Report[Any]:
    """Leave ``<name>.started`` in ``FASTTRIAL_TEST_DIR``, then take
    ``FASTTRIAL_TEST_SLEEP`` seconds (default 0.2)."""
    (Path(os.environ["FASTTRIAL_TEST_DIR"]) / f"{trial.name}.started").touch()
    with trial.begin():
        time.sleep(float(os.environ.get("FASTTRIAL_TEST_SLEEP", "0.2")))
    return trial.success(loss=trial.config["x"])


def marked_slow(trial: Trial[Any]) -> Trial.Report[Any]:
    """Leave ``<name>.started``, then take 60 s (only a second Ctrl-C ends it early)."""
    (Path(os.environ["FASTTRIAL_TEST_DIR"]) / f"{trial.name}.started").touch()
    with trial.begin():
        time.sleep(60)
    return trial.success(loss=trial.config["x"])


class Unpicklable:
    def __init__(self) -> None:
        self.lock = threading.Lock()


# What each trial of `faulty` does, by index; the others succeed.
FAULTS = {
    3: "sigkill",
    6: "segfault",
    9: "exit",
    12: "raise",
    15: "garbage",
    18: "unpicklable",
    21: "other-report",
    24: "fail-inside",
}


def faulty(trial: Trial[Any]) -> Trial.Report[Any]:
    fault = FAULTS.get(index(trial))
    if fault == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif fault == "segfault":
        ctypes.string_at(0)
    elif fault == "exit":
        os._exit(7)
    elif fault == "raise":
        raise ValueError(f"{trial.name} raised outside begin")
    elif fault == "garbage":
        return {"loss": 1.0}  # type: ignore[return-value]
    elif fault == "other-report":
        other = Trial(name="somebody-else", config={}, metrics=[LOSS])
        return other.success(loss=1.0)
    with trial.begin():
        if fault == "fail-inside":
            raise RuntimeError("inside begin: recorded, not a crash")
        time.sleep(0.002)
    if fault == "unpicklable":
        trial.summary["handle"] = Unpicklable()
    if trial.exception is not None:
        return trial.fail()
    return trial.success(loss=trial.config["x"])


def killer(trial: Trial[Any]) -> Trial.Report[Any]:
    """Trial 3 SIGKILLs its worker; the others take 10 ms."""
    if index(trial) == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    with trial.begin():
        time.sleep(0.01)
    return trial.success(loss=trial.config["x"])


def kill_once(trial: Trial[Any]) -> Trial.Report[Any]:
    """Trial 2 SIGKILLs its worker the first time it runs (a marker file remembers), then
    succeeds when run again; trial 4 kills its worker every time."""
    marker = Path(os.environ["FASTTRIAL_TEST_DIR"]) / f"{trial.name}.ran"
    i = index(trial)
    if i == 4 or (i == 2 and not marker.exists()):
        marker.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return ok(trial)


def allocate(trial: Trial[Any]) -> Trial.Report[Any]:
    """Touch 64 MiB inside begin() and free it: the peak must show it, the end must not."""
    import numpy as np

    with trial.begin():
        block = np.ones(64 * 1024 * 1024 // 8)
        total = float(block[-1])
        del block
    trial.summary["pid"] = os.getpid()
    return trial.success(loss=total)


def driver(argv: list[str]) -> int:
    """``python _run_targets.py OUT TARGET N EXECUTOR WORKERS [HISTORY]``: run optimize and
    write what happened to OUT as JSON (also after a Ctrl-C)."""
    out, target_name, n, executor, workers = argv[:5]
    history_arg: Any = argv[5] if len(argv) > 5 else None
    import _run_targets as targets  # by name, as the workers import it

    import fasttrial

    asked: list[str] = []
    opt = targets.search()
    original_ask = opt.ask

    def ask(n: int | None = None) -> Any:
        result = original_ask(n)
        asked.extend(t.name for t in ([result] if n is None else result))
        return result

    opt.ask = ask  # type: ignore[method-assign]
    from fasttrial.optimization import History

    history = History() if history_arg is None else history_arg
    interrupted = False
    t0 = time.monotonic()
    try:
        result = fasttrial.optimize(
            getattr(targets, target_name),
            opt,
            n_trials=int(n),
            executor=None if executor == "none" else executor,
            n_workers=int(workers),
            history=history,
            progress=False,
        )
    except KeyboardInterrupt:
        interrupted = True
        result = history if isinstance(history, History) else None
    seconds = time.monotonic() - t0
    reports = [] if result is None else list(result)
    Path(out).write_text(
        json.dumps(
            {
                "interrupted": interrupted,
                "seconds": seconds,
                "asked": asked,
                "names": [r.name for r in reports],
                "status": [str(r.status) for r in reports],
                "exceptions": [repr(r.exception) for r in reports],
            }
        )
    )
    return 130 if interrupted else 0


def dask_scenarios(out: str, workdir: str) -> int:
    """``python _run_targets.py --dask OUT DIR``: run optimize on a real LocalCluster (2
    worker processes, 1 thread each) and write what happened to OUT as JSON."""
    import _run_targets as targets  # by name, as the workers import it
    import dask
    from distributed import Client, LocalCluster

    import fasttrial

    os.environ["FASTTRIAL_TEST_DIR"] = workdir  # inherited by the nanny's workers
    results: dict[str, Any] = {"driver_pid": os.getpid(), "workdir": workdir}
    # A task whose worker dies is rerun once; the second death gives KilledWorker.
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 1}),
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=50,
        ) as cluster,
        Client(cluster) as client,
    ):
        results["worker_pids"] = sorted(client.run(os.getpid).values())

        history = fasttrial.optimize(
            targets.allocate, targets.search(), n_trials=6, executor=client, progress=False
        )
        results["memory"] = [
            {
                "name": r.name,
                "status": str(r.status),
                "pid": r.summary.get("pid"),
                "start_rss": r.memory.start_rss,
                "end_rss": r.memory.end_rss,
                "peak_rss": r.memory.peak_rss,
            }
            for r in history
        ]

        history = fasttrial.optimize(
            targets.ok, targets.search(), n_trials=400, executor=client, progress=False
        )
        results["cheap"] = {"names": [r.name for r in history], "status": Counter_of(history)}

        history = fasttrial.optimize(
            targets.kill_once, targets.search(), n_trials=12, executor=client, progress=False
        )
        results["kills"] = {
            "names": [r.name for r in history],
            "status": {r.name: str(r.status) for r in history},
            "exceptions": {r.name: repr(r.exception) for r in history if r.exception},
        }
    Path(out).write_text(json.dumps(results))
    return 0


def Counter_of(history: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in history:
        counts[str(r.status)] = counts.get(str(r.status), 0) + 1
    return counts


if __name__ == "__main__":
    if sys.argv[1] == "--dask":
        sys.exit(dask_scenarios(sys.argv[2], sys.argv[3]))
    sys.exit(driver(sys.argv[1:]))
