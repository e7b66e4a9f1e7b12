"""Tests of the compiled core ``fasttrial._core`` itself.

Clocks and memory readings are checked against independent sources (``time``, ``psutil``,
``/proc/<pid>/statm`` read afresh), the raw interval recorder ``Span`` against its contract,
and the core is called many thousand times to check that it leaks neither references,
memory nor file descriptors.  The import-failure paths run in subprocesses.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import subprocess
import sys
import textwrap
import time
import tracemalloc
import warnings
from typing import Any

import numpy as np
import psutil
import pytest

import fasttrial
from fasttrial import _core
from fasttrial.profiling import Memory, Profiler, Timer

MB = 1024 * 1024


def _asan_loaded() -> bool:
    try:
        with open("/proc/self/maps") as maps:
            return "libasan" in maps.read()
    except OSError:
        return False


_UNDER_ASAN = _asan_loaded()
IS_LINUX = sys.platform.startswith("linux")


def _touched(nbytes: int) -> np.ndarray:
    """An array of ``nbytes`` bytes whose every page has been written (so it is resident)."""
    arr = np.empty(nbytes, dtype=np.uint8)
    arr.fill(1)
    return arr


# ------------------------------------------------------------------------------- clocks
class TestClocks:
    def test_wall_ns_agrees_with_time_time_ns(self) -> None:
        before = time.time_ns()
        ours = _core.wall_ns()
        after = time.time_ns()
        assert isinstance(ours, int)
        # Same clock (CLOCK_REALTIME); allow for NTP slews between the reads.
        assert before - 50_000_000 <= ours <= after + 50_000_000

    def test_mono_ns_agrees_with_perf_counter_ns(self) -> None:
        before = time.perf_counter_ns()
        ours = _core.mono_ns()
        after = time.perf_counter_ns()
        assert isinstance(ours, int)
        assert before - 50_000_000 <= ours <= after + 50_000_000

    def test_process_ns_agrees_with_process_time_ns(self) -> None:
        before = time.process_time_ns()
        ours = _core.process_ns()
        after = time.process_time_ns()
        assert isinstance(ours, int)
        assert before - 50_000_000 <= ours <= after + 50_000_000

    def test_process_clock_counts_cpu_work_not_sleep(self) -> None:
        start = _core.process_ns()
        time.sleep(0.1)
        slept = _core.process_ns() - start
        assert slept < 50_000_000  # sleeping burns (almost) no CPU

        ours0, ref0 = _core.process_ns(), time.process_time_ns()
        deadline = time.perf_counter() + 0.1
        x = 0
        while time.perf_counter() < deadline:
            x += 1
        ours1, ref1 = _core.process_ns(), time.process_time_ns()
        assert ours1 - ours0 > 0
        # the spin's CPU time as seen by the core and by time.process_time agree
        assert abs((ours1 - ours0) - (ref1 - ref0)) < 20_000_000

    @pytest.mark.parametrize("clock", ["mono_ns", "process_ns"])
    def test_monotonic_clocks_never_go_back(self, clock: str) -> None:
        read = getattr(_core, clock)
        prev = read()
        for _ in range(20_000):
            cur = read()
            assert cur >= prev
            prev = cur

    def test_wall_and_mono_advance_with_sleep(self) -> None:
        w0, m0 = _core.wall_ns(), _core.mono_ns()
        time.sleep(0.05)
        w1, m1 = _core.wall_ns(), _core.mono_ns()
        assert m1 - m0 >= 45_000_000
        assert w1 - w0 >= 40_000_000

    def test_now_reads_the_clock_of_each_kind_in_seconds(self) -> None:
        assert _core.now(_core.WALL) == pytest.approx(time.time(), abs=0.05)
        assert _core.now(_core.CPU) == pytest.approx(time.perf_counter(), abs=0.05)
        assert _core.now(_core.PROCESS) == pytest.approx(time.process_time(), abs=0.05)
        for kind in (_core.WALL, _core.CPU, _core.PROCESS):
            assert isinstance(_core.now(kind), float)

    def test_now_rejects_an_unknown_kind_code(self) -> None:
        with pytest.raises(ValueError, match="99"):
            _core.now(99)

    def test_kind_codes_are_distinct(self) -> None:
        assert len({_core.WALL, _core.CPU, _core.PROCESS}) == 3
        units = {_core.BYTES, _core.KILOBYTES, _core.MEGABYTES, _core.GIGABYTES}
        assert len(units) == 4


# ------------------------------------------------------------------------------- memory
class TestReadMemory:
    def test_returns_two_positive_ints(self) -> None:
        rss, vms = _core.read_memory()
        assert isinstance(rss, int) and isinstance(vms, int)
        assert 0 < rss <= vms

    def test_agrees_with_psutil(self) -> None:
        info = psutil.Process().memory_info()
        rss, vms = _core.read_memory()
        assert abs(rss - info.rss) < 20 * MB
        assert abs(vms - info.vms) < 20 * MB

    def test_sees_rss_grow_by_a_touched_allocation(self) -> None:
        gc.collect()
        rss0, vms0 = _core.read_memory()
        arr = _touched(100 * MB)
        rss1, vms1 = _core.read_memory()
        assert rss1 - rss0 >= 90 * MB
        assert vms1 - vms0 >= 90 * MB
        assert arr[-1] == 1
        del arr
        gc.collect()
        rss2, _ = _core.read_memory()
        if not _UNDER_ASAN:  # ASan's allocator keeps freed memory in quarantine
            assert rss1 - rss2 >= 90 * MB  # a large numpy buffer is returned to the OS (mmap)

    @pytest.mark.skipif(not IS_LINUX, reason="Linux reads /proc/self/statm")
    def test_backend_on_linux_is_statm(self) -> None:
        assert _core.memory_backend() == "linux-statm"

    @pytest.mark.skipif(not IS_LINUX, reason="Linux reads /proc/self/statm")
    def test_agrees_with_proc_statm_read_afresh(self) -> None:
        page = os.sysconf("SC_PAGESIZE")
        rss, vms = _core.read_memory()
        with open(f"/proc/{os.getpid()}/statm") as f:
            size, resident = (int(x) for x in f.read().split()[:2])
        assert abs(vms - size * page) < 5 * MB
        assert abs(rss - resident * page) < 5 * MB

    @pytest.mark.slow
    @pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
    def test_forked_child_reads_its_own_memory(self) -> None:
        # The parent has read memory already, so the core holds its statm descriptor.  A
        # child inheriting that descriptor would read the *parent's* statm (without the
        # child's 200 MB) unless the core reopens it after fork.
        _core.read_memory()
        parent_rss, _ = _core.read_memory()
        read_fd, write_fd = os.pipe()
        with warnings.catch_warnings():
            # Python >= 3.12 warns about fork() in a process with threads.
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 1
            try:
                os.close(read_fd)
                before_rss, _ = _core.read_memory()
                arr = _touched(200 * MB)
                rss, vms = _core.read_memory()
                page = os.sysconf("SC_PAGESIZE")
                with open(f"/proc/{os.getpid()}/statm") as f:
                    size, resident = (int(x) for x in f.read().split()[:2])
                span = _core.Span()
                span._start_recording("wall", "B")
                span._stop_recording()
                raw = span._raw_ns()
                out = {
                    "before_rss": before_rss,
                    "rss": rss,
                    "vms": vms,
                    "statm_rss": resident * page,
                    "statm_vms": size * page,
                    "span_end_rss": raw[6],
                    "touched": int(arr[-1]),
                }
                os.write(write_fd, json.dumps(out).encode())
                code = 0
            finally:
                os._exit(code)
        os.close(write_fd)
        chunks = []
        while True:
            chunk = os.read(read_fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(read_fd)
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        child = json.loads(b"".join(chunks))
        assert child["touched"] == 1
        assert abs(child["rss"] - child["statm_rss"]) < 5 * MB
        assert abs(child["vms"] - child["statm_vms"]) < 5 * MB
        assert abs(child["span_end_rss"] - child["statm_rss"]) < 5 * MB
        # The child's own growth (its starting RSS is not the parent's: pages it shares
        # with the parent are counted only once it touches them).
        assert child["rss"] - child["before_rss"] >= 150 * MB
        # And it is not the parent's reading: the parent did not grow by 200 MB.
        assert _core.read_memory()[0] - parent_rss < 100 * MB


class TestPsutilFallback:
    """The reader used where the platform has no native one (forced here on Linux)."""

    @pytest.fixture(autouse=True)
    def _psutil_reader(self) -> Any:
        _core._force_psutil_reader(True)
        try:
            yield
        finally:
            _core._force_psutil_reader(False)

    def test_backend_name_and_agreement_with_psutil(self) -> None:
        assert _core.memory_backend() == "psutil"
        rss, vms = _core.read_memory()
        info = psutil.Process().memory_info()
        assert abs(rss - info.rss) < 20 * MB
        assert abs(vms - info.vms) < 20 * MB

    def test_intervals_record_through_psutil(self) -> None:
        from fasttrial.optimization import Trial

        trial = Trial(name="t", config={})
        with trial.begin():
            arr = _touched(50 * MB)
        assert arr[-1] == 1
        assert trial.memory.end_rss - trial.memory.start_rss >= 40 * MB
        assert trial.time.duration >= 0

    def test_back_to_the_native_reader(self) -> None:
        _core._force_psutil_reader(False)
        if IS_LINUX:
            assert _core.memory_backend() == "linux-statm"
        _core._force_psutil_reader(True)
        assert _core.memory_backend() == "psutil"


# ------------------------------------------------------------------------ code mappings
class TestCodes:
    @pytest.mark.parametrize(
        ("kind", "code"),
        [("wall", _core.WALL), ("cpu", _core.CPU), ("process", _core.PROCESS)],
    )
    def test_kind_code_of_strings_and_enum_members(self, kind: str, code: int) -> None:
        assert _core.kind_code(kind) == code
        assert _core.kind_code(Timer.Kind(kind)) == code

    def test_kind_code_none_gives_the_default(self) -> None:
        assert _core.kind_code(None) == _core.WALL
        assert _core.kind_code(None, _core.PROCESS) == _core.PROCESS
        assert _core.kind_code(None, default=_core.CPU) == _core.CPU

    @pytest.mark.parametrize("bad", ["WALLCLOCK", "Wall ", "", 3, 1.5, ["wall"]])
    def test_kind_code_rejects_bad_values_naming_them(self, bad: Any) -> None:
        with pytest.raises(ValueError) as info:
            _core.kind_code(bad)
        msg = str(info.value)
        assert repr(bad) in msg
        assert "wall" in msg and "process" in msg

    @pytest.mark.parametrize(
        ("unit", "code"),
        [
            ("B", _core.BYTES),
            ("b", _core.BYTES),
            ("bytes", _core.BYTES),
            ("KB", _core.KILOBYTES),
            ("kb", _core.KILOBYTES),
            ("kilobytes", _core.KILOBYTES),
            ("MB", _core.MEGABYTES),
            ("mb", _core.MEGABYTES),
            ("megabytes", _core.MEGABYTES),
            ("GB", _core.GIGABYTES),
            ("gb", _core.GIGABYTES),
            ("gigabytes", _core.GIGABYTES),
        ],
    )
    def test_unit_code_of_strings(self, unit: str, code: int) -> None:
        assert _core.unit_code(unit) == code

    def test_unit_code_of_enum_members(self) -> None:
        assert _core.unit_code(Memory.Unit.BYTES) == _core.BYTES
        assert _core.unit_code(Memory.Unit.KILOBYTES) == _core.KILOBYTES
        assert _core.unit_code(Memory.Unit.MEGABYTES) == _core.MEGABYTES
        assert _core.unit_code(Memory.Unit.GIGABYTES) == _core.GIGABYTES

    def test_unit_code_none_gives_the_default(self) -> None:
        assert _core.unit_code(None) == _core.BYTES
        assert _core.unit_code(None, _core.GIGABYTES) == _core.GIGABYTES

    @pytest.mark.parametrize("bad", ["TB", "Mb", "megabyte", "", 2, {"B": 1}])
    def test_unit_code_rejects_bad_values_naming_them(self, bad: Any) -> None:
        with pytest.raises(ValueError) as info:
            _core.unit_code(bad)
        msg = str(info.value)
        assert repr(bad) in msg
        assert "'KB'" in msg and "'GB'" in msg

    def test_code_tables(self) -> None:
        assert _core.KIND_CODES["wall"] == _core.WALL
        assert _core.KIND_CODES["process"] == _core.PROCESS
        assert _core.UNIT_CODES["MB"] == _core.MEGABYTES
        assert _core.UNIT_CODES["gigabytes"] == _core.GIGABYTES


# --------------------------------------------------------------------------------- Span
class TestSpan:
    def test_empty_span_is_all_nan(self) -> None:
        raw = _core.Span()._raw()
        assert raw[0] == 0  # never started
        assert all(math.isnan(x) for x in raw[3:])

    def test_running_span_has_a_start_and_nan_end(self) -> None:
        span = _core.Span()
        span._start_recording("wall", "B")
        try:
            state, kind, unit, start, end, dur, srss, erss, svms, evms = span._raw()
            assert state == 1
            assert (kind, unit) == (_core.WALL, _core.BYTES)
            assert start == pytest.approx(time.time(), abs=1.0)
            assert srss > 0 and svms >= srss
            assert math.isnan(end) and math.isnan(dur)
            assert math.isnan(erss) and math.isnan(evms)
        finally:
            span._stop_recording()

    def test_stopped_span_records_both_ends(self) -> None:
        span = _core.Span()
        span._start_recording()
        time.sleep(0.02)
        span._stop_recording()
        state, kind, unit, start, end, dur, _srss, erss, _svms, evms = span._raw()
        assert state == 2
        assert (kind, unit) == (_core.WALL, _core.BYTES)  # the defaults
        assert dur >= 0.015
        assert end >= start
        assert end - start == pytest.approx(dur, abs=0.01)
        assert erss > 0 and evms > 0

    def test_raw_ns_is_consistent_with_raw(self) -> None:
        span = _core.Span()
        span._start_recording("cpu", "MB")
        span._stop_recording()
        state, st, et, smono, emono, srss, _erss, _svms, evms = span._raw_ns()
        assert state == 2
        assert emono >= smono
        raw = span._raw()
        assert raw[5] == pytest.approx((emono - smono) / 1e9)
        assert raw[6] == pytest.approx(srss / MB)
        assert raw[9] == pytest.approx(evms / MB)
        # the cpu kind reads the monotonic clock (time.perf_counter's)
        assert st == smono and et == emono

    def test_process_kind_reads_process_time(self) -> None:
        span = _core.Span()
        before = time.process_time()
        span._start_recording("process", None)
        span._stop_recording()
        after = time.process_time()
        _, kind, _, start, end, dur, *_ = span._raw()
        assert kind == _core.PROCESS
        assert before - 0.05 <= start <= end <= after + 0.05
        assert dur >= 0

    def test_duration_is_never_negative(self) -> None:
        for kind in ("wall", "cpu", "process"):
            for _ in range(2000):
                span = _core.Span()
                span._start_recording(kind, "B")
                span._stop_recording()
                assert span._raw()[5] >= 0.0

    def test_stop_without_start_raises(self) -> None:
        with pytest.raises(RuntimeError, match="not running"):
            _core.Span()._stop_recording()

    def test_stop_twice_raises(self) -> None:
        span = _core.Span()
        span._start_recording()
        span._stop_recording()
        with pytest.raises(RuntimeError, match="not running"):
            span._stop_recording()

    def test_restart_records_anew(self) -> None:
        span = _core.Span()
        span._start_recording("wall", "B")
        span._stop_recording()
        first = span._raw_ns()
        span._start_recording("cpu", "KB")
        assert span._raw()[0] == 1
        span._stop_recording()
        second = span._raw_ns()
        assert span._raw()[1:3] == (_core.CPU, _core.KILOBYTES)
        assert second[3] >= first[4]

    def test_bad_kind_or_unit_leaves_the_span_unstarted(self) -> None:
        span = _core.Span()
        with pytest.raises(ValueError, match="'nope'"):
            span._start_recording("nope", "B")
        with pytest.raises(ValueError, match="'XB'"):
            span._start_recording("wall", "XB")
        assert span._raw()[0] == 0

    def test_set_interval_type_rejects_non_span_classes(self) -> None:
        with pytest.raises(TypeError, match="not a subclass"):
            _core.set_interval_type(dict)
        with pytest.raises(TypeError, match="not a subclass"):
            _core.set_interval_type(_core.Span())

    def test_profiler_makes_intervals_of_the_registered_type(self) -> None:
        from fasttrial.profiling import Profile

        p = Profiler()
        with p("x"):
            pass
        assert type(p["x"]) is Profile.Interval
        assert isinstance(p["x"], _core.Span)


# ---------------------------------------------------------------------------- leaks
N = 20_000
TRACE_LIMIT = 200 * 1024


def _fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def _check_flat(fn: Any, watched: list[Any]) -> None:
    """Call ``fn`` N times: refcounts of ``watched``, traced memory and fds stay flat."""
    for _ in range(200):  # warm-up: caches, lazily opened descriptors, free lists
        fn()
    gc.collect()
    refs = [sys.getrefcount(obj) for obj in watched]
    fds = _fd_count() if os.path.isdir("/proc/self/fd") else None
    tracemalloc.start()
    try:
        gc.collect()
        before, _ = tracemalloc.get_traced_memory()
        for _ in range(N):
            fn()
        gc.collect()
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after - before < TRACE_LIMIT, f"traced memory grew by {after - before} bytes"
    assert [sys.getrefcount(obj) for obj in watched] == refs
    if fds is not None:
        assert _fd_count() == fds


class TestLeaks:
    def test_read_memory(self) -> None:
        _check_flat(_core.read_memory, [])

    def test_clock_reads(self) -> None:
        def reads() -> None:
            _core.wall_ns()
            _core.mono_ns()
            _core.process_ns()
            _core.now(_core.WALL)

        _check_flat(reads, [])

    def test_span_start_stop(self) -> None:
        kind = "".join(["pro", "cess"])  # a fresh, non-interned string
        unit = "".join(["M", "B"])
        span = _core.Span()

        def cycle() -> None:
            span._start_recording(kind, unit)
            span._stop_recording()
            span._raw()
            span._raw_ns()

        _check_flat(cycle, [kind, unit, span])

    def test_span_errors(self) -> None:
        bad = "".join(["no", "pe"])
        span = _core.Span()

        def fail() -> None:
            with contextlib.suppress(ValueError):
                span._start_recording(bad, "B")
            with contextlib.suppress(RuntimeError):
                span._stop_recording()

        _check_flat(fail, [bad, span])

    def test_profiler_scopes(self) -> None:
        p = Profiler()
        outer = "".join(["out", "er"])
        inner = "".join(["in", "ner"])

        def scopes() -> None:
            with p(outer), p(inner, memory_unit="KB", time_kind="process"):
                pass

        _check_flat(scopes, [p, outer, inner])
        assert sorted(p) == ["outer", "outer:inner"]

    def test_profiler_scope_with_exception(self) -> None:
        p = Profiler()
        name = "".join(["bo", "om"])
        error = ValueError("x")

        def scope_raising() -> None:
            try:
                with p(name):
                    raise error
            except ValueError:
                pass
            error.__traceback__ = None

        _check_flat(scope_raising, [p, name, error])
        assert p._running == []

    def test_memory_and_timer(self) -> None:
        def measure() -> None:
            with Timer.time("wall"):
                pass
            Memory.start("KB").stop()
            Memory.usage("rss", "MB")

        _check_flat(measure, [])


# ----------------------------------------------------------------------- import errors
def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
    )


class TestImportErrors:
    def test_missing_core_says_how_to_build(self) -> None:
        proc = _run(
            """
            import sys
            sys.modules["fasttrial._core"] = None  # make the compiled core unimportable
            try:
                import fasttrial
            except ImportError as error:
                print("MESSAGE:", error)
                raise SystemExit(3)
            raise SystemExit(0)
            """
        )
        assert proc.returncode == 3, proc.stderr
        msg = proc.stdout
        assert "fasttrial._core" in msg
        assert "pip install" in msg
        assert "compiler" in msg

    def test_stale_core_is_refused(self) -> None:
        proc = _run(
            """
            import sys
            import fasttrial._core as core
            for name in [m for m in sys.modules if m.startswith("fasttrial")]:
                if name != "fasttrial._core":
                    del sys.modules[name]
            core.__version__ = "0.0.0.dev0"
            try:
                import fasttrial
            except ImportError as error:
                print("MESSAGE:", error)
                raise SystemExit(3)
            raise SystemExit(0)
            """
        )
        assert proc.returncode == 3, proc.stderr
        msg = proc.stdout
        assert "stale" in msg
        assert "0.0.0.dev0" in msg
        assert fasttrial.__version__ in msg
        assert "pip install" in msg

    def test_matching_core_imports(self) -> None:
        proc = _run(
            """
            import fasttrial, fasttrial._core as core
            assert core.__version__ == fasttrial.__version__
            print(core.memory_backend())
            """
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == _core.memory_backend()

    def test_core_version_is_the_package_version(self) -> None:
        assert _core.__version__ == fasttrial.__version__
