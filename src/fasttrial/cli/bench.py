"""``fasttrial bench``: fasttrial's per-trial operations timed next to the amltk way.

The timing itself (batches, interleaving, medians) is ``fasttrial._bench``, which
``benchmarks/`` uses too.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from typing import Any

from rich import box
from rich.table import Table

from fasttrial import _bench
from fasttrial._bench import format_seconds
from fasttrial._version import __version__
from fasttrial.cli import CLIError
from fasttrial.cli import console as make_console


def run(args: argparse.Namespace) -> int:
    """``fasttrial bench``."""
    console = make_console()
    names = tuple(n for n in _bench.IMPLS if n != "amltk" or _bench.have_amltk())
    repeats, batch = (15, 0.005) if args.quick else (31, 0.01)
    console.print(
        f"[bold]fasttrial bench[/]{' --quick' if args.quick else ''}: "
        f"{', '.join(names)} and an empty `with` (floor), interleaved, median of {repeats} "
        f"batches of ~{batch * 1e3:g} ms"
        + ("" if "amltk" in names else " (amltk is not importable: not measured)")
    )
    t0 = time.perf_counter()
    impl_errors: dict[str, str] = {}
    with console.status("timing") as status:
        medians = _bench.measure(
            names,
            repeats=repeats,
            batch_seconds=batch,
            full=not args.quick,
            floor=True,
            progress=lambda op: status.update(f"timing {op}"),
            errors=impl_errors,
        )
    measured = tuple(n for n in names if n not in impl_errors)
    console.print(bench_table(medians, measured))
    for name, reason in impl_errors.items():
        console.print(f"[yellow]{name}: not measured[/]: it cannot run here ({reason})")
    floor_rounds, floor_batches = (5, 15) if args.quick else (11, 31)
    ratios, floor_errors = floor_ratios(console, rounds=floor_rounds, batches=floor_batches)
    elapsed = time.perf_counter() - t0
    if ratios:
        console.print(floor_table(ratios, floor_rounds, floor_batches))
    by_reason: dict[str, list[str]] = {}
    for op, reason in floor_errors.items():
        by_reason.setdefault(reason, []).append(op)
    for reason, ops in by_reason.items():
        console.print(f"[yellow]no ratio to the floor for {', '.join(ops)}[/]: {reason}")
    console.print(f"measured in {elapsed:.1f} s")
    if args.json is not None:
        doc = {
            "fasttrial": __version__,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "machine": platform.machine(),
            "quick": bool(args.quick),
            "repeats": repeats,
            "batch_seconds": batch,
            "unit": "seconds per call (median)",
            "medians": medians,
            "ratios_to_fasttrial": {
                op: {k: v / row["fasttrial"] for k, v in row.items() if k != "fasttrial"}
                for op, row in medians.items()
            },
            "floor_ratios": {
                op: {
                    "fasttrial": r.op,
                    "floor": r.floor,
                    "ratio": r.ratio,
                    "budget": _bench.RATIO_BUDGETS.get(op),
                }
                for op, r in ratios.items()
            },
            "floor_errors": floor_errors,
            "not_measured": impl_errors,
        }
        try:
            args.json.write_text(json.dumps(doc, indent=2) + "\n")
        except OSError as error:
            raise CLIError(f"cannot write {args.json}: {error.strerror or error}") from None
        console.print(f"wrote {args.json}")
    return 0


def floor_ratios(
    console: Any, *, rounds: int, batches: int
) -> tuple[dict[str, _bench.FloorRatio], dict[str, str]]:
    """Each guarded operation's ratio to its floor, and why a floor could not be measured
    (e.g. no ``/proc``): what can be measured still is."""
    errors: dict[str, str] = {}
    with _bench.in_temporary_directory(), console.status("timing the floors"):
        pairs = _bench.guard_pairs()
        try:
            for name, pair in pairs.items():
                if pair.floor is None:
                    errors[name] = pair.floor_error or "its floor cannot be measured here"
            ratios = _bench.ratios_to_floor(pairs, rounds=rounds, batches=batches)
        finally:
            _bench.close_pairs(pairs)
    return ratios, errors


def floor_table(ratios: dict[str, _bench.FloorRatio], rounds: int, batches: int) -> Any:
    table = Table(
        title="time over the floor (the cheapest code doing the same unavoidable work)",
        box=box.SIMPLE_HEAD,
        caption=(
            "floor of begin, profile, trial-full: one interval's clock, memory and peak "
            "readings; of history-add: the same row appended to typed buffers. "
            f"Lower quartile of {batches} batches per round, interleaved with the floor's; "
            f"median of {rounds} rounds. budget: the CI guard's limit "
            "(python -m pytest benchmarks/ -m guard)"
        ),
    )
    table.add_column("operation", style="bold", no_wrap=True)
    for header in ("fasttrial", "floor", "ratio", "budget"):
        table.add_column(header, justify="right", no_wrap=True)
    for op, r in ratios.items():
        budget = _bench.RATIO_BUDGETS.get(op)
        over = budget is not None and r.ratio > budget
        table.add_row(
            op,
            format_seconds(r.op),
            format_seconds(r.floor),
            f"[red]{r.ratio:.2f}x[/]" if over else f"{r.ratio:.2f}x",
            "-" if budget is None else f"{budget:g}x",
        )
    return table


def bench_table(medians: dict[str, dict[str, float]], names: tuple[str, ...]) -> Any:
    short = {"fasttrial": "ft", "reference": "ref", "amltk": "amltk"}
    table = Table(
        title="median time per call",
        box=box.SIMPLE_HEAD,
        caption="ref/ft = reference's median / fasttrial's, amltk/ft likewise",
    )
    table.add_column("operation", style="bold", no_wrap=True)
    columns = [*names, "floor"]
    for name in columns:
        table.add_column(name, justify="right", no_wrap=True)
    for name in names[1:]:
        header = f"{short[name]}/ft"
        table.add_column(header, justify="right", no_wrap=True, min_width=len(header))
    for op, row in medians.items():
        ft = row["fasttrial"]
        cells = [format_seconds(row[n]) if n in row else "-" for n in columns]
        ratios = [f"{row[n] / ft:.1f}x" if n in row else "-" for n in names[1:]]
        table.add_row(op, *cells, *ratios)
    return table
