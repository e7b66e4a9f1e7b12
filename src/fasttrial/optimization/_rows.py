"""A report as one flat row (``report_row``) and back (``report_from_row``), side by side.

The keys and their order are those of ``_schema``; the compiled core writes the same rows
for ``History.add``'s fast path (``_core.table_append_report``) and checks ``_schema`` at
import. No pandas here: ``History`` rebuilds reports from rows without a frame.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fasttrial._util import select_prefixed
from fasttrial.optimization._schema import (
    DEFAULT_BUCKET,
    NO_TEXT,
    STATUSES,
)
from fasttrial.optimization.metric import Metric
from fasttrial.profiling import Profile, Profiler
from fasttrial.profiling._na import CellError, is_missing
from fasttrial.store import PathBucket

if TYPE_CHECKING:
    from fasttrial.optimization.trial import Trial

# "config:<key>" and "summary:<key>" column names, made once per key (a run's trials share
# their keys; report_row() runs for every report a History adds).
_CONFIG_KEYS: dict[str, str] = {}
_SUMMARY_KEYS: dict[str, str] = {}
_PREFIXED_MAX = 65536
_TRIAL_PROFILE = ("memory:", "time:")


def _prefixed(cache: dict[str, str], prefix: str, key: Any) -> str:
    out = f"{prefix}{key}"
    if type(key) is str and len(cache) < _PREFIXED_MAX:
        cache[key] = out
    return out


def _put_entries(row: dict[str, Any], cache: dict[str, str], prefix: str, items: Any) -> None:
    """``row[prefix + str(key)] = value`` for each item; refuses two keys that print alike
    (``1`` and ``"1"``), which would share one column and lose a value."""
    n0 = len(row)
    count = 0
    for k, val in items:
        key = cache.get(k) if type(k) is str else None
        row[key if key is not None else _prefixed(cache, prefix, k)] = val
        count += 1
    if len(row) != n0 + count:
        seen: dict[str, Any] = {}
        for k, _ in items:
            name = f"{prefix}{k}"
            if name in seen:
                raise ValueError(
                    f"The keys {seen[name]!r} and {k!r} both make the column {name!r}: a row "
                    "would keep only one of their values. Give them names that print "
                    "differently."
                )
            seen[name] = k
        raise ValueError(f"Two {prefix!r} keys make the same column.")  # pragma: no cover


def report_row(
    report: Trial.Report,
    *,
    profiles: bool = True,
    configs: bool = True,
    summary: bool = True,
    metrics: bool = True,
) -> dict[str, Any]:
    """The report as one flat row (the items of ``df()``, before dtypes).

    Raises:
        ValueError: If two config (or summary) keys print alike, so would share a column.
    """
    trial = report.trial
    exc = trial.exception
    tb = trial.traceback
    # The default bucket is not made (a PathBucket per trial) just to name it.
    bucket = trial._bucket
    row: dict[str, Any] = {
        "name": trial.name,
        "status": report.status._value_,
        "trial_seed": trial.seed if trial.seed is not None else math.nan,  # 0 is a seed
        # An exception with an empty message is still an exception: "" is kept, only
        # None is "NA" (the core's fast path writes the same).
        "exception": NO_TEXT if exc is None else str(exc),
        "traceback": str(tb) if tb else NO_TEXT,
        "bucket": DEFAULT_BUCKET if bucket is None else str(getattr(bucket, "path", bucket)),
    }
    if metrics:
        for m, value in zip(report._metric_defs, report._raw_values(), strict=True):
            row[m._column] = value
    if summary and trial._summary:
        _put_entries(row, _SUMMARY_KEYS, "summary:", trial._summary.items())
    if configs:
        _put_entries(row, _CONFIG_KEYS, "config:", trial.config.items())
    if profiles:
        if trial._profiler is None:
            # Only a begin() span, if any: no Profiler is made to read it.
            if trial._span is not None:
                row.update(trial._span.to_dict())
        else:
            for pname, prof in sorted(trial.profiles.items(), key=lambda kv: kv[0]):
                row.update(prof.to_dict(prefix="" if pname == "trial" else f"profile:{pname}"))
    return row


# -- the inverse -------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """numpy / pandas scalars -> Python scalars."""
    item = getattr(value, "item", None)
    if item is not None and getattr(value, "ndim", 1) == 0:
        return item()
    return value


def _entries(d: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """The ``prefix`` entries of a row as plain values, leaving out missing cells: in a
    frame of many reports a key only some of them had is missing in the others' rows,
    and must not come back as a NaN entry of theirs."""
    return {k: _plain(v) for k, v in select_prefixed(d, prefix).items() if not is_missing(v)}


def _text(value: Any, column: str) -> str | None:
    if is_missing(value) or value == NO_TEXT:
        return None
    if not isinstance(value, str):
        raise CellError(column, f"must be text, got {type(value).__name__}: {value!r}")
    return value


def _profile(items: dict[str, Any], prefix: str) -> Profile.Interval:
    try:
        return Profile.from_dict(items)
    except CellError as error:
        raise error.within(prefix) from None


def _number(value: Any, column: str, kind: type) -> Any:
    if isinstance(value, (str, bytes, bool)) or not hasattr(value, "__float__"):
        raise CellError(column, f"must be a number, got {type(value).__name__}: {value!r}")
    f = float(value)
    if kind is int:
        if not f.is_integer():
            raise CellError(column, f"must be a whole number, got {value!r}")
        return int(value)
    return f


def report_from_row(d: Mapping[str, Any]) -> Trial.Report:
    """Rebuild a report from a flat row with the keys of ``Report.df()`` plus ``name``.

    Raises:
        ValueError: If ``name`` is missing or a cell cannot be read; the message names the
            column.
    """
    from fasttrial.optimization.trial import Trial

    if not isinstance(d, Mapping):
        raise TypeError(f"Expected a mapping of column -> value, got {type(d).__name__}.")
    if "name" not in d or is_missing(d["name"]):
        raise ValueError(
            "Cannot rebuild a report without a 'name' (the index of Report.df(), or a "
            "'name' column)."
        )
    name = str(d["name"])
    try:
        # A profile whose cells are all missing is one this report did not have (a frame of
        # many reports has the columns of every report's profiles): it is not invented.
        profiles: dict[str, Profile.Interval] = {}
        prof_items = select_prefixed(d, "profile:")
        for pname in sorted({k.rsplit(":", 2)[0] for k in prof_items}):
            items = select_prefixed(prof_items, f"{pname}:")
            if not all(is_missing(v) for v in items.values()):
                profiles[pname] = _profile(items, f"profile:{pname}:")
        trial_items = {
            k: v for k, v in d.items() if isinstance(k, str) and k.startswith(_TRIAL_PROFILE)
        }
        if all(is_missing(v) for v in trial_items.values()):
            trial_items = {}
        trial_profile = _profile(trial_items, "") if trial_items else None
        if trial_profile is not None:
            profiles["trial"] = trial_profile

        metric_values: list[Metric.Value] = []
        for key, raw in select_prefixed(d, "metric:").items():
            # A missing cell is a metric this report did not have (a history can mix
            # reports of different metrics); fasttrial never records NaN as a metric value.
            if is_missing(raw):
                continue
            column = f"metric:{key}"
            try:
                metric = Metric.from_str(key)
            except (TypeError, ValueError) as error:
                raise CellError(column, f"does not name a metric ({error})") from None
            value = _number(raw, column, float)
            if math.isnan(value):  # NaN in another type (Decimal, numpy): no value either
                continue
            metric_values.append(Metric.Value(metric, value))

        seed = d.get("trial_seed")
        seed = None if is_missing(seed) else _number(seed, "trial_seed", int)
        bucket_path = d.get("bucket")
        bucket = None if is_missing(bucket_path) else PathBucket(str(bucket_path), lazy=True)
        status_raw = d.get("status")
        if is_missing(status_raw):
            status_raw = "unknown"
        if status_raw not in STATUSES:
            raise CellError("status", f"holds {status_raw!r}, expected one of {list(STATUSES)}")
        exception = _text(d.get("exception"), "exception")
        traceback = _text(d.get("traceback"), "traceback")
    except CellError as error:
        raise ValueError(f"Cannot rebuild report {name!r}: {error}") from None
    fidelities = _entries(d, "fidelities:")

    trial: Trial[Any] = Trial(
        name=name,
        config=_entries(d, "config:"),
        bucket=bucket,
        seed=seed,
        fidelities=fidelities or None,
        time=trial_profile.time if trial_profile is not None else None,
        memory=trial_profile.memory if trial_profile is not None else None,
        profiler=Profiler(profiles=profiles),
        metrics=[v.metric for v in metric_values],
        summary=_entries(d, "summary:"),
        exception=exception,
        traceback=traceback,
    )
    return Trial.Report(trial, Trial.Status(status_raw), tuple(metric_values))
