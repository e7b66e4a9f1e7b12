"""``fasttrial.optimize``: every engine, crashes of every kind, timeout and Ctrl-C.

Real worker processes (killed by SIGKILL, a segfault, ``os._exit``), real thread and
process pools, and a real driver process for Ctrl-C.  Every test is bounded in time: a
SIGALRM guard fails it if it runs too long, and subprocesses have timeouts.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import fasttrial
from fasttrial.optimization import History, Trial, _pool, optimize
from fasttrial.optimization.run import (
    EngineError,
    ExecutorBroken,
    TargetError,
    TrialCancelled,
    WorkerDied,
)

try:  # tests/ as packages
    from . import _run_targets as targets
except ImportError:  # rootdir-relative imports (no __init__.py): tests/unit is on sys.path
    import _run_targets as targets  # type: ignore[no-redef]

HERE = Path(__file__).parent


@pytest.fixture(autouse=True)
def _deadline() -> Iterator[None]:
    """Fail (instead of hanging) a test that runs for more than 60 seconds."""
    if not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError("test_run: a test ran for more than 60 s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, 60)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def statuses(history: History) -> Counter[str]:
    return Counter(str(r.status) for r in history)


def check_complete(history: History, n: int) -> None:
    names = [r.name for r in history]
    assert len(names) == n
    assert len(set(names)) == n, "a trial was reported twice"


# ------------------------------------------------------------------------ every engine


@pytest.mark.parametrize("executor", [None, "threads", "processes"])
def test_every_trial_is_run_told_and_kept(executor: Any) -> None:
    opt = targets.search()
    history = optimize(targets.ok, opt, n_trials=40, executor=executor, n_workers=2, progress=False)
    check_complete(history, 40)
    assert statuses(history) == {"success": 40}
    assert opt.told == 40
    assert {r.name for r in history} == {f"trial-{i}" for i in range(40)}
    for report in history:
        assert report.metrics["loss"] == report.config["x"]
        assert report.time.duration >= 0
    assert history.best("loss").metrics["loss"] == min(r.config["x"] for r in history)


def test_worker_processes_measure_their_own_memory_peaks() -> None:
    mib = 1024**2
    history = optimize(
        targets.allocate,
        targets.search(),
        n_trials=4,
        executor="processes",
        n_workers=2,
        progress=False,
    )
    check_complete(history, 4)
    for report in history:
        assert report.status is Trial.Status.SUCCESS
        assert report.summary["pid"] != os.getpid()  # run in a worker...
        memory = report.memory
        assert memory.peak_rss - memory.start_rss >= 48 * mib  # ...that touched 64 MiB there
        assert abs(memory.end_rss - memory.start_rss) < 32 * mib  # ...and freed it


def test_exported_from_the_package() -> None:
    assert fasttrial.optimize is optimize
    assert fasttrial.optimization.optimize is optimize


def test_a_given_executor_is_used_and_left_open() -> None:
    with ThreadPoolExecutor(2) as pool:
        history = optimize(targets.ok, targets.search(), n_trials=30, executor=pool, progress=False)
        check_complete(history, 30)
        assert pool.submit(lambda: 1).result(timeout=10) == 1  # still usable
    assert statuses(history) == {"success": 30}


def test_a_given_history_is_added_to() -> None:
    history = History()
    first = optimize(targets.ok, targets.search(), n_trials=10, history=history, progress=False)
    assert first is history
    check_complete(history, 10)


# ------------------------------------------------------------------------------ crashes


def crashed(history: History) -> dict[int, Trial.Report[Any]]:
    return {targets.index(r.trial): r for r in history if r.status is Trial.Status.CRASHED}


def test_dead_workers_and_bad_targets_crash_exactly_their_trials() -> None:
    n = 30
    history = optimize(
        targets.faulty,
        targets.search(),
        n_trials=n,
        executor="processes",
        n_workers=2,
        progress=False,
    )
    check_complete(history, n)
    bad = crashed(history)
    # A trial queued on a worker that died runs elsewhere; one whose report was still in
    # the dead worker's buffer is lost with it: both say so.  The faults' own trials are
    # exactly these:
    fault_of = {i: f for i, f in targets.FAULTS.items() if i < n and f != "fail-inside"}
    assert set(fault_of) <= set(bad)
    for i, report in bad.items():
        if i not in fault_of:  # collateral: finished, its report lost with the worker
            assert isinstance(report.exception, WorkerDied)
            assert "after this trial finished, before its report was sent back" in str(
                report.exception
            )
    for i, fault in fault_of.items():
        error = bad[i].exception
        text = str(error)
        if fault == "sigkill":
            assert isinstance(error, WorkerDied)
            assert "killed by SIGKILL while running this trial" in text
        elif fault == "segfault":
            assert isinstance(error, WorkerDied)
            assert "killed by SIGSEGV while running this trial" in text
        elif fault == "exit":
            assert isinstance(error, WorkerDied)
            assert "exited with code 7 while running this trial" in text
        elif fault == "raise":
            assert isinstance(error, TargetError)
            assert "raised ValueError: trial-12 raised outside begin outside trial.begin()" in text
            assert "ValueError" in bad[i].traceback
        elif fault == "garbage":
            assert isinstance(error, TargetError)
            assert "returned dict ({'loss': 1.0}), not a Trial.Report" in text
        elif fault == "unpicklable":
            assert isinstance(error, TargetError)
            assert "could not be pickled to send it back" in text
        elif fault == "other-report":
            assert isinstance(error, TargetError)
            assert "report of trial 'somebody-else' for trial 'trial-21'" in text
        assert "worker" in text or isinstance(error, TargetError)
    died = [str(r.exception) for r in bad.values() if isinstance(r.exception, WorkerDied)]
    assert all(" (pid " in t and t.startswith("worker ") for t in died)
    assert len({t.split(" (pid")[0] for t in died}) >= 3  # three workers died, all named
    fail_inside = history.find("trial-24")
    assert fail_inside.status is Trial.Status.FAIL  # an error inside begin() is not a crash
    others = [r for r in history if targets.index(r.trial) not in bad and r.name != "trial-24"]
    assert all(r.status is Trial.Status.SUCCESS for r in others)


@pytest.mark.parametrize("executor", [None, "threads"])
def test_bad_targets_crash_in_this_process_too(executor: Any) -> None:
    def target(trial: Trial[Any]) -> Any:
        i = targets.index(trial)
        if i == 1:
            raise KeyError("no such thing")
        if i == 2:
            return None
        if i == 3:
            return Trial(name="else", config={}, metrics=[targets.LOSS]).success(loss=0.0)
        return targets.ok(trial)

    history = optimize(
        target, targets.search(), n_trials=6, executor=executor, n_workers=2, progress=False
    )
    check_complete(history, 6)
    bad = crashed(history)
    assert set(bad) == {1, 2, 3}
    assert all(isinstance(r.exception, TargetError) for r in bad.values())
    assert "raised KeyError: 'no such thing' outside trial.begin()" in str(bad[1].exception)
    assert "KeyError" in bad[1].traceback
    assert "returned NoneType (None), not a Trial.Report" in str(bad[2].exception)
    assert "report of trial 'else'" in str(bad[3].exception)


def test_a_broken_stdlib_pool_crashes_what_it_held_then_stops() -> None:
    context = multiprocessing.get_context("forkserver")
    with (
        ProcessPoolExecutor(2, mp_context=context) as pool,
        pytest.raises(ExecutorBroken, match="BrokenProcessPool") as info,
    ):
        optimize(targets.killer, targets.search(), n_trials=30, executor=pool, progress=False)
    history = info.value.history
    assert history is not None
    names = [r.name for r in history]
    assert len(names) == len(set(names))
    assert len(names) < 30  # it stopped
    killed = history.find("trial-3")  # the killer is among the crashed, and says why
    assert killed.status is Trial.Status.CRASHED
    assert isinstance(killed.exception, EngineError)
    assert "the executor broke while this trial was in flight: BrokenProcessPool" in str(
        killed.exception
    )
    for report in history:  # every other crash is one of the trials in flight with it
        if report.status is Trial.Status.CRASHED:
            assert "BrokenProcessPool" in str(report.exception)
    assert "executor='processes'" in str(info.value)


def test_an_unpicklable_target_is_refused_for_processes() -> None:
    def local(trial: Trial[Any]) -> Trial.Report[Any]:
        return targets.ok(trial)

    with pytest.raises(TypeError, match=r"cannot be pickled.*module level"):
        optimize(local, targets.search(), n_trials=3, executor="processes", progress=False)


def test_an_unpicklable_trial_is_crashed_not_sent() -> None:
    opt = targets.search()
    original = opt.ask

    def ask(n: int | None = None) -> Any:
        trials = [original()] if n is None else original(n)
        for t in trials:
            if targets.index(t) == 1:
                t.extras["lock"] = targets.Unpicklable()
        return trials[0] if n is None else trials

    opt.ask = ask  # type: ignore[method-assign]
    history = optimize(
        targets.ok, opt, n_trials=4, executor="processes", n_workers=2, progress=False
    )
    check_complete(history, 4)
    bad = crashed(history)
    assert set(bad) == {1}
    assert "could not be pickled to send it to a worker" in str(bad[1].exception)


# ------------------------------------------------------------------------------- limits


def test_timeout_stops_asking_and_finishes_what_is_in_flight(monkeypatch: Any) -> None:
    monkeypatch.setenv("FASTTRIAL_TEST_SLEEP", "0.05")
    t0 = time.monotonic()
    history = optimize(
        targets.sleepy,
        targets.search(),
        n_trials=10_000,
        executor="processes",
        n_workers=2,
        timeout=0.6,
        progress=False,
    )
    elapsed = time.monotonic() - t0
    assert 2 <= len(history) < 100
    assert statuses(history) == {"success": len(history)}  # in-flight trials finished
    assert elapsed < 10


def test_in_flight_is_bounded_by_the_workers_for_slow_trials(monkeypatch: Any) -> None:
    monkeypatch.setenv("FASTTRIAL_TEST_SLEEP", "0.03")
    opt = targets.search()
    in_flight = []
    original_ask, original_tell = opt.ask, opt.tell

    def ask(n: int | None = None) -> Any:
        result = original_ask(n)
        in_flight.append(opt._asked - opt.told)
        return result

    opt.ask = ask  # type: ignore[method-assign]
    opt.tell = original_tell  # type: ignore[method-assign]
    optimize(targets.sleepy, opt, n_trials=16, executor="threads", n_workers=2, progress=False)
    # 30 ms trials are not cheap (batching starts at one trial per task, and trials of
    # more than TASK_SECONDS / 2 are not prefetched): never more than 2 in flight.
    assert max(in_flight) <= 2


def test_cheap_trials_are_batched_and_small_on_the_wire() -> None:
    history = optimize(targets.ok, targets.search(), n_trials=300, progress=False)
    reports = list(history)
    blob = _pool.dump_outcomes(0.0, [(i, _pool.REPORT, r) for i, r in enumerate(reports)], "x")
    per_report = len(blob) / len(reports)
    single = len(pickle.dumps(reports[0], pickle.HIGHEST_PROTOCOL))
    assert per_report < single / 2  # one pickle per batch shares classes and definitions
    assert per_report < 400
    _busy, outcomes = pickle.loads(blob)
    assert [o[2] for o in outcomes] == reports


def test_bad_arguments_are_named() -> None:
    opt = targets.search()
    with pytest.raises(ValueError, match="n_trials must be an int >= 0"):
        optimize(targets.ok, opt, n_trials=-1)
    with pytest.raises(ValueError, match="n_workers must be an int >= 1"):
        optimize(targets.ok, opt, n_trials=1, n_workers=0)
    with pytest.raises(ValueError, match="timeout must be a number of seconds > 0"):
        optimize(targets.ok, opt, n_trials=1, timeout=0)
    with pytest.raises(ValueError, match="executor must be None, 'threads', 'processes'"):
        optimize(targets.ok, opt, n_trials=1, executor="gpu")
    with pytest.raises(TypeError, match="executor must be"):
        optimize(targets.ok, opt, n_trials=1, executor=42)
    with pytest.raises(TypeError, match="history must be None, a History or a journal path"):
        optimize(targets.ok, opt, n_trials=1, history=42)
    with pytest.raises(TypeError, match="target must be callable"):
        optimize(None, opt, n_trials=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="has no ask"):
        optimize(targets.ok, object(), n_trials=1)


def test_a_reused_name_is_refused() -> None:
    history = optimize(targets.ok, targets.search(), n_trials=3, progress=False)
    fresh = targets.search()
    fresh.restore = None  # type: ignore[attr-defined]  # as an optimizer without restore()
    with pytest.raises(ValueError, match="'trial-0', a name this run already used"):
        optimize(targets.ok, fresh, n_trials=6, history=history, progress=False)


def test_progress_bar_shows_rate_best_and_counts(capsys: Any) -> None:
    history = optimize(
        targets.faulty,
        targets.search(),
        n_trials=16,
        executor="processes",
        n_workers=2,
        progress=True,
    )
    check_complete(history, 16)
    shown = capsys.readouterr().out
    best = history.best("loss").metrics["loss"]
    assert "16/16" in shown
    assert "trials/s" in shown
    assert f"best loss={best:.6g}" in shown
    assert f"{statuses(history)['crashed']} crashed" in shown


# ------------------------------------------------------------------------------ Ctrl-C


def run_driver(tmp_path: Path, *args: str, interrupts: int, wait_for: int) -> dict[str, Any]:
    """Start the driver script, send it ``interrupts`` SIGINTs once ``wait_for`` trials
    have started (their marker files), and return what it wrote."""
    out = tmp_path / "out.json"
    env = {**os.environ, "FASTTRIAL_TEST_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "_run_targets.py"), str(out), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while len(list(tmp_path.glob("*.started"))) < wait_for:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the driver never got going"
            time.sleep(0.02)
        for _ in range(interrupts):
            proc.send_signal(signal.SIGINT)
            time.sleep(0.3)
        _stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stderr.decode()
    return json.loads(out.read_text())


def test_ctrl_c_stops_asking_and_waits_for_the_trials_in_flight(tmp_path: Path) -> None:
    result = run_driver(tmp_path, "marked", "1000", "processes", "2", interrupts=1, wait_for=3)
    assert result["interrupted"]
    assert 3 <= len(result["names"]) < 1000
    assert sorted(result["names"]) == sorted(result["asked"])  # nothing in flight was lost
    assert set(result["status"]) == {"success"}  # ...or cancelled


def test_a_second_ctrl_c_cancels_the_trials_in_flight(tmp_path: Path) -> None:
    result = run_driver(tmp_path, "marked_slow", "1000", "processes", "2", interrupts=2, wait_for=2)
    assert result["interrupted"]
    assert result["seconds"] < 20  # the trials sleep 60 s
    assert sorted(result["names"]) == sorted(result["asked"])
    assert set(result["status"]) == {"crashed"}
    assert all("TrialCancelled" in e for e in result["exceptions"])


def test_ctrl_c_inline(tmp_path: Path) -> None:
    result = run_driver(tmp_path, "marked_slow", "1000", "none", "1", interrupts=2, wait_for=1)
    assert result["interrupted"]
    assert len(result["names"]) == 1 == len(result["asked"])
    assert result["status"] == ["crashed"]
    assert "cancelled by a second Ctrl-C" in result["exceptions"][0]
    assert TrialCancelled.__name__ in result["exceptions"][0]


def test_a_target_workers_cannot_import_stops_the_run_with_a_clear_error(
    tmp_path: Path, monkeypatch: Any
) -> None:
    import importlib.util

    (tmp_path / "hidden").mkdir()  # not on sys.path (the working directory may be)
    source = tmp_path / "hidden" / "hidden_target_module.py"
    source.write_text(
        "def target(trial):\n"
        "    with trial.begin():\n"
        "        pass\n"
        "    return trial.success(loss=0.0)\n"
    )
    spec = importlib.util.spec_from_file_location("hidden_target_module", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setitem(sys.modules, "hidden_target_module", module)  # not on sys.path
    with pytest.raises(ExecutorBroken, match="could not load the target") as info:
        optimize(
            module.target,
            targets.search(),
            n_trials=6,
            executor="processes",
            n_workers=2,
            progress=False,
        )
    history = info.value.history
    assert history is not None
    assert all(r.status is Trial.Status.CRASHED for r in history)  # none lost, none run
    assert all("could not load the target" in str(r.exception) for r in history)


def test_a_script_without_a_main_guard_is_told_why_its_workers_die(tmp_path: Path) -> None:
    script = tmp_path / "unguarded.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(HERE)!r})\n"
        "import fasttrial, _run_targets as t\n"
        "fasttrial.optimize(t.ok, t.search(), n_trials=4, executor='processes', n_workers=1,"
        " progress=False)\n"
    )
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, timeout=60, cwd=tmp_path
    )
    stderr = proc.stderr.decode()
    assert proc.returncode == 1
    assert "ExecutorBroken" in stderr
    assert "if __name__ == '__main__':" in stderr
