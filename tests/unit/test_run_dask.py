"""``fasttrial.optimize`` on a real Dask ``distributed.LocalCluster`` (2 worker processes,
one thread each), run in a driver subprocess (bounded at 150 s) so that the cluster's
threads and sockets end with it.  Skipped where ``distributed`` is not installed
(``pip install "fasttrial[dask]"``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("distributed", reason='Dask is optional: pip install "fasttrial[dask]"')

HERE = Path(__file__).parent
MiB = 1024**2


@pytest.fixture(scope="module")
def dask_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    workdir = tmp_path_factory.mktemp("dask")
    out = workdir / "out.json"
    proc = subprocess.run(
        [sys.executable, str(HERE / "_run_targets.py"), "--dask", str(out), str(workdir)],
        capture_output=True,
        timeout=150,
        cwd=workdir,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-4000:]
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def test_memory_peaks_are_measured_in_the_workers(dask_run: dict[str, Any]) -> None:
    reports = dask_run["memory"]
    assert len(reports) == 6
    assert len({r["name"] for r in reports}) == 6
    workers = set(dask_run["worker_pids"])
    assert len(workers) == 2
    assert dask_run["driver_pid"] not in workers
    for r in reports:
        assert r["status"] == "success"
        assert r["pid"] in workers  # run in a worker process...
        assert r["peak_rss"] - r["start_rss"] >= 48 * MiB  # ...which touched 64 MiB
        assert abs(r["end_rss"] - r["start_rss"]) < 32 * MiB  # ...and freed it


def test_cheap_trials_all_arrive_once(dask_run: dict[str, Any]) -> None:
    cheap = dask_run["cheap"]
    assert cheap["status"] == {"success": 400}
    assert sorted(cheap["names"]) == sorted(f"trial-{i}" for i in range(400))


def test_a_dead_worker_is_rerun_by_dask_and_killed_worker_crashes_only_its_trial(
    dask_run: dict[str, Any],
) -> None:
    kills = dask_run["kills"]
    names = kills["names"]
    assert sorted(names) == sorted(f"trial-{i}" for i in range(12))  # each exactly once
    status = kills["status"]
    # trial-4 killed every worker that ran it: Dask gave up on it.
    assert status["trial-4"] == "crashed"
    assert "KilledWorker" in kills["exceptions"]["trial-4"]
    assert "EngineError" in kills["exceptions"]["trial-4"]
    # A batch that held trial-4 was split and its other trials ran again, alone.  Dask
    # counts a death against every task on the dying worker, queued ones too, so with
    # allowed-failures=1 it may give up on a trial that only waited there: such a trial
    # is crashed with KilledWorker as well, never with anything else.
    crashed = {n for n, s in status.items() if s != "success"}
    assert len(crashed) <= 3
    for name in crashed:
        assert status[name] == "crashed"
        assert "KilledWorker" in kills["exceptions"][name]
    # trial-2 killed its worker once (the first time it ran): Dask ran it again.
    assert status["trial-2"] == "success" or "KilledWorker" in kills["exceptions"]["trial-2"]
    assert (Path(dask_run["workdir"]) / "trial-2.ran").exists()
