"""The type stub ``src/fasttrial/_core.pyi`` matches the built extension (mypy's stubtest)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def test_stub_matches_the_compiled_core(tmp_path: Path) -> None:
    pytest.importorskip("mypy.stubtest", reason="mypy is not installed")
    proc = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "fasttrial._core"],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # mypy writes its cache into the working directory
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_stub_is_shipped_next_to_the_package() -> None:
    import fasttrial

    stub = Path(fasttrial.__file__).with_name("_core.pyi")
    assert stub.is_file()
    assert Path(fasttrial.__file__).with_name("py.typed").is_file()
