"""Shared fixtures of the overhead benchmarks.

Each group measures one operation through several implementations:

* ``fasttrial``: this package;
* ``reference``: ``fasttrial._reference`` (src/fasttrial/_reference.py), the pure-Python way
  amltk 1.10 does it (``time.time()`` and a fresh ``psutil.Process()`` at each interval boundary);
* ``floor``: the cheapest thing of the same shape (an empty context manager);
* ``amltk``: amltk itself, only when it is importable (never a dependency).

At the end of a run the median of every benchmark is printed next to the medians of the
others in its group, as a ratio, so the speed-up can be read on any machine.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the helper modules beside this file

from _impls import HAVE_AMLTK, Impl, load_impl

AMLTK_SKIP = pytest.mark.skipif(not HAVE_AMLTK, reason="amltk is not installed (optional)")

#: Lines the ratio test wants printed in the terminal summary.
RATIO_LINES = pytest.StashKey[list[str]]()

#: Lines the overhead guard (test_guard.py) wants printed in the terminal summary.
GUARD_LINES = pytest.StashKey[list[str]]()

#: Lines the History benchmarks want printed in the terminal summary (retained memory).
HISTORY_LINES = pytest.StashKey[list[str]]()


IMPLS = ["fasttrial", "reference", pytest.param("amltk", marks=AMLTK_SKIP)]


@pytest.fixture(params=IMPLS)
def impl(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Impl:
    """Each implementation in turn, run from an empty temporary directory.

    amltk 1.10 creates ``unknown-trial-bucket/`` in the working directory when a Trial is
    constructed; the temporary directory keeps that out of the source tree.
    """
    monkeypatch.chdir(tmp_path)
    return load_impl(request.param)


@pytest.fixture
def ratio_lines(request: pytest.FixtureRequest) -> list[str]:
    """A list whose lines are printed in the terminal summary."""
    return request.config.stash.setdefault(RATIO_LINES, [])


@pytest.fixture
def guard_lines(request: pytest.FixtureRequest) -> list[str]:
    """A list whose lines are printed in the terminal summary (the overhead guard)."""
    return request.config.stash.setdefault(GUARD_LINES, [])


@pytest.fixture
def history_lines(request: pytest.FixtureRequest) -> list[str]:
    """A list whose lines are printed in the terminal summary (History benchmarks)."""
    return request.config.stash.setdefault(HISTORY_LINES, [])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "memory: measures memory without the benchmark fixture; runs with --benchmark-only and"
        " --benchmark-disable",
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run ``ratios`` and ``memory`` tests under ``--benchmark-only`` too; skip them with
    ``--benchmark-skip``.

    The ratio test times with its own clock, not the ``benchmark`` fixture, so
    pytest-benchmark would skip it as a "non-benchmark" under ``--benchmark-only``.
    """
    skip_all = bool(config.getoption("benchmark_skip", False)) and not config.getoption(
        "benchmark_only", False
    )
    # The overhead guard and the proof that it trips time for a minute or more: they run
    # only when asked for by name (-m guard, -m guard_trip), not in a plain run of the
    # benchmarks (e.g. CI's --benchmark-disable pass).
    asked = set(re.findall(r"[A-Za-z_]+", str(config.getoption("markexpr", "") or "")))
    for item in items:
        for name in ("guard", "guard_trip"):
            if item.get_closest_marker(name) is not None and name not in asked:
                item.add_marker(pytest.mark.skip(reason=f"the overhead guard runs with -m {name}"))
    for item in items:
        if item.get_closest_marker("ratios") is None and item.get_closest_marker("memory") is None:
            continue
        item.own_markers[:] = [
            m
            for m in item.own_markers
            if not (m.name == "skip" and "non-benchmark" in str(m.kwargs.get("reason", "")))
        ]
        if skip_all:
            item.add_marker(pytest.mark.skip(reason="--benchmark-skip is active"))


def _label(bench: Any) -> str:
    label = (getattr(bench, "extra_info", None) or {}).get("label")
    if label:  # set by a benchmark whose group holds several operations (test_history_scale)
        return str(label)
    param = getattr(bench, "param", None)
    if param:
        return str(param)
    name = str(getattr(bench, "name", "?"))
    return name.removeprefix("test_")


def _fmt(seconds: float) -> str:
    from fasttrial._bench import format_seconds

    return format_seconds(seconds).rjust(11)


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Print each group's medians as ratios (after pytest-benchmark's own tables)."""
    session = getattr(config, "_benchmarksession", None)
    benches = list(getattr(session, "benchmarks", None) or [])
    groups: dict[str, list[tuple[str, float]]] = {}
    for bench in benches:
        try:
            median = float(bench.stats.median)
        except Exception:  # no data: the benchmark errored or timing was disabled
            continue
        if getattr(bench, "has_error", False):
            continue
        groups.setdefault(str(bench.group), []).append((_label(bench), median))
    if groups:
        tr = terminalreporter
        tr.write_sep("-", "medians and ratios per group (x = this median / fasttrial's)")
        for group in sorted(groups):
            rows = sorted(groups[group], key=lambda r: r[1])
            base = dict(rows).get("fasttrial")
            floor = dict(rows).get("floor")
            tr.write_line(f"{group}:")
            for label, median in rows:
                parts = [f"  {label:<22} {_fmt(median)}"]
                if base:
                    parts.append(f"{median / base:9.2f}x fasttrial")
                if floor and label != "floor":
                    parts.append(f"{median / floor:9.2f}x floor")
                tr.write_line("  ".join(parts))
    lines = config.stash.get(RATIO_LINES, [])
    if lines:
        terminalreporter.write_sep("-", "test_ratios: own-timer medians (same run)")
        for line in lines:
            terminalreporter.write_line(line)
    guard = config.stash.get(GUARD_LINES, [])
    if guard:
        terminalreporter.write_sep("-", "overhead guard: every figure (same run)")
        for line in guard:
            terminalreporter.write_line(line)
    history = config.stash.get(HISTORY_LINES, [])
    if history:
        terminalreporter.write_sep("-", "History: retained memory per report (tracemalloc)")
        for line in history:
            terminalreporter.write_line(line)
