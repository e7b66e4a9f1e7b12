"""Fixtures shared by every test.

* Each test runs in its own empty working directory, so trials that store into relative
  paths ("results", "unknown-trial-bucket") never write into the repository.
* A guard fails any test that leaves a profiled interval running, a thread alive, a file
  descriptor open or the peak/CPU tracking setting changed behind it.  Some descriptors
  are process-wide singletons and allowed to appear: the ``/proc/self/statm``,
  ``/proc/self/clear_refs`` and ``/proc/self/status`` descriptors fasttrial's Linux memory
  and peak readers open lazily and keep, the pipe to multiprocessing's resource tracker
  (started by the first "spawn"/"forkserver" pool and kept for the life of the process),
  and the pipe that keeps multiprocessing's forkserver alive (``fasttrial.optimize``'s
  worker processes fork from it; it too is started once and kept).

A test that leaves an interval running on purpose must say so with
``@pytest.mark.allow_running_profile``.
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

_FD_DIR = "/proc/self/fd"
_SPAN_RUNNING = 1  # state code of a running interval in fasttrial._core.Span._raw()

# Running intervals/profilers already accounted for (left by a test marked
# ``allow_running_profile``, or already reported against the test that left them), so a
# later test is not blamed for them.  Held strongly so that their ids stay unique.
_ACCOUNTED: dict[int, object] = {}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "allow_running_profile: the test deliberately leaves a profiled interval running",
    )


# ---------------------------------------------------------------------------- helpers
def _open_fds() -> dict[int, str] | None:
    """fd -> what it points at, or None where /proc is not available."""
    if not os.path.isdir(_FD_DIR):
        return None
    fds: dict[int, str] = {}
    for entry in os.listdir(_FD_DIR):
        try:
            fds[int(entry)] = os.readlink(f"{_FD_DIR}/{entry}")
        except OSError:  # the descriptor listdir itself used, already closed
            continue
    return fds


def _allowed_new_fds() -> set[int]:
    """Descriptors that may appear during a test because they are process-wide singletons."""
    allowed: set[int] = set()
    own = {f"/proc/{os.getpid()}/{name}" for name in ("statm", "clear_refs", "status")}
    for fd, target in (_open_fds() or {}).items():
        if target in own:
            allowed.add(fd)
    try:
        from multiprocessing import resource_tracker

        tracker_fd = getattr(resource_tracker._resource_tracker, "_fd", None)
    except ImportError:  # pragma: no cover - always importable on CPython
        tracker_fd = None
    if tracker_fd is not None:
        allowed.add(tracker_fd)
    try:  # the forkserver (fasttrial.optimize's worker processes) lives as long as we do
        from multiprocessing import forkserver

        alive_fd = getattr(forkserver._forkserver, "_forkserver_alive_fd", None)
    except ImportError:  # Windows
        alive_fd = None
    if alive_fd is not None:
        allowed.add(alive_fd)
    return allowed


def _with_subclasses(cls: type) -> frozenset[type]:
    found = {cls}
    todo = [cls]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    return frozenset(found)


def _running_objects() -> list[object]:
    """Every profiled interval still running, and every profiler in the middle of a block."""
    try:
        from fasttrial.profiling import Profile, Profiler
    except ImportError:  # the package does not import: the tests themselves will say why
        return []
    # Exact type lookups: isinstance() against Profiler (a Mapping, so an ABC) on every
    # live object would cost tens of milliseconds per test.
    interval_types = _with_subclasses(Profile.Interval)
    profiler_types = _with_subclasses(Profiler)
    running: list[object] = []
    for obj in gc.get_objects():
        tp = type(obj)
        if tp in interval_types:
            if obj._raw()[0] == _SPAN_RUNNING:  # type: ignore[attr-defined]
                running.append(obj)
        elif tp in profiler_types and obj._running:  # type: ignore[attr-defined]
            running.append(obj)
    return running


def _tracking() -> object:
    """What profiled intervals record (``fasttrial.profiling.tracking()``), if importable."""
    try:
        from fasttrial.profiling import tracking
    except ImportError:  # the package does not import: the tests themselves will say why
        return None
    return tracking()


def _describe(obj: object) -> str:
    running = getattr(obj, "_running", None)
    if running is not None:
        return f"Profiler with running stack {list(running)!r}"
    return f"running interval {obj!r}"


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run every test in its own fresh, empty working directory (its ``tmp_path``)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(autouse=True)
def _leak_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that leaves a profiled interval running, a thread, or a descriptor."""
    threads_before = threading.active_count()
    fds_before = _open_fds()
    tracking_before = _tracking()

    yield

    problems: list[str] = []

    tracking_after = _tracking()
    if tracking_after != tracking_before:
        problems.append(
            f"peak/CPU tracking left changed: {tracking_before} -> {tracking_after} "
            "(restore it with set_tracking(**old._asdict()))"
        )

    left_running = [obj for obj in _running_objects() if id(obj) not in _ACCOUNTED]
    if request.node.get_closest_marker("allow_running_profile") is None:
        problems.extend(_describe(obj) for obj in left_running)
    _ACCOUNTED.update((id(obj), obj) for obj in left_running)
    del left_running

    threads_after = threading.active_count()
    if threads_after > threads_before:
        names = sorted(t.name for t in threading.enumerate())
        problems.append(f"{threads_after - threads_before} thread(s) left running: {names}")

    if fds_before is not None:
        fds_after = _open_fds() or {}
        allowed = _allowed_new_fds()
        leaked = {
            fd: target
            for fd, target in fds_after.items()
            if fds_before.get(fd) != target and fd not in allowed
        }
        if leaked:
            problems.append(f"file descriptor(s) left open: {leaked}")

    if problems:
        pytest.fail("Test left resources behind:\n  " + "\n  ".join(problems), pytrace=False)
