"""``fasttrial demo --workers N``: the demo through ``fasttrial.optimize`` on processes,
and (with the journal) a rerun after kill -9 that resumes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from fasttrial.optimization import History

needs_journal = pytest.mark.skipif(
    not hasattr(History, "open"), reason="History.open (the journal) is not in this fasttrial"
)


def demo(out: Path, trials: int, **popen: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fasttrial",
            "demo",
            "--trials",
            str(trials),
            "--workers",
            "2",
            "--out",
            str(out),
            "--no-progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **popen,  # type: ignore[call-overload]
    )


def test_demo_on_two_worker_processes(tmp_path: Path) -> None:
    proc = demo(tmp_path / "run", 60)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr.decode()
    text = stdout.decode()
    assert "on 2 worker processes" in text
    frame = pd.read_parquet(tmp_path / "run" / "history.parquet")
    assert len(frame) == 60
    assert frame["name"].is_unique
    assert set(frame["status"].astype(str)) <= {"success", "fail"}


@needs_journal
def test_a_killed_demo_resumes_on_rerun(tmp_path: Path) -> None:
    out = tmp_path / "run"
    journal = out / "history.journal"
    proc = demo(out, 3000, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not journal.exists() or journal.stat().st_size < 20_000:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the demo never got going"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
    killed = History.open(journal)
    try:
        kept = len(killed)
        lost = set(killed.journal.pending())
    finally:
        killed.close()
    assert 0 < kept < 3000

    proc = demo(out, 3000)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr.decode()
    frame = pd.read_parquet(out / "history.parquet")
    assert len(frame) == 3000
    assert frame["name"].is_unique
    crashed = set(frame.loc[frame["status"].astype(str) == "crashed", "name"])
    assert crashed == lost
