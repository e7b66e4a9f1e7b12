"""Resuming ``fasttrial.optimize`` from its journal, and ``RandomSearch.restore``.

The journal tests need ``History.open`` (the journal); they are skipped where this
fasttrial has none.  The kill test runs a real driver process with worker processes,
kills the whole process group with SIGKILL mid-run, and runs the same call again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from fasttrial.optimization import History, Trial, optimize
from fasttrial.optimization.run import TrialLost

try:  # tests/ as packages
    from . import _run_targets as targets
except ImportError:  # rootdir-relative imports (no __init__.py): tests/unit is on sys.path
    import _run_targets as targets  # type: ignore[no-redef]

HERE = Path(__file__).parent
needs_journal = pytest.mark.skipif(
    not hasattr(History, "open"), reason="History.open (the journal) is not in this fasttrial"
)


# ----------------------------------------------------------------------- RandomSearch


def test_restore_continues_the_draws_of_an_uninterrupted_run() -> None:
    uninterrupted = targets.search(seed=7)
    expected = uninterrupted.ask(10)
    first = targets.search(seed=7)
    asked = first.ask(6)
    history = History([t.success(loss=0.0) for t in asked[:4]])
    history.add([t.crashed(exception=TrialLost("lost")) for t in asked[4:]])
    resumed = targets.search(seed=7)
    resumed.restore(history)
    assert resumed.told == 6
    following = resumed.ask(4)
    assert [t.name for t in following] == [f"trial-{i}" for i in range(6, 10)]
    assert [(t.config, t.seed) for t in following] == [(t.config, t.seed) for t in expected[6:]]


def test_restore_skips_past_gaps_and_is_harmless_when_up_to_date() -> None:
    history = History([Trial(name="trial-41", config={}, metrics=[targets.LOSS]).success(loss=1.0)])
    search = targets.search()
    search.restore(history)
    assert search.ask().name == "trial-42"
    search.restore(history)  # already past it: nothing changes
    assert search.ask().name == "trial-43"


def test_optimize_restores_the_optimizer_from_a_given_history() -> None:
    history = optimize(targets.ok, targets.search(), n_trials=5, progress=False)
    again = optimize(targets.ok, targets.search(), n_trials=9, history=history, progress=False)
    names = [r.name for r in again]
    assert names == [f"trial-{i}" for i in range(9)]  # n_trials counts the 5 already there


# ---------------------------------------------------------------------------- journals


@needs_journal
def test_trials_asked_but_not_reported_are_lost_not_rerun(tmp_path: Path) -> None:
    path = tmp_path / "run.journal"
    history = History.open(path)
    search = targets.search()
    done = search.ask(3)
    history.journal.record_asked(done)
    history.add([targets.ok(t) for t in done])
    in_flight = search.ask(2)
    history.journal.record_asked(in_flight)  # then the run is killed
    history.close()

    resumed = optimize(targets.ok, targets.search(), n_trials=8, history=str(path), progress=False)
    names = [r.name for r in resumed]
    assert names[:3] == ["trial-0", "trial-1", "trial-2"]
    assert sorted(names[3:5]) == ["trial-3", "trial-4"]
    assert names[5:] == ["trial-5", "trial-6", "trial-7"]
    for report in resumed:
        if report.name in ("trial-3", "trial-4"):
            assert report.status is Trial.Status.CRASHED
            assert "lost when the run stopped" in str(report.exception)
        else:
            assert report.status is Trial.Status.SUCCESS
    reopened = History.open(path)
    try:
        assert [r.name for r in reopened] == names
        assert reopened.journal.pending() == {}
    finally:
        reopened.close()


def _driver(out: Path, journal: Path, n: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            str(HERE / "_run_targets.py"),
            str(out),
            "marked",
            str(n),
            "processes",
            "2",
            str(journal),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: driver, forkserver and workers
    )


@needs_journal
def test_a_run_killed_with_sigkill_resumes_where_it_was(tmp_path: Path) -> None:
    n = 120
    journal = tmp_path / "run.journal"
    env = {**os.environ, "FASTTRIAL_TEST_DIR": str(tmp_path), "FASTTRIAL_TEST_SLEEP": "0.03"}
    proc = _driver(tmp_path / "first.json", journal, n, env)
    try:
        deadline = time.monotonic() + 30
        while len(list(tmp_path.glob("*.started"))) < 30:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the first run never got going"
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and its workers, mid-run
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    killed = History.open(journal)
    try:
        before = [r.name for r in killed]
        in_flight = set(killed.journal.pending())
    finally:
        killed.close()
    assert 0 < len(before) < n
    assert in_flight  # trials were running when it was killed
    assert not in_flight & set(before)

    proc = _driver(tmp_path / "second.json", journal, n, env)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr.decode()
    second: dict[str, Any] = json.loads((tmp_path / "second.json").read_text())
    names = second["names"]
    assert len(names) == n  # n_trials counts the reports already in the journal
    assert len(set(names)) == n  # no name reused
    assert names[: len(before)] == before  # what was kept, in its order
    assert set(second["asked"]).isdisjoint(set(before) | in_flight)
    status = dict(zip(names, second["status"], strict=True))
    crashed = {name for name, s in status.items() if s == "crashed"}
    assert crashed == in_flight  # exactly the trials in flight at the kill
    for name, error in zip(names, second["exceptions"], strict=True):
        if name in in_flight:
            assert "lost when the run stopped" in error
    # The same configurations as one uninterrupted run of the same search.
    reference = targets.search().ask(n)
    reopened = History.open(journal)
    try:
        assert reopened.journal.pending() == {}
        configs = {r.name: r.config for r in reopened}
    finally:
        reopened.close()
    assert all(configs[t.name] == t.config for t in reference)


@needs_journal
def test_ctrl_c_leaves_a_complete_closed_journal(tmp_path: Path) -> None:
    journal = tmp_path / "run.journal"
    env = {**os.environ, "FASTTRIAL_TEST_DIR": str(tmp_path), "FASTTRIAL_TEST_SLEEP": "0.2"}
    out = tmp_path / "out.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "_run_targets.py"),
            str(out),
            "marked",
            "1000",
            "processes",
            "2",
            str(journal),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while len(list(tmp_path.glob("*.started"))) < 3:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stderr.decode()
    asked = json.loads(out.read_text())["asked"]
    reopened = History.open(journal)
    try:
        assert reopened.journal.pending() == {}  # every trial handed out has its report
        assert sorted(r.name for r in reopened) == sorted(asked)
        assert {str(r.status) for r in reopened} == {"success"}
    finally:
        reopened.close()
