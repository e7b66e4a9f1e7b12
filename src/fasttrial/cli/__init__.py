"""The ``fasttrial`` command: ``demo``, ``bench`` and ``show`` (one module each here).

``python -m fasttrial`` runs the same. This module imports only the standard library at
import time; numpy, pandas, rich and matplotlib are imported by the subcommand that needs
them. Errors the user can fix (a bad argument, a missing or unreadable file) are printed as
one line on stderr, with exit status 2, and no traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

EXIT_USAGE = 2


class CLIError(Exception):
    """An error the user can fix; printed as one line."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (``prog: error: ...``) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _whole(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
    return value


def _trials(text: str) -> int:
    return _whole(text, 1)


def _seed(text: str) -> int:
    return _whole(text, 0)


DEMO_HELP = """\
Run an HPO loop (fasttrial.optimization.RandomSearch, or Optuna / SMAC with --optimizer) on
a built-in objective:
gradient descent for a linear model in numpy, where a too large learning rate diverges and
the trial is reported with trial.fail(). Every trial is profiled (trial.begin() with
trial.profile("fit") and trial.profile("score") inside). Prints the best configuration, the
status counts and what fasttrial cost. Each trial is written to DIR/history.journal as it
is added (a killed demo keeps every finished trial: fasttrial show DIR reads it); the
history is also saved as DIR/history.parquet at the end.

What the costs mean: after the loop, the three profiled blocks of a trial are timed with
empty bodies against the same code without them (batches back to back, median of 15
per-round differences); that
difference per trial, times the number of trials, over the loop's wall time, is the
"profiling" share. "all fasttrial calls" does the same for a whole empty trial (ask, Trial,
the three blocks, success, tell, History.add), with RandomSearch's ask and tell whatever
--optimizer is (Optuna's and SMAC's own work is theirs). "amltk way" is the three blocks done
as amltk 1.10 does them (time.time() and a new psutil.Process() at each boundary), for scale.
"""

BENCH_HELP = """\
Time fasttrial's per-trial operations on this machine next to a pure-Python reference that
does what amltk 1.10 does (time.time() and a new psutil.Process() at each interval
boundary), amltk itself when it is importable, and an empty context manager (floor), all in
the same run, interleaved. Prints the median time per call of each and the ratios to
fasttrial's. Operations: trial-full = Trial(...) + an empty begin() block + success();
begin = an empty begin() block; profile = an empty profile() block; report-df = report.df()
(not with --quick). Then prints each operation's time over its floor, the cheapest code
doing the same unavoidable work (one interval's clock, memory and peak readings; for
history-add, the same row appended to typed buffers), next to the budget the CI guard
allows. What cannot be measured here (no /proc) is named, and the rest is printed.
"""

SHOW_HELP = """\
Summarize a saved history (a journal, Parquet or CSV, e.g. the demo's history.journal or
history.parquet; a directory holding one *history* file works too, a journal first): status
counts, the best report of each metric, the incumbent trace (best so far, by end time), time
and memory totals. Also writes a PNG of the incumbent trace over time (needs matplotlib: pip
install "fasttrial[plot]"; without it the summary is still printed).
"""


def build_parser() -> argparse.ArgumentParser:
    from fasttrial._version import __version__

    parser = _Parser(
        prog="fasttrial",
        description="fasttrial: amltk's Trial/Report/Metric/History API with a compiled "
        "profiling core.",
    )
    parser.add_argument("--version", action="version", version=f"fasttrial {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{demo,bench,show}", parser_class=_Parser)

    demo = sub.add_parser(
        "demo",
        help="run a profiled random-search HPO loop and save its history",
        description=DEMO_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("--trials", type=_trials, default=2000, metavar="N", help="(2000)")
    demo.add_argument(
        "--out",
        type=Path,
        default=Path("fasttrial-demo"),
        metavar="DIR",
        help="where history.journal and history.parquet go (./fasttrial-demo)",
    )
    demo.add_argument("--seed", type=_seed, default=0, metavar="S", help="(0)")
    demo.add_argument("--no-progress", action="store_true", help="no progress bar")
    demo.add_argument(
        "--workers",
        type=_trials,
        metavar="N",
        help="run the trials on N worker processes (fasttrial.optimize); rerun with the "
        "same --out to resume a killed run",
    )
    demo.add_argument(
        "--optimizer",
        choices=("random", "optuna", "smac"),
        default="random",
        help="random (fasttrial's RandomSearch, the default), optuna or smac (the library "
        "must be installed: pip install 'fasttrial[optuna]' / 'fasttrial[smac]')",
    )

    bench = sub.add_parser(
        "bench",
        help="time fasttrial's per-trial operations next to the amltk way",
        description=BENCH_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bench.add_argument("--quick", action="store_true", help="fewer repeats, under a minute")
    bench.add_argument("--json", type=Path, metavar="FILE", help="also write the results here")

    show = sub.add_parser(
        "show",
        help="summarize a saved history and plot its incumbent trace",
        description=SHOW_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    show.add_argument(
        "path", type=Path, metavar="PATH", help="a .journal, .parquet or .csv history"
    )
    show.add_argument(
        "--png",
        type=Path,
        metavar="FILE",
        help="where the plot goes (default: next to PATH, <name>-incumbents.png)",
    )
    show.add_argument("--no-png", action="store_true", help="do not write the plot")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        if args.command == "demo":
            from fasttrial.cli.demo import run

        elif args.command == "bench":
            from fasttrial.cli.bench import run
        else:
            from fasttrial.cli.show import run
        return run(args)
    except CLIError as error:
        print(f"fasttrial {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"fasttrial {args.command}: interrupted", file=sys.stderr)
        return 130


def console() -> Any:
    from rich.console import Console

    return Console(highlight=False)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
