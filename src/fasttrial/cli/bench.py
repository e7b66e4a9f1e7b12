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
    with console.status("timing") as status:
        medians = _bench.measure(
            names,
            repeats=repeats,
            batch_seconds=batch,
            full=not args.quick,
            floor=True,
            progress=lambda op: status.update(f"timing {op}"),
        )
    elapsed = time.perf_counter() - t0
    console.print(bench_table(medians, names))
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
        }
        try:
            args.json.write_text(json.dumps(doc, indent=2) + "\n")
        except OSError as error:
            raise CLIError(f"cannot write {args.json}: {error.strerror or error}") from None
        console.print(f"wrote {args.json}")
    return 0


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
