"""Rich and HTML display of trials, reports and histories (imported only to display)."""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rich.console import RenderableType
from rich.panel import Panel
from rich.pretty import Pretty
from rich.table import Table
from rich.text import Text

from fasttrial._display import (
    EDGE_ROWS,
    _cell,
    _edges,
    _gap,
)

if TYPE_CHECKING:
    import pandas as pd


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
