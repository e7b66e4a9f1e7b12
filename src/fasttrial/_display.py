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


def df_table(
    df: pd.DataFrame, *, title: str, edge_rows: int = EDGE_ROWS, total: int | None = None
) -> Table:
    """A rich table of ``df``; a long frame shows its first and last ``edge_rows`` rows.

    ``total``: the row count of the whole, when ``df`` holds only its first and last
    ``edge_rows`` rows (a big history never makes its full frame to be displayed).
    """
    table = Table(title=title, expand=False, show_lines=False)
    index_name = df.index.name or ""
    table.add_column(str(index_name), style="bold")
    for col in df.columns:
        table.add_column(str(col), overflow="fold")
    n = len(df) if total is None else total
    if n > 2 * edge_rows:
        m = len(df)
        parts = [(df.iloc[:edge_rows], False), (df.iloc[m - edge_rows :], True)]
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
    """Render ``obj``'s rich form to an HTML ``<pre>`` block."""
    console = Console(width=width, record=True, file=_Null())
    console.print(obj)
    body = console.export_text(styles=False)
    return f'<pre style="white-space: pre; font-family: monospace">{html.escape(body)}</pre>'


class _Null(io.StringIO):
    """A file that discards what is written (rich records it instead)."""

    def write(self, _: str) -> int:
        return 0
