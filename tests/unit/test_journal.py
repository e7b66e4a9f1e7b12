"""Tests of ``History.open(path)``: the crash-safe journal (docs/journal.md).

Real files and real processes: a child adding reports is SIGKILLed at random moments and
every acknowledged report must come back exactly once; files are cut at random byte offsets
and have bytes flipped; a second writer, a dead writer's lock and a full disk (EFBIG through
``RLIMIT_FSIZE`` in a child) are tried for real.  Every wait on a child has a timeout.
"""

from __future__ import annotations

import json
import os
import random
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from fasttrial.optimization import History, Metric, Trial
from fasttrial.optimization.journal import (
    FILE_HEADER,
    RECORD_HEADER_SIZE,
    JournalError,
    JournalLockedError,
    _scan,
)

try:
    from . import _journal_child as child_mod
    from .test_history_files import assert_same_frame, random_history, rich_reports
except ImportError:
    import _journal_child as child_mod  # type: ignore[no-redef]
    from test_history_files import (  # type: ignore[no-redef]
        assert_same_frame,
        random_history,
        rich_reports,
    )

CHILD = str(Path(child_mod.__file__).resolve())
LOSS = Metric("loss", minimize=True)
TIMEOUT = 30.0  # seconds any single wait on a child may take


# ------------------------------------------------------------------------------ helpers
def journal_of(reports: list[Trial.Report], path: str | os.PathLike[str]) -> History:
    """A journal at ``path`` holding ``reports``, closed; returns the in-memory twin."""
    with History.open(path) as h:
        for r in reports:
            h.add(r)
    return History(reports)


def record_ends(path: str | os.PathLike[str]) -> list[int]:
    """Byte offsets where each whole record of the journal ends."""
    data = Path(path).read_bytes()
    return [stop for _, _, stop in _scan(data, str(path)).records]


def spawn(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, CHILD, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
    )


class Lines:
    """The child's stdout read line by line straight from its pipe (no Python buffer
    between, so what ``select`` sees is all there is), every wait bounded."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self.proc = proc
        self.fd = proc.stdout.fileno()
        self.buf = b""
        self.eof = False

    def _fill(self, timeout: float) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.fd, selectors.EVENT_READ)
        try:
            if not sel.select(timeout):
                self.proc.kill()
                self.proc.wait(TIMEOUT)
                pytest.fail(f"child {self.proc.args} sent nothing for {timeout} s")
        finally:
            sel.close()
        chunk = os.read(self.fd, 65536)
        self.buf += chunk
        self.eof = not chunk

    def line(self, timeout: float = TIMEOUT) -> str:
        while b"\n" not in self.buf and not self.eof:
            self._fill(timeout)
        head, _, self.buf = self.buf.partition(b"\n")
        return head.decode()

    def rest(self, timeout: float = TIMEOUT) -> list[str]:
        while not self.eof:
            self._fill(timeout)
        out = self.buf.decode().splitlines()
        self.buf = b""
        return out


def read_line(proc: subprocess.Popen[bytes], timeout: float = TIMEOUT) -> str:
    return Lines(proc).line(timeout)


def finish(proc: subprocess.Popen[bytes]) -> tuple[str, str]:
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate(timeout=TIMEOUT)
        pytest.fail(f"child {proc.args} did not finish in {TIMEOUT} s: {err!r}")
    return out.decode(), err.decode()


def ran(name: str, loss: float = 0.5, config: dict[str, Any] | None = None) -> Trial.Report:
    trial: Trial[Any] = Trial(name=name, config=config or {"x": 1}, metrics=[LOSS])
    with trial.begin():
        pass
    return trial.success(loss=loss)


# ------------------------------------------------------------------- round trips
@pytest.mark.parametrize("compact", [False, True])
def test_reopen_is_the_same_history(tmp_path: Path, compact: bool) -> None:
    reports = rich_reports()
    path = tmp_path / "h.journal"
    h = journal_of(reports, path)
    if compact:
        with History.open(path) as w:
            w.compact()
    back = History.open(path, mode="r")
    assert_same_frame(back, h)
    pd.testing.assert_frame_equal(back.df(), h.df(), check_exact=True)
    assert back.metrics == h.metrics
    assert [r.name for r in back] == [r.name for r in h]
    assert back.best("loss").name == h.best("loss").name
    assert [r.name for r in back.incumbents("acc")] == [r.name for r in h.incumbents("acc")]
    assert [r.name for r in back.sortby("err")] == [r.name for r in h.sortby("err")]
    assert [r.name for r in back.pareto_front()] == [r.name for r in h.pareto_front()]
    assert back.find("trial_3").values == h.find("trial_3").values


@pytest.mark.parametrize("seed", range(12))
def test_random_histories_round_trip(tmp_path: Path, seed: int) -> None:
    h = random_history(seed)
    reports = list(h)
    path = tmp_path / "h.journal"
    rng = random.Random(seed)
    # Adds in batches of random sizes, a compaction somewhere, more adds after a reopen.
    cut = rng.randint(0, len(reports))
    with History.open(path) as w:
        i = 0
        while i < cut:
            k = rng.randint(1, 4)
            w.add(reports[i : min(i + k, cut)])
            i = min(i + k, cut)
        if rng.random() < 0.5:
            w.compact()
    with History.open(path) as w:
        w.add(reports[cut:])
        assert_same_frame(w, h)
    assert_same_frame(History.open(path, mode="r"), h)
    assert History.open(path, mode="r").metrics == h.metrics


def test_compact_then_more_layouts(tmp_path: Path) -> None:
    path = tmp_path / "h.journal"
    first = [ran(f"a{i}", i / 3) for i in range(5)]
    later = [ran(f"b{i}", 1.0, {"x": "text", "y": i}) for i in range(3)]
    last = ran("c", 2.0, {"z": None})
    with History.open(path) as w:
        w.add(first)
        w.compact()
        w.add(later)
        w.compact()
        w.add(last)
    assert_same_frame(History.open(path, mode="r"), History([*first, *later, last]))


def test_close_twice_add_after_close_and_context_manager(tmp_path: Path) -> None:
    path = tmp_path / "h.journal"
    with History.open(path) as h:
        h.add(ran("a"))
        assert h.journal is not None and not h.journal.closed
    assert h.journal is not None and h.journal.closed
    h.close()
    h.close()
    with pytest.raises(ValueError, match="closed"):
        h.add(ran("b"))
    assert len(h) == 1
    assert History().journal is None
    History().close()  # an in-memory history has nothing to close


def test_read_only_open_cannot_add(tmp_path: Path) -> None:
    path = tmp_path / "h.journal"
    journal_of([ran("a")], path)
    before = path.read_bytes()
    r = History.open(path, mode="r")
    with pytest.raises(ValueError, match="read-only"):
        r.add(ran("b"))
    assert len(r) == 1 and path.read_bytes() == before


def test_failed_add_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "h.journal"
    h = History.open(path)
    h.add(ran("a"))
    size = path.stat().st_size
    frame = h.df()
    bad = ran("bad", config={"obj": object()})
    with pytest.raises(TypeError, match="cannot store a value of type object"):
        h.add([ran("ok-but-in-bad-batch"), bad])
    assert len(h) == 1 and path.stat().st_size == size
    pd.testing.assert_frame_equal(h.df(), frame, check_exact=True)
    h.add(ran("b", config={"x": 2, "new": "key"}))  # the table still takes new keys
    h.close()
    assert [r.name for r in History.open(path, mode="r")] == ["a", "b"]


# --------------------------------------------------------------------- torn tails
def test_cut_at_every_kind_of_offset(tmp_path: Path) -> None:
    src = tmp_path / "src.journal"
    reports = [ran(f"t{i}", i / 4, {"x": i, "k": "ab"[i % 2]}) for i in range(12)]
    journal_of(reports, src)
    data = src.read_bytes()
    ends = record_ends(src)
    rng = random.Random(9)
    offsets = sorted({*rng.sample(range(len(data) + 1), 60), 0, 5, 16, 17, 27, 28, len(data)})
    after = ran("after", 9.0, {"x": -1, "k": "c", "new": True})
    for cut in offsets:
        path = tmp_path / f"cut{cut}.journal"
        path.write_bytes(data[:cut])
        whole = sum(1 for e in ends if e <= cut)
        r = History.open(path, mode="r")  # a reader leaves the file alone
        assert path.stat().st_size == cut
        with History.open(path) as w:
            kept = len(w)
            assert w.journal is not None
            # Rows kept = rows among the whole records (layout records come first).
            assert kept == len(r)
            assert [x.name for x in w] == [x.name for x in reports[:kept]]
            w.add(after)
        assert kept >= whole - 2  # at most the torn record and an unused layout are lost
        back = History.open(path, mode="r")
        assert [x.name for x in back] == [*(x.name for x in reports[:kept]), "after"]
        assert_same_frame(back, History([*reports[:kept], after]))


def test_zero_filled_tail_is_torn(tmp_path: Path) -> None:
    path = tmp_path / "h.journal"
    journal_of([ran("a"), ran("b")], path)
    size = path.stat().st_size
    with path.open("ab") as f:
        f.write(b"\0" * 4096)
    with History.open(path) as w:
        assert [x.name for x in w] == ["a", "b"]
        assert w.journal is not None and w.journal.truncated == 4096
    assert path.stat().st_size == size


# ------------------------------------------------------------------ damage in the middle
def test_flipped_bytes_are_found_and_repaired(tmp_path: Path) -> None:
    src = tmp_path / "src.journal"
    reports = [ran(f"t{i}", i / 4) for i in range(20)]
    journal_of(reports, src)
    data = src.read_bytes()
    ends = record_ends(src)
    rng = random.Random(3)
    for pos in rng.sample(range(FILE_HEADER.size, ends[-2]), 25):
        flipped = bytearray(data)
        flipped[pos] ^= 1 << rng.randrange(8)
        path = tmp_path / f"flip{pos}.journal"
        path.write_bytes(bytes(flipped))
        start = max([FILE_HEADER.size, *(e for e in ends if e <= pos)])
        with pytest.raises(JournalError) as info:
            History.open(path)
        assert info.value.offset == start
        assert f"byte offset {start}" in str(info.value) and str(path) in str(info.value)
        assert path.read_bytes() == bytes(flipped)  # nothing changed by the failed open
        # Read-only repair: the intact prefix, the file untouched.
        ro = History.open(path, mode="r", repair=True)
        assert path.read_bytes() == bytes(flipped)
        keep = [x.name for x in ro]
        assert keep == [x.name for x in reports[: len(keep)]]
        assert len(keep) == max(0, sum(1 for e in ends if e <= start) - 1)
        with History.open(path, repair=True) as w:
            assert [x.name for x in w] == keep
            assert w.journal is not None and w.journal.repaired is not None
            offset, nbytes, saved = w.journal.repaired
            assert (offset, nbytes) == (start, len(data) - start)
            assert saved is not None and Path(saved).read_bytes() == bytes(flipped[start:])
            w.add(ran("after"))
        assert [x.name for x in History.open(path, mode="r")] == [*keep, "after"]


def test_bad_last_record_is_an_error_not_a_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "h.journal"
    journal_of([ran("a"), ran("b")], path)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # a whole record whose checksum is wrong: damage, never dropped silently
    path.write_bytes(bytes(data))
    with pytest.raises(JournalError, match="CRC-32"):
        History.open(path)


# ----------------------------------------------------------------------- bad paths
def test_bad_paths(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError, match=str(tmp_path)):
        History.open(tmp_path)
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not a journal\n" * 3)
    with pytest.raises(JournalError, match="not a fasttrial journal") as info:
        History.open(text)
    assert str(text) in str(info.value)
    assert text.read_text().startswith("hello")
    short = tmp_path / "short"
    short.write_bytes(b"PK\x03")
    with pytest.raises(JournalError, match="not a fasttrial journal"):
        History.open(short, mode="r")
    with pytest.raises(FileNotFoundError):
        History.open(tmp_path / "missing.journal", mode="r")
    with pytest.raises(ValueError, match="durability"):
        History.open(tmp_path / "x.journal", durability="often")  # type: ignore[arg-type]


def test_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "h.journal"
    journal_of([ran("a")], path)
    data = bytearray(path.read_bytes())
    data[8:12] = (99).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(JournalError, match="format version 99") as info:
        History.open(path)
    assert str(path) in str(info.value)
    assert path.read_bytes() == bytes(data)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_permission_error_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "h.journal"
    journal_of([ran("a")], path)
    path.chmod(0o444)
    with pytest.raises(PermissionError, match=str(path)):
        History.open(path)
    assert [x.name for x in History.open(path, mode="r")] == ["a"]


def test_torn_header_of_new_file(tmp_path: Path) -> None:
    path = tmp_path / "h.journal"
    path.write_bytes(FILE_HEADER.pack(b"\x89FTJRNL\n", 1, 0)[:11])
    assert len(History.open(path, mode="r")) == 0
    with History.open(path) as w:
        w.add(ran("a"))
    assert [x.name for x in History.open(path, mode="r")] == ["a"]


def test_fsync_durability(tmp_path: Path) -> None:
    path = tmp_path / "h.journal"
    with History.open(path, durability="fsync") as w:
        w.add(ran("a"))
        assert w.journal is not None and w.journal.durability == "fsync"
        w.journal.flush()
    assert [x.name for x in History.open(path, mode="r")] == ["a"]


# ------------------------------------------------------------------------ processes
@pytest.mark.slow
def test_sigkill_at_random_moments_loses_no_acknowledged_report(tmp_path: Path) -> None:
    path = tmp_path / "h.journal"
    rng = random.Random(2024)
    acked: list[str] = []
    start = 0
    for _ in range(6):
        proc = spawn("add", str(path), str(start), "100000")
        lines = Lines(proc)
        deadline = time.monotonic() + rng.uniform(0.05, 0.6)
        line = lines.line()  # at least one ack (the child is up), then run for a while
        while True:
            assert line.startswith("ack "), line
            acked.append(line.split()[1])
            if time.monotonic() > deadline:
                break
            line = lines.line()
        os.kill(proc.pid, signal.SIGKILL)
        acked.extend(x.split()[1] for x in lines.rest() if x.startswith("ack "))
        finish(proc)
        back = History.open(path, mode="r")
        names = [r.name for r in back]
        # Every acknowledged report, once, in order; at most one more (added, not acked).
        assert names[: len(acked)] == acked
        assert len(names) - len(acked) in (0, 1)
        assert len(set(names)) == len(names)
        if len(names) > len(acked):
            acked.append(names[-1])
        start = len(names)
        expect = History([child_mod.report(i) for i in range(start)])
        pd.testing.assert_frame_equal(
            back.df(profiles=False), expect.df(profiles=False), check_exact=True
        )
    # The journal continues after all of that.
    proc = spawn("add", str(path), str(start), "3")
    out, err = finish(proc)
    assert out.splitlines()[-1] == "done", err
    assert [r.name for r in History.open(path, mode="r")] == [f"r{i}" for i in range(start + 3)]


def test_second_writer_is_refused_with_the_holder_pid(tmp_path: Path) -> None:
    path = tmp_path / "h.journal"
    journal_of([ran("a")], path)
    proc = spawn("hold", str(path))
    try:
        line = read_line(proc)
        assert line.startswith("held "), line
        pid = int(line.split()[1])
        with pytest.raises(JournalLockedError, match=f"process {pid}") as info:
            History.open(path)
        assert info.value.pid == pid
        assert [x.name for x in History.open(path, mode="r")] == ["a"]  # readers need no lock
    finally:
        finish(proc)  # closes its stdin: the child closes the journal and leaves
    with History.open(path) as w:  # released by close()
        w.add(ran("b"))


def test_second_writer_in_the_same_process(tmp_path: Path) -> None:
    path = tmp_path / "h.journal"
    with History.open(path) as w:
        with pytest.raises(JournalLockedError, match=f"process {os.getpid()}"):
            History.open(path)
        w.add(ran("a"))
    assert len(History.open(path, mode="r")) == 1


def test_dead_writers_lock_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "h.journal"
    proc = spawn("hold", str(path))
    line = read_line(proc)
    assert line.startswith("held ")
    os.kill(proc.pid, signal.SIGKILL)
    finish(proc)
    assert Path(str(path) + ".lock").read_text().split()[0] == str(proc.pid)  # left behind
    t0 = time.monotonic()
    with History.open(path) as w:
        w.add(ran("a"))
    assert time.monotonic() - t0 < TIMEOUT
    assert [x.name for x in History.open(path, mode="r")] == ["a"]


def test_efbig_leaves_history_and_file_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "h.journal"
    limit = 6000
    out, err = finish(spawn("efbig", str(path), str(limit)))
    lines = out.splitlines()
    acked = [x.split()[1] for x in lines if x.startswith("ack ")]
    failed = [x for x in lines if x.startswith("failed ")]
    assert failed, err
    _, code, length, size, *message = failed[0].split()
    assert int(code) == 27  # EFBIG
    assert int(length) == len(acked) > 0
    assert int(size) <= limit
    assert str(path) in " ".join(message) and "intact" in " ".join(message)
    back = History.open(path, mode="r")
    assert [x.name for x in back] == acked
    assert record_ends(path)[-1] == path.stat().st_size  # no partial record left
    with History.open(path) as w:
        w.add(child_mod.report(len(acked)))
    assert len(History.open(path, mode="r")) == len(acked) + 1


def test_interpreter_exit_without_close_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "h.journal"
    _, err = finish(spawn("exit", str(path), "25"))
    assert err == ""
    back = History.open(path)  # and the lock was released with the process
    assert [x.name for x in back] == [f"r{i}" for i in range(25)]
    expect = History([child_mod.report(i) for i in range(25)])
    pd.testing.assert_frame_equal(
        back.df(profiles=False), expect.df(profiles=False), check_exact=True
    )
    back.close()


def test_journal_written_here_read_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "h.journal"
    reports = [child_mod.report(i) for i in range(30)]
    with History.open(path) as w:
        w.add(reports[:10])
        w.add(reports[10:])
        out, err = finish(spawn("dump", str(path)))  # read while this process holds it
    rows = [json.loads(x) for x in out.splitlines()]
    assert rows == [[r.name, r.status.value, r.values] for r in reports], err


# ------------------------------------------------------------------- asked / pending
def asked_trial(i: int) -> Trial[Any]:
    return Trial(
        name=f"q{i}",
        config={"lr": 0.1 * i, "depth": i, "big": 2**70 + i, "opt": ["sgd", None]},
        metrics=[LOSS, Metric("acc", minimize=False, bounds=(0.0, 1.0))],
        seed=i if i % 2 else None,
        fidelities={"epochs": 3 * i} if i % 3 else None,
        bucket=f"buckets/b{i}" if i == 2 else None,
    )


def test_pending_tracks_asked_trials_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "h.journal"
    trials = [asked_trial(i) for i in range(5)]
    with History.open(path) as h:
        assert h.journal is not None
        assert h.journal.pending() == {}
        h.journal.record_asked(trials[:3])
        h.journal.record_asked(iter(trials[3:]))
        assert list(h.journal.pending()) == ["q0", "q1", "q2", "q3", "q4"]
        assert h.journal.pending()["q1"] is trials[1]
        for t in (trials[1], trials[3]):
            with t.begin():
                pass
            h.add(t.success(loss=1.0, acc=0.5))
        assert list(h.journal.pending()) == ["q0", "q2", "q4"]
    with History.open(path) as h:
        assert h.journal is not None
        pending = h.journal.pending()
        assert list(pending) == ["q0", "q2", "q4"]
        for name, t in pending.items():
            src = trials[int(name[1:])]
            assert t.name == src.name
            assert t.config == src.config
            assert t.seed == src.seed
            assert t.fidelities == src.fidelities
            assert t.metrics == src.metrics
        assert str(pending["q2"].bucket.path) == "buckets/b2"
        t = pending["q4"]
        with t.begin():
            pass
        h.add(t.fail())
        h.compact()  # the pending asks survive a compaction
        assert list(h.journal.pending()) == ["q0", "q2"]
    with History.open(path) as h:
        assert h.journal is not None
        assert list(h.journal.pending()) == ["q0", "q2"]
        h.journal.record_asked([trials[0]])  # asked again: moves to the end
        assert list(h.journal.pending()) == ["q2", "q0"]
        assert [r.name for r in h] == ["q1", "q3", "q4"]
    assert list(History.open(path, mode="r").journal.pending()) == ["q2", "q0"]  # type: ignore[union-attr]


def test_record_asked_errors(tmp_path: Path) -> None:
    path = tmp_path / "h.journal"
    h = History.open(path)
    assert h.journal is not None
    size = path.stat().st_size
    with pytest.raises(TypeError, match="takes Trials"):
        h.journal.record_asked([asked_trial(0), "q9"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="cannot store"):
        h.journal.record_asked([Trial(name="o", config={"f": object()})])
    assert path.stat().st_size == size and h.journal.pending() == {}
    h.journal.record_asked([])
    h.close()
    with pytest.raises(ValueError, match="closed"):
        h.journal.record_asked([asked_trial(1)])


def test_asked_record_is_torn_like_any_other(tmp_path: Path) -> None:
    path = tmp_path / "h.journal"
    with History.open(path) as h:
        assert h.journal is not None
        h.journal.record_asked([asked_trial(0), asked_trial(1)])
    data = path.read_bytes()
    path.write_bytes(data[: record_ends(path)[-1] - RECORD_HEADER_SIZE // 2])
    with History.open(path) as h:
        assert h.journal is not None
        assert list(h.journal.pending()) == ["q0"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_cannot_write_the_parents_journal(tmp_path: Path) -> None:
    path = tmp_path / "h.journal"
    with History.open(path) as h:
        h.add(ran("a"))
        pid = os.fork()
        if pid == 0:  # the child: refused, and the parent's journal is untouched
            code = 3
            try:
                h.add(ran("from-child"))
            except RuntimeError as error:
                code = 0 if "forked process" in str(error) else 4
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        h.add(ran("b"))
    assert [x.name for x in History.open(path, mode="r")] == ["a", "b"]
