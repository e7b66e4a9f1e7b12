"""Tests of ``fasttrial.profiling``: ``Timer``, ``Memory``, ``Profile`` and ``Profiler``."""

from __future__ import annotations

import copy
import gc
import math
import mmap
import pickle
import time
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fasttrial.profiling import Memory, Profile, Profiler, Timer

MB = 1024 * 1024

# amltk's keys, with fasttrial's additions (docs/compat.md) in their documented places.
TIME_KEYS = ["start", "end", "cpu_time", "cpu_time_children", "duration", "kind", "unit"]
MEMORY_KEYS = [
    "start_vms",
    "end_vms",
    "diff_vms",
    "start_rss",
    "end_rss",
    "diff_rss",
    "peak_rss",
    "unit",
]
PROFILE_KEYS = [f"memory:{k}" for k in MEMORY_KEYS] + [f"time:{k}" for k in TIME_KEYS]


def _touched(nbytes: int) -> np.ndarray:
    """``nbytes`` of memory the process did not have resident before: an anonymous map,
    not malloc, which may hand back resident pages that earlier tests freed (glibc keeps
    a freed heap top mapped), so the RSS would not grow."""
    arr = np.frombuffer(mmap.mmap(-1, nbytes), dtype=np.uint8)
    arr.fill(1)
    return arr


def _spin(seconds: float) -> None:
    """Burn CPU for ``seconds`` of wall time."""
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        pass


# ------------------------------------------------------------------------------- Timer
class TestTimerEnums:
    def test_kind_values(self) -> None:
        assert [k.value for k in Timer.Kind] == ["wall", "cpu", "process"]
        assert Timer.Kind.WALL == "wall"
        assert str(Timer.Kind.PROCESS) == "process"

    @pytest.mark.parametrize(
        ("text", "kind"),
        [
            ("wall", Timer.Kind.WALL),
            ("WALL", Timer.Kind.WALL),
            ("cpu", Timer.Kind.CPU),
            ("Process", Timer.Kind.PROCESS),
            (Timer.Kind.CPU, Timer.Kind.CPU),
        ],
    )
    def test_kind_from_str(self, text: Any, kind: Timer.Kind) -> None:
        assert Timer.Kind.from_str(text) is kind

    @pytest.mark.parametrize("text", ["walltime", "", "seconds", None, 1])
    def test_kind_from_str_unknown_is_na(self, text: Any) -> None:
        assert Timer.Kind.from_str(text) is pd.NA

    def test_unit_from_str(self) -> None:
        assert Timer.Unit.from_str("seconds") is Timer.Unit.SECONDS
        assert Timer.Unit.from_str("MILLISECONDS") is Timer.Unit.MILLISECONDS
        assert Timer.Unit.from_str(Timer.Unit.NANOSECONDS) is Timer.Unit.NANOSECONDS
        assert Timer.Unit.from_str("fortnights") is pd.NA
        assert Timer.Unit.from_str(None) is pd.NA
        assert str(Timer.Unit.SECONDS) == "seconds"


class TestTimerInterval:
    def test_to_dict_keys_in_order(self) -> None:
        iv = Timer.Interval(1.0, 3.5, Timer.Kind.WALL, Timer.Unit.SECONDS)
        d = iv.to_dict()
        assert list(d) == TIME_KEYS
        assert d == {
            "start": 1.0,
            "end": 3.5,
            "cpu_time": math.nan,  # not recorded (the same NaN object, so == holds)
            "cpu_time_children": math.nan,
            "duration": 2.5,
            "kind": Timer.Kind.WALL,
            "unit": Timer.Unit.SECONDS,
        }

    def test_to_dict_with_prefix(self) -> None:
        iv = Timer.Interval(1.0, 2.0, Timer.Kind.CPU, Timer.Unit.SECONDS)
        assert list(iv.to_dict(prefix="t:")) == [f"t:{k}" for k in TIME_KEYS]

    def test_duration_is_never_negative(self) -> None:
        iv = Timer.Interval(10.0, 4.0, Timer.Kind.WALL, Timer.Unit.SECONDS)
        assert iv.duration == 0.0
        assert iv.to_dict()["duration"] == 0.0
        # start and end are kept as given
        assert (iv.start, iv.end) == (10.0, 4.0)

    def test_from_dict(self) -> None:
        iv = Timer.from_dict(
            {"start": 2, "end": 5, "duration": 3.0, "kind": "process", "unit": "seconds"}
        )
        assert (iv.start, iv.end, iv.duration) == (2.0, 5.0, 3.0)
        assert iv.kind is Timer.Kind.PROCESS
        assert iv.unit is Timer.Unit.SECONDS

    def test_from_dict_without_duration_uses_end_minus_start(self) -> None:
        iv = Timer.from_dict({"start": 2.0, "end": 2.75, "kind": "wall", "unit": "seconds"})
        assert iv.duration == pytest.approx(0.75)

    def test_from_dict_clamps_negative_duration(self) -> None:
        iv = Timer.from_dict({"start": 5.0, "end": 1.0, "duration": -4.0, "kind": "wall"})
        assert iv.duration == 0.0

    def test_from_dict_missing_keys(self) -> None:
        iv = Timer.from_dict({})
        assert math.isnan(iv.start) and math.isnan(iv.end) and math.isnan(iv.duration)
        assert iv.kind is pd.NA and iv.unit is pd.NA

    def test_na(self) -> None:
        iv = Timer.na()
        d = iv.to_dict()
        assert list(d) == TIME_KEYS
        assert math.isnan(d["start"]) and math.isnan(d["end"]) and math.isnan(d["duration"])
        assert d["kind"] is pd.NA and d["unit"] is pd.NA
        assert Timer.na() == Timer.na()

    def test_round_trip_through_dict(self) -> None:
        with Timer.time("cpu") as iv:
            pass
        assert Timer.from_dict(iv.to_dict()) == iv

    def test_equality_and_pickling(self) -> None:
        a = Timer.Interval(1.0, 2.0, Timer.Kind.WALL, Timer.Unit.SECONDS)
        b = Timer.Interval(1.0, 2.0, Timer.Kind.WALL, Timer.Unit.SECONDS)
        c = Timer.Interval(1.0, 2.5, Timer.Kind.WALL, Timer.Unit.SECONDS)
        assert a == b and a != c
        assert pickle.loads(pickle.dumps(a)) == a
        with Timer.time() as measured:
            pass
        assert pickle.loads(pickle.dumps(measured)) == measured


class TestTimerMeasuring:
    def test_time_context_manager_fills_the_interval(self) -> None:
        before = time.time()
        with Timer.time() as iv:
            assert math.isnan(iv.end)  # not finished yet
            time.sleep(0.05)
        after = time.time()
        assert iv.kind is Timer.Kind.WALL
        assert iv.unit is Timer.Unit.SECONDS
        assert before - 0.01 <= iv.start <= iv.end <= after + 0.01
        assert iv.duration >= 0.04

    def test_time_fills_the_interval_even_on_error(self) -> None:
        with pytest.raises(KeyError), Timer.time("cpu") as iv:
            raise KeyError("x")
        assert not math.isnan(iv.end)
        assert iv.duration >= 0

    @pytest.mark.parametrize(
        ("kind", "clock"),
        [("wall", time.time), ("cpu", time.perf_counter), ("process", time.process_time)],
    )
    def test_start_stop_reads_the_kinds_clock(self, kind: str, clock: Any) -> None:
        before = clock()
        timer = Timer.start(kind)
        assert timer.kind is Timer.Kind(kind)
        iv = timer.stop()
        after = clock()
        assert iv.kind is Timer.Kind(kind)
        assert iv.unit is Timer.Unit.SECONDS
        assert before - 0.01 <= iv.start <= iv.end <= after + 0.01
        assert iv.duration >= 0

    def test_start_accepts_enum_members(self) -> None:
        assert Timer.start(Timer.Kind.PROCESS).stop().kind is Timer.Kind.PROCESS

    def test_sleep_counts_as_wall_time_not_process_time(self) -> None:
        with Timer.time("wall") as wall, Timer.time("process") as proc:
            time.sleep(0.05)
        assert wall.duration >= 0.04
        assert proc.duration < 0.03
        with Timer.time("cpu") as cpu:
            time.sleep(0.05)
        assert cpu.duration >= 0.04

    def test_process_time_counts_cpu_work(self) -> None:
        with Timer.time("process") as proc:
            _spin(0.05)
        assert proc.duration > 0.0
        assert proc.duration == pytest.approx(proc.end - proc.start)

    @pytest.mark.parametrize("bad", ["walltime", "", "CPU-time"])
    def test_bad_kind_raises(self, bad: str) -> None:
        with pytest.raises(ValueError, match=repr(bad)):
            Timer.start(bad)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=repr(bad)), Timer.time(bad):  # type: ignore[arg-type]
            pass


# ------------------------------------------------------------------------------ Memory
class TestMemoryUnit:
    @pytest.mark.parametrize(
        ("text", "unit"),
        [
            ("B", Memory.Unit.BYTES),
            ("b", Memory.Unit.BYTES),
            ("bytes", Memory.Unit.BYTES),
            ("KB", Memory.Unit.KILOBYTES),
            ("kb", Memory.Unit.KILOBYTES),
            ("kilobytes", Memory.Unit.KILOBYTES),
            ("MB", Memory.Unit.MEGABYTES),
            ("megabytes", Memory.Unit.MEGABYTES),
            ("GB", Memory.Unit.GIGABYTES),
            ("gigabytes", Memory.Unit.GIGABYTES),
            (Memory.Unit.MEGABYTES, Memory.Unit.MEGABYTES),
        ],
    )
    def test_from_str_aliases(self, text: Any, unit: Memory.Unit) -> None:
        assert Memory.Unit.from_str(text) is unit

    @pytest.mark.parametrize("text", ["TB", "", "mega", None, 3])
    def test_from_str_unknown_is_na(self, text: Any) -> None:
        assert Memory.Unit.from_str(text) is pd.NA

    def test_values(self) -> None:
        assert [u.value for u in Memory.Unit] == ["bytes", "kilobytes", "megabytes", "gigabytes"]
        assert str(Memory.Unit.KILOBYTES) == "kilobytes"


class TestMemoryInterval:
    def test_to_dict_keys_in_order(self) -> None:
        iv = Memory.Interval(
            start_vms=100.0, start_rss=10.0, end_vms=160.0, end_rss=30.0, unit=Memory.Unit.BYTES
        )
        d = iv.to_dict()
        assert list(d) == MEMORY_KEYS
        assert d == {
            "start_vms": 100.0,
            "end_vms": 160.0,
            "diff_vms": 60.0,
            "start_rss": 10.0,
            "end_rss": 30.0,
            "diff_rss": 20.0,
            "peak_rss": math.nan,  # not recorded (the same NaN object, so == holds)
            "unit": Memory.Unit.BYTES,
        }
        assert list(iv.to_dict(prefix="m:")) == [f"m:{k}" for k in MEMORY_KEYS]

    def test_used(self) -> None:
        iv = Memory.Interval(100.0, 10.0, 90.0, 25.0, Memory.Unit.KILOBYTES)
        assert iv.vms_used == -10.0
        assert iv.rss_used == 15.0

    def test_to_unit(self) -> None:
        iv = Memory.Interval(2 * MB, MB, 4 * MB, 3 * MB, Memory.Unit.BYTES)
        mb = iv.to_unit("MB")
        assert mb.unit is Memory.Unit.MEGABYTES
        assert (mb.start_vms, mb.start_rss, mb.end_vms, mb.end_rss) == (2.0, 1.0, 4.0, 3.0)
        kb = mb.to_unit(Memory.Unit.KILOBYTES)
        assert (kb.start_vms, kb.end_rss) == (2048.0, 3072.0)
        gb = iv.to_unit("GB")
        assert gb.end_vms == pytest.approx(4 / 1024)
        back = gb.to_unit("B")
        assert back.start_rss == pytest.approx(MB)
        assert back.to_dict()["diff_rss"] == pytest.approx(2 * MB)

    def test_to_unit_rejects_unknown(self) -> None:
        iv = Memory.Interval(1.0, 1.0, 1.0, 1.0, Memory.Unit.BYTES)
        with pytest.raises(ValueError, match="'TB'"):
            iv.to_unit("TB")  # type: ignore[arg-type]

    def test_from_dict_and_round_trip(self) -> None:
        d = {"start_vms": 1, "start_rss": 2, "end_vms": 3, "end_rss": 5, "unit": "KB"}
        iv = Memory.from_dict(d)
        assert (iv.start_vms, iv.start_rss, iv.end_vms, iv.end_rss) == (1.0, 2.0, 3.0, 5.0)
        assert iv.unit is Memory.Unit.KILOBYTES
        assert iv.rss_used == 3.0
        assert Memory.from_dict(iv.to_dict()) == iv

    def test_from_dict_missing_and_na(self) -> None:
        iv = Memory.from_dict({})
        assert all(math.isnan(x) for x in (iv.start_vms, iv.start_rss, iv.end_vms, iv.end_rss))
        assert iv.unit is pd.NA
        na = Memory.na()
        assert list(na.to_dict()) == MEMORY_KEYS
        assert math.isnan(na.rss_used)
        assert na.unit is pd.NA
        assert na == iv

    def test_equality_and_pickling(self) -> None:
        a = Memory.Interval(1.0, 2.0, 3.0, 4.0, Memory.Unit.MEGABYTES)
        assert a == Memory.Interval(1.0, 2.0, 3.0, 4.0, Memory.Unit.MEGABYTES)
        assert a != Memory.Interval(1.0, 2.0, 3.0, 4.0, Memory.Unit.BYTES)
        assert a != Memory.Interval(1.0, 2.0, 3.0, 4.5, Memory.Unit.MEGABYTES)
        assert pickle.loads(pickle.dumps(a)) == a


class TestMemoryMeasuring:
    @pytest.mark.parametrize(
        ("x", "frm", "to", "expected"),
        [
            (1.0, "GB", "MB", 1024.0),
            (1.0, "MB", "KB", 1024.0),
            (2048.0, "KB", "MB", 2.0),
            (3.0, "B", "B", 3.0),
            (1.0, Memory.Unit.GIGABYTES, Memory.Unit.BYTES, 1024.0**3),
            (512.0, "bytes", "kilobytes", 0.5),
        ],
    )
    def test_convert(self, x: float, frm: Any, to: Any, expected: float) -> None:
        assert Memory.convert(x, frm, to) == pytest.approx(expected)

    def test_convert_defaults_to_bytes(self) -> None:
        assert Memory.convert(12.0) == 12.0

    def test_usage(self) -> None:
        rss_b = Memory.usage("rss")
        vms_b = Memory.usage("vms", "B")
        assert 0 < rss_b <= vms_b
        assert Memory.usage() == pytest.approx(vms_b, abs=20 * MB)  # default: vms, bytes
        assert Memory.usage("rss", "MB") == pytest.approx(rss_b / MB, abs=20)
        assert Memory.usage("vms", Memory.Unit.GIGABYTES) == pytest.approx(vms_b / 1024**3, abs=0.1)
        assert Memory.usage("RSS", "KB") == pytest.approx(rss_b / 1024, abs=20 * 1024)

    @pytest.mark.parametrize("bad", ["uss", "", "memory"])
    def test_usage_rejects_a_bad_kind(self, bad: str) -> None:
        with pytest.raises(ValueError, match=repr(bad)):
            Memory.usage(bad)  # type: ignore[arg-type]

    def test_usage_rejects_a_bad_unit(self) -> None:
        with pytest.raises(ValueError, match="'TB'"):
            Memory.usage("rss", "TB")  # type: ignore[arg-type]

    def test_start_stop(self) -> None:
        mem = Memory.start("KB")
        assert mem.unit is Memory.Unit.KILOBYTES
        assert mem.start_rss > 0
        iv = mem.stop()
        assert iv.unit is Memory.Unit.KILOBYTES
        assert (iv.start_rss, iv.start_vms) == (mem.start_rss, mem.start_vms)
        assert iv.end_rss > 0 and iv.end_vms >= iv.end_rss

    def test_start_rejects_a_bad_unit(self) -> None:
        with pytest.raises(ValueError, match="'kB '"):
            Memory.start("kB ")  # type: ignore[arg-type]

    def test_measure_sees_a_touched_allocation(self) -> None:
        gc.collect()
        with Memory.measure("MB") as iv:
            assert math.isnan(iv.end_rss)
            arr = _touched(100 * MB)
        assert iv.unit is Memory.Unit.MEGABYTES
        assert iv.rss_used >= 90
        assert iv.vms_used >= 90
        assert iv.to_dict()["diff_rss"] == iv.rss_used
        del arr

    def test_measure_fills_the_interval_even_on_error(self) -> None:
        with pytest.raises(RuntimeError), Memory.measure() as iv:
            raise RuntimeError
        assert iv.end_rss > 0


# ----------------------------------------------------------------------------- Profile
class TestProfileInterval:
    def _measured(self) -> Profile.Interval:
        with Profile.measure(memory_unit="KB", time_kind="cpu") as iv:
            pass
        return iv

    def test_to_dict_without_prefix(self) -> None:
        iv = self._measured()
        d = iv.to_dict()
        assert list(d) == PROFILE_KEYS
        assert d["memory:unit"] is Memory.Unit.KILOBYTES
        assert d["time:kind"] is Timer.Kind.CPU
        assert d["time:duration"] >= 0

    def test_to_dict_with_prefix(self) -> None:
        iv = self._measured()
        d = iv.to_dict(prefix="x")
        assert list(d) == [f"x:{k}" for k in PROFILE_KEYS]
        assert d["x:memory:start_vms"] == iv.memory.start_vms
        assert d["x:time:end"] == iv.time.end

    def test_from_dict_round_trip(self) -> None:
        iv = self._measured()
        back = Profile.from_dict(iv.to_dict())
        assert back == iv
        assert back.time == iv.time and back.memory == iv.memory

    def test_from_given_parts(self) -> None:
        t = Timer.Interval(1.0, 2.0, Timer.Kind.WALL, Timer.Unit.SECONDS)
        m = Memory.Interval(1.0, 2.0, 3.0, 4.0, Memory.Unit.BYTES)
        iv = Profile.Interval(memory=m, time=t)
        assert iv.time is t and iv.memory is m
        assert iv.to_dict()["time:duration"] == 1.0

    def test_na(self) -> None:
        na = Profile.na()
        d = na.to_dict()
        assert list(d) == PROFILE_KEYS
        assert math.isnan(d["time:start"]) and math.isnan(d["memory:end_rss"])
        assert d["time:kind"] is pd.NA and d["memory:unit"] is pd.NA
        assert Profile.from_dict(d) == na
        assert Profile.Interval() == na

    def test_measure(self) -> None:
        with Profile.measure() as iv:
            time.sleep(0.02)
            arr = _touched(50 * MB)
        assert iv.time.kind is Timer.Kind.WALL
        assert iv.memory.unit is Memory.Unit.BYTES
        assert iv.time.duration >= 0.015
        assert iv.memory.rss_used >= 40 * MB
        del arr

    def test_start_stop(self) -> None:
        prof = Profile.start(memory_unit="MB", time_kind="process")
        iv = prof.stop()
        assert iv.time.kind is Timer.Kind.PROCESS
        assert iv.memory.unit is Memory.Unit.MEGABYTES
        assert iv.time.duration >= 0
        assert iv.memory.end_rss > 0
        with pytest.raises(RuntimeError):
            prof.stop()

    def test_running_interval_reads_nan_end(self) -> None:
        prof = Profile.start()
        try:
            assert math.isnan(prof._span.time.end)
            assert prof._span.memory.start_rss > 0
            assert math.isnan(prof._span.memory.end_rss)
        finally:
            iv = prof.stop()
        assert not math.isnan(iv.time.end)

    def test_bad_unit_or_kind(self) -> None:
        with pytest.raises(ValueError, match="'XB'"):
            Profile.start(memory_unit="XB")  # type: ignore[arg-type]
        with (
            pytest.raises(ValueError, match="'sundial'"),
            Profile.measure(
                time_kind="sundial"  # type: ignore[arg-type]
            ),
        ):
            pass

    def test_pickle_and_copy(self) -> None:
        iv = self._measured()
        assert pickle.loads(pickle.dumps(iv)) == iv
        assert copy.deepcopy(iv) == iv


# ---------------------------------------------------------------------------- Profiler
class TestProfiler:
    def test_defaults(self) -> None:
        p = Profiler()
        assert p.memory_unit is Memory.Unit.BYTES
        assert p.time_kind is Timer.Kind.WALL
        assert len(p) == 0 and list(p) == []
        assert not p.disabled

    def test_constructor_options(self) -> None:
        p = Profiler(memory_unit="MB", time_kind="process")
        assert p.memory_unit is Memory.Unit.MEGABYTES
        assert p.time_kind is Timer.Kind.PROCESS
        with p("x"):
            pass
        assert p["x"].memory.unit is Memory.Unit.MEGABYTES
        assert p["x"].time.kind is Timer.Kind.PROCESS

    @pytest.mark.parametrize(
        "kwargs", [{"memory_unit": "TB"}, {"time_kind": "sundial"}, {"memory_unit": 3}]
    )
    def test_bad_defaults_raise(self, kwargs: dict[str, Any]) -> None:
        with pytest.raises(ValueError):
            Profiler(**kwargs)

    def test_setting_bad_defaults_raises_and_keeps_the_old(self) -> None:
        p = Profiler()
        p.memory_unit = "KB"  # type: ignore[assignment]
        assert p.memory_unit is Memory.Unit.KILOBYTES
        with pytest.raises(ValueError, match="'PB'"):
            p.memory_unit = "PB"  # type: ignore[assignment]
        with pytest.raises(ValueError, match="'tick'"):
            p.time_kind = "tick"  # type: ignore[assignment]
        assert p.memory_unit is Memory.Unit.KILOBYTES
        assert p.time_kind is Timer.Kind.WALL

    def test_mapping_behaviour(self) -> None:
        p = Profiler()
        with p("a"):
            pass
        with p("b"):
            pass
        assert list(p) == ["a", "b"]
        assert len(p) == 2
        assert "a" in p and "c" not in p
        assert isinstance(p["a"], Profile.Interval)
        assert p.get("c") is None
        assert dict(p.items()) == {"a": p["a"], "b": p["b"]}
        assert list(p.keys()) == ["a", "b"]
        with pytest.raises(KeyError):
            p["c"]

    def test_call_and_measure_are_the_same(self) -> None:
        p = Profiler()
        with p("a"):
            pass
        with p.measure("b"):
            pass
        with p.measure(name="c", memory_unit="GB", time_kind="cpu"):
            pass
        assert list(p) == ["a", "b", "c"]
        assert p["c"].memory.unit is Memory.Unit.GIGABYTES
        assert p["c"].time.kind is Timer.Kind.CPU
        assert p["a"].time.kind is Timer.Kind.WALL

    def test_measure_records_time_and_memory(self) -> None:
        p = Profiler(memory_unit="MB")
        with p("work"):
            arr = _touched(50 * MB)
            time.sleep(0.02)
        iv = p["work"]
        assert iv.time.duration >= 0.015
        assert iv.memory.rss_used >= 40
        del arr

    def test_measure_rejects_bad_arguments(self) -> None:
        p = Profiler()
        with pytest.raises(ValueError, match="'XB'"):
            p.measure("x", memory_unit="XB")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="'hourglass'"):
            p("x", time_kind="hourglass")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            p.measure(3)  # type: ignore[arg-type]
        assert len(p) == 0

    def test_nested_names_are_joined(self) -> None:
        p = Profiler()
        with p("a"):
            with p("b"), p("c"):
                pass
            with p("d"):
                pass
        with p("e"):
            pass
        assert list(p) == ["a", "a:b", "a:b:c", "a:d", "e"]
        outer, inner = p["a"].time, p["a:b:c"].time
        assert outer.start <= inner.start <= inner.end <= outer.end

    def test_exception_unwinds_the_name_stack(self) -> None:
        p = Profiler()
        with pytest.raises(ZeroDivisionError), p("outer"), p("inner"):
            1 / 0  # noqa: B018
        assert not math.isnan(p["outer:inner"].time.end)
        assert not math.isnan(p["outer"].time.end)
        with p("after"):
            pass
        assert "after" in p  # not "outer:after"

    def test_measuring_a_name_again_replaces_it(self) -> None:
        p = Profiler()
        with p("x", memory_unit="KB"):
            pass
        first = p["x"]
        time.sleep(0.01)
        with p("x", memory_unit="MB"):
            pass
        assert len(p) == 1
        second = p["x"]
        assert second is not first
        assert second.memory.unit is Memory.Unit.MEGABYTES
        assert second.time.start > first.time.end

    def test_each(self) -> None:
        p = Profiler()
        seen = []
        for item in p.each(["a", "b", "c"], name="loop"):
            seen.append(item)
            assert list(p)[-1] == f"loop:{len(seen) - 1}"
        assert seen == ["a", "b", "c"]
        assert list(p) == ["loop", "loop:0", "loop:1", "loop:2"]
        loop = p["loop"].time
        for i in range(3):
            t = p[f"loop:{i}"].time
            assert loop.start <= t.start <= t.end <= loop.end

    def test_each_stopped_early_closes_its_intervals(self) -> None:
        p = Profiler()
        for item in p.each(range(5), name="loop"):
            if item == 1:
                break
        assert p._running == []
        assert list(p) == ["loop", "loop:0", "loop:1"]
        assert not math.isnan(p["loop:1"].time.end)
        assert not math.isnan(p["loop"].time.end)

    def test_each_with_itr_name(self) -> None:
        p = Profiler()
        items = list(p.each([10, 20], name="fit", itr_name=lambda i, x: f"item{i}-{x}"))
        assert items == [10, 20]
        assert list(p) == ["fit", "fit:item0-10", "fit:item1-20"]

    def test_each_nested_in_a_measure(self) -> None:
        p = Profiler()
        with p("run"):
            for _ in p.each(range(2), name="loop"):
                pass
        assert list(p) == ["run", "run:loop", "run:loop:0", "run:loop:1"]

    def test_disable_enable(self) -> None:
        p = Profiler()
        p.disable()
        assert p.disabled
        with p("off"):
            pass
        for _ in p.each(range(3), name="loop_off"):
            pass
        assert len(p) == 0
        p.enable()
        assert not p.disabled
        with p("on"):
            pass
        assert list(p) == ["on"]

    def test_disabled_at_construction(self) -> None:
        p = Profiler(disabled=True)
        with p("x"):
            pass
        assert len(p) == 0

    def test_df(self) -> None:
        p = Profiler(memory_unit="KB")
        with p("a"), p("b"):
            pass
        df = p.df()
        assert list(df.index) == ["a", "a:b"]
        assert df.shape == (2, len(PROFILE_KEYS))
        assert list(df.columns) == PROFILE_KEYS
        assert df.loc["a:b", "time:duration"] == p["a:b"].time.duration
        assert df.loc["a", "memory:end_rss"] == p["a"].memory.end_rss
        assert str(df.loc["a", "memory:unit"]) == "kilobytes"
        assert str(df.loc["a", "time:kind"]) == "wall"

    def test_df_empty(self) -> None:
        assert len(Profiler().df()) == 0

    def test_repr(self) -> None:
        p = Profiler(memory_unit="MB", time_kind="cpu")
        with p("x"):
            pass
        r = repr(p)
        assert r.startswith("Profiler(")
        assert "'x'" in r
        assert "megabytes" in r and "cpu" in r

    def test_equality(self) -> None:
        t = Timer.Interval(1.0, 2.0, Timer.Kind.WALL, Timer.Unit.SECONDS)
        m = Memory.Interval(1.0, 2.0, 3.0, 4.0, Memory.Unit.BYTES)
        a = Profiler(profiles={"x": Profile.Interval(memory=m, time=t)})
        b = Profiler(profiles={"x": Profile.Interval(memory=m, time=t)})
        assert a == b
        assert a != Profiler()
        assert a != Profiler(profiles={"x": Profile.Interval(memory=m, time=t)}, memory_unit="KB")
        assert a != Profiler(profiles={"y": Profile.Interval(memory=m, time=t)})
        assert Profiler() == Profiler()
        assert Profiler() != Profiler(disabled=True)

    def test_pickling(self) -> None:
        p = Profiler(memory_unit="MB", time_kind="process")
        with p("a"), p("b"):
            pass
        back = pickle.loads(pickle.dumps(p))
        assert back == p
        assert list(back) == ["a", "a:b"]
        assert back.memory_unit is Memory.Unit.MEGABYTES
        assert back.time_kind is Timer.Kind.PROCESS
        assert back["a:b"].time == p["a:b"].time
        # the unpickled profiler records normally
        with back("c"):
            pass
        assert list(back) == ["a", "a:b", "c"]

    def test_copy_and_deepcopy(self) -> None:
        p = Profiler(memory_unit="KB")
        with p("a"):
            pass
        deep = copy.deepcopy(p)
        assert deep == p
        assert deep.profiles is not p.profiles
        with deep("b"):
            pass
        assert "b" not in p
        assert copy.copy(p) == p

    def test_disabled_survives_pickling(self) -> None:
        p = Profiler(disabled=True)
        assert pickle.loads(pickle.dumps(p)).disabled
