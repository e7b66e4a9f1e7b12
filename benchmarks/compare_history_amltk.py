"""fasttrial's History next to amltk 1.10's, same run, against issue 3's targets.

    PYTHONPATH=/path/to/amltk/site-packages python benchmarks/compare_history_amltk.py

Both implementations get the same 500 reports (``_history_data.py``: real ``begin()`` /
``profile("fit")`` / ``success()`` / ``fail()`` / ``crashed()`` calls).  Each operation is
timed for both, interleaved (fasttrial, amltk, amltk, fasttrial, ...), and the medians and
ratios are printed with the issue's targets:

* ``df()``: amltk / fasttrial >= 300x;
* ``from_df(df)`` (each of its own frame): >= 30x;
* ``best`` + ``incumbents`` + ``sortby`` of one metric: >= 3x;
* retained bytes per report (History and reports, tracemalloc, a fresh interpreter each):
  fasttrial <= 1/3 of amltk's.

amltk's ``df()`` of 500 reports takes seconds, so amltk gets few repetitions (``--repeats``
for fasttrial, fewer for amltk's slow operations).  Exit status 0, or 1 with ``--strict`` when
a target is missed.  Without amltk installed only fasttrial's numbers are printed.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _history_data import (
    LOSS,
    build_reports,
    measure_retained_subprocess,
)
from _impls import HAVE_AMLTK, load_impl

TARGETS = {"df": 300.0, "from_df": 30.0, "best+incumbents+sortby": 3.0}
MEMORY_TARGET = 1 / 3  # fasttrial's bytes per report over amltk's, at most
BATCH_SECONDS = 0.005  # fast calls are timed in batches at least this long


def _batch(fn: Callable[[], Any]) -> int:
    """Calls per timed batch, so that a batch lasts about ``BATCH_SECONDS``."""
    t0 = time.perf_counter()
    fn()
    one = time.perf_counter() - t0
    return max(1, math.ceil(BATCH_SECONDS / max(one, 1e-9))) if one < BATCH_SECONDS else 1


def _time(fn: Callable[[], Any], calls: int) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls


Timings = dict[str, dict[str, float]]


def measure(
    ops: dict[str, dict[str, Callable[[], Any]]], repeats: dict[str, dict[str, int]]
) -> tuple[Timings, Timings]:
    """Median and minimum seconds per call, each ``{op: {impl: seconds}}``, each op's
    implementations interleaved."""
    result: Timings = {}
    fastest: Timings = {}
    for op, fns in ops.items():
        names = list(fns)
        batch = {name: _batch(fns[name]) for name in names}  # also a warm-up call
        samples: dict[str, list[float]] = {name: [] for name in names}
        r = 0
        while any(len(samples[n]) < repeats[op][n] for n in names):
            order = names if r % 2 == 0 else names[::-1]
            for name in order:
                if len(samples[name]) < repeats[op][name]:
                    samples[name].append(_time(fns[name], batch[name]))
            r += 1
        result[op] = {name: statistics.median(s) for name, s in samples.items()}
        fastest[op] = {name: min(s) for name, s in samples.items()}
        print(
            f"  timed {op}: "
            + ", ".join(f"{n} {len(samples[n])} x {batch[n]} call(s)" for n in names),
            flush=True,
        )
    return result, fastest


def _fmt(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:9.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:9.2f} ms"
    return f"{seconds:9.3f} s "


def _operations(name: str, n: int) -> tuple[dict[str, Callable[[], Any]], Any]:
    impl = load_impl(name)
    rs = build_reports(impl, n)
    history = impl.History()
    history.add(rs.reports)
    frame = history.df()

    # Check each once: a broken API fails here instead of being timed.
    assert frame.shape[0] == n and list(frame.index) == rs.names
    back = impl.History.from_df(frame)
    assert [r.name for r in back] == rs.names
    assert history.best(LOSS).name == rs.expected_best(LOSS)
    assert [r.name for r in history.sortby(LOSS)] == rs.expected_sortby(LOSS)
    order = sorted(range(n), key=lambda i: rs.reports[i].time.end)
    assert [r.name for r in history.incumbents(LOSS)] == rs.expected_incumbents(order, LOSS)

    def queries() -> Any:
        return history.best(LOSS), history.incumbents(LOSS), history.sortby(LOSS)

    return {
        "df": history.df,
        "from_df": lambda: impl.History.from_df(frame),
        "best+incumbents+sortby": queries,
    }, frame


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--reports", type=int, default=500, help="reports (500)")
    parser.add_argument(
        "--repeats", type=int, default=15, help="timed batches per fasttrial operation (15)"
    )
    parser.add_argument(
        "--amltk-repeats",
        type=int,
        default=3,
        help="timed calls of amltk's df() (3; from_df gets 2x, the queries 5x that)",
    )
    parser.add_argument(
        "--memory-reports", type=int, default=None, help="reports for the memory figure (= -n)"
    )
    parser.add_argument("--no-memory", action="store_true", help="skip retained memory")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    n = args.reports
    mem_n = args.memory_reports or n

    import numpy
    import pandas

    import fasttrial

    names = ["fasttrial"] + (["amltk"] if HAVE_AMLTK else [])
    versions = [f"fasttrial {fasttrial.__version__}"]
    if HAVE_AMLTK:
        from importlib.metadata import version

        versions.append(f"amltk {version('amltk')}")
    versions += [f"pandas {pandas.__version__}", f"numpy {numpy.__version__}"]
    print(f"History, {n} reports, same run: " + ", ".join(versions))
    print(f"fasttrial from {Path(fasttrial.__file__).parent}")
    when = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {when}")
    if not HAVE_AMLTK:
        print("amltk is not importable: fasttrial only (no ratios).")

    old_cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="fasttrial-compare-") as scratch:
        os.chdir(scratch)  # amltk's Trial (also from from_df) makes unknown-trial-bucket/ here
        try:
            ops: dict[str, dict[str, Callable[[], Any]]] = {op: {} for op in TARGETS}
            frames = {}
            for name in names:
                t0 = time.perf_counter()
                by_op, frames[name] = _operations(name, n)
                print(f"  {name}: reports made and checked in {time.perf_counter() - t0:.1f} s")
                for op, fn in by_op.items():
                    ops[op][name] = fn
            a = args.amltk_repeats
            repeats = {
                "df": {"fasttrial": args.repeats, "amltk": a},
                "from_df": {"fasttrial": args.repeats, "amltk": 2 * a},
                "best+incumbents+sortby": {"fasttrial": args.repeats, "amltk": 5 * a},
            }
            medians, mins = measure(ops, repeats)
            notes = _compat_notes(frames) if HAVE_AMLTK else []
        finally:
            os.chdir(old_cwd)

    missed = []
    print()
    print("medians (the ratio of the minima, less disturbed by other load, in brackets):")
    print(f"{'operation':<24} {'fasttrial':>12} {'amltk':>12} {'amltk/fasttrial':>16}  target")
    for op, target in TARGETS.items():
        ft = medians[op]["fasttrial"]
        if "amltk" in medians[op]:
            am = medians[op]["amltk"]
            ratio = am / ft
            ok = ratio >= target
            if not ok:
                missed.append(op)
            min_ratio = mins[op]["amltk"] / mins[op]["fasttrial"]
            print(
                f"{op:<24} {_fmt(ft)} {_fmt(am)} {ratio:15.1f}x  >= {target:g}x"
                f"  {'ok' if ok else 'MISSED'}  ({min_ratio:.1f}x)"
            )
        else:
            print(f"{op:<24} {_fmt(ft)}")
    sys.stdout.flush()
    memory = {}
    if not args.no_memory:
        for name in names:
            try:
                memory[name] = measure_retained_subprocess(name, mem_n)
            except Exception as error:  # print the timings anyway
                print(f"retained memory of {name}: {error}")
    if "fasttrial" in memory:
        ft_b = memory["fasttrial"]["bytes_per_report"]
        line = f"{'retained B/report':<24} {ft_b:12.0f}"
        if "amltk" in memory:
            am_b = memory["amltk"]["bytes_per_report"]
            share = ft_b / am_b
            ok = share <= MEMORY_TARGET
            if not ok:
                missed.append("memory")
            line += (
                f" {am_b:12.0f} {share:15.2f}   <= {MEMORY_TARGET:.2f}"
                f"  {'ok' if ok else 'MISSED'}  (fasttrial/amltk, {mem_n} reports)"
            )
        print(line)
        for name, mem in memory.items():
            print(
                f"  {name}: after add {mem['bytes_per_report_after_add']:.0f} B/report, after"
                f" best/sortby/incumbents {mem['bytes_per_report_after_queries']:.0f};"
                f" RSS growth (rough) {mem['rss_bytes_per_report_rough']:.0f}"
            )
    for note in notes:
        print(note)
    if missed:
        print(f"targets missed: {', '.join(missed)}")
    return 1 if (missed and args.strict) else 0


def _compat_notes(frames: dict[str, Any]) -> list[str]:
    """How fasttrial's frame differs from amltk's for the same reports (columns, dtypes),
    and whether fasttrial's ``History.from_df`` loads amltk's frame."""
    ft, am = frames["fasttrial"], frames["amltk"]
    notes = []
    if list(ft.columns) != list(am.columns):
        notes.append(
            "note: df() columns differ from amltk's:"
            f" only fasttrial {sorted(set(ft.columns) - set(am.columns))},"
            f" only amltk {sorted(set(am.columns) - set(ft.columns))},"
            f" same set, other order: {set(ft.columns) == set(am.columns)}"
        )
    diff = {
        c: (str(ft[c].dtype), str(am[c].dtype))
        for c in ft.columns
        if c in am.columns and str(ft[c].dtype) != str(am[c].dtype)
    }
    if diff:
        notes.append(f"note: df() dtypes differ from amltk's (fasttrial, amltk): {diff}")
    if not diff and list(ft.columns) == list(am.columns):
        notes.append("df(): same columns, order and dtypes as amltk's")
    try:
        back = load_impl("fasttrial").History.from_df(am)
        notes.append(f"fasttrial History.from_df(amltk's frame): loads, {len(back)} reports")
    except Exception as error:  # report it, do not stop the comparison
        notes.append(
            f"note: fasttrial History.from_df(amltk's frame) fails: {type(error).__name__}: {error}"
        )
    return notes


if __name__ == "__main__":
    raise SystemExit(main())
