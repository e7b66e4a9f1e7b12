"""A small pure-Python reference: the way amltk 1.10 profiles a trial, without amltk.

``fasttrial bench`` and the benchmarks (``benchmarks/``) measure fasttrial next to this
reference so that a ratio can be read in one
run on any machine.  It does what amltk does on the hot path, and nothing more:

* every interval boundary reads ``time.time()`` and makes a new ``psutil.Process()`` to call
  ``memory_info()`` on;
* ``begin()`` and ``profile()`` are ``@contextmanager`` generators that build dataclass
  intervals when the block ends;
* ``success()`` checks the metric names and builds a dataclass report;
* ``Report.df()`` builds a pandas frame from a dict of the report and calls
  ``convert_dtypes()``; ``History.df()`` concatenates one such frame per report.

It is a benchmark baseline, not an implementation of the API: only what the benchmarks call
is here.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psutil


@dataclass
class TimerInterval:
    """Seconds since the epoch at both ends (``time.time()``)."""

    start: float
    end: float
    kind: str = "wall"
    unit: str = "seconds"

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class MemoryInterval:
    """Bytes at both ends, psutil's meanings."""

    start_vms: float
    start_rss: float
    end_vms: float
    end_rss: float
    unit: str = "bytes"


@dataclass
class ProfileInterval:
    memory: MemoryInterval
    time: TimerInterval

    def to_dict(self, prefix: str = "") -> dict[str, Any]:
        p = f"{prefix}:" if prefix else ""
        m, t = self.memory, self.time
        return {
            f"{p}memory:start_vms": m.start_vms,
            f"{p}memory:end_vms": m.end_vms,
            f"{p}memory:diff_vms": m.end_vms - m.start_vms,
            f"{p}memory:start_rss": m.start_rss,
            f"{p}memory:end_rss": m.end_rss,
            f"{p}memory:diff_rss": m.end_rss - m.start_rss,
            f"{p}memory:unit": m.unit,
            f"{p}time:start": t.start,
            f"{p}time:end": t.end,
            f"{p}time:duration": t.duration,
            f"{p}time:kind": t.kind,
            f"{p}time:unit": t.unit,
        }


@dataclass(frozen=True)
class Metric:
    name: str
    minimize: bool = True
    bounds: tuple[float, float] | None = None

    def __str__(self) -> str:
        return f"{self.name} ({'minimize' if self.minimize else 'maximize'})"


@dataclass
class MetricValue:
    metric: Metric
    value: float


@contextmanager
def _measured(
    profiles: dict[str, ProfileInterval], running: list[str], name: str
) -> Iterator[None]:
    """Profile a block the amltk way: a fresh ``psutil.Process()`` at each end."""
    full = ":".join([*running, name])
    running.append(name)
    mem0 = psutil.Process().memory_info()
    t0 = time.time()
    try:
        yield
    finally:
        t1 = time.time()
        mem1 = psutil.Process().memory_info()
        running.pop()
        profiles[full] = ProfileInterval(
            memory=MemoryInterval(mem0.vms, mem0.rss, mem1.vms, mem1.rss),
            time=TimerInterval(t0, t1),
        )


@dataclass
class Trial:
    name: str
    config: dict[str, Any]
    metrics: list[Metric] = field(default_factory=list)
    seed: int | None = None
    time: TimerInterval | None = None
    memory: MemoryInterval | None = None
    profiles: dict[str, ProfileInterval] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    exception: BaseException | None = None
    traceback: str | None = None
    _running: list[str] = field(default_factory=list, repr=False)

    @contextmanager
    def begin(self) -> Iterator[None]:
        with _measured(self.profiles, self._running, "trial"):
            try:
                yield
            except Exception as error:
                self.exception = error
                self.traceback = traceback.format_exc()
        interval = self.profiles["trial"]
        self.time = interval.time
        self.memory = interval.memory

    def profile(self, name: str) -> Any:
        return _measured(self.profiles, self._running, name)

    def success(self, **values: float) -> Report:
        recorded = []
        for metric in self.metrics:
            if metric.name not in values:
                raise ValueError(f"Please provide a value for the metric {metric.name!r}.")
            recorded.append(MetricValue(metric, values[metric.name]))
        extra = set(values) - {m.name for m in self.metrics}
        if extra:
            raise ValueError(f"Cannot report success with extra metrics: {extra=}.")
        return Report(self, "success", tuple(recorded))


@dataclass
class Report:
    trial: Trial
    status: str
    metric_values: tuple[MetricValue, ...]

    @property
    def name(self) -> str:
        return self.trial.name

    def row(self) -> dict[str, Any]:
        trial = self.trial
        items: dict[str, Any] = {
            "name": trial.name,
            "status": self.status,
            "trial_seed": trial.seed if trial.seed else float("nan"),
            "exception": str(trial.exception) if trial.exception else "NA",
            "traceback": str(trial.traceback) if trial.traceback else "NA",
            "bucket": "unknown-trial-bucket",
        }
        for value in self.metric_values:
            items[f"metric:{value.metric}"] = value.value
        for key, val in trial.summary.items():
            items[f"summary:{key}"] = val
        for key, val in trial.config.items():
            items[f"config:{key}"] = val
        for pname, interval in trial.profiles.items():
            items.update(interval.to_dict("" if pname == "trial" else f"profile:{pname}"))
        return items

    def df(self) -> Any:
        import pandas as pd

        return (
            pd.DataFrame({k: [v] for k, v in self.row().items()}).convert_dtypes().set_index("name")
        )


@dataclass
class History:
    reports: list[Report] = field(default_factory=list)

    def add(self, report: Report) -> None:
        self.reports.append(report)

    def df(self) -> Any:
        """One frame per report, concatenated: the per-report way."""
        import pandas as pd

        return pd.concat([r.df() for r in self.reports]).convert_dtypes()
