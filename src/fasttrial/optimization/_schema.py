"""The one description of a ``History`` row: which keys, in which order, filled how.

A leaf module (it imports nothing of fasttrial): ``Trial.Report._row()`` writes rows in this
order, ``report_from_row`` reads them back, ``table_from_frame`` fills a loaded frame's
missing base columns from ``BASE_FILLS``, and the compiled core's positional row writer is
handed ``SCHEMA`` once at import and refuses to run if it disagrees (see
``_core.set_schema``).  Change a key here and the core must change with it, or
``import fasttrial`` fails.
"""

from __future__ import annotations

import math
from typing import Any

DEFAULT_BUCKET = "unknown-trial-bucket"
"""The ``bucket`` cell of a trial that was given no bucket."""

NO_TEXT = "NA"
"""The ``exception`` / ``traceback`` cell of a trial that has none (amltk's marker)."""

BASE_KEYS: tuple[str, ...] = ("name", "status", "trial_seed", "exception", "traceback", "bucket")
"""The first keys of every row, in order; then ``metric:``, ``summary:``, ``config:`` keys
and the profiles' keys."""

BASE_FILLS: tuple[tuple[str, Any], ...] = (
    ("trial_seed", math.nan),
    ("exception", NO_TEXT),
    ("traceback", NO_TEXT),
    ("bucket", DEFAULT_BUCKET),
)
"""The base keys after ``status`` with the value a report without them writes."""

MEMORY_FIELDS: tuple[str, ...] = (
    "start_vms",
    "end_vms",
    "diff_vms",
    "start_rss",
    "end_rss",
    "diff_rss",
    "peak_rss",
    "unit",
)
"""``Memory.Interval.to_dict()``'s keys (after ``memory:``), in order."""

TIME_FIELDS: tuple[str, ...] = (
    "start",
    "end",
    "cpu_time",
    "cpu_time_children",
    "duration",
    "kind",
    "unit",
)
"""``Timer.Interval.to_dict()``'s keys (after ``time:``), in order."""

PROFILE_FIELDS: tuple[str, ...] = tuple(
    [f"memory:{k}" for k in MEMORY_FIELDS] + [f"time:{k}" for k in TIME_FIELDS]
)
"""The keys one profile adds to a row (after its ``profile:<name>:`` prefix, if any)."""

STATUSES: tuple[str, ...] = ("success", "fail", "crashed", "unknown")
"""The values of ``Trial.Status``, i.e. of the ``status`` column."""

TIME_KINDS: tuple[str, ...] = ("wall", "cpu", "process")
"""``str(Timer.Kind)`` by the core's kind code (WALL, CPU, PROCESS)."""

MEMORY_UNITS: tuple[str, ...] = ("bytes", "kilobytes", "megabytes", "gigabytes")
"""``str(Memory.Unit)`` by the core's unit code (BYTES ... GIGABYTES)."""

TIME_UNIT = "seconds"
"""``str(Timer.Unit.SECONDS)``: the unit of every time fasttrial records."""

SECTIONS: tuple[tuple[str, str], ...] = (
    ("metric:", "metrics"),
    ("summary:", "summary"),
    ("config:", "configs"),
)
"""Key prefix -> the ``df()`` switch that shows it (base keys and profiles aside)."""

SCHEMA: dict[str, Any] = {
    "base_keys": BASE_KEYS,
    "profile_fields": PROFILE_FIELDS,
    "statuses": STATUSES,
    "time_kinds": TIME_KINDS,
    "memory_units": MEMORY_UNITS,
    "time_unit": TIME_UNIT,
    "no_text": NO_TEXT,
    "default_bucket": DEFAULT_BUCKET,
}
"""What the compiled row writer is handed (and checks) at import."""


def key_section(key: str) -> str:
    """Which ``df()`` switch a row key belongs to: base, metrics, summary, configs or
    profiles."""
    if key in BASE_KEYS:
        return "base"
    for prefix, section in SECTIONS:
        if key.startswith(prefix):
            return section
    return "profiles"
