"""Conversions between reports and pandas rows (imported only when a frame is needed)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from fasttrial.optimization.metric import Metric
from fasttrial.optimization.trial import Trial
from fasttrial.profiling import Profile, Profiler
from fasttrial.profiling._na import is_missing
from fasttrial.store import PathBucket

_PROFILE_FIELDS = ("memory:", "time:")


def row_frame(row: Mapping[str, Any]) -> pd.DataFrame:
    """One row -> a one-row frame indexed by ``name``, with pandas' nullable dtypes."""
    frame = pd.DataFrame({k: [v] for k, v in row.items()})
    return frame.convert_dtypes().set_index("name")


def _select(d: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    n = len(prefix)
    return {k[n:]: v for k, v in d.items() if isinstance(k, str) and k.startswith(prefix)}


def _plain(value: Any) -> Any:
    """numpy / pandas scalars -> Python scalars; missing -> NaN."""
    if is_missing(value):
        return math.nan
    item = getattr(value, "item", None)
    if item is not None and getattr(value, "ndim", 1) == 0:
        return item()
    return value


def _text(value: Any) -> str | None:
    if is_missing(value) or value == "NA":
        return None
    return str(value)


def report_from_row(d: Mapping[str, Any]) -> Trial.Report:
    """Rebuild a report from a flat row with the keys of ``Report.df()`` plus ``name``.

    Raises:
        ValueError: If ``name`` is missing or a metric column cannot be parsed.
    """
    if "name" not in d or is_missing(d["name"]):
        raise ValueError(
            "Cannot rebuild a report without a 'name' (the index of Report.df(), or a "
            "'name' column)."
        )

    profiles: dict[str, Profile.Interval] = {}
    prof_items = _select(d, "profile:")
    for pname in sorted({k.rsplit(":", 2)[0] for k in prof_items}):
        profiles[pname] = Profile.from_dict(_select(prof_items, f"{pname}:"))
    trial_items = {k: v for k, v in d.items() if isinstance(k, str) and k.startswith(_PROFILE_FIELDS)}
    trial_profile = Profile.from_dict(trial_items) if trial_items else None
    if trial_profile is not None:
        profiles["trial"] = trial_profile

    metric_values: list[Metric.Value] = []
    for key, raw in _select(d, "metric:").items():
        metric = Metric.from_str(key)
        value = math.nan if is_missing(raw) else float(raw)
        metric_values.append(Metric.Value(metric, value))

    seed = d.get("trial_seed")
    seed = None if is_missing(seed) else int(seed)  # type: ignore[arg-type]
    bucket_path = d.get("bucket")
    bucket = None if is_missing(bucket_path) else PathBucket(str(bucket_path), lazy=True)
    fidelities = {k: _plain(v) for k, v in _select(d, "fidelities:").items()}

    trial: Trial[Any] = Trial(
        name=str(d["name"]),
        config={k: _plain(v) for k, v in _select(d, "config:").items()},
        bucket=bucket,
        seed=seed,
        fidelities=fidelities or None,
        time=trial_profile.time if trial_profile is not None else None,
        memory=trial_profile.memory if trial_profile is not None else None,
        profiler=Profiler(profiles=profiles),
        metrics=[v.metric for v in metric_values],
        summary={k: _plain(v) for k, v in _select(d, "summary:").items()},
        exception=_text(d.get("exception")),  # type: ignore[arg-type]
        traceback=_text(d.get("traceback")),
    )
    status_raw = d.get("status")
    status = Trial.Status("unknown" if is_missing(status_raw) else str(status_raw))
    return Trial.Report(trial, status, tuple(metric_values))
