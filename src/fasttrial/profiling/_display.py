"""Rich and HTML display of profilers (imported only to display)."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from fasttrial._display import EDGE_ROWS, _edges, _gap, render_html


def profiler_table(profiler: Any, *, edge_rows: int = EDGE_ROWS) -> Table:
    """A table of a ``Profiler``'s intervals (name, duration, kind, memory used), reading
    only the intervals it shows; a long profiler shows its first and last ``edge_rows``."""
    names = list(profiler.profiles)
    head, tail = _edges(len(names), edge_rows)
    table = Table(title=f"Profiler ({len(names)} intervals)", title_justify="left")
    table.add_column("name", style="bold")
    table.add_column("duration", justify="right")
    table.add_column("kind")
    table.add_column("rss used", justify="right")
    table.add_column("vms used", justify="right")
    table.add_column("unit")
    for part in (head, tail):
        if part is None:
            continue
        if part is tail:
            table.add_row(_gap(len(names), edge_rows), "", "", "", "", "")
        for i in part:
            interval = profiler.profiles[names[i]]
            t, m = interval.time, interval.memory
            table.add_row(
                names[i],
                f"{t.duration:.6g} s",
                str(t.kind),
                f"{m.rss_used:+.6g}",
                f"{m.vms_used:+.6g}",
                str(m.unit),
            )
    return table


def profiler_html(profiler: Any, *, edge_rows: int = EDGE_ROWS) -> str:
    """HTML (a ``<table>``) of ``profiler_table``'s rows."""
    return render_html(profiler_table(profiler, edge_rows=edge_rows))


#: Columns of a history's display, by prefix or name, in this order (the rest is left out:
#: tracebacks, buckets, raw start/end times and memory figures).
