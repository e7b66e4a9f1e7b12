"""Rich and HTML display of trials, reports, profilers and histories.

Imported only when something is displayed, so ``import fasttrial`` does not load rich.
"""

from __future__ import annotations

import html
import io
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.pretty import Pretty
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    import pandas as pd

#: Rows shown of a large frame: this many from the head and as many from the tail.
EDGE_ROWS = 10


def trial_renderables(trial: Any) -> Iterator[RenderableType]:
    """Yield a metrics panel (if any) and a grid of the trial's fields."""
    grid = Table.grid(padding=(0, 1), expand=False)
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("config", Pretty(trial.config))
    if trial.fidelities:
        grid.add_row("fidelities", Pretty(trial.fidelities))
    if trial._extras:
        grid.add_row("extras", Pretty(trial._extras))
    if trial.seed is not None:
        grid.add_row("seed", Pretty(trial.seed))
    grid.add_row("bucket", Pretty(trial.bucket))
    if trial._summary:
        grid.add_row("summary", Pretty(trial._summary))
    if trial._storage:
        grid.add_row("storage", Pretty(trial._storage))
    if trial.exception is not None:
        grid.add_row("exception", Text(str(trial.exception), style="bold red"))
    if trial.traceback:
        grid.add_row("traceback", Text(trial.traceback, style="red"))
    for name, profile in trial.profiles.items():
        t, m = profile.time, profile.memory
        grid.add_row(
            f"profile:{name}",
            Text(
                f"{t.duration:.6g} s ({t.kind}), rss {m.rss_used:+.6g} {m.unit}, "
                f"vms {m.vms_used:+.6g} {m.unit}"
            ),
        )
    if trial.metrics:
        yield Panel(Pretty(trial.metrics), title="Metrics", title_align="left")
    yield grid


def report_renderables(report: Any) -> Iterator[RenderableType]:
    """Yield the status line, the metric values, then the trial's pieces."""
    yield Text.assemble(
        ("Status", "bold"), ("(", "default"), report.status.__rich__(), (")", "default")
    )
    yield Pretty(report.metrics)
    yield from trial_renderables(report.trial)


def titled_panel(
    kind: str, name: str, parts: Iterable[RenderableType], status: Any = None
) -> Panel:
    """A panel titled ``Kind(name)`` (with `` - status`` for reports)."""
    title = Text.assemble((kind, "bold"), ("(", "default"), (name, "italic"), (")", "default"))
    if status is not None:
        title.append(" - ")
        title.append_text(status.__rich__())
    return Panel(Group(*parts), title=title, title_align="left")


def df_table(df: pd.DataFrame, *, title: str, edge_rows: int = EDGE_ROWS) -> Table:
    """A rich table of ``df``; a long frame shows its first and last ``edge_rows`` rows."""
    table = Table(title=title, expand=False, show_lines=False)
    index_name = df.index.name or ""
    table.add_column(str(index_name), style="bold")
    for col in df.columns:
        table.add_column(str(col), overflow="fold")
    n = len(df)
    if n > 2 * edge_rows:
        parts = [(df.iloc[:edge_rows], False), (df.iloc[n - edge_rows :], True)]
    else:
        parts = [(df, False)]
    for part, after_gap in parts:
        if after_gap:
            table.add_row(f"... {n - 2 * edge_rows} more rows ...", *([""] * len(df.columns)))
        for idx, row in zip(part.index, part.itertuples(index=False, name=None), strict=True):
            table.add_row(str(idx), *(_cell(v) for v in row))
    return table


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def render_text(obj: Any, width: int = 100) -> str:
    """Render ``obj``'s rich form to plain text."""
    console = Console(width=width, record=True, file=_Null(), color_system=None)
    console.print(obj)
    return console.export_text()


def render_html(obj: Any, width: int = 100) -> str:
    """Render ``obj``'s rich form to an HTML ``<pre>`` block, colors as inline styles."""
    console = Console(width=width, record=True, file=_Null(), force_terminal=True)
    console.print(obj)
    return console.export_html(
        inline_styles=True,
        code_format='<pre style="white-space: pre; font-family: monospace">{code}</pre>',
    )


# -- profiler and history: bounded tables, never a frame of the whole thing -----------------


def _edges(n: int, edge_rows: int) -> tuple[range, range | None]:
    """The row ranges to show of ``n`` rows: all of them, or a head and a tail."""
    if n <= 2 * edge_rows:
        return range(n), None
    return range(edge_rows), range(n - edge_rows, n)


def _gap(n: int, edge_rows: int) -> str:
    return f"... {n - 2 * edge_rows} more rows ..."


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
_HISTORY_COLUMNS = ("status", "metric:", "config:", "time:duration", "memory:diff_rss")


def _history_frames(history: Any, edge_rows: int) -> tuple[int, list[pd.DataFrame]]:
    """``len(history)`` and the frames of its head and tail slices (or of all of it)."""
    n = len(history)
    head, tail = _edges(n, edge_rows)
    frames = [history[head.start : head.stop].df(normalize_time=False)]
    if tail is not None:
        frames.append(history[tail.start : tail.stop].df(normalize_time=False))
    return n, frames


def _history_columns(frame: pd.DataFrame) -> list[str]:
    cols: list[str] = []
    for key in _HISTORY_COLUMNS:
        cols.extend(
            c for c in frame.columns if c == key or (key.endswith(":") and c.startswith(key))
        )
    if "exception" in frame.columns:
        cols.append("exception")
    return cols


def _history_cell(column: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    text = _cell(value)
    if text in ("<NA>", "NA", "nan"):
        return ""
    if column == "exception" and len(text) > 40:
        return text[:39] + "\u2026"
    return text


def history_title(history: Any) -> str:
    """``History (N reports; metric, ...)``."""
    metrics = ", ".join(str(m) for m in history.metrics.values()) or "no metrics"
    return f"History ({len(history)} reports; {metrics})"


def history_renderable(history: Any, *, edge_rows: int = EDGE_ROWS) -> RenderableType:
    # (wire as History.__rich__; see history_html for _repr_html_)
    """A rich table of a history: all rows of a short one, else the first and last
    ``edge_rows``. Reads only ``len(history)``, the head and tail slices' ``df()`` and
    ``history.metrics``, so it costs the same for a million reports as for twenty."""
    n, frames = _history_frames(history, edge_rows)
    if n == 0:
        return Text(history_title(history), style="bold")
    table = Table(title=history_title(history), title_justify="left")
    columns = _history_columns(frames[0])
    for extra in frames[1:]:
        columns.extend(c for c in _history_columns(extra) if c not in columns)
    table.add_column("name", style="bold")
    for c in columns:
        header = c.removeprefix("metric:").removeprefix("config:")
        header = {"time:duration": "duration (s)", "memory:diff_rss": "rss used"}.get(c, header)
        table.add_column(header, overflow="fold")
    for k, frame in enumerate(frames):
        if k == 1:
            table.add_row(_gap(n, edge_rows), *([""] * len(columns)))
        for name, row in zip(frame.index, frame.to_dict("records"), strict=True):
            table.add_row(str(name), *(_history_cell(c, row.get(c)) for c in columns))
    return table


def history_html(history: Any, *, edge_rows: int = EDGE_ROWS) -> str:
    """An HTML ``<table>`` of ``history_renderable``'s rows (bounded the same way)."""
    n, frames = _history_frames(history, edge_rows)
    esc = html.escape
    parts = [f"<table><caption>{esc(history_title(history))}</caption>"]
    if n:
        columns = _history_columns(frames[0])
        for extra in frames[1:]:
            columns.extend(c for c in _history_columns(extra) if c not in columns)
        parts.append(
            "<thead><tr><th>name</th>"
            + "".join(f"<th>{esc(c)}</th>" for c in columns)
            + "</tr></thead><tbody>"
        )
        for k, frame in enumerate(frames):
            if k == 1:
                parts.append(
                    f'<tr><td colspan="{len(columns) + 1}">{esc(_gap(n, edge_rows))}</td></tr>'
                )
            for name, row in zip(frame.index, frame.to_dict("records"), strict=True):
                cells = "".join(f"<td>{esc(_history_cell(c, row.get(c)))}</td>" for c in columns)
                parts.append(f"<tr><th>{esc(str(name))}</th>{cells}</tr>")
        parts.append("</tbody>")
    parts.append("</table>")
    return "".join(parts)


class _Null(io.StringIO):
    """A file that discards what is written (rich records it instead)."""

    def write(self, _: str) -> int:
        return 0
