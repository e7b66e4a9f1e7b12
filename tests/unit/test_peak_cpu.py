"""Peak RSS and CPU time of profiled intervals (``memory:peak_rss``, ``time:cpu_time``).

Real allocations (numpy arrays whose every page is written, then freed) and real clocks;
the only timing assertions are generous ones (CPU of a sleep under half its wall time).
"""

from __future__ import annotations

import json
import math
import os
import pickle
import subprocess
import sys
import textwrap
import time
import warnings
from collections.abc import Iterator

import numpy as np
import pytest

from fasttrial import _core
from fasttrial.optimization import Metric, Trial
from fasttrial.profiling import (
    Memory,
    Profile,
    Profiler,
    Timer,
    Tracking,
    peak_backend,
    set_tracking,
    tracking,
)

MB = 1024 * 1024
LOSS = Metric("loss", minimize=True)
EXACT_PEAK = peak_backend() == "linux-clear_refs"
needs_exact_peak = pytest.mark.skipif(
    not EXACT_PEAK, reason="no resettable peak here (peak_backend() is 'start-end')"
)


def _asan_loaded() -> bool:
    try:
        with open("/proc/self/maps") as maps:
            return "libasan" in maps.read()
    except OSError:
        return False


# AddressSanitizer's allocator keeps freed memory in a quarantine instead of giving it back
# to the OS, so "allocated, then freed" does not bring the RSS down under it.
frees_memory = pytest.mark.skipif(
    _asan_loaded(), reason="under ASan freed memory stays resident (quarantine)"
)


def _spike(nbytes: int) -> None:
    """Allocate ``nbytes``, write every page (so it is resident), free it."""
    arr = np.empty(nbytes, dtype=np.uint8)
    arr.fill(1)
    del arr


def _spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    x = 0
    while time.perf_counter() < end:
        x += 1


def _spin_cpu(seconds: float) -> None:
    """Burn ``seconds`` of this process's CPU time."""
    end = time.process_time() + seconds
    x = 0
    while time.process_time() < end:
        x += 1


@pytest.fixture
def track_all() -> Iterator[None]:
    """Peak and CPU tracking on for the test, the previous setting restored after."""
    old = set_tracking(peak=True, cpu=True)
    try:
        yield
    finally:
        set_tracking(**old._asdict())


# ------------------------------------------------------------------------- switches
class TestSwitches:
    def test_defaults_are_peak_on_cpu_off(self) -> None:
        assert tracking() == Tracking(peak=True, cpu=False)

    def test_set_tracking_returns_the_previous_setting(self) -> None:
        before = tracking()
        old = set_tracking(cpu=True)
        try:
            assert old == before
            assert tracking() == Tracking(peak=before.peak, cpu=True)
            assert set_tracking(peak=None, cpu=None) == tracking()  # None leaves as is
        finally:
            set_tracking(**old._asdict())
        assert tracking() == before

    def test_peak_backend_names_the_reader(self) -> None:
        assert peak_backend() in ("linux-clear_refs", "start-end")
        if sys.platform.startswith("linux") and os.access("/proc/self/clear_refs", os.W_OK):
            assert peak_backend() == "linux-clear_refs"

    def test_everything_off_leaves_the_new_figures_nan(self) -> None:
        old = set_tracking(peak=False, cpu=False)
        try:
            trial = Trial(name="t", config={})
            with trial.begin():
                _spike(4 * MB)
        finally:
            set_tracking(**old._asdict())
        assert math.isnan(trial.memory.peak_rss)
        assert math.isnan(trial.time.cpu_time)
        assert math.isnan(trial.time.cpu_time_children)
        assert trial.memory.end_rss > 0  # the rest is recorded as always

    def test_an_interval_keeps_what_was_set_when_it_started(self) -> None:
        old = set_tracking(peak=True, cpu=True)
        try:
            p = Profiler()
            with p("x"):
                set_tracking(peak=False, cpu=False)
            set_tracking(peak=True, cpu=True)
        finally:
            set_tracking(**old._asdict())
        assert p["x"].memory.peak_rss > 0
        assert p["x"].time.cpu_time >= 0


# ----------------------------------------------------------------------------- peak
@needs_exact_peak
@frees_memory
class TestPeak:
    def test_spike_in_begin_shows_in_peak_and_df(self) -> None:
        trial = Trial(name="spike", config={}, metrics=[LOSS])
        with trial.begin():
            _spike(200 * MB)
        mem = trial.memory
        assert mem.peak_rss - mem.start_rss >= 180 * MB
        assert abs(mem.end_rss - mem.start_rss) < 50 * MB
        assert mem.peak_rss >= max(mem.start_rss, mem.end_rss)
        df = trial.success(loss=1.0).df()
        assert df["memory:peak_rss"].iloc[0] == mem.peak_rss
        assert df["memory:peak_rss"].iloc[0] - df["memory:start_rss"].iloc[0] >= 180 * MB

    def test_spike_in_profile_shows_in_its_columns(self) -> None:
        trial = Trial(name="t", config={}, metrics=[LOSS])
        with trial.begin(), trial.profile("fit", memory_unit="MB"):
            _spike(200 * MB)
        fit = trial.profiles["trial:fit"].memory  # named inside begin()'s "trial"
        assert fit.unit is Memory.Unit.MEGABYTES
        assert fit.peak_rss - fit.start_rss >= 180
        row = trial.success(loss=1.0).df().iloc[0]
        assert row["profile:trial:fit:memory:peak_rss"] == fit.peak_rss
        # the enclosing begin() block saw the same spike
        assert row["memory:peak_rss"] - row["memory:start_rss"] >= 180 * MB

    def test_nested_profiles_get_their_own_peaks(self) -> None:
        trial = Trial(name="t", config={})
        with trial.profile("outer"):
            _spike(60 * MB)  # in outer only
            with trial.profile("a"):
                _spike(100 * MB)
            with trial.profile("b"):
                with trial.profile("inner"):
                    _spike(250 * MB)
                _spike(20 * MB)
            with trial.profile("quiet"):
                pass
        mem = {name: iv.memory for name, iv in trial.profiles.items()}

        def rise(name: str) -> float:
            return (mem[name].peak_rss - mem[name].start_rss) / MB

        assert 90 <= rise("outer:a") < 200  # its own 100 MB, not b's 250 MB
        assert rise("outer:b") >= 230  # its child's spike
        assert rise("outer:b:inner") >= 230
        assert rise("outer") >= 230  # everything inside
        assert rise("outer:quiet") < 20  # nothing: not the earlier spikes
        for name in mem:
            assert mem[name].peak_rss >= max(mem[name].start_rss, mem[name].end_rss)

    def test_a_spike_between_intervals_is_in_neither(self) -> None:
        p = Profiler()
        with p("first"):
            pass
        _spike(200 * MB)
        with p("second"):
            pass
        for name in ("first", "second"):
            m = p[name].memory
            assert m.peak_rss - m.start_rss < 50 * MB, name

    def test_a_spike_before_a_child_counts_for_the_parent_only(self) -> None:
        p = Profiler()
        with p("parent"):
            _spike(200 * MB)
            with p("child"):
                pass
        assert p["parent"].memory.peak_rss - p["parent"].memory.start_rss >= 180 * MB
        child = p["parent:child"].memory
        assert child.peak_rss - child.start_rss < 50 * MB

    def test_overlapping_intervals_that_do_not_nest(self) -> None:
        a = Profile.start()
        _spike(80 * MB)
        b = Profile.start()
        _spike(200 * MB)
        a.stop()
        _spike(120 * MB)
        b.stop()
        ma, mb = a._span.memory, b._span.memory
        assert ma.peak_rss - ma.start_rss >= 180 * MB  # 80 and 200 happened inside a
        assert mb.peak_rss - mb.start_rss >= 180 * MB  # 200 and 120 inside b
        c = Profile.start()
        _spike(30 * MB)
        c.stop()
        mc = c._span.memory
        assert mc.peak_rss - mc.start_rss < 80 * MB  # none of the earlier ones

    def test_memory_measure_records_the_peak(self) -> None:
        with Memory.measure("MB") as mem:
            _spike(200 * MB)
        assert mem.peak_rss - mem.start_rss >= 180
        start = Memory.start()
        _spike(200 * MB)
        done = start.stop()
        assert done.peak_rss - done.start_rss >= 180 * MB

    def test_spikes_in_another_thread_count(self) -> None:
        import threading

        trial = Trial(name="t", config={})
        with trial.begin():
            worker = threading.Thread(target=_spike, args=(200 * MB,))
            worker.start()
            worker.join()
        assert trial.memory.peak_rss - trial.memory.start_rss >= 180 * MB


class TestStartEndFallback:
    """Where the platform has no resettable peak (forced here), peak = max(start, end)."""

    @pytest.fixture(autouse=True)
    def _no_peak(self) -> Iterator[None]:
        _core._force_no_peak(True)
        try:
            yield
        finally:
            _core._force_no_peak(False)

    def test_backend_says_start_end(self) -> None:
        assert peak_backend() == "start-end"

    @frees_memory
    def test_peak_is_the_larger_end(self) -> None:
        trial = Trial(name="t", config={})
        with trial.begin():
            _spike(50 * MB)
            kept = np.ones(30 * MB, dtype=np.uint8)
        mem = trial.memory
        assert mem.peak_rss == max(mem.start_rss, mem.end_rss)
        assert mem.peak_rss == mem.end_rss
        del kept

    @needs_exact_peak
    def test_back_to_the_kernel_mark(self) -> None:
        _core._force_no_peak(False)
        assert peak_backend() == "linux-clear_refs"
        trial = Trial(name="t", config={})
        with trial.begin():
            _spike(200 * MB)
        assert trial.memory.peak_rss - trial.memory.start_rss >= 180 * MB


# ------------------------------------------------------------------------------ CPU
@pytest.mark.usefixtures("track_all")
class TestCpu:
    def test_busy_loop_cpu_is_close_to_its_wall_time(self) -> None:
        trial = Trial(name="t", config={})
        with trial.begin():
            before = time.process_time()
            _spin_cpu(0.3)
            used = time.process_time() - before
        t = trial.time
        # The loop's own CPU seconds, read independently, are in the interval's ...
        assert used - 0.01 <= t.cpu_time <= used + 0.05
        # ... and a busy loop's CPU time is its wall time, less what the machine took away
        # (a loaded 2-core machine can take a lot: only a loose bound here).
        assert 0.29 <= t.cpu_time <= t.duration * 1.05 + 0.02

    def test_sleep_uses_almost_no_cpu(self) -> None:
        trial = Trial(name="t", config={})
        with trial.begin():
            time.sleep(0.3)
        t = trial.time
        assert t.duration >= 0.25
        assert 0 <= t.cpu_time < 0.5 * t.duration

    def test_cpu_time_is_recorded_whatever_the_timer_kind(self) -> None:
        p = Profiler()
        for kind in ("wall", "cpu", "process"):
            with p(kind, time_kind=kind):
                _spin_cpu(0.05)
            assert p[kind].time.cpu_time > 0.01, kind

    def test_columns_next_to_the_wall_time(self) -> None:
        trial = Trial(name="t", config={}, metrics=[LOSS])
        with trial.begin(), trial.profile("fit"):
            _spin(0.05)
        df = trial.success(loss=1.0).df()
        cols = list(df.columns)
        i = cols.index("time:cpu_time")
        assert cols[i : i + 3] == ["time:cpu_time", "time:cpu_time_children", "time:duration"]
        assert df["time:cpu_time"].iloc[0] == trial.time.cpu_time
        fit = trial.profiles["trial:fit"].time
        assert df["profile:trial:fit:time:cpu_time"].iloc[0] == fit.cpu_time

    @pytest.mark.skipif(sys.platform == "win32", reason="Windows gives no children's CPU")
    def test_reaped_children_cpu(self) -> None:
        code = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
        trial = Trial(name="t", config={})
        with trial.begin():
            subprocess.run([sys.executable, "-c", code], check=True)
        t = trial.time
        assert t.cpu_time_children >= 0.25  # the child's 0.3 s, and its start-up
        assert t.cpu_time_children <= t.duration * 2 + 0.1  # at most 2 cores

    def test_no_children_no_children_cpu(self) -> None:
        trial = Trial(name="t", config={})
        with trial.begin():
            _spin(0.02)
        assert trial.time.cpu_time_children == 0.0

    def test_timer_records_cpu_time(self) -> None:
        with Timer.time() as interval:
            _spin_cpu(0.05)
        assert interval.cpu_time > 0.01
        assert interval.cpu_time_children == 0.0
        started = Timer.start("process")
        time.sleep(0.05)
        assert started.stop().cpu_time < 0.05

    def test_timer_without_cpu_tracking(self) -> None:
        old = set_tracking(cpu=False)
        try:
            with Timer.time() as interval:
                pass
        finally:
            set_tracking(**old._asdict())
        assert math.isnan(interval.cpu_time)


# ---------------------------------------------------------------- frames and pickles
@pytest.mark.usefixtures("track_all")
class TestRoundTrips:
    def _report(self) -> Trial.Report:
        trial = Trial(name="t", config={"x": 1}, metrics=[LOSS])
        with trial.begin(), trial.profile("fit"):
            _spike(20 * MB)
            _spin(0.01)
        return trial.success(loss=1.0)

    def test_df_round_trip_keeps_the_new_figures(self) -> None:
        report = self._report()
        back = Trial.Report.from_df(report.df())
        assert back.memory.peak_rss == report.memory.peak_rss
        assert back.time.cpu_time == report.time.cpu_time
        assert back.time.cpu_time_children == report.time.cpu_time_children
        fit = back.trial.profiles["trial:fit"]
        assert fit.memory.peak_rss == report.trial.profiles["trial:fit"].memory.peak_rss
        assert back.df().equals(report.df())

    def test_frames_without_the_new_columns_load_with_nan(self) -> None:
        df = self._report().df()
        old_style = df.drop(
            columns=[c for c in df.columns if c.endswith(("peak_rss", "cpu_time", "_children"))]
        )
        back = Trial.Report.from_df(old_style)
        assert math.isnan(back.memory.peak_rss)
        assert math.isnan(back.time.cpu_time)
        assert math.isnan(back.time.cpu_time_children)
        assert math.isnan(back.trial.profiles["trial:fit"].memory.peak_rss)
        assert back.memory.end_rss == df["memory:end_rss"].iloc[0]
        assert Memory.from_dict({"start_rss": 1.0}).peak_rss != 0  # NaN, not 0
        assert math.isnan(Timer.from_dict({"start": 1.0, "end": 2.0}).cpu_time)

    def test_history_frames_carry_the_new_columns(self) -> None:
        from fasttrial.optimization import History

        history = History()
        history.add(self._report())
        # (normalize_time=False: a single report's normalized time:start is 0.0, which
        # reads back as an integer column; unrelated to the columns checked here)
        df = history.df(normalize_time=False)
        for col in ("memory:peak_rss", "time:cpu_time", "profile:trial:fit:memory:peak_rss"):
            assert col in df.columns
        back = History.from_df(df)
        assert back.df(normalize_time=False).equals(df)
        old_style = History.from_df(
            df.drop(columns=[c for c in df.columns if c.endswith(("peak_rss", "cpu_time"))])
        )
        assert math.isnan(old_style["t"].memory.peak_rss)
        assert math.isnan(old_style["t"].time.cpu_time)

    def test_pickles_keep_the_new_figures(self) -> None:
        report = self._report()
        back = pickle.loads(pickle.dumps(report))
        assert back == report
        assert back.memory.peak_rss == report.memory.peak_rss
        assert back.time.cpu_time == report.time.cpu_time

    def test_intervals_pickled_before_the_new_fields_load(self) -> None:
        # What an older fasttrial's __reduce__ wrote: the five amltk arguments only.
        mem = Memory.Interval(1.0, 2.0, 3.0, 4.0, Memory.Unit.BYTES)
        timer = Timer.Interval(1.0, 2.0, Timer.Kind.WALL, Timer.Unit.SECONDS, 1.0)
        assert math.isnan(mem.peak_rss)
        assert math.isnan(timer.cpu_time) and math.isnan(timer.cpu_time_children)
        assert pickle.loads(pickle.dumps(mem)) == mem
        assert pickle.loads(pickle.dumps(timer)) == timer

    def test_to_unit_converts_the_peak(self) -> None:
        mem = Memory.Interval(1.0, 2.0, 3.0, 4.0, Memory.Unit.MEGABYTES, peak_rss=8.0)
        assert mem.to_unit("KB").peak_rss == 8 * 1024
        assert mem != Memory.Interval(1.0, 2.0, 3.0, 4.0, Memory.Unit.MEGABYTES, peak_rss=9.0)

    def test_summary_holds_what_was_recorded(self) -> None:
        trial = Trial(name="t", config={})
        with trial.profile("step", summary=True):
            pass
        assert "step:memory:peak_rss" in trial.summary
        assert "step:time:cpu_time" in trial.summary
        old = set_tracking(peak=False, cpu=False)
        try:
            other = Trial(name="u", config={})
            with other.profile("step", summary=True):
                pass
        finally:
            set_tracking(**old._asdict())
        assert "step:memory:peak_rss" not in other.summary  # NaN: left out
        assert "step:time:cpu_time" not in other.summary


# ---------------------------------------------------------------- processes and exit
@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.usefixtures("track_all")
def test_forked_child_intervals_work_and_leave_the_parent_alone() -> None:
    parent = Profiler()
    read_fd, write_fd = os.pipe()
    with parent("around-fork"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
            pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 1
            try:
                os.close(read_fd)
                trial = Trial(name="child", config={})
                with trial.begin(), trial.profile("fit"):
                    _spike(200 * MB)
                    _spin(0.05)
                fds = []
                for fd in os.listdir("/proc/self/fd"):
                    try:
                        fds.append(os.readlink(f"/proc/self/fd/{fd}"))
                    except OSError:  # the descriptor listdir itself used
                        continue
                out = {
                    "rise": trial.memory.peak_rss - trial.memory.start_rss,
                    "fit_rise": trial.profiles["trial:fit"].memory.peak_rss
                    - trial.profiles["trial:fit"].memory.start_rss,
                    "cpu": trial.time.cpu_time,
                    "pid": os.getpid(),
                    "fds": [f for f in fds if f.startswith("/proc/")],
                }
                os.write(write_fd, json.dumps(out).encode())
                code = 0
            finally:
                os._exit(code)
        os.close(write_fd)
        chunks = []
        while chunk := os.read(read_fd, 65536):
            chunks.append(chunk)
        os.close(read_fd)
        _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    child = json.loads(b"".join(chunks))
    assert child["rise"] >= 180 * MB or not EXACT_PEAK
    assert child["fit_rise"] >= 180 * MB or not EXACT_PEAK
    assert child["cpu"] > 0.01
    # the child's readers are its own, not the parent's inherited descriptors
    for target in child["fds"]:
        assert target.startswith(f"/proc/{child['pid']}/"), child["fds"]
    # the child's spike is not the parent's
    mem = parent["around-fork"].memory
    assert mem.peak_rss - mem.start_rss < 100 * MB


@pytest.mark.slow
def test_exit_with_intervals_open_neither_hangs_nor_crashes() -> None:
    code = textwrap.dedent(
        """
        import numpy as np
        from fasttrial.optimization import Trial
        from fasttrial.profiling import Profile, set_tracking

        set_tracking(peak=True, cpu=True)
        trial = Trial(name="t", config={})
        trial.begin().__enter__()
        trial.profile("left-open").__enter__()
        running = Profile.start()
        arr = np.ones(10 * 2**20, dtype=np.uint8)
        print("ok", flush=True)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


@needs_exact_peak
@frees_memory
@pytest.mark.slow
def test_peak_of_a_process_started_by_a_bigger_one_is_its_own() -> None:
    # A Python started by a process with a high peak inherits that peak as a floor of
    # ru_maxrss (through exec); the floor must not show up as the child's intervals' peak.
    held = np.ones(300 * MB, dtype=np.uint8)
    code = textwrap.dedent(
        """
        import json
        import numpy as np
        from fasttrial.optimization import Trial

        def spike(mb):
            arr = np.empty(mb * 2**20, dtype=np.uint8)
            arr.fill(1)
            del arr

        quiet = Trial(name="quiet", config={})
        with quiet.begin():
            pass
        small = Trial(name="small", config={})  # a peak below the inherited floor
        with small.begin(), small.profile("inner"):
            spike(100)
        big = Trial(name="big", config={})  # a peak above it
        with big.begin():
            spike(500)

        def rise(m):
            return m.peak_rss - m.start_rss

        print(json.dumps({
            "quiet": quiet.memory.peak_rss - max(quiet.memory.start_rss, quiet.memory.end_rss),
            "small": rise(small.memory),
            "small_inner": rise(small.profiles["trial:inner"].memory),
            "big": rise(big.memory),
        }))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    del held
    out = json.loads(proc.stdout)
    assert out["quiet"] < 50 * MB  # not the parent's 300 MB
    assert out["small"] >= 90 * MB  # below the floor: read from the mm's own mark
    assert out["small_inner"] >= 90 * MB
    assert out["big"] >= 450 * MB  # above the floor, the kernel's mark is exact
