"""``Optimizer`` (the ask/tell protocol) and ``RandomSearch`` over a plain search-space dict.

An optimizer hands out trials with ``ask()`` and takes their reports back with ``tell()``::

    from fasttrial.optimization import Metric, RandomSearch

    space = {
        "lr": {"low": 1e-4, "high": 1.0, "log": True},  # log-uniform float
        "dropout": (0.0, 0.5),                            # uniform float
        "layers": (1, 4),                                 # integer, both ends included
        "activation": ["relu", "tanh"],                   # categorical
    }
    optimizer = RandomSearch(space, metrics=Metric("loss"), seed=0)
    trial = optimizer.ask()
    with trial.begin():
        loss = ...
    optimizer.tell(trial.success(loss=loss))

The search-space forms, one per hyperparameter:

============================================  ============================================
form                                          samples
============================================  ============================================
``(low, high)``, both ``int``                 an ``int`` in ``[low, high]`` (both included)
``(low, high)``, either a ``float``           a ``float`` in ``[low, high)``, uniformly
``{"low": a, "high": b}``                     the same as ``(a, b)``
``{"low": a, "high": b, "log": True}``        log-uniform in ``[a, b]`` (``0 < a``); an
                                              ``int`` if both are ``int``
``{..., "type": "float"}`` / ``"int"``        forces the type (``"int"`` needs ``int``
                                              bounds)
``[c1, c2, ...]`` (a non-empty list)          one of the choices, each equally likely (a
                                              one-element list is a constant)
============================================  ============================================

Anything else (a bare number, a string, a set, a tuple of three, an unknown dict key,
``low >= high``, a non-finite bound) raises ``SearchSpaceError``, a ``ValueError`` whose
message names the entry and lists these forms.

Sampling uses Python's ``random.Random`` seeded once, so the same space, seed and sequence of
``ask()`` calls give the same configurations on every platform and Python version.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, overload, runtime_checkable

from fasttrial.optimization.metric import Metric
from fasttrial.optimization.trial import Trial, _metric_list

if TYPE_CHECKING:
    from fasttrial.optimization.history import History

__all__ = ["Optimizer", "RandomSearch", "SearchSpaceError"]

FORMS = (
    '(low, high), {"low": low, "high": high, "log": True, "type": "int"|"float"} '
    "or a non-empty list of choices"
)


class SearchSpaceError(ValueError):
    """A search-space entry of an unknown form (the message names the entry)."""


@runtime_checkable
class Optimizer(Protocol):
    """What an optimizer offers: trials out with ``ask()``, reports in with ``tell()``.

    Optionally, ``restore(history)`` brings a new optimizer up to date with the reports of
    an earlier run of the same search (``fasttrial.optimize`` calls it when it resumes from
    a journal): after it, ``ask()`` never returns a name that is in ``history``.  It is not
    a member of the protocol (an optimizer without it is still an ``Optimizer``), so check
    for it with ``getattr(optimizer, "restore", None)``.
    """

    @property
    def metrics(self) -> Sequence[Metric]:
        """The metrics every asked trial carries, in order (as amltk's
        ``Optimizer.metrics``)."""
        ...

    @overload
    def ask(self, n: None = None) -> Trial[Any]: ...

    @overload
    def ask(self, n: int) -> list[Trial[Any]]: ...

    def ask(self, n: int | None = None) -> Trial[Any] | list[Trial[Any]]:
        """One trial, or a list of ``n`` trials, each with a name, config, seed and metrics."""
        ...

    def tell(self, report: Trial.Report[Any]) -> None:
        """Take back the report of a trial this optimizer asked for."""
        ...


# One hyperparameter's sampler: (kind, low, high, choices).  Kinds: "int", "float",
# "logint", "logfloat", "choice".
_Dim = tuple[str, float, float, tuple[Any, ...]]


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_real(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _bounds(name: str, low: Any, high: Any, *, log: bool, kind: str | None) -> _Dim:
    def bad(why: str) -> SearchSpaceError:
        return SearchSpaceError(f"search space entry {name!r}: {why}")

    if not (_is_real(low) and _is_real(high)):
        raise bad(f"bounds must be numbers, got {low!r} and {high!r}")
    if not (math.isfinite(low) and math.isfinite(high)):
        raise bad(f"bounds must be finite, got {low!r} and {high!r}")
    if not low < high:
        raise bad(f"low must be below high, got low={low!r}, high={high!r}")
    if kind is None:
        kind = "int" if _is_int(low) and _is_int(high) else "float"
    elif kind not in ("int", "float"):
        raise bad(f'"type" must be "int" or "float", got {kind!r}')
    if kind == "int" and not (_is_int(low) and _is_int(high)):
        raise bad(f'"type": "int" needs int bounds, got {low!r} and {high!r}')
    if log and low <= 0:
        raise bad(f"a log scale needs 0 < low, got low={low!r}")
    return (("log" if log else "") + kind, float(low), float(high), ())


def parse_space(space: Mapping[str, Any]) -> dict[str, _Dim]:
    """Check ``space`` and return one sampler per hyperparameter (in the space's order).

    Raises:
        SearchSpaceError: For an entry of an unknown form (the message names it).
        TypeError: If ``space`` is not a mapping with string keys.
    """
    if not isinstance(space, Mapping):
        raise TypeError(f"a search space is a dict of name -> entry, got {type(space).__name__}")
    dims: dict[str, _Dim] = {}
    for name, entry in space.items():
        if not isinstance(name, str):
            raise TypeError(f"search space names must be strings, got {name!r}")
        if isinstance(entry, tuple) and len(entry) == 2:
            dims[name] = _bounds(name, entry[0], entry[1], log=False, kind=None)
        elif isinstance(entry, Mapping):
            unknown = set(entry) - {"low", "high", "log", "type"}
            if unknown or "low" not in entry or "high" not in entry:
                what = f"unknown keys {sorted(map(str, unknown))}" if unknown else "no low/high"
                raise SearchSpaceError(
                    f"search space entry {name!r}: {what} in {dict(entry)!r}; use {FORMS}"
                )
            log = entry.get("log", False)
            if not isinstance(log, bool):
                raise SearchSpaceError(
                    f'search space entry {name!r}: "log" must be True or False, got {log!r}'
                )
            dims[name] = _bounds(name, entry["low"], entry["high"], log=log, kind=entry.get("type"))
        elif isinstance(entry, list) and entry:
            dims[name] = ("choice", 0.0, 0.0, tuple(entry))
        else:
            raise SearchSpaceError(
                f"search space entry {name!r}: unknown form {entry!r} "
                f"({type(entry).__name__}); use {FORMS}"
            )
    return dims


def _sample(dims: Mapping[str, _Dim], rng: random.Random) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for name, (kind, low, high, choices) in dims.items():
        if kind == "float":
            config[name] = rng.uniform(low, high)
        elif kind == "int":
            config[name] = rng.randint(int(low), int(high))
        elif kind == "choice":
            config[name] = choices[rng.randrange(len(choices))]
        elif kind == "logfloat":
            config[name] = min(high, max(low, math.exp(rng.uniform(math.log(low), math.log(high)))))
        else:  # "logint": log-uniform over [low, high + 1), floored, so each end is reachable
            x = math.exp(rng.uniform(math.log(low), math.log(high + 1)))
            config[name] = min(int(high), max(int(low), math.floor(x)))
    return config


class RandomSearch:
    """Random search over a plain search-space dict (see the module docstring for the forms).

    Args:
        space: Hyperparameter name -> entry.
        metrics: The metrics of every trial (a ``Metric``, a list, or a name -> Metric map).
        seed: Seed of the sampler; ``None`` draws one from the operating system. Each trial's
            ``seed`` is drawn from the same generator.
        bucket: If given, every trial is given it (``trial.store()`` writes into
            ``bucket.sub(trial.name)``, as amltk's optimizers do); by default a
            trial gets its own lazy default bucket (nothing is created on disk).
        prefix: Trial names are ``f"{prefix}-{i}"`` with ``i`` counting from 0.

    Raises:
        SearchSpaceError: For a search-space entry of an unknown form.
    """

    def __init__(
        self,
        space: Mapping[str, Any],
        *,
        metrics: Metric | Sequence[Metric] | Mapping[str, Metric],
        seed: int | None = None,
        bucket: Any = None,
        prefix: str = "trial",
    ) -> None:
        self._dims = parse_space(space)
        self.space = dict(space)
        metric_list = _metric_list(metrics)
        if not metric_list:
            raise ValueError("RandomSearch needs at least one metric")
        self.metrics: list[Metric] = metric_list
        """The metrics, in order (amltk's ``Optimizer.metrics``)."""
        self.metrics_by_name: dict[str, Metric] = {m.name: m for m in metric_list}
        """The same metrics by name."""
        self.seed = seed
        self.bucket = bucket
        self.prefix = prefix
        self._rng = random.Random(seed)
        self._asked = 0
        self._pending: set[str] = set()
        self.told = 0

    @overload
    def ask(self, n: None = None) -> Trial[Any]: ...

    @overload
    def ask(self, n: int) -> list[Trial[Any]]: ...

    def ask(self, n: int | None = None) -> Trial[Any] | list[Trial[Any]]:
        """One new trial, or a list of ``n`` (``n >= 0``).

        Raises:
            ValueError: If ``n`` is negative.
        """
        if n is None:
            return self._one()
        if not _is_int(n) or n < 0:
            raise ValueError(f"ask(n) needs an int n >= 0, got {n!r}")
        return [self._one() for _ in range(n)]

    def _one(self) -> Trial[Any]:
        name = f"{self.prefix}-{self._asked}"
        self._asked += 1
        config = _sample(self._dims, self._rng)
        seed = self._rng.randrange(2**31)
        self._pending.add(name)
        if self.bucket is None:
            return Trial(name=name, config=config, metrics=self.metrics, seed=seed)
        return Trial(
            name=name,
            config=config,
            metrics=self.metrics,
            seed=seed,
            bucket=self.bucket,  # store() puts the trial's files in bucket.sub(its name)
        )

    def tell(self, report: Trial.Report[Any]) -> None:
        """Take back the report of a trial this search asked for (random search does not
        learn from it; the report is only checked and counted).

        Raises:
            TypeError: If ``report`` is not a ``Trial.Report``.
            ValueError: If it is not the report of a trial asked here and not yet told.
        """
        if not isinstance(report, Trial.Report):
            raise TypeError(f"tell() takes a Trial.Report, got {type(report).__name__}")
        try:
            self._pending.remove(report.name)
        except KeyError:
            raise ValueError(
                f"tell(): {report.name!r} is not a trial this RandomSearch asked for "
                "(or it was told already)"
            ) from None
        self.told += 1

    def restore(self, history: History) -> None:
        """Catch up with ``history``, the reports of an earlier run of this search (same
        space, seed and prefix), as if this search had asked and been told all of them.

        Every name ``f"{prefix}-{i}"`` in the history counts as asked: the next trial is
        numbered after the highest ``i`` (so no name is reused), and the sampler is
        advanced by one draw per number skipped, so a run resumed after a kill asks the
        same configurations an uninterrupted run would have.  Reports in the history count
        as told.  Restoring a search that is already that far does nothing.
        """
        prefix = f"{self.prefix}-"
        top = -1
        mine: list[str] = []
        names = history._names() if hasattr(history, "_names") else [r.name for r in history]
        for name in map(str, names):
            if name.startswith(prefix):
                tail = name[len(prefix) :]
                if tail.isdigit():
                    top = max(top, int(tail))
                    mine.append(name)
        for _ in range(top + 1 - self._asked):  # the draws of the trials asked before
            _sample(self._dims, self._rng)
            self._rng.randrange(2**31)
        self._asked = max(self._asked, top + 1)
        self._pending.difference_update(mine)
        self.told = max(self.told, len(mine))

    def __repr__(self) -> str:
        return (
            f"RandomSearch(space={self.space!r}, metrics={[m.name for m in self.metrics]!r}, "
            f"seed={self.seed!r}, asked={self._asked}, told={self.told})"
        )
