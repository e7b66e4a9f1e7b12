"""``OptunaOptimizer``: an Optuna study behind amltk's ask/tell API.

Requires Optuna: ``pip install 'fasttrial[optuna]'``. Port amltk code by changing the import::

    from fasttrial.optimization import Metric
    from fasttrial.optimization.optimizers.optuna import OptunaOptimizer

    optimizer = OptunaOptimizer.create(
        space={"x": (-5.0, 5.0), "n": (1, 10), "kind": ["a", "b"]},
        metrics=Metric("loss", minimize=True),
        seed=0,
    )
    trial = optimizer.ask()
    with trial.begin():
        loss = (trial.config["x"] - 1) ** 2
    optimizer.tell(trial.success(loss=loss))

The space is a dict whose entries are Optuna distributions or ``RandomSearch``'s forms (both
may be mixed), or any object with a ``search_space(parser)`` method (an amltk pipeline), which
is called with ``"optuna"``. Each trial's ``info`` is its ``optuna.trial.Trial``; a trial
pickled to another process carries an ``optuna.trial.FixedTrial`` with the same params and
number instead (not a copy of the whole study).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, overload

try:
    import optuna
    from optuna.distributions import (
        BaseDistribution,
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )
    from optuna.samplers import BaseSampler, NSGAIISampler, TPESampler
    from optuna.study import Study, StudyDirection
    from optuna.trial import Trial as OptunaTrial
    from optuna.trial import TrialState
except ImportError as _error:
    from fasttrial.optimization.optimizers._common import missing_library

    raise missing_library("Optuna", "optuna", _error) from _error

from fasttrial.optimization.metric import Metric
from fasttrial.optimization.optimizer import SearchSpaceError
from fasttrial.optimization.optimizers._common import (
    Ledger,
    as_seed,
    make_bucket,
    metric_list,
    report_values,
    resolve_space,
    single_dim,
)
from fasttrial.optimization.trial import Trial

__all__ = ["OptunaOptimizer"]

_CATEGORICAL_TYPES = (type(None), bool, int, float, str)
_FAILED = (Trial.Status.FAIL, Trial.Status.CRASHED, Trial.Status.UNKNOWN)


def _distribution(name: str, entry: Any) -> BaseDistribution:
    if isinstance(entry, BaseDistribution):
        return entry
    kind, low, high, choices = single_dim(name, entry)
    if kind == "choice":
        bad = [c for c in choices if not isinstance(c, _CATEGORICAL_TYPES)]
        if bad:
            raise SearchSpaceError(
                f"search space entry {name!r}: Optuna's categorical choices must be None, "
                f"bool, int, float or str, got {bad[0]!r} ({type(bad[0]).__name__}); "
                "map other objects to names or indices and look them up in the target"
            )
        return CategoricalDistribution(choices)
    log = kind.startswith("log")
    if kind.endswith("int"):
        return IntDistribution(int(low), int(high), log=log)
    return FloatDistribution(low, high, log=log)


def to_distributions(space: Any) -> dict[str, BaseDistribution]:
    """``space`` as a dict of Optuna distributions (see the module docstring for the forms).

    Raises:
        SearchSpaceError: For an entry Optuna cannot express (the message names it).
        TypeError: If ``space`` is none of the accepted kinds.
    """
    space = resolve_space(space, "optuna")
    if not isinstance(space, Mapping):
        raise TypeError(
            "OptunaOptimizer's space is a dict of name -> Optuna distribution or a "
            "RandomSearch form, or an object with a search_space(parser) method; got "
            f"{type(space).__name__}"
        )
    return {name: _distribution(name, entry) for name, entry in space.items()}


def _fixed_trial(params: dict[str, Any], number: int) -> Any:
    return optuna.trial.FixedTrial(params, number)


class _AskedTrial(OptunaTrial):
    """The ``optuna.trial.Trial`` that ``ask()`` puts in ``trial.info``, unchanged in this
    process; pickled (to a worker process), it becomes an ``optuna.trial.FixedTrial`` with
    the same params and number. A pickled ``optuna.trial.Trial`` carries a copy of its whole
    study (every trial in it: ~180 KB and ~20 ms at 1,000 trials), and telling that copy
    would change nothing here anyway; ``tell()`` finds the live trial by the report's name."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_fixed_trial, (self.params, self.number))


def _directions(metrics: Sequence[Metric]) -> list[StudyDirection]:
    return [StudyDirection.MINIMIZE if m.minimize else StudyDirection.MAXIMIZE for m in metrics]


class OptunaOptimizer:
    """An Optuna study behind ``ask()`` / ``tell()``.

    Make one with ``OptunaOptimizer.create(...)``; the constructor takes a study made
    elsewhere, whose directions must match the metrics.

    Args:
        study: The Optuna study to ask and tell.
        metrics: The metrics to optimize, in the order Optuna's values are given.
        space: The space (see the module docstring).
        bucket: Every trial's bucket (``trial.store()`` writes into its ``sub(trial.name)``).
        seed: The seed given to every trial (``trial.seed``), as amltk does.

    Raises:
        ValueError: If the study's directions do not match the metrics.
    """

    def __init__(
        self,
        *,
        study: Study,
        metrics: Metric | Sequence[Metric],
        space: Any,
        bucket: Any = None,
        seed: Any = None,
    ) -> None:
        self.metrics: list[Metric] = metric_list(metrics, "OptunaOptimizer")
        self.metrics_by_name: dict[str, Metric] = {m.name: m for m in self.metrics}
        wanted = _directions(self.metrics)
        if list(study.directions) != wanted:
            raise ValueError(
                f"the study's directions {[d.name for d in study.directions]} do not match "
                f"the metrics {[str(m) for m in self.metrics]} (which want "
                f"{[d.name for d in wanted]})"
            )
        self.study = study
        self.space: dict[str, BaseDistribution] = to_distributions(space)
        self.bucket = make_bucket(bucket, type(self).__name__)
        self.seed = as_seed(seed)
        self._ledger = Ledger(type(self).__name__)
        self._single = len(self.metrics) == 1

    @classmethod
    def create(
        cls,
        *,
        space: Any,
        metrics: Metric | Sequence[Metric],
        bucket: Any = None,
        sampler: BaseSampler | None = None,
        seed: Any = None,
        **kwargs: Any,
    ) -> OptunaOptimizer:
        """Create a study for ``metrics`` and the optimizer around it.

        Args:
            space: The space (see the module docstring).
            metrics: One ``Metric`` or several (multi-objective); their ``minimize`` set the
                study's directions.
            bucket: A bucket or a path; default a lazy ``PathBucket`` named
                ``OptunaOptimizer-<time>`` (nothing is created until a trial stores).
            sampler: The sampler; default ``TPESampler(seed=seed)`` for one metric,
                ``NSGAIISampler(seed=seed)`` for several.
            seed: Seed of the default sampler and of every trial (an int, ``None`` for one
                drawn from the operating system, or a numpy ``Generator``/``RandomState``).
            **kwargs: Passed on to ``optuna.create_study`` (``storage``, ``study_name``,
                ``pruner``...), except ``direction(s)``: the metrics decide them.

        Raises:
            ValueError: If ``direction`` or ``directions`` is given.
            SearchSpaceError: For a space entry Optuna cannot express.
        """
        for key in ("direction", "directions"):
            if key in kwargs:
                raise ValueError(
                    f"OptunaOptimizer.create(): {key}= is not taken; the metrics decide the "
                    "directions (Metric(..., minimize=False) to maximize)"
                )
        metric_objs = metric_list(metrics, "OptunaOptimizer")
        space = to_distributions(space)  # before the study: a bad space creates nothing
        seed = as_seed(seed)
        if sampler is None:
            # amltk 1.10 makes this seeded sampler after creating the study and never passes
            # it, so its seed= has no effect (fixed upstream after 1.10).
            sampler = TPESampler(seed=seed) if len(metric_objs) == 1 else NSGAIISampler(seed=seed)
        study = optuna.create_study(directions=_directions(metric_objs), sampler=sampler, **kwargs)
        return cls(study=study, metrics=metric_objs, space=space, bucket=bucket, seed=seed)

    @classmethod
    def preferred_parser(cls) -> str:
        """The parser amltk pipelines are asked for their space with: ``"optuna"``."""
        return "optuna"

    @overload
    def ask(self, n: None = None) -> Trial[OptunaTrial]: ...

    @overload
    def ask(self, n: int) -> list[Trial[OptunaTrial]]: ...

    def ask(self, n: int | None = None) -> Trial[OptunaTrial] | list[Trial[OptunaTrial]]:
        """One new trial, or a list of ``n`` (``n >= 0``); ``trial.info`` is its Optuna trial.

        Raises:
            ValueError: If ``n`` is not an int ``>= 0``.
        """
        if n is None:
            return self._one()
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ValueError(f"ask(n) needs an int n >= 0, got {n!r}")
        return [self._one() for _ in range(n)]

    def _one(self) -> Trial[OptunaTrial]:
        native = self.study.ask(self.space)
        if type(native) is OptunaTrial:
            native.__class__ = _AskedTrial
        ledger = self._ledger
        name = ledger.name(f"trial_number={native.number}")
        ledger.asked(name, native)
        return Trial(
            name=name,
            config=native.params,
            info=native,
            seed=self.seed,
            bucket=self.bucket,
            metrics=self.metrics,
        )

    def tell(self, report: Trial.Report[Any]) -> None:
        """Tell the study a report of a trial asked here: a success completes the Optuna
        trial with the values in metric order; fail, crashed and unknown mark it failed.

        Raises:
            TypeError: If ``report`` is not a ``Trial.Report``.
            ValueError: If its trial was not asked here, was told already, or its metrics
                are not this optimizer's. The study is then unchanged.
        """
        native = self._ledger.pending(report)
        if report.status is Trial.Status.SUCCESS:
            values = report_values(report, self.metrics, "OptunaOptimizer")
            if self._single:
                self.study.tell(native, values[0].value, TrialState.COMPLETE)
            else:
                self.study.tell(native, [v.value for v in values], TrialState.COMPLETE)
        else:
            self.study.tell(native, state=TrialState.FAIL)
        self._ledger.told(report.trial.name)

    def restore(self, reports: Iterable[Trial.Report[Any]]) -> None:
        """Bring the study up to date with reports recorded earlier (a journal after a
        crash, a saved History): each is added as a finished Optuna trial (complete with its
        values, or failed), so the sampler learns from it; its name is never handed out by
        a later ``ask()``.

        All reports are checked before any is added: on an error the study is unchanged.

        Raises:
            TypeError: For something that is not a ``Trial.Report``.
            ValueError: For a report whose name is known here already (asked, told or
                restored), whose metrics are not this optimizer's, or whose config does not
                fit the space (the message names the report and the key).
        """
        checked = self._ledger.check_restorable(reports)
        frozen = []
        for report in checked:
            name = report.trial.name
            config = dict(report.trial.config)
            unknown = sorted(set(config) - set(self.space))
            if unknown:
                raise ValueError(
                    f"restore(): report {name!r} has config keys {unknown} that are not in the "
                    f"space ({sorted(self.space)})"
                )
            dists = {k: self.space[k] for k in config}
            if report.status is Trial.Status.SUCCESS:
                values = [v.value for v in report_values(report, self.metrics, "OptunaOptimizer")]
                state, vals = TrialState.COMPLETE, values
            else:
                state, vals = TrialState.FAIL, None
            try:
                frozen.append(
                    optuna.trial.create_trial(
                        state=state,
                        values=vals,
                        params=config,
                        distributions=dists,
                        user_attrs={"fasttrial_name": name},
                    )
                )
            except ValueError as error:
                raise ValueError(
                    f"restore(): report {name!r} does not fit the space: {error}"
                ) from None
        self.study.add_trials(frozen)
        for report in checked:
            self._ledger.restored(report.trial.name)

    def __repr__(self) -> str:
        return (
            f"OptunaOptimizer(metrics={[str(m) for m in self.metrics]}, "
            f"space={sorted(self.space)}, sampler={type(self.study.sampler).__name__}, "
            f"seed={self.seed!r}, pending={len(self._ledger)})"
        )
