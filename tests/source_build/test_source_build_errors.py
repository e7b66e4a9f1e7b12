"""A source build that lacks something fails with a message that names what is missing.

These drive the real build (``pip wheel`` of the source tree, scikit-build-core, CMake)
with one thing taken away each: the C compiler (``CC`` pointing at a file that does not
exist), the Python headers (an include directory without ``Python.h``), a recent Cython
(a real Cython 3.0.9 next to the build).  They need the source tree (CMakeLists.txt next
to ``tests/``) and the build tools in this environment (``pip install ".[test]"`` brings
them); elsewhere, e.g. against an installed wheel alone, they are skipped.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ("scikit_build_core", "cmake", "ninja", "cython_cmake", "Cython")
TIMEOUT = 300  # s, for one configure that stops early (one pip download for the Cython test)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (ROOT / "CMakeLists.txt").is_file(), reason="needs the source tree (CMakeLists.txt)"
    ),
    pytest.mark.skipif(
        any(importlib.util.find_spec(t) is None for t in TOOLS),
        reason=f"needs the build tools installed here: {', '.join(TOOLS)}",
    ),
]


def _configure(tmp_path: Path, *defines: str, env: dict[str, str] | None = None) -> str:
    """Run a no-isolation ``pip wheel`` of the tree; it must fail; return its output."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "-w",
        str(tmp_path / "wheelhouse"),
        f"-Cbuild-dir={tmp_path / 'build'}",
        *(f"-Ccmake.define.{d}" for d in defines),
        str(ROOT),
    ]
    # A virtual environment's bin/ first, so that cmake and ninja are this environment's.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    full_env = {**os.environ, "PATH": path, "PIP_DISABLE_PIP_VERSION_CHECK": "1", **(env or {})}
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=TIMEOUT, env=full_env, cwd=tmp_path
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, "the build succeeded although something was missing:\n" + out
    assert not list((tmp_path / "wheelhouse").glob("*.whl")), out
    return " ".join(out.split())  # CMake wraps its messages: compare with one space


def test_no_c_compiler(tmp_path: Path) -> None:
    out = _configure(tmp_path, env={"CC": str(tmp_path / "no-such-cc")})
    assert "fasttrial: no C compiler found." in out, out
    assert "install a C compiler" in out, out
    assert f'The CC environment variable is set to "{tmp_path / "no-such-cc"}"' in out, out
    assert "pip install fasttrial" in out, out  # the way out that needs no compiler


def test_no_python_headers(tmp_path: Path) -> None:
    empty = tmp_path / "include"
    empty.mkdir()
    out = _configure(tmp_path, f"Python_INCLUDE_DIR={empty}")
    assert "fasttrial: the Python headers are missing: there is no Python.h in" in out, out
    assert f"'{empty}'" in out, out
    assert "python3-dev" in out, out


def test_cython_too_old(tmp_path: Path) -> None:
    old = tmp_path / "old-cython"
    got = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--target",
            str(old),
            "cython==3.0.9",
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    if got.returncode != 0:
        pytest.skip("could not install Cython 3.0.9 to test with: " + got.stderr[-500:])
    cython = old / "bin" / ("cython.exe" if os.name == "nt" else "cython")
    assert cython.is_file(), sorted(p.name for p in (old / "bin").iterdir())
    version = subprocess.run(
        [str(cython), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(old)},
    )
    assert "3.0.9" in version.stdout + version.stderr  # the real old Cython runs
    out = _configure(tmp_path, f"CYTHON_EXECUTABLE={cython}", env={"PYTHONPATH": str(old)})
    assert "fasttrial: Cython 3.0.9" in out, out
    assert "is too old: the core needs Cython >= 3.0.10" in out, out
