"""What ``History.add``'s lock costs a single thread.

Issue 12 allows the thread-safe ``add()`` to be at most 5% slower than before it had a lock.
The lock itself (``with threading.Lock():``) measures 6-8% of today's ``add()``; the
one-report path added with it (no batch list, no re-check of a metric tuple already
checked) more than pays for it: callgrind counts 25,664 instructions per ``add()`` on the
issue-12 branch against 26,375 before (-2.7%).  That comparison needs two builds, so this
file guards what one run can see: the lock's own cost, at most ``MAX_OVERHEAD``.

``History`` holds a lock (``threading.Lock``) in ``add()`` and in its column readers, so that adds
from several threads cannot interleave a row's cells.  This times ``add(report)`` once per
report into a fresh history, with the history's real lock and with ``_core._NoLock`` (a
compiled context manager that does nothing) in its place: same code, same reports, timed
in the same run, interleaved (each repeat times both, in alternating order), and the median
of the per-repeat ratios kept, so that drift on a busy machine hits both alike.  It fails
when the lock makes ``add()`` more than ``MAX_OVERHEAD`` slower (10%: a regression of the
lock path, e.g. an RLock or a second acquire per add, trips it).

It uses its own timer (not the ``benchmark`` fixture), so it runs under
``--benchmark-only`` and ``--benchmark-disable`` alike, as ``test_ratios.py`` does.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import pytest

from fasttrial._corecheck import _core
from fasttrial.optimization import History, Metric, Trial

MAX_OVERHEAD = 0.10
REPEATS = 31
N_REPORTS = 400

pytestmark = pytest.mark.ratios


def _reports() -> list[Any]:
    m = Metric("loss", minimize=True)
    out = []
    for i in range(N_REPORTS):
        t = Trial(name=f"t{i}", config={"a": i, "b": 0.5, "c": "x"}, metrics=[m])
        with t.begin():
            pass
        out.append(t.success(loss=float(i)))
    return out


def _time_adds(reports: list[Any], locked: bool) -> float:
    h = History()
    if not locked:
        h._lock = _core._NoLock()
    add = h.add
    t0 = time.perf_counter()
    for r in reports:
        add(r)
    return (time.perf_counter() - t0) / len(reports)


def test_the_lock_costs_add_at_most_ten_percent(ratio_lines: list[str]) -> None:
    reports = _reports()
    for locked in (True, False):  # warm both (plans, caches)
        _time_adds(reports, locked)
    times: dict[bool, list[float]] = {True: [], False: []}
    ratios = []
    for k in range(REPEATS):
        order = (True, False) if k % 2 else (False, True)
        got = {}
        for locked in order:
            got[locked] = _time_adds(reports, locked)
            times[locked].append(got[locked])
        ratios.append(got[True] / got[False])
    with_lock = statistics.median(times[True])
    without = statistics.median(times[False])
    overhead = statistics.median(ratios) - 1
    line = (
        f"History.add  with lock {with_lock * 1e9:7.0f} ns   without {without * 1e9:7.0f} ns"
        f"   lock overhead {overhead:+.1%}   (must be <= {MAX_OVERHEAD:.0%})"
    )
    print(line)
    ratio_lines.append(line)
    assert overhead <= MAX_OVERHEAD, line
