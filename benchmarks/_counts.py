"""Counts per operation that do not depend on the machine's load: system calls (strace) and
user-space instructions (valgrind's callgrind).

Run as a script, this runs each named operation of ``fasttrial._bench.guard_pairs()`` (and
the floors, ``floor-interval`` and ``floor-row``) in two phases of ``N`` and ``2N`` calls,
after a warm-up, with one ``os.getppid()`` call as a marker before each phase and one at
the end::

    python benchmarks/_counts.py N begin profile ...

Under ``strace -f -o FILE`` the system calls between two markers are one phase's; under
``valgrind --tool=callgrind --dump-before=getppid`` each marker writes the instruction count
since the previous one to a new file.  What a phase of ``2N`` calls costs beyond the phase
of ``N`` calls, over ``N``, is the cost of one call: the markers and the loop cancel.

With the environment variable ``FASTTRIAL_SLOWDOWN_ACTIVE=1`` (set by the
``benchmarks._slowdown`` plugin for the processes a test starts), the same slowdown is
installed first, so a slowed-down run is also slower here.
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FLOOR_OPS = ("floor-interval", "floor-row")
# Memory management the allocator does now and then as buffers grow: allowed in small
# amortized amounts (the budgets below say how much), never per call.
MEMORY_SYSCALLS = frozenset({"brk", "mmap", "munmap", "mremap", "madvise"})
_SYSCALL = re.compile(r"^(?:\d+\s+)?([a-z_0-9]+)\(")
_MARKER = re.compile(r"^(?:\d+\s+)?getppid\(")


def _callables(names: list[str]) -> dict[str, tuple[Callable[[], Any], Callable[[], None] | None]]:
    from fasttrial._bench import guard_pairs

    pairs = guard_pairs()
    out: dict[str, tuple[Callable[[], Any], Callable[[], None] | None]] = {}
    for name in names:
        if name == "floor-interval":
            floor = pairs["begin"].floor
            if floor is None:
                raise SystemExit(f"no interval floor here: {pairs['begin'].floor_error}")
            out[name] = (floor, None)
        elif name == "floor-row":
            pair = pairs["history-add"]
            assert pair.floor is not None
            out[name] = (pair.floor, pair.reset)
        else:
            out[name] = (pairs[name].op, pairs[name].reset)
    return out


def main(argv: list[str]) -> int:
    if os.environ.get("FASTTRIAL_SLOWDOWN_ACTIVE") == "1":
        sys.path.insert(0, str(HERE.parent))
        from benchmarks import _slowdown

        _slowdown.install()
    n = int(argv[0])
    with tempfile.TemporaryDirectory(prefix="fasttrial-counts-") as tmp:
        os.chdir(tmp)  # before the pairs are made: journal-append opens files here
        fns = _callables(argv[1:])
        for fn, reset in fns.values():
            if reset is not None:
                reset()
            for _ in range(50):  # warm-up: caches, plans, first buffers
                fn()
            os.getppid()
            for _ in range(n):
                fn()
            os.getppid()
            for _ in range(2 * n):
                fn()
            os.getppid()
        os.chdir("/")
    return 0


# -- the parent side: run the script under a tool, read the counts ---------------------------


def _command(n: int, ops: list[str]) -> list[str]:
    return [sys.executable, str(HERE / "_counts.py"), str(n), *ops]


def _small_parent(cmd: list[str]) -> list[str]:
    """``cmd`` started by a fork of a small shell, not straight from this process.

    On Linux the peak RSS a process reports is never below the peak of the image it
    replaced by exec() (see ext/platform/usage_linux.c): valgrind started straight from a
    big pytest would give its Python that floor, and the interval's peak check would read
    /proc/self/status at every end, in the operation and in its floor alike.  A shell that
    forks first starts the tool from its own small image, so the counts do not depend on
    who runs the guard.  (strace forks its child itself.)
    """
    return ["/bin/sh", "-c", '"$@"; exit $?', "sh", *cmd]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = "0"  # the same dict layouts in every run
    return env


def tool_missing(tool: str) -> str | None:
    """None if ``tool`` (strace, valgrind) can run here, else why not."""
    path = shutil.which(tool)
    if path is None:
        return f"{tool} is not installed (apt-get install {tool})"
    probe = [path, "-o", os.devnull, "true"] if tool == "strace" else [path, "-q", "true"]
    try:
        proc = subprocess.run(probe, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"{tool} cannot run: {error}"
    if proc.returncode != 0:
        return f"{tool} cannot run here: {proc.stderr.strip()[:300]}"
    return None


def _from_big_image(cmd: list[str], megabytes: int) -> list[str]:
    """``cmd`` exec'd by a Python that has first made ``megabytes`` MiB resident: the
    process then starts with that peak as its exec floor (see ``_small_parent``), as a
    worker started by a big parent does."""
    code = (
        f"import os, sys\nblock = b'x' * ({megabytes} << 20)\nos.execv(sys.argv[1], sys.argv[1:])\n"
    )
    return [sys.executable, "-c", code, *cmd]


def syscalls_per_call(
    ops: list[str], n: int = 200, timeout: float = 120, big_parent_mb: int = 0
) -> dict[str, dict[str, float]]:
    """``{op: {syscall: calls per op}}`` from one run under ``strace -f`` (of a process
    exec'd by a ``big_parent_mb`` MiB one, if given)."""
    with tempfile.TemporaryDirectory(prefix="fasttrial-strace-") as tmp:
        out = Path(tmp) / "trace"
        target = _command(n, ops)
        if big_parent_mb:
            target = _from_big_image(target, big_parent_mb)
        cmd = ["strace", "-f", "-qq", "-o", str(out), *target]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env())
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout}{proc.stderr}")
        lines = out.read_text().splitlines()
    marks = [i for i, line in enumerate(lines) if _MARKER.match(line)]
    if len(marks) != 3 * len(ops):
        raise RuntimeError(f"expected {3 * len(ops)} markers in the trace, found {len(marks)}")

    def phase(a: int, b: int) -> collections.Counter[str]:
        names = (_SYSCALL.match(line) for line in lines[marks[a] + 1 : marks[b]])
        return collections.Counter(m.group(1) for m in names if m)

    result: dict[str, dict[str, float]] = {}
    for k, op in enumerate(ops):
        once, twice = phase(3 * k, 3 * k + 1), phase(3 * k + 1, 3 * k + 2)
        result[op] = {
            name: (twice[name] - once[name]) / n
            for name in sorted(set(once) | set(twice))
            if twice[name] != once[name]
        }
    return result


_SUMMARY = re.compile(r"^summary:\s+(\d+)", re.M)


def instructions_per_call(ops: list[str], n: int = 1000, timeout: float = 240) -> dict[str, float]:
    """``{op: user-space instructions per op}`` from one run under callgrind."""
    with tempfile.TemporaryDirectory(prefix="fasttrial-callgrind-") as tmp:
        base = Path(tmp) / "cg.out"
        cmd = [
            "valgrind",
            "--tool=callgrind",
            "--dump-before=getppid",
            "--dump-instr=no",
            "--compress-strings=no",
            f"--callgrind-out-file={base}",
            *_command(n, ops),
        ]
        proc = subprocess.run(
            _small_parent(cmd), capture_output=True, text=True, timeout=timeout, env=_env()
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout}{proc.stderr[-3000:]}")
        parts = []
        k = 1
        while (base.parent / f"cg.out.{k}").exists():
            text = (base.parent / f"cg.out.{k}").read_text(errors="replace")
            found = _SUMMARY.search(text)
            if found is None:
                raise RuntimeError(f"no summary line in callgrind's dump {k}")
            parts.append(int(found.group(1)))
            k += 1
    # dump k is what ran before marker k: per operation, its warm-up (and the startup, or
    # the previous operation's end), its N calls, its 2N calls.
    if len(parts) != 3 * len(ops):
        raise RuntimeError(f"expected {3 * len(ops)} callgrind dumps, found {len(parts)}")
    return {op: (parts[3 * k + 2] - parts[3 * k + 1]) / n for k, op in enumerate(ops)}


if __name__ == "__main__":
    t0 = time.perf_counter()
    code = main(sys.argv[1:])
    sys.exit(code)
