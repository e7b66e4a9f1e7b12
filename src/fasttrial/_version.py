"""The one place the fasttrial version is written.

pyproject.toml reads it (scikit-build-core's regex provider) and CMake compiles it into
``fasttrial._core``, so a stale build is caught at import.
"""

__version__ = "0.1.0"
