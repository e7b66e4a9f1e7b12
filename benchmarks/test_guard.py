"""The overhead guard: ``python -m pytest benchmarks/ -m guard`` fails when a hot operation
of fasttrial gets slower.

Two kinds of checks, each with a budget (benchmarks/README.md gives each next to today's
figure):

* **Ratios to the floor, timed.**  Each operation is timed against its floor, the cheapest
  code doing its unavoidable work (``fasttrial._bench.guard_pairs``: for an interval, the
  readings a profiled interval makes, from the compiled core; for ``History.add``, the same
  row appended straight to typed buffers).  A round runs many short batches of each,
  interleaved, and takes the ratio of their medians; the figure is the median of the
  rounds' ratios.  Both sides make the same system calls, so the ratio carries over between
  machines and a loaded machine slows both alike; the clock is the thread's CPU time, so
  time the scheduler gives to other processes is charged to neither.  A ratio over its
  budget is measured again, and fails only if it is over again.
* **Counts that do not depend on the load** (Linux; skipped elsewhere, and failed in CI if
  the tools are missing): system calls per operation (``strace``), which must be exactly
  the reads an interval needs, and user-space instructions per operation (valgrind's
  callgrind), each within a budget.  See ``benchmarks/_counts.py``.

``benchmarks/test_guard_trips.py`` (``-m guard_trip``) shows that the guard fails, naming the
operation, when the ``benchmarks._slowdown`` plugin makes fasttrial slower.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest
from _counts import MEMORY_SYSCALLS, instructions_per_call, syscalls_per_call, tool_missing

from fasttrial._bench import (
    RATIO_BUDGETS,
    FloorRatio,
    FloorUnavailable,
    close_pairs,
    format_seconds,
    guard_clock,
    guard_pairs,
    ratio_to_floor,
    ratios_to_floor,
)

pytestmark = pytest.mark.guard

# RATIO_BUDGETS (fasttrial._bench, shared with `fasttrial bench`): an operation's time
# over its floor's must stay at or under its budget.
ROUNDS = 15  # rounds per measurement; the median of their ratios is the figure
BATCHES = 31  # batches of each side per round, interleaved; the median of each is kept
BATCH_SECONDS = 0.002

#: System calls per operation, exactly (Linux, x86-64 and arm64 glibc names).  An interval
#: reads the memory (``/proc/self/statm``, one pread64) and the peak (getrusage) at each
#: end; its clocks are read through the vDSO, without a system call.
INTERVAL_SYSCALLS = {"pread64": 2.0, "getrusage": 2.0}
SYSCALL_BUDGETS: dict[str, dict[str, float]] = {
    "begin": INTERVAL_SYSCALLS,
    "profile": INTERVAL_SYSCALLS,
    "trial-full": INTERVAL_SYSCALLS,
    "history-add": {},
    "journal-append": {"write": 1.0},  # durability "process": one write(2) per add
}
#: Per operation, on average: the allocator's brk/mmap as buffers grow, and the peak's
#: reset (a write to /proc/self/clear_refs, only at a start after the RSS came down from a
#: peak; the floor makes it too).  An added call per operation is 1.0 or more.
AMORTIZED = 0.05
AMORTIZED_NAMES = MEMORY_SYSCALLS | {"write"}

#: User-space instructions per operation (callgrind), today's figure plus about 15%: they
#: hardly vary from run to run (under 1%), so a larger increase is a change of the code
#: (or of the interpreter or compiler: re-measure then, see benchmarks/README.md).
INSTRUCTION_BUDGETS = {
    "begin": 4_300,
    "profile": 5_400,
    "trial-full": 10_700,
    "history-add": 30_600,
    "journal-append": 47_000,  # 41,023 measured: the add, the row's encoding and framing
}
COUNT_OPS = ["begin", "profile", "trial-full", "history-add", "journal-append"]


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _unavailable(reason: str) -> None:
    """Skip a check that cannot run here; in CI, fail instead (a skipped guard guards
    nothing)."""
    if _in_ci():
        pytest.fail(f"the overhead guard cannot run this check in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> Any:
    cwd = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("guard"))
    made: dict[str, Any] = {}
    try:
        made = guard_pairs()
        yield made
    finally:
        close_pairs(made)
        os.chdir(cwd)


@pytest.fixture(scope="module")
def first_figures(pairs: Any) -> dict[str, FloorRatio]:
    """Every operation's ratio, measured together (their rounds take turns)."""
    return ratios_to_floor(
        {k: v for k, v in pairs.items() if k in RATIO_BUDGETS},
        rounds=ROUNDS,
        batches=BATCHES,
        batch_seconds=BATCH_SECONDS,
        clock=guard_clock(),
    )


def _report(lines: list[str], text: str) -> None:
    print(text)
    lines.append(text)


@pytest.mark.parametrize("op", list(RATIO_BUDGETS))
def test_ratio_to_floor(
    op: str, pairs: Any, first_figures: dict[str, FloorRatio], guard_lines: list[str]
) -> None:
    pair = pairs[op]
    if pair.floor is None:
        _unavailable(f"{op}: no floor here: {pair.floor_error}")
    budget = RATIO_BUDGETS[op]
    first = first_figures[op]
    _report(guard_lines, first.line(budget))
    if first.ratio <= budget:
        return
    # Over budget: measured once more, alone, before failing.
    try:
        again = ratio_to_floor(
            pair, rounds=ROUNDS, batches=BATCHES, batch_seconds=BATCH_SECONDS, clock=guard_clock()
        )
    except FloorUnavailable as error:
        _unavailable(f"{op}: {error}")
    _report(guard_lines, "  again: " + again.line(budget))
    if again.ratio <= budget:
        return
    pytest.fail(
        f"{op}: {again.ratio:.3f}x its floor, over its budget of {budget:g}x (measured twice: "
        f"{first.ratio:.3f}x, {again.ratio:.3f}x; {pair.what} {format_seconds(again.op)} per "
        f"call, floor {format_seconds(again.floor)}: {pair.floor_what})",
        pytrace=False,
    )


def _linux_tool(tool: str) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip(f"the {tool} counts are for Linux")
    missing = tool_missing(tool)
    if missing is not None:
        _unavailable(missing)


#: The same in a process exec'd by a bigger one (256 MiB here), as a worker a big parent
#: starts: the kernel's peak is never below the replaced image's (the exec floor), so the
#: peak reading (getrusage) says nothing, and usage_linux.c reads the mm's own mark
#: (VmHWM, /proc/self/status: one more pread64, ~15 us) at every end and resets it
#: (a write to clear_refs) at every start.  begin() then costs ~4x its usual time
#: (20.6 us against 5.6 us measured).  Guarded so that it gets no worse.
BIG_PARENT_MB = 256
BIG_PARENT_INTERVAL = {"pread64": 3.0, "getrusage": 2.0, "write": 1.0}
BIG_PARENT_BUDGETS: dict[str, dict[str, float]] = {
    "begin": BIG_PARENT_INTERVAL,
    "profile": BIG_PARENT_INTERVAL,
    "trial-full": BIG_PARENT_INTERVAL,
    "history-add": {},
    "journal-append": {"write": 1.0},
}


@pytest.mark.parametrize("parent", ["small", "big"])
def test_syscalls_per_operation(parent: str, guard_lines: list[str]) -> None:
    _linux_tool("strace")
    big = parent == "big"
    counts = syscalls_per_call(
        [*COUNT_OPS, "floor-interval", "floor-row"], big_parent_mb=BIG_PARENT_MB if big else 0
    )
    budgets = BIG_PARENT_BUDGETS if big else SYSCALL_BUDGETS
    where = f" (exec'd by a {BIG_PARENT_MB} MiB process)" if big else ""
    failures = []
    for op, got in counts.items():
        expected = budgets.get(op)
        shown = ", ".join(f"{k} {v:g}" for k, v in sorted(got.items())) or "none"
        want = (
            ""
            if expected is None
            else (", ".join(f"{k} {v:g}" for k, v in sorted(expected.items())) or "none")
        )
        _report(
            guard_lines,
            f"{op:<14} system calls per call{where}: {shown}"
            + ("" if expected is None else f"  (budget: exactly {want})"),
        )
        if expected is None:
            continue
        for name in sorted(set(got) | set(expected)):
            n, want_n = got.get(name, 0.0), expected.get(name, 0.0)
            if name in AMORTIZED_NAMES and want_n == 0.0 and n <= AMORTIZED:
                continue
            if n != want_n:
                failures.append(
                    f"{op}: {n:g} {name} per call{where}, budget {want_n:g} (all per call: "
                    f"{shown}; budget: {want})"
                )
    assert not failures, "system calls per operation over budget:\n" + "\n".join(failures)


def test_instructions_per_operation(guard_lines: list[str]) -> None:
    _linux_tool("valgrind")
    counts = instructions_per_call([*COUNT_OPS, "floor-interval", "floor-row"])
    failures = []
    for op, n in counts.items():
        budget = INSTRUCTION_BUDGETS.get(op)
        floor = counts["floor-row" if op in ("history-add", "journal-append") else "floor-interval"]
        text = f"{op:<14} user-space instructions per call: {n:9,.0f}"
        if budget is not None:
            text += f"  ({n / floor:.2f}x its floor's; budget <= {budget:,})"
        _report(guard_lines, text)
        if budget is not None and n > budget:
            failures.append(
                f"{op}: {n:,.0f} user-space instructions per call, over its budget of "
                f"{budget:,} ({n / budget - 1:+.1%})"
            )
    assert not failures, "instructions per operation over budget:\n" + "\n".join(failures)
