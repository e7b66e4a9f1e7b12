"""Proof that the overhead guard trips (``python -m pytest benchmarks/ -m guard_trip``).

Each test runs the guard in a fresh pytest process with the ``benchmarks._slowdown`` plugin
and checks that it fails, naming the operation and its figure:

* ``FASTTRIAL_SLOWDOWN_US=1``: a busy wait of 1 us per call of ``Trial(...)``, ``begin()``,
  ``profile()`` and ``History.add`` (about a quarter of ``begin()``'s cost; the wrapper
  adds a little more), which the ratios to the floor must catch;
* ``FASTTRIAL_SLOWDOWN_US=0 FASTTRIAL_SLOWDOWN_SYSCALLS=1``: no wait, one more system call
  (``getpid``) at each boundary of ``begin()`` and ``profile()``, which the system-call
  counts must catch.

The first one runs the whole guard (about a minute); both are bounded by a timeout.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fasttrial._bench import RATIO_BUDGETS

pytestmark = pytest.mark.guard_trip

ROOT = Path(__file__).resolve().parent.parent


def _guard(
    env_extra: dict[str, str], *extra: str, timeout: float
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FASTTRIAL_SLOWDOWN")}
    env.update(env_extra)
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "benchmarks/",
        "-m",
        "guard",
        "-p",
        "benchmarks._slowdown",
        "-p",
        "no:cacheprovider",
        *extra,
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    print(f"$ {' '.join(f'{k}={v}' for k, v in env_extra.items())} {' '.join(cmd[1:])}")
    print(f"exit status {proc.returncode}")
    lines = proc.stdout.splitlines()
    print("\n".join(line for line in lines if line.startswith("FAILED ")))
    print("\n".join(sorted({line for line in lines if "over its budget" in line})))
    print("\n".join(lines[-40:]))
    return proc


def test_a_slowdown_of_a_quarter_of_begin_fails_the_guard() -> None:
    proc = _guard({"FASTTRIAL_SLOWDOWN_US": "1"}, timeout=400)
    out = proc.stdout
    assert "benchmarks._slowdown: fasttrial made slower (1 us per call)" in out
    assert proc.returncode == 1, f"the guard passed a slowed-down fasttrial:\n{out[-3000:]}"
    # The failure names the operation and its ratio, over the budget.
    found = {
        m.group(1): float(m.group(2))
        for m in re.finditer(r"(\S+): (\d+\.\d+)x its floor, over its budget", out)
    }
    # begin() (the case) must fail, and most of the others: each is measured twice
    # and the slowdown puts them 10-40% over budget, so a miss of one is not impossible on
    # a loaded machine, but the guard is then still red.
    assert "begin" in found, f"begin did not fail the guard:\n{out[-3000:]}"
    assert len(found) >= 3, f"only {sorted(found)} failed the guard:\n{out[-3000:]}"
    for op, ratio in found.items():
        assert ratio > RATIO_BUDGETS[op], (op, ratio)
    assert "FAILED benchmarks/test_guard.py::test_ratio_to_floor[begin]" in out


def test_one_more_system_call_per_boundary_fails_the_counts() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("the system-call counts are for Linux")
    proc = _guard(
        {"FASTTRIAL_SLOWDOWN_US": "0", "FASTTRIAL_SLOWDOWN_SYSCALLS": "1"},
        "-k",
        "syscalls",
        timeout=200,
    )
    out = proc.stdout
    if "SKIPPED" in out and "strace" in out and proc.returncode == 0:
        pytest.skip("strace is not usable here")
    assert "one more system call (getpid)" in out
    assert proc.returncode == 1, f"the counts passed an added system call:\n{out[-3000:]}"
    for op in ("begin", "profile", "trial-full"):
        assert f"{op}: 2 getpid per call, budget 0" in out, out[-3000:]
    assert "history-add: " not in out.split("system calls per operation over budget")[-1]
