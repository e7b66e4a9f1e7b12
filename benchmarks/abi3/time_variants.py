"""Time ``begin()`` and ``Trial()+begin()+success()`` of two builds of fasttrial in ONE process.

    python benchmarks/abi3/time_variants.py NAME=SITE_PACKAGES NAME=SITE_PACKAGES \\
        [--repeats 201] [--batch-seconds 0.004]

Each SITE_PACKAGES is the site-packages directory of an environment of this same Python with
one build installed (e.g. the per-version wheel and the abi3 wheel of build_variants.sh).
Each build's fasttrial is imported in turn (the previous copy is taken out of
``sys.modules`` first; its objects keep working, and each copy's compiled core is a separate
shared library, checked by path), then the four functions (two operations x two builds) are
timed with ``fasttrial._bench.interleaved_samples``: batches of ~4 ms, one batch of each
function per round, the order alternating between rounds. Separate processes do not work on
this machine: a process's speed is bimodal (x2, whichever core and neighbour it gets), so
two processes compare the machine's moods, not the builds.

Printed: per build and operation the median seconds per call, and the median over rounds of
the per-round ratio to the first build, with its quartiles.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _load(site: str) -> tuple[dict[str, Callable[[], Any]], str]:
    for name in [m for m in sys.modules if m == "fasttrial" or m.startswith("fasttrial.")]:
        del sys.modules[name]
    sys.path.insert(0, site)
    try:
        import fasttrial._core as core
        from fasttrial import _bench

        ops = _bench.operations(_bench.load_impl("fasttrial"))
    finally:
        sys.path.remove(site)
    where = str(Path(core.__file__).resolve())
    assert where.startswith(str(Path(site).resolve())), (where, site)
    return {"begin": ops["begin"], "trial-full": ops["trial-full"]}, where


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("builds", nargs=2, metavar="NAME=SITE_PACKAGES")
    ap.add_argument("--repeats", type=int, default=201, help="batches per function")
    ap.add_argument("--batch-seconds", type=float, default=0.004)
    args = ap.parse_args()
    builds = dict(b.split("=", 1) for b in args.builds)
    names = list(builds)
    fns: dict[str, Callable[[], Any]] = {}
    for name, site in builds.items():
        ops, where = _load(site)
        print(f"{name}: {where}")
        for op, fn in ops.items():
            fns[f"{op}/{name}"] = fn
    from fasttrial import _bench  # the last copy's; the timing helpers are plain Python

    with _bench.in_temporary_directory():
        samples = _bench.interleaved_samples(
            fns, repeats=args.repeats, batch_seconds=args.batch_seconds
        )
    base = names[0]
    for op in ("begin", "trial-full"):
        line = [f"{op:>10}:"]
        for name in names:
            line.append(f"{name} {statistics.median(samples[f'{op}/{name}']) * 1e9:7.1f} ns")
        for name in names[1:]:
            ratios = [
                a / b for a, b in zip(samples[f"{op}/{name}"], samples[f"{op}/{base}"], strict=True)
            ]
            q1, med, q3 = statistics.quantiles(ratios, n=4)
            line.append(
                f"{name}/{base} {med:.3f} (median of {len(ratios)} per-round ratios,"
                f" quartiles {q1:.3f}-{q3:.3f})"
            )
        print("  ".join(line))


if __name__ == "__main__":
    main()
