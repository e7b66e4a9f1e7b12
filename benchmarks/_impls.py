"""The implementations the benchmarks compare, by name (shared with ``fasttrial bench``).

* ``fasttrial``: this package;
* ``reference``: ``fasttrial._reference``, the pure-Python way amltk 1.10 does it
  (``time.time()`` and a fresh ``psutil.Process()`` at each interval boundary);
* ``amltk``: amltk itself, only when it is importable (never a dependency).
"""

from __future__ import annotations

from fasttrial._bench import Impl, have_amltk, load_impl

HAVE_AMLTK = have_amltk()

__all__ = ["HAVE_AMLTK", "Impl", "load_impl"]
