"""Import the compiled core and check that it belongs to this version of fasttrial."""

from __future__ import annotations

from fasttrial._version import __version__

_BUILD_HINT = (
    "Build and install it from the source tree with `pip install .` (or, for development, "
    "`pip install --no-build-isolation -Cbuild-dir=build -e .`); a C compiler and the Python "
    "headers are needed. fasttrial has no pure-Python fallback."
)

try:
    from fasttrial import _core
except ImportError as error:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        f"fasttrial's compiled core (fasttrial._core) could not be imported: {error}. "
        + _BUILD_HINT
    ) from error

if _core.__version__ != __version__:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        f"fasttrial's compiled core is version {_core.__version__} but the Python package is "
        f"version {__version__}: the extension in {_core.__file__} is a stale build. " + _BUILD_HINT
    )

__all__ = ["_core"]
