"""fasttrial: amltk's Trial / Report / Metric / Profiler / History / PathBucket API, with
its timers and memory readings taken in a compiled core.

Port an amltk loop by changing one word in the import::

    from fasttrial.optimization import Trial, Metric, History
"""

from __future__ import annotations

from fasttrial._corecheck import _core  # noqa: F401  (fails loudly if the core is missing)
from fasttrial._version import __version__
from fasttrial.optimization import History, Metric, Optimizer, RandomSearch, Trial, optimize
from fasttrial.profiling import Memory, Profile, Profiler, Timer
from fasttrial.store import Bucket, PathBucket

__all__ = [
    "Bucket",
    "History",
    "Memory",
    "Metric",
    "Optimizer",
    "PathBucket",
    "Profile",
    "Profiler",
    "RandomSearch",
    "Timer",
    "Trial",
    "__version__",
    "optimize",
]
