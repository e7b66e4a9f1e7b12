"""``SMACOptimizer``: SMAC3 behind amltk's ask/tell API.

Requires SMAC: ``pip install 'fasttrial[smac]'``. Port amltk code by changing the import::

    from fasttrial.optimization import Metric
    from fasttrial.optimization.optimizers.smac import SMACOptimizer

    optimizer = SMACOptimizer.create(
        space={"x": (-5.0, 5.0), "n": (1, 10), "kind": ["a", "b"]},
        metrics=Metric("loss", minimize=True, bounds=(0.0, 100.0)),
        seed=0,
    )
    trial = optimizer.ask()
    with trial.begin():
        loss = (trial.config["x"] - 1) ** 2
    optimizer.tell(trial.success(loss=loss))

SMAC minimizes a cost: a bounded metric's cost is its distance to the optimal bound, an
unbounded one's its loss (the value, negated when maximized). A trial that fails or crashes
costs the *crash cost*, by default the width of each metric's bounds, so SMAC needs bounds on
every metric, or ``crash_cost=``. The space is a ``ConfigSpace.ConfigurationSpace``, a dict
whose entries are ConfigSpace hyperparameters or ``RandomSearch``'s forms, or any object with a
``search_space(parser)`` method (an amltk pipeline), called with ``"configspace"``. Each
trial's ``info`` is its ``smac.runhistory.TrialInfo``.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import weakref
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, overload

try:
    from ConfigSpace import Configuration, ConfigurationSpace
    from ConfigSpace.hyperparameters import (
        CategoricalHyperparameter,
        Constant,
        FloatHyperparameter,
        Hyperparameter,
        IntegerHyperparameter,
        OrdinalHyperparameter,
        UniformFloatHyperparameter,
        UniformIntegerHyperparameter,
    )
    from smac import HyperparameterOptimizationFacade, MultiFidelityFacade, Scenario
    from smac.facade import AbstractFacade
    from smac.runhistory import StatusType, TrialInfo, TrialValue
except ImportError as _error:
    from fasttrial.optimization.optimizers._common import missing_library

    raise missing_library("SMAC", "smac", _error) from _error

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

__all__ = ["SMACOptimizer"]

# The Scenario fields create() sets itself; the rest of Scenario's fields may be passed on.
_SET_BY_CREATE = frozenset(
    {
        "configspace",
        "objectives",
        "seed",
        "output_directory",
        "crash_cost",
        "deterministic",
        "min_budget",
        "max_budget",
    }
)
# Exceptions whose status SMAC knows by name (pynisher's, and the builtins), matched by
# class name so an exception that came back from a worker as UnpicklableException matches.
_MEMORYOUT = frozenset({"MemoryLimitException", "MemoryError"})
_TIMEOUT = frozenset(
    {"TimeoutException", "WallTimeoutException", "CpuTimeoutException", "TimeoutError"}
)


def _hyperparameter(name: str, entry: Any) -> Hyperparameter:
    if isinstance(entry, Hyperparameter):
        if entry.name != name:
            raise SearchSpaceError(
                f"search space entry {name!r}: the hyperparameter is named {entry.name!r}"
            )
        return entry
    kind, low, high, choices = single_dim(name, entry)
    log = kind.startswith("log")
    if kind == "choice":
        try:
            if len(choices) == 1:
                return Constant(name, choices[0])
            return CategoricalHyperparameter(name, list(choices))
        except (TypeError, ValueError) as error:
            raise SearchSpaceError(
                f"search space entry {name!r}: ConfigSpace cannot hold the choices "
                f"{list(choices)!r} ({error}); map them to names or indices"
            ) from None
    if kind.endswith("int"):
        return UniformIntegerHyperparameter(name, int(low), int(high), log=log)
    return UniformFloatHyperparameter(name, low, high, log=log)


def to_configspace(space: Any, seed: int | None = None) -> ConfigurationSpace:
    """``space`` as a ``ConfigurationSpace`` (see the module docstring for the forms).

    Raises:
        SearchSpaceError: For an entry ConfigSpace cannot express (the message names it).
        TypeError: If ``space`` is none of the accepted kinds.
    """
    space = resolve_space(space, "configspace")
    if isinstance(space, ConfigurationSpace):
        return space
    if not isinstance(space, Mapping):
        raise TypeError(
            "SMACOptimizer's space is a ConfigSpace.ConfigurationSpace, a dict of name -> "
            "hyperparameter or RandomSearch form, or an object with a search_space(parser) "
            f"method; got {type(space).__name__}"
        )
    cs = ConfigurationSpace(seed=seed)
    cs.add([_hyperparameter(name, entry) for name, entry in space.items()])
    return cs


def _converters(cs: ConfigurationSpace) -> dict[str, tuple[int, Any]]:
    """Per hyperparameter: how a Configuration's value becomes a plain Python value.

    ``(0, None)`` float, ``(1, None)`` int, ``(2, choices)`` a choice read from the vector
    (so the original object comes back, not a numpy scalar), ``(3, None)`` anything else."""
    out: dict[str, tuple[int, Any]] = {}
    for name, hp in cs.items():
        if isinstance(hp, CategoricalHyperparameter):
            out[name] = (2, tuple(hp.choices))
        elif isinstance(hp, OrdinalHyperparameter):
            out[name] = (2, tuple(hp.sequence))
        elif isinstance(hp, Constant):
            out[name] = (4, hp.value)
        elif isinstance(hp, IntegerHyperparameter):
            out[name] = (1, None)
        elif isinstance(hp, FloatHyperparameter):
            out[name] = (0, None)
        else:
            out[name] = (3, None)
    return out


def _cost(value: Metric.Value) -> float:
    d = value.distance_to_optimal
    return value.loss if d is None else d


class SMACOptimizer:
    """SMAC3 behind ``ask()`` / ``tell()``.

    Make one with ``SMACOptimizer.create(...)``; the constructor takes a facade made
    elsewhere, whose scenario's crash cost must match the metrics' (or ``crash_cost``).

    Args:
        facade: The SMAC facade to ask and tell.
        metrics: The metrics (SMAC's objectives, in order).
        bucket: Every trial's bucket (``trial.store()`` writes into its ``sub(trial.name)``).
        fidelities: ``{name: (low, high)}`` of the budget; one name gives trials
            ``fidelities={name: budget}``, several ``{"budget": budget}`` (as amltk).
        time_profile: The name of the trial profile whose time is told to SMAC (as amltk
            1.10.1; ``"fit"`` also finds ``"trial:fit"``, its name inside ``begin()``);
            default the trial's own ``begin()`` time, if it has one.
        crash_cost: The crash cost, if not from the metrics' bounds.
        save: Whether each ``tell()`` saves SMAC's run history in its output directory.

    Raises:
        ValueError: If the scenario's crash cost is not the metrics'.
    """

    def __init__(
        self,
        *,
        facade: AbstractFacade,
        metrics: Metric | Sequence[Metric],
        bucket: Any = None,
        fidelities: Mapping[str, Any] | None = None,
        time_profile: str | None = None,
        crash_cost: float | Sequence[float] | None = None,
        save: bool = True,
    ) -> None:
        self.metrics: list[Metric] = metric_list(metrics, "SMACOptimizer")
        self.metrics_by_name: dict[str, Metric] = {m.name: m for m in self.metrics}
        costs = self._crash_costs(self.metrics, crash_cost)
        expected: float | list[float] = costs[0] if len(costs) == 1 else costs
        if facade.scenario.crash_cost != expected:
            raise ValueError(
                f"the facade's scenario has crash_cost={facade.scenario.crash_cost!r}, but the "
                f"metrics {[str(m) for m in self.metrics]} give {expected!r}"
            )
        self.facade = facade
        self.bucket = make_bucket(bucket, type(self).__name__)
        self.fidelities = None if fidelities is None else dict(fidelities)
        self.time_profile = time_profile
        self.save = save
        self._crash = costs
        self._space: ConfigurationSpace = facade.scenario.configspace
        self._convert = _converters(self._space)
        self._ledger = Ledger(type(self).__name__)
        self._asked_any = False
        self._fid_key: str | None = None
        if self.fidelities:
            self._fid_key = next(iter(self.fidelities)) if len(self.fidelities) == 1 else "budget"

    # -- creation -------------------------------------------------------------------------

    @staticmethod
    def _crash_costs(
        metrics: Sequence[Metric], crash_cost: float | Sequence[float] | None
    ) -> list[float]:
        if crash_cost is not None:
            given = [crash_cost] if isinstance(crash_cost, (int, float)) else list(crash_cost)
            if len(given) != len(metrics) or not all(
                isinstance(c, (int, float)) and math.isfinite(c) for c in given
            ):
                raise ValueError(
                    f"crash_cost= needs one finite number per metric ({len(metrics)}), "
                    f"got {crash_cost!r}"
                )
            return [float(c) for c in given]
        costs = []
        for m in metrics:
            if m.bounds is None:
                raise ValueError(
                    f"SMACOptimizer needs bounds on metric {m.name!r} to cost a failed or "
                    f"crashed trial (SMAC's model cannot learn from an infinite cost): give "
                    f"Metric({m.name!r}, minimize={m.minimize}, bounds=(lower, upper)), or "
                    "crash_cost= to create()"
                )
            lower, upper = m.bounds
            costs.append(abs(upper - lower))
        return costs

    @classmethod
    def crash_cost(cls, metric: Metric | Sequence[Metric]) -> float | list[float]:
        """SMAC's crash cost of a metric as amltk defines it: the width of its bounds, or
        ``inf`` when unbounded (``create()`` refuses that; see the module docstring)."""

        def one(m: Metric) -> float:
            if m.bounds is None:
                return math.inf
            lower, upper = m.bounds
            return abs(upper - lower)

        return one(metric) if isinstance(metric, Metric) else [one(m) for m in metric]

    @classmethod
    def cost(cls, value: Metric.Value) -> float:
        """SMAC's cost of a value: its distance to the optimal bound, or its loss when
        the metric is unbounded."""
        return _cost(value)

    @classmethod
    def create(
        cls,
        *,
        space: Any,
        metrics: Metric | Sequence[Metric],
        bucket: Any = None,
        deterministic: bool = True,
        seed: Any = None,
        fidelities: Mapping[str, Any] | None = None,
        continue_from_last_run: bool = False,
        logging_level: int | Path | Literal[False] | None = False,
        time_profile: str | None = None,
        crash_cost: float | Sequence[float] | None = None,
        save: bool | None = None,
        **scenario_kwargs: Any,
    ) -> SMACOptimizer:
        """Create a SMAC facade for ``space`` and ``metrics`` and the optimizer around it:
        ``HyperparameterOptimizationFacade``, or ``MultiFidelityFacade`` when ``fidelities``
        are given (as amltk picks them).

        Args:
            space: The space (see the module docstring).
            metrics: One ``Metric`` or several (multi-objective, SMAC's mean aggregation);
                each needs bounds unless ``crash_cost`` is given.
            bucket: A bucket or a path; SMAC's files go to its ``smac3_output/``. Default:
                a lazy ``PathBucket`` named ``SMACOptimizer-<time>`` for the trials, and
                SMAC's files in a temporary directory removed with the optimizer.
            deterministic: Whether the target gives the same result for a config and seed.
            seed: SMAC's seed (an int, ``None`` for one drawn from the operating system, or
                a numpy ``Generator``/``RandomState``).
            fidelities: ``{name: (low, high)}`` of the budget (see the class).
            continue_from_last_run: Continue from SMAC's files in the bucket's output
                directory, if the scenario is the same.
            logging_level: Passed on to SMAC; ``False`` leaves logging alone.
            time_profile: See the class.
            crash_cost: A number per metric, instead of the bounds' widths.
            save: Whether each ``tell()`` saves SMAC's run history (a write of all of it
                per tell); default: when a bucket is given.
            **scenario_kwargs: Other ``smac.Scenario`` fields (``n_trials``, which also
                sizes the initial design, ``walltime_limit``, ``n_workers``...).

        Raises:
            ValueError: For a metric without bounds (and no ``crash_cost``), bad fidelities,
                or a Scenario field that create() sets itself.
            SearchSpaceError: For a space entry ConfigSpace cannot express.
        """
        taken = sorted(_SET_BY_CREATE & set(scenario_kwargs))
        if taken:
            raise ValueError(
                f"SMACOptimizer.create(): {taken} are set by create() itself (from space=, "
                "metrics=, seed=, bucket=, deterministic=, fidelities=, crash_cost=)"
            )
        metric_objs = metric_list(metrics, "SMACOptimizer")
        costs = cls._crash_costs(metric_objs, crash_cost)
        seed = as_seed(seed)
        configspace = to_configspace(space, seed)
        budgets = _budget_range(fidelities)
        user_bucket = bucket is not None
        bucket = make_bucket(bucket, cls.__name__)
        cleanup: str | None = None
        bucket_path = getattr(bucket, "path", None) if user_bucket else None
        if bucket_path is not None:
            output = Path(bucket_path) / "smac3_output"
        else:
            cleanup = tempfile.mkdtemp(prefix="fasttrial-smac-")
            output = Path(cleanup)
        names: str | list[str] = (
            metric_objs[0].name if len(metric_objs) == 1 else [m.name for m in metric_objs]
        )
        crash: float | list[float] = costs[0] if len(costs) == 1 else costs
        facade_cls: type[AbstractFacade]
        if budgets is not None:
            scenario = Scenario(
                configspace=configspace,
                objectives=names,
                output_directory=output,
                seed=seed,
                deterministic=deterministic,
                min_budget=budgets[0],
                max_budget=budgets[1],
                crash_cost=crash,
                **scenario_kwargs,
            )
            facade_cls = MultiFidelityFacade
        else:
            scenario = Scenario(
                configspace=configspace,
                objectives=names,
                output_directory=output,
                seed=seed,
                deterministic=deterministic,
                crash_cost=crash,
                **scenario_kwargs,
            )
            facade_cls = HyperparameterOptimizationFacade
        try:
            facade = facade_cls(
                scenario=scenario,
                target_function="dummy",  # ask/tell only: SMAC never runs a target itself
                overwrite=not continue_from_last_run,
                logging_level=logging_level,
                multi_objective_algorithm=facade_cls.get_multi_objective_algorithm(scenario),
            )
        except BaseException:
            if cleanup is not None:
                shutil.rmtree(cleanup, ignore_errors=True)
            raise
        optimizer = cls(
            facade=facade,
            metrics=metric_objs,
            bucket=bucket,
            fidelities=fidelities,
            time_profile=time_profile,
            crash_cost=crash_cost,
            save=user_bucket if save is None else save,
        )
        if cleanup is not None:
            weakref.finalize(optimizer, shutil.rmtree, cleanup, True)
        return optimizer

    @classmethod
    def preferred_parser(cls) -> Literal["configspace"]:
        """The parser amltk pipelines are asked for their space with: ``"configspace"``."""
        return "configspace"

    # -- ask / tell -------------------------------------------------------------------------

    @overload
    def ask(self, n: None = None) -> Trial[TrialInfo]: ...

    @overload
    def ask(self, n: int) -> list[Trial[TrialInfo]]: ...

    def ask(self, n: int | None = None) -> Trial[TrialInfo] | list[Trial[TrialInfo]]:
        """One new trial, or a list of ``n`` (``n >= 0``); ``trial.info`` is SMAC's
        ``TrialInfo``, ``trial.seed`` its seed, ``trial.fidelities`` its budget.

        Raises:
            ValueError: If ``n`` is not an int ``>= 0``.
        """
        if n is None:
            return self._one()
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ValueError(f"ask(n) needs an int n >= 0, got {n!r}")
        return [self._one() for _ in range(n)]

    def _plain(self, config: Configuration) -> dict[str, Any]:
        out: dict[str, Any] = {}
        convert = self._convert
        vector = None
        for key, value in config.items():
            kind, extra = convert[key]
            if kind == 0:
                out[key] = float(value)
            elif kind == 1:
                out[key] = int(value)
            elif kind == 2:
                if vector is None:
                    vector = config.get_array()
                out[key] = extra[int(vector[self._space.index_of[key]])]
            elif kind == 4:
                out[key] = extra
            else:
                out[key] = value.item() if hasattr(value, "item") else value
        return out

    def _one(self) -> Trial[TrialInfo]:
        info = self.facade.ask()
        self._asked_any = True
        budget = info.budget
        config_id = self.facade.runhistory.config_ids[info.config]
        ledger = self._ledger
        name = ledger.name(
            f"config_id={config_id}_seed={info.seed}_budget={budget}_instance={info.instance}"
        )
        ledger.asked(name, info)
        fidelities = (
            {self._fid_key: budget} if self._fid_key is not None and budget is not None else None
        )
        return Trial(
            name=name,
            config=self._plain(info.config),
            info=info,
            seed=info.seed,
            fidelities=fidelities,
            bucket=self.bucket,
            metrics=self.metrics,
        )

    def _value(self, report: Trial.Report[Any]) -> TrialValue:
        values = report_values(report, self.metrics, "SMACOptimizer")
        costs = []
        for v, crash in zip(values, self._crash, strict=True):
            c = _cost(v)
            costs.append(c if math.isfinite(c) else crash)
        cost: float | list[float] = costs[0] if len(costs) == 1 else costs
        status = report.status
        if status is Trial.Status.SUCCESS:
            smac_status = StatusType.SUCCESS
        else:
            smac_status = StatusType.CRASHED
            if status is not Trial.Status.FAIL:  # crashed / unknown: the crash cost
                cost = self._crash[0] if len(self._crash) == 1 else list(self._crash)
        additional: dict[str, Any] = {}
        exc = report.exception
        if exc is not None:
            kind = getattr(exc, "type_name", type(exc).__qualname__).rpartition(".")[2]
            if kind in _MEMORYOUT:
                smac_status = StatusType.MEMORYOUT
            elif kind in _TIMEOUT:
                smac_status = StatusType.TIMEOUT
            additional = {"exception": str(exc), "traceback": report.traceback}
        timing = self._timing(report)
        if timing is None:
            return TrialValue(cost=cost, status=smac_status, additional_info=additional)
        start, end, duration = timing
        return TrialValue(
            cost=cost,
            time=duration,
            status=smac_status,
            starttime=start,
            endtime=end,
            additional_info=additional,
        )

    def _timing(self, report: Trial.Report[Any]) -> tuple[float, float, float] | None:
        trial = report.trial
        if self.time_profile is not None:
            profiles = trial.profiles
            profile = profiles.get(self.time_profile)
            if profile is None:  # a profile inside `with trial.begin():` is named "trial:<name>"
                profile = profiles.get(f"trial:{self.time_profile}")
            if profile is None:
                if report.status is Trial.Status.SUCCESS:
                    raise ValueError(
                        f"tell(): trial {trial.name!r} has no profile {self.time_profile!r} "
                        f"(time_profile=); time it with `with trial.profile("
                        f"{self.time_profile!r}):` in the target"
                    )
                return None
            interval = profile.time
        elif trial._time is not None or trial._span is not None:  # begin() was used
            interval = trial.time
        else:
            return None
        start, end, duration = interval.start, interval.end, interval.duration
        if not all(isinstance(x, float) and math.isfinite(x) for x in (start, end, duration)):
            return None
        return start, end, duration

    def tell(self, report: Trial.Report[Any]) -> None:
        """Tell SMAC a report of a trial asked here: a success's cost, or for fail the
        cost of its (worst) values and for crashed / unknown the crash cost, with status
        CRASHED (MEMORYOUT / TIMEOUT for memory and time-limit exceptions).

        Raises:
            TypeError: If ``report`` is not a ``Trial.Report``.
            ValueError: If its trial was not asked here, was told already, or its metrics
                are not this optimizer's. SMAC is then unchanged.
        """
        info = self._ledger.pending(report)
        value = self._value(report)
        self.facade.tell(info, value, save=self.save)
        self._ledger.told(report.trial.name)

    def restore(self, reports: Iterable[Trial.Report[Any]]) -> None:
        """Bring SMAC up to date with reports recorded earlier (a journal after a crash, a
        saved History): each is told to SMAC's run history as the trial of its config, seed
        and budget, so SMAC's model learns from it; its name is never handed out by a later
        ``ask()``. Call it before the first ``ask()`` (SMAC's intensifier reads the seeds
        and budgets of its run history when it starts).

        All reports are checked before any is told: on an error SMAC is unchanged.

        Raises:
            RuntimeError: If ``ask()`` was called already.
            TypeError: For something that is not a ``Trial.Report``.
            ValueError: For a report whose name is known here already, whose metrics are
                not this optimizer's, whose config does not fit the space, or which has no
                seed or (with fidelities) no budget (the message names the report).
        """
        if self._asked_any:
            raise RuntimeError(
                "restore() must come before the first ask(): SMAC's intensifier reads the "
                "run history when it starts"
            )
        checked = self._ledger.check_restorable(reports)
        told = []
        for report in checked:
            trial = report.trial
            name = trial.name
            config = self._configuration(name, trial.config)
            seed = trial.seed
            if not isinstance(seed, int) or isinstance(seed, bool):
                raise ValueError(
                    f"restore(): report {name!r} has seed {seed!r}; SMAC tells need an int seed"
                )
            budget = None
            if self._fid_key is not None:
                budget = (trial.fidelities or {}).get(self._fid_key)
                if not isinstance(budget, (int, float)) or isinstance(budget, bool):
                    raise ValueError(
                        f"restore(): report {name!r} has no budget: its fidelities are "
                        f"{trial.fidelities!r}, expected {{{self._fid_key!r}: number}}"
                    )
                budget = float(budget)
            info = TrialInfo(config=config, seed=int(seed), budget=budget)
            told.append((info, self._value(report)))
        for info, value in told:
            self.facade.tell(info, value, save=False)
        if told and self.save:
            self.facade.optimizer.save()
        for report in checked:
            self._ledger.restored(report.trial.name)

    def _configuration(self, name: str, config: Mapping[str, Any]) -> Configuration:
        values: dict[str, Any] = {}
        for key, value in config.items():
            conv = self._convert.get(key)
            if conv is None:
                raise ValueError(
                    f"restore(): report {name!r} has config key {key!r}, which is not in the "
                    f"space ({sorted(self._convert)})"
                )
            kind = conv[0]
            if kind == 0 and isinstance(value, (int, float)) and not isinstance(value, bool):
                value = float(value)
            values[key] = value
        try:
            return Configuration(self._space, values=values)
        except Exception as error:  # ConfigSpace raises several kinds for a bad value
            raise ValueError(
                f"restore(): report {name!r} does not fit the space: {error}"
            ) from None

    def __repr__(self) -> str:
        return (
            f"SMACOptimizer(metrics={[str(m) for m in self.metrics]}, "
            f"space={sorted(self._convert)}, facade={type(self.facade).__name__}, "
            f"fidelities={self.fidelities!r}, pending={len(self._ledger)})"
        )


def _budget_range(fidelities: Mapping[str, Any] | None) -> tuple[float, float] | None:
    """SMAC's (min_budget, max_budget): one fidelity's range, or (1, 100) for several
    (amltk's choice; trials then get ``{"budget": b}``).

    Raises:
        ValueError: For a fidelity that is not a ``(low, high)`` pair with ``0 < low < high``.
    """
    if not fidelities:
        return None
    if not isinstance(fidelities, Mapping):
        raise ValueError(f"fidelities= is a dict of name -> (low, high), got {fidelities!r}")
    for key, rng in fidelities.items():
        ok = (
            isinstance(rng, (tuple, list))
            and len(rng) == 2
            and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in rng)
            and 0 < rng[0] < rng[1]
            and math.isfinite(rng[1])
        )
        if not ok:
            raise ValueError(
                f"fidelity {key!r}: expected a (low, high) budget range with 0 < low < high, "
                f"got {rng!r}"
            )
    if len(fidelities) == 1:
        low, high = next(iter(fidelities.values()))
        return float(low), float(high)
    return 1.0, 100.0
