"""``fasttrial show``: the summary of a saved history, and a PNG of its incumbent trace.

Reads a history written by ``History.to_parquet`` / ``History.to_csv`` or a journal of
``History.open(path)`` (read-only, without its lock: a running writer's journal can be
shown), as ``fasttrial demo`` writes them, and summarizes it with the public ``History``
API: status counts, the best report of each metric, the incumbent trace (best-so-far by end
time), time totals (sum of the trials' ``begin()`` durations, and the span from the first
start to the last end) and memory totals (the largest RSS seen at a trial's end, and the RSS
growth summed over trials).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fasttrial.cli import CLIError
from fasttrial.cli import console as make_console

if TYPE_CHECKING:
    from fasttrial.optimization import History, Metric, Trial

#: Incumbent-trace entries printed from each end of a long trace.
TRACE_EDGE = 5


class ShowError(Exception):
    """A history that cannot be found or read (the message is one line)."""


def find_history(path: Path) -> Path:
    """``path`` itself, or the one ``*history*.journal`` (else ``*history*.parquet``, else
    ``*history*.csv``) in a directory.

    Raises:
        ShowError: If there is no such file, or a directory holds none or several.
    """
    if path.is_dir():
        found = (
            sorted(path.glob("*history*.journal"))
            or sorted(path.glob("*history*.parquet"))
            or sorted(path.glob("*history*.csv"))
        )
        if len(found) != 1:
            what = "no" if not found else f"{len(found)}"
            raise ShowError(f"{what} history files (*history*.journal, .parquet or .csv) in {path}")
        return found[0]
    if not path.exists():
        raise ShowError(f"no such file: {path}")
    return path


def load_history(path: Path) -> History:
    """Read a journal, Parquet or CSV history.

    Raises:
        ShowError: For a missing, unreadable or unrecognized file (one-line message).
    """
    from fasttrial.optimization import History

    path = find_history(path)
    suffix = path.suffix.lower()
    if suffix == ".journal" or _is_journal(path):
        from fasttrial.optimization.journal import JournalError

        try:
            return History.open(path, mode="r")
        except (JournalError, OSError) as error:
            raise ShowError(f"cannot read journal {path}: {_first_line(error)}") from None
    if suffix in (".parquet", ".pq"):
        reader, kind = History.from_parquet, "Parquet"
    elif suffix == ".csv":
        reader, kind = History.from_csv, "CSV"
    else:
        raise ShowError(
            f"cannot tell the format of {path}: expected a .journal, .parquet or .csv file"
        )
    try:
        return reader(path)
    except ImportError as error:
        raise ShowError(f"reading {kind} needs a missing package: {error}") from None
    except Exception as error:  # a corrupt or foreign file: pyarrow, pandas or from_df
        raise ShowError(f"cannot read {path} as a {kind} history: {_first_line(error)}") from None


def _is_journal(path: Path) -> bool:
    from fasttrial.optimization.journal import MAGIC

    try:
        with path.open("rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


@dataclass
class Summary:
    """What ``fasttrial show`` prints, computed once."""

    n: int
    status: Counter[str]
    metrics: dict[str, Metric]
    best: dict[str, Trial.Report]
    traces: dict[str, list[tuple[float, float, str]]]  # metric -> (time s, value, name)
    points: dict[str, list[tuple[float, float]]]  # metric -> (time s, value), finite ones
    time_total: float  # sum of begin() durations, s
    time_span: float  # first start to last end, s
    time_max: float
    t0: float
    rss_max: float  # largest end RSS, bytes
    rss_growth: float  # sum of per-trial RSS growth, bytes
    memory_unit: str


def _succeeded_with(name: str) -> Callable[[Trial.Report], bool]:
    def keep(report: Trial.Report) -> bool:
        return str(report.status) == "success" and name in report.metrics

    return keep


def summarize(history: History) -> Summary:
    """Compute the summary of ``history`` (one pass over its reports, plus its lookups)."""
    status: Counter[str] = Counter()
    t0, t1 = math.inf, -math.inf
    total = tmax = 0.0
    rss_max = rss_growth = 0.0
    unit = "bytes"
    metrics = dict(history.metrics)
    points: dict[str, list[tuple[float, float]]] = {name: [] for name in metrics}
    for report in history:
        status[str(report.status)] += 1
        t = report.time
        if math.isfinite(t.start):
            t0 = min(t0, t.start)
        if math.isfinite(t.end):
            t1 = max(t1, t.end)
        if math.isfinite(t.duration):
            total += t.duration
            tmax = max(tmax, t.duration)
        m = report.memory
        if math.isfinite(m.end_rss):
            rss_max = max(rss_max, m.end_rss)
            unit = str(m.unit)
        if math.isfinite(m.rss_used):
            rss_growth += m.rss_used
        if str(report.status) == "success":
            for name, value in report.metrics.items():
                if math.isfinite(value) and math.isfinite(t.end):
                    points[name].append((t.end, value))
    if not math.isfinite(t0):
        t0 = 0.0
    best: dict[str, Trial.Report] = {}
    traces: dict[str, list[tuple[float, float, str]]] = {}
    for name in metrics:
        successes = history.filter(_succeeded_with(name))
        if len(successes) == 0:
            continue
        best[name] = successes.best(name)
        traces[name] = [
            (r.time.end - t0, r.metrics[name], r.name) for r in successes.incumbents(name)
        ]
        points[name] = [(t - t0, v) for t, v in points[name]]
    return Summary(
        n=len(history),
        status=status,
        metrics=metrics,
        best=best,
        traces=traces,
        points=points,
        time_total=total,
        time_span=max(0.0, t1 - t0) if math.isfinite(t1) else 0.0,
        time_max=tmax,
        t0=t0,
        rss_max=rss_max,
        rss_growth=rss_growth,
        memory_unit=unit,
    )


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _bytes(value: float, unit: str) -> str:
    if unit != "bytes":
        return f"{value:.6g} {unit}"
    sign = "-" if value < 0 else ""
    value = abs(value)
    for name, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if value >= scale:
            return f"{sign}{value / scale:.1f} {name}"
    return f"{sign}{value:.0f} B"


def render(summary: Summary, source: Path) -> Any:
    """A rich renderable of the summary."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from fasttrial._bench import format_seconds

    parts: list[Any] = []
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column(overflow="fold")
    head.add_row("history", f"{source} ({summary.n} trials)")
    head.add_row("metrics", ", ".join(str(m) for m in summary.metrics.values()) or "none")
    head.add_row(
        "status",
        ", ".join(f"{k}={v} ({v / summary.n:.1%})" for k, v in sorted(summary.status.items()))
        or "none",
    )
    n = max(summary.n, 1)
    head.add_row(
        "time",
        f"{format_seconds(summary.time_total)} inside begin() in total (mean "
        f"{format_seconds(summary.time_total / n)}, max {format_seconds(summary.time_max)}); "
        f"{format_seconds(summary.time_span)} from the first start to the last end",
    )
    head.add_row(
        "memory",
        f"largest RSS at a trial's end {_bytes(summary.rss_max, summary.memory_unit)}; "
        f"RSS growth inside trials {_bytes(summary.rss_growth, summary.memory_unit)} in total",
    )
    parts.append(head)

    if summary.best:
        table = Table(title="Best report per metric", title_justify="left")
        table.add_column("metric")
        table.add_column("trial")
        table.add_column("value", justify="right")
        table.add_column("config")
        for name, report in summary.best.items():
            config = ", ".join(f"{k}={_fmt(v)}" for k, v in report.config.items())
            table.add_row(
                str(summary.metrics[name]), report.name, _fmt(report.metrics[name]), config
            )
        parts.append(table)
    else:
        parts.append(Text("no successful report: no best value, no incumbent trace"))

    for name, trace in summary.traces.items():
        table = Table(
            title=f"Incumbent trace of {name} ({len(trace)} improvements)", title_justify="left"
        )
        table.add_column("time (s)", justify="right")
        table.add_column("trial")
        table.add_column(name, justify="right")
        rows = trace
        if len(trace) > 2 * TRACE_EDGE:
            rows = trace[:TRACE_EDGE] + trace[-TRACE_EDGE:]
        for i, (t, value, trial) in enumerate(rows):
            if len(trace) > 2 * TRACE_EDGE and i == TRACE_EDGE:
                table.add_row("...", f"{len(trace) - 2 * TRACE_EDGE} more", "...")
            table.add_row(f"{t:.4f}", trial, _fmt(value))
        parts.append(table)
    return Group(*parts)


def plot_png(summary: Summary, path: Path) -> bool:
    """Write the incumbent trace of each metric over time to ``path`` (PNG).

    Returns:
        False if matplotlib is not installed (nothing is written), else True.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return False
    names = list(summary.traces)
    fig = Figure(figsize=(7, 2.6 * max(1, len(names))), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(max(1, len(names)), 1, squeeze=False)[:, 0]
    if not names:
        axes[0].text(0.5, 0.5, "no successful report", ha="center", va="center")
        axes[0].set_axis_off()
    for ax, name in zip(axes, names, strict=False):
        metric = summary.metrics[name]
        pts = summary.points.get(name, [])
        if pts:
            ax.scatter(
                [p[0] for p in pts],
                [p[1] for p in pts],
                s=4,
                color="0.7",
                label="successful trials",
            )
        trace = summary.traces[name]
        xs = [t for t, _, _ in trace]
        ys = [v for _, v, _ in trace]
        end = max([xs[-1], *(p[0] for p in pts)]) if xs else 0.0
        ax.step([*xs, end], [*ys, ys[-1]], where="post", color="C0", lw=2, label="incumbent")
        values = [v for _, v in pts] or ys
        if min(values) > 0 and max(values) / min(values) > 100:
            ax.set_yscale("log")
        else:  # keep the incumbent readable: clip the worst 5% of the dots off the axis
            ranked = sorted(values)
            cut = ranked[int(0.05 * (len(ranked) - 1))] if not metric.minimize else None
            top = ranked[int(0.95 * (len(ranked) - 1))] if metric.minimize else None
            lo = min(ys) if cut is None else min(cut, min(ys))
            hi = max(ys) if top is None else max(top, max(ys))
            if hi > lo:
                pad = 0.05 * (hi - lo)
                ax.set_ylim(lo - pad, hi + pad)
        direction = "minimize" if metric.minimize else "maximize"
        ax.set_ylabel(f"{name} ({direction})")
        ax.set_xlabel("time since the first trial started (s)")
        ax.legend(loc="best", fontsize="small")
        ax.grid(alpha=0.3)
    fig.suptitle(f"Incumbent trace, {summary.n} trials")
    fig.savefig(path, format="png")
    return True


def run(args: argparse.Namespace) -> int:
    """``fasttrial show``."""
    try:
        path = find_history(args.path)
        history = load_history(path)
    except ShowError as error:
        raise CLIError(str(error)) from None
    summary = summarize(history)
    console = make_console()
    console.print(render(summary, path))
    if args.no_png:
        return 0
    png = args.png if args.png is not None else path.with_name(f"{path.stem}-incumbents.png")
    try:
        written = plot_png(summary, png)
    except OSError as error:
        raise CLIError(f"cannot write {png}: {error.strerror or error}") from None
    if written:
        console.print(f"[bold]plot[/]    wrote {png}")
    else:
        print(
            "fasttrial show: no plot written: matplotlib is not installed "
            '(pip install "fasttrial[plot]")',
            file=sys.stderr,
        )
    return 0
