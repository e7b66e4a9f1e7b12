"""The ``fasttrial`` command: demo, show and bench, run on real files in temporary directories.

Most tests call ``fasttrial.cli.main(argv)`` in this process; a few run the installed
command (``python -m fasttrial``) in a subprocess, to check exit statuses, that no traceback
is printed, and that importing the CLI stays light. No test asserts on timings.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from fasttrial.cli import main
from fasttrial.optimization import History, Metric, Trial

HAVE_MPL = importlib.util.find_spec("matplotlib") is not None
needs_mpl = pytest.mark.skipif(not HAVE_MPL, reason="matplotlib is not installed")


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    env.pop("COLUMNS", None)
    return subprocess.run(
        [sys.executable, "-m", "fasttrial", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One small demo, shared: its output directory and what it printed."""
    out = tmp_path_factory.mktemp("demo") / "run"
    result = run("demo", "--trials", "60", "--out", str(out), "--seed", "3", "--no-progress")
    assert result.returncode == 0, result.stderr
    return out, result.stdout


# ------------------------------------------------------------------------------------ demo
def test_demo_saves_a_parquet_history(demo_run: tuple[Path, str]) -> None:
    out, _ = demo_run
    files = sorted(p.name for p in out.iterdir())
    assert files == ["history.journal", "history.journal.lock", "history.parquet"]
    history = History.from_parquet(out / "history.parquet")
    journal = History.open(out / "history.journal", mode="r")
    pd.testing.assert_frame_equal(
        journal.df(normalize_time=False), history.df(normalize_time=False), check_exact=True
    )
    assert len(history) == 60
    assert set(history.metrics) == {"loss", "r2"}
    assert {str(r.status) for r in history} <= {"success", "fail"}
    successes = [r for r in history if str(r.status) == "success"]
    assert successes
    assert all(set(r.profiles) >= {"trial:fit", "trial:score"} for r in successes)


def test_killed_demo_keeps_its_trials_and_show_reads_them(tmp_path: Path) -> None:
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fasttrial",
            "demo",
            "--trials",
            "1000000",
            "--no-progress",
            "--out",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        journal = out / "history.journal"
        deadline = time.monotonic() + 60
        seen = 0
        while seen < 50:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the demo wrote too few trials in 60 s"
            time.sleep(0.2)
            if journal.exists():
                seen = len(History.open(journal, mode="r"))
    finally:
        proc.kill()
        proc.communicate(timeout=60)
    kept = History.open(journal, mode="r")
    assert len(kept) >= seen
    assert not (out / "history.parquet").exists()
    result = run("show", str(out), "--no-png")
    assert result.returncode == 0, result.stderr
    assert f"({len(kept)} trials)" in result.stdout  # the journal's, as no Parquet exists


def test_demo_prints_best_status_and_costs(demo_run: tuple[Path, str]) -> None:
    _, stdout = demo_run
    assert "status" in stdout
    assert "success=" in stdout
    assert "best config" in stdout
    assert "lr=" in stdout
    assert "of the loop's time" in stdout
    assert "profiling" in stdout
    assert "fasttrial show" in stdout


def test_demo_in_process_with_seed_is_reproducible(tmp_path: Path) -> None:
    histories = []
    for name in ("a", "b"):
        assert main(["demo", "--trials", "15", "--out", str(tmp_path / name), "--seed", "5"]) == 0
        histories.append(History.from_parquet(tmp_path / name / "history.parquet"))
    a, b = histories
    assert [r.config for r in a] == [r.config for r in b]
    assert [str(r.status) for r in a] == [str(r.status) for r in b]


def test_demo_sometimes_fails_trials() -> None:
    from fasttrial.cli import demo as _demo

    problem = _demo.Problem.make()
    search = _demo.RandomSearch(_demo.SPACE, metrics=_demo.METRICS, seed=0)
    history = _demo.run_loop(problem, search, 200)
    statuses = {str(r.status) for r in history}
    assert statuses == {"success", "fail"}
    failed = next(r for r in history if str(r.status) == "fail")
    assert "diverged" in str(failed.exception) or "overflow" in str(failed.exception)
    assert failed.metrics["loss"] == float("inf")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trials", "-5"], "argument --trials: must be at least 1, got -5"),
        (["--trials", "0"], "argument --trials: must be at least 1, got 0"),
        (["--trials", "many"], "argument --trials: must be a whole number, got 'many'"),
        (["--seed", "-1"], "argument --seed: must be at least 0, got -1"),
    ],
)
def test_demo_bad_arguments_one_line_no_traceback(
    args: list[str], message: str, tmp_path: Path
) -> None:
    result = run("demo", *args, "--out", str(tmp_path / "x"))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x").exists()


def test_demo_out_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    assert main(["demo", "--trials", "3", "--out", str(target)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"fasttrial demo: error: --out {target} exists and is not a directory"


# ------------------------------------------------------------------------------------ show
@needs_mpl
def test_show_prints_summary_and_writes_png(demo_run: tuple[Path, str], tmp_path: Path) -> None:
    out, _ = demo_run
    png = tmp_path / "trace.png"
    result = run("show", str(out / "history.parquet"), "--png", str(png))
    assert result.returncode == 0, result.stderr
    text = result.stdout
    for expected in ("60 trials", "status", "success=", "Best report per metric", "loss"):
        assert expected in text
    assert "Incumbent trace of loss" in text
    assert "inside begin() in total" in text
    assert "largest RSS" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {png}" in text.replace("\n", "")


def test_show_default_png_next_to_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fasttrial.cli import show as _show

    written: list[Path] = []

    def fake_plot(summary: object, path: Path) -> bool:  # matplotlib is tested above
        written.append(path)
        path.write_bytes(b"png")
        return True

    monkeypatch.setattr(_show, "plot_png", fake_plot)
    path = _small_history(tmp_path, "csv")
    assert main(["show", str(path)]) == 0
    assert written == [tmp_path / "h-history-incumbents.png"]
    assert "wrote" in capsys.readouterr().out


def test_show_reads_csv_and_directories(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # rich: no folding of the long path
    path = _small_history(tmp_path, "csv")
    assert main(["show", str(tmp_path), "--no-png"]) == 0
    text = capsys.readouterr().out
    assert str(path) in text
    assert "4 trials" in text
    assert "fail=1" in text
    assert "success=3" in text
    assert "t-2" in text  # the best
    assert not list(tmp_path.glob("*.png"))


def test_show_without_matplotlib_still_prints_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _small_history(tmp_path, "parquet")
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)  # makes the import fail
    assert main(["show", str(path)]) == 0
    captured = capsys.readouterr()
    assert "Best report per metric" in captured.out
    assert captured.err.strip() == (
        "fasttrial show: no plot written: matplotlib is not installed "
        '(pip install "fasttrial[plot]")'
    )
    assert not list(tmp_path.glob("*.png"))


def test_show_history_without_successes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trial = Trial(name="only", config={"x": 1}, metrics=[Metric("loss")])
    with trial.begin():
        raise RuntimeError("boom")
    path = tmp_path / "history.parquet"
    History([trial.fail()]).to_parquet(path)
    assert main(["show", str(path), "--no-png"]) == 0
    assert "no successful report" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.parquet", "no such file: {p}"),
        (lambda d: _write(d / "history.parquet", b"not parquet"), "cannot read {p} as a Parquet"),
        (lambda d: _write(d / "history.csv", b"a,b\n1,2\n"), "{p} as a CSV history: {p} has no"),
        (lambda d: _write(d / "history.csv", b"\xff\xfe\x00"), "cannot read {p} as a CSV history"),
        (lambda d: _write(d / "history.txt", b"x"), "cannot tell the format of {p}"),
        (lambda d: d, "no history files"),
    ],
)
def test_show_bad_files_one_line_no_traceback(tmp_path: Path, make: object, message: str) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    result = run("show", str(path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("fasttrial show: error: ")
    assert message.format(p=path) in lines[0]
    assert "Traceback" not in result.stderr


def test_show_unreadable_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fasttrial.optimization import _files

    path = _small_history(tmp_path, "parquet")

    def denied(*_: object) -> list[str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(_files, "read_parquet", denied)  # (chmod 0 does not stop root)
    assert main(["show", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"fasttrial show: error: cannot read {path} as a Parquet history: "
        "[Errno 13] Permission denied"
    )


# ----------------------------------------------------------------------------------- bench
def test_bench_quick_prints_a_table_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = run("bench", "--quick", "--json", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for expected in ("trial-full", "begin", "profile", "fasttrial", "reference", "ref/ft"):
        assert expected in result.stdout
    doc = json.loads(out.read_text())
    assert doc["quick"] is True
    assert set(doc["medians"]) == {"trial-full", "begin", "profile"}
    for row in doc["medians"].values():
        assert row["fasttrial"] > 0
        assert row["reference"] > 0
        assert row["floor"] > 0
    assert doc["ratios_to_fasttrial"]["begin"]["reference"] > 0
    assert list(tmp_path.iterdir()) == [out]  # amltk's bucket folder would go to a temp dir
    # The ratios to the floor, with the CI guard's budgets.
    assert "time over the floor" in result.stdout
    assert set(doc["floor_ratios"]) == {
        "begin",
        "profile",
        "trial-full",
        "history-add",
        "journal-append",
    }
    for op, row in doc["floor_ratios"].items():
        assert row["fasttrial"] > 0 and row["floor"] > 0, op
        assert row["ratio"] == pytest.approx(row["ratio"])  # a number, not NaN
        assert row["ratio"] > 0.5, op  # fasttrial does at least about the floor's work
        assert row["budget"] > 1
    assert doc["floor_errors"] == {}
    assert doc["not_measured"] == {}


def test_bench_says_which_floor_it_cannot_measure_and_prints_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Memory read through psutil, as where the native reader cannot run: the interval
    floor cannot be measured, and fasttrial bench says so and prints everything else."""
    from fasttrial import _core

    out = tmp_path / "bench.json"
    _core._force_psutil_reader(True)
    try:
        assert main(["bench", "--quick", "--json", str(out)]) == 0
    finally:
        _core._force_psutil_reader(False)
    printed = " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    assert "no ratio to the floor for begin, profile, trial-full" in printed
    assert "the floor cannot be measured here" in printed
    assert "history-add" in printed  # its floor needs no memory reading
    doc = json.loads(out.read_text())
    assert set(doc["floor_ratios"]) == {"history-add", "journal-append"}
    assert set(doc["floor_errors"]) == {"begin", "profile", "trial-full"}
    assert set(doc["medians"]) == {"trial-full", "begin", "profile"}
    assert doc["medians"]["begin"]["fasttrial"] > 0


def test_bench_without_proc(tmp_path: Path) -> None:
    """A real machine without /proc: a private mount namespace where /proc is unmounted
    (needs unshare and the right to mount: root; skipped elsewhere)."""
    import shutil

    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        pytest.skip("needs Linux and unshare")
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "umount -l /proc && test ! -e /proc/self/statm"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot unmount /proc in a private namespace here: {probe.stderr.strip()}")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [
            "unshare",
            "-m",
            "sh",
            "-c",
            'umount -l /proc && exec "$@"',
            "sh",
            sys.executable,
            "-m",
            "fasttrial",
            "bench",
            "--quick",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    printed = " ".join(result.stdout.split())  # rich wraps long lines
    assert "no ratio to the floor for begin, profile, trial-full" in printed
    assert "is /proc mounted?" in printed
    assert "reference: not measured" in printed  # psutil needs /proc
    doc = json.loads(out.read_text())
    assert set(doc["floor_ratios"]) == {"history-add", "journal-append"}
    assert doc["medians"]["begin"]["fasttrial"] > 0
    assert "reference" in doc["not_measured"]


def test_bench_bad_argument_is_one_line() -> None:
    result = run("bench", "--quick", "--repeats", "3")
    assert result.returncode == 2
    assert "unrecognized arguments: --repeats 3" in result.stderr
    assert "Traceback" not in result.stderr


# ------------------------------------------------------------------------- entry, lightness
def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "demo" in capsys.readouterr().out


def test_version() -> None:
    import fasttrial

    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"fasttrial {fasttrial.__version__}"


def test_unknown_command_one_line() -> None:
    result = run("frobnicate")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1


def test_importing_the_cli_stays_light() -> None:
    script = (
        "import sys\n"
        "import fasttrial, fasttrial.cli\n"
        "parser = fasttrial.cli.build_parser()\n"
        "heavy = ('numpy', 'pandas', 'rich', 'pyarrow', 'matplotlib', 'psutil')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.strip() == "[]"


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _small_history(directory: Path, fmt: str) -> Path:
    loss = Metric("loss", minimize=True)
    reports = []
    for i, x in enumerate([3.0, 2.0, 0.5, 9.0]):
        trial = Trial(name=f"t-{i}", config={"x": x, "kind": "a" if i % 2 else "b"}, metrics=[loss])
        with trial.begin():
            if x > 5:
                raise ValueError("too big")
        reports.append(trial.fail() if trial.exception else trial.success(loss=x))
    history = History(reports)
    path = directory / f"h-history.{fmt}"
    if fmt == "csv":
        history.to_csv(path)
    else:
        history.to_parquet(path)
    return path
