"""Shared pieces of the rich and HTML displays (panels, frame tables, text and HTML
rendering); what each object shows lives next to it: ``optimization/_display.py`` (trials,
reports, histories) and ``profiling/_display.py`` (profilers).

Imported only when something is displayed, so ``import fasttrial`` does not load rich.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    import pandas as pd

#: Rows shown of a large frame: this many from the head and as many from the tail.
EDGE_ROWS = 10


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


class _Null(io.StringIO):
    """A file that discards what is written (rich records it instead)."""

    def write(self, _: str) -> int:
        return 0
