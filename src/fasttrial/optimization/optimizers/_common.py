"""What the Optuna and SMAC bridges share: metrics, seeds, buckets, unique names and the
ledger of asked / told trials that ``tell()`` and ``restore()`` check reports against."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from fasttrial.optimization.metric import Metric
from fasttrial.optimization.optimizer import SearchSpaceError, parse_space
from fasttrial.optimization.trial import Trial, _metric_list

__all__ = [
    "Ledger",
    "SearchSpaceError",
    "as_seed",
    "make_bucket",
    "metric_list",
    "missing_library",
    "report_values",
    "resolve_space",
    "single_dim",
]


def missing_library(library: str, extra: str, error: ImportError) -> ImportError:
    """The ImportError a bridge raises when its library is not installed."""
    return ImportError(
        f"fasttrial.optimization.optimizers.{extra} needs {library}, which is not installed "
        f"({error}). Install it with: pip install 'fasttrial[{extra}]'"
    )


def metric_list(metrics: Any, who: str) -> list[Metric]:
    """``metrics`` (a ``Metric`` or a sequence of them) as a non-empty list, names unique.

    Raises:
        TypeError: For something that is not a ``Metric`` (a bare name has no direction).
        ValueError: For no metric, or repeated names.
    """
    if isinstance(metrics, str):
        raise TypeError(
            f"{who} needs Metric objects, got the string {metrics!r}: a name has no direction."
            f" Use Metric({metrics!r}, minimize=True) (or minimize=False)."
        )
    out = _metric_list(metrics)
    if not out:
        raise ValueError(f"{who} needs at least one metric, got {metrics!r}")
    return out


def as_seed(seed: Any) -> int:
    """An int seed from ``seed`` as amltk takes it: an int, ``None`` (drawn from the
    operating system), or a numpy ``Generator`` / ``RandomState`` (an int drawn from it)."""
    if seed is None:
        return random.SystemRandom().randrange(2**31)
    if isinstance(seed, int) and not isinstance(seed, bool):
        return seed
    integers = getattr(seed, "integers", None)  # numpy.random.Generator
    if integers is not None:
        return int(integers(2**31))
    randint = getattr(seed, "randint", None)  # numpy.random.RandomState
    if randint is not None:
        return int(randint(2**31))
    raise TypeError(
        f"seed must be an int, None or a numpy Generator / RandomState, got "
        f"{type(seed).__name__}: {seed!r}"
    )


def make_bucket(bucket: Any, cls_name: str) -> Any:
    """amltk's bucket rules, without amltk's folder at construction: ``None`` is a lazy
    ``PathBucket`` named after the class and the time (created on the first store), a path is
    a ``PathBucket`` there, a bucket is used as it is."""
    from fasttrial.store import PathBucket

    if bucket is None:
        return PathBucket(f"{cls_name}-{datetime.now().isoformat()}", lazy=True)
    if isinstance(bucket, (str, Path)):
        return PathBucket(bucket)
    return bucket


def resolve_space(space: Any, parser: str) -> Any:
    """``space`` itself, or what its ``search_space(parser)`` returns (amltk pipelines)."""
    if not isinstance(space, Mapping) and callable(getattr(space, "search_space", None)):
        return space.search_space(parser)
    return space


def single_dim(name: str, entry: Any) -> tuple[str, float, float, tuple[Any, ...]]:
    """One fasttrial search-space entry (a ``RandomSearch`` form), checked.

    Raises:
        SearchSpaceError: For an entry of an unknown form (the message names it).
    """
    if not isinstance(name, str):
        raise TypeError(f"search space names must be strings, got {name!r}")
    return parse_space({name: entry})[name]


class Ledger:
    """The trials a bridge has handed out and not yet been told, the names told, and every
    name in use (so a name is never handed out twice, restored runs included)."""

    __slots__ = ("_pending", "_told", "_used", "who")

    def __init__(self, who: str) -> None:
        self.who = who
        self._pending: dict[str, Any] = {}
        self._told: set[str] = set()
        self._used: set[str] = set()

    def __len__(self) -> int:
        return len(self._pending)

    def name(self, base: str) -> str:
        """``base``, or ``base_2``, ``base_3``... if ``base`` is taken (after a restore)."""
        if base not in self._used:
            return base
        k = 2
        while f"{base}_{k}" in self._used:
            k += 1
        return f"{base}_{k}"

    def asked(self, name: str, native: Any) -> None:
        self._used.add(name)
        self._pending[name] = native

    def pending(self, report: Any) -> Any:
        """The native trial of ``report``'s trial, if this bridge asked for it and was not
        told yet (the ledger is not changed; ``told()`` does that once the optimizer took it).

        Raises:
            TypeError: If ``report`` is not a ``Trial.Report``.
            ValueError: If the trial was not asked here, or was told already.
        """
        if not isinstance(report, Trial.Report):
            raise TypeError(f"tell() takes a Trial.Report, got {type(report).__name__}")
        name = report.trial.name
        try:
            return self._pending[name]
        except KeyError:
            pass
        if name in self._told:
            raise ValueError(
                f"tell(): trial {name!r} was told already; each trial is told once"
            ) from None
        raise ValueError(
            f"tell(): {name!r} is not a trial this {self.who} asked for (or it was restored); "
            "tell() takes the reports of trials from this optimizer's ask(), restore() takes "
            "the reports of an earlier run"
        ) from None

    def told(self, name: str) -> None:
        del self._pending[name]
        self._told.add(name)

    def check_restorable(self, reports: Iterable[Any]) -> list[Trial.Report[Any]]:
        """The reports as a list, each a ``Trial.Report`` whose name is new here and unique.

        Raises:
            TypeError: For something that is not a ``Trial.Report``.
            ValueError: For a name asked, told or restored here already, or repeated.
        """
        out: list[Trial.Report[Any]] = []
        seen: set[str] = set()
        for i, report in enumerate(reports):
            if not isinstance(report, Trial.Report):
                raise TypeError(
                    f"restore() takes Trial.Reports, got {type(report).__name__} at position {i}"
                )
            name = report.trial.name
            if name in self._pending:
                raise ValueError(
                    f"restore(): {name!r} was asked from this {self.who} and is still out; "
                    "tell() its report instead"
                )
            if name in self._used or name in seen:
                raise ValueError(
                    f"restore(): trial {name!r} is known to this {self.who} already "
                    "(told, or restored twice); each report is restored once"
                )
            seen.add(name)
            out.append(report)
        return out

    def restored(self, name: str) -> None:
        self._used.add(name)
        self._told.add(name)


def report_values(report: Trial.Report[Any], metrics: Sequence[Metric], who: str) -> list[Any]:
    """The report's ``Metric.Value``s in the optimizer's metric order.

    Raises:
        ValueError: If the report's metrics are not the optimizer's (names, directions or
            bounds differ).
    """
    values = report.metric_values
    if report.trial.metrics is metrics:  # asked here: same list, same order
        return list(values)
    by_name = {v.metric.name: v for v in values}
    out = []
    for m in metrics:
        v = by_name.get(m.name)
        if v is None:
            raise ValueError(
                f"report {report.trial.name!r} has no value for metric {m.name!r} of this "
                f"{who} (it has {sorted(by_name)})"
            )
        if v.metric != m:
            raise ValueError(
                f"report {report.trial.name!r}: its metric {v.metric} differs from this {who}'s {m}"
            )
        out.append(v)
    extra = sorted(set(by_name) - {m.name for m in metrics})
    if extra:
        raise ValueError(
            f"report {report.trial.name!r} has metrics {extra} that this {who} does not "
            f"optimize ({[m.name for m in metrics]})"
        )
    return out
