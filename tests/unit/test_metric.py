"""Tests of ``fasttrial.optimization.Metric`` and ``Metric.Value``."""

from __future__ import annotations

import copy
import math
import pickle
from typing import Any

import numpy as np
import pytest

from fasttrial.optimization import Metric

INF = float("inf")


# ------------------------------------------------------------------------------ names
class TestName:
    @pytest.mark.parametrize("name", ["loss", "acc", "f1_macro", "_private", "Loss2", "x"])
    def test_valid_names(self, name: str) -> None:
        assert Metric(name).name == name

    @pytest.mark.parametrize("name", ["1loss", "0", "9_lives"])
    def test_leading_digit(self, name: str) -> None:
        with pytest.raises(ValueError, match="cannot start with a digit"):
            Metric(name)

    @pytest.mark.parametrize("char", list("[](){}<>|&^%$#@!~`"))
    def test_forbidden_characters(self, char: str) -> None:
        with pytest.raises(ValueError, match="cannot contain") as info:
            Metric(f"my{char}metric")
        assert char in str(info.value)

    @pytest.mark.parametrize("name", ["my metric", " loss", "loss ", "a\tb", "a\nb"])
    def test_whitespace(self, name: str) -> None:
        with pytest.raises(ValueError, match="whitespace"):
            Metric(name)

    def test_empty(self) -> None:
        with pytest.raises(ValueError):
            Metric("")

    def test_not_a_string(self) -> None:
        with pytest.raises(ValueError):
            Metric(None)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- bounds
class TestBounds:
    def test_lower_above_upper(self) -> None:
        with pytest.raises(ValueError, match=r"Lower bound 2\.0 > upper bound 1\.0"):
            Metric("m", bounds=(2, 1))

    def test_stored_as_floats(self) -> None:
        m = Metric("m", bounds=(0, 1))
        assert m.bounds == (0.0, 1.0)
        assert all(type(b) is float for b in m.bounds)

    def test_numpy_bounds_become_python_floats(self) -> None:
        m = Metric("m", bounds=(np.int64(-1), np.float32(2.5)))  # type: ignore[arg-type]
        assert m.bounds == (-1.0, 2.5)
        assert all(type(b) is float for b in m.bounds)

    def test_equal_bounds_allowed(self) -> None:
        assert Metric("m", bounds=(3, 3)).bounds == (3.0, 3.0)

    def test_infinite_bounds(self) -> None:
        assert Metric("m", bounds=(-INF, 0)).bounds == (-INF, 0.0)

    @pytest.mark.parametrize("bounds", [(0,), (0, 1, 2), ("a", "b"), (math.nan, 1.0)])
    def test_malformed_bounds(self, bounds: Any) -> None:
        with pytest.raises(ValueError):
            Metric("m", bounds=bounds)

    def test_no_bounds(self) -> None:
        assert Metric("m").bounds is None


# ------------------------------------------------------------------------ immutability
class TestFrozen:
    @pytest.mark.parametrize(
        ("attr", "value"), [("name", "other"), ("minimize", False), ("bounds", (0.0, 1.0))]
    )
    def test_setting_an_attribute_raises(self, attr: str, value: Any) -> None:
        m = Metric("m")
        with pytest.raises(AttributeError):
            setattr(m, attr, value)
        assert m == Metric("m")

    def test_new_attribute_raises(self) -> None:
        with pytest.raises(AttributeError):
            Metric("m").extra = 1  # type: ignore[attr-defined]

    def test_deleting_raises(self) -> None:
        m = Metric("m")
        with pytest.raises(AttributeError):
            del m.name

    def test_value_is_frozen(self) -> None:
        v = Metric("m")(1.0)
        with pytest.raises(AttributeError):
            v.value = 2.0  # type: ignore[misc]
        with pytest.raises(AttributeError):
            v.metric = Metric("n")  # type: ignore[misc]
        assert v.value == 1.0


# ------------------------------------------------------------------- equality and hash
class TestEquality:
    def test_equal_by_fields(self) -> None:
        assert Metric("m") == Metric("m")
        assert Metric("m", minimize=False, bounds=(0, 1)) == Metric(
            "m", minimize=False, bounds=(0.0, 1.0)
        )
        assert hash(Metric("m", bounds=(0, 1))) == hash(Metric("m", bounds=(0.0, 1.0)))

    @pytest.mark.parametrize(
        "other",
        [
            Metric("n"),
            Metric("m", minimize=False),
            Metric("m", bounds=(0, 1)),
            Metric("m", bounds=(0, 2)),
        ],
    )
    def test_not_equal(self, other: Metric) -> None:
        assert Metric("m") != other

    def test_usable_in_sets_and_dicts(self) -> None:
        metrics = {Metric("a"), Metric("a"), Metric("b"), Metric("a", minimize=False)}
        assert len(metrics) == 3
        assert {Metric("a"): 1}[Metric("a")] == 1

    def test_not_equal_to_other_types(self) -> None:
        assert Metric("m") != "m (minimize)"
        assert Metric("m") != ("m", True, None)

    def test_pickle_and_copy(self) -> None:
        m = Metric("acc", minimize=False, bounds=(0, 1))
        assert pickle.loads(pickle.dumps(m)) == m
        assert copy.copy(m) == m and copy.deepcopy(m) == m
        v = m(0.5)
        back = pickle.loads(pickle.dumps(v))
        assert back == v and back.metric == m

    def test_repr(self) -> None:
        r = repr(Metric("acc", minimize=False, bounds=(0, 1)))
        assert "acc" in r and "False" in r and "(0.0, 1.0)" in r


# ------------------------------------------------------------------------ str / from_str
class TestStr:
    def test_str_forms(self) -> None:
        assert str(Metric("loss")) == "loss (minimize)"
        assert str(Metric("acc", minimize=False)) == "acc (maximize)"
        assert str(Metric("acc", minimize=False, bounds=(0, 1))) == "acc [0.0, 1.0] (maximize)"
        assert str(Metric("err", bounds=(-1, 2.5))) == "err [-1.0, 2.5] (minimize)"

    @pytest.mark.parametrize(
        "metric",
        [
            Metric("loss"),
            Metric("acc", minimize=False),
            Metric("acc", minimize=False, bounds=(0, 1)),
            Metric("err", bounds=(-1e-12, 123456.789)),
            Metric("r", bounds=(0.1, 0.7)),
            Metric("u", bounds=(-INF, INF)),
            Metric("_x2", minimize=False, bounds=(-3, -3)),
        ],
    )
    def test_from_str_round_trip(self, metric: Metric) -> None:
        back = Metric.from_str(str(metric))
        assert back == metric
        assert back.bounds == metric.bounds
        assert str(back) == str(metric)

    def test_from_str_examples(self) -> None:
        assert Metric.from_str("loss (minimize)") == Metric("loss")
        assert Metric.from_str("accuracy [0.0, 1.0] (maximize)") == Metric(
            "accuracy", minimize=False, bounds=(0, 1)
        )

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "loss",
            "loss minimize",
            "loss (min)",
            "(minimize)",
            "acc [0.0, x] (maximize)",
            "acc [0.0, 1.0, 2.0] (maximize)",
            "acc [1.0, 0.0] (maximize)",
            "1acc (maximize)",
            "a$b (minimize)",
        ],
    )
    def test_from_str_garbage(self, text: str) -> None:
        with pytest.raises(ValueError):
            Metric.from_str(text)


# ------------------------------------------------------------------------ worst / optimal
class TestWorstOptimal:
    @pytest.mark.parametrize(
        ("metric", "worst", "optimal"),
        [
            (Metric("m"), INF, -INF),
            (Metric("m", minimize=False), -INF, INF),
            (Metric("m", bounds=(-1, 3)), 3.0, -1.0),
            (Metric("m", minimize=False, bounds=(-1, 3)), -1.0, 3.0),
        ],
    )
    def test_four_combinations(self, metric: Metric, worst: float, optimal: float) -> None:
        assert metric.worst.value == worst
        assert metric.optimal.value == optimal
        assert metric.worst.metric is metric
        assert metric.optimal.metric is metric
        assert isinstance(metric.worst, Metric.Value)
        assert metric.worst.loss >= metric.optimal.loss

    def test_unbounded_optimal_has_no_distance(self) -> None:
        assert Metric("m").optimal.distance_to_optimal is None

    def test_bounded_optimal_distance_is_zero(self) -> None:
        assert Metric("m", bounds=(0, 1)).optimal.distance_to_optimal == 0.0
        assert Metric("m", minimize=False, bounds=(0, 1)).optimal.distance_to_optimal == 0.0
        assert Metric("m", bounds=(0, 1)).worst.distance_to_optimal == 1.0


# ------------------------------------------------------------------------------ values
class TestValue:
    def test_fields(self) -> None:
        m = Metric("s", minimize=False, bounds=(0, 1))
        v = m(0.3)
        assert v.metric is m
        assert v.value == 0.3
        assert v.name == "s"
        assert v.minimize is False
        assert v.bounds == (0.0, 1.0)
        assert m.as_value(0.3) == v

    def test_maximized_bounded(self) -> None:
        v = Metric("s", minimize=False, bounds=(0, 1))(0.3)
        assert v.loss == -0.3
        assert v.score == 0.3
        assert v.distance_to_optimal == pytest.approx(0.7)

    def test_minimized_bounded(self) -> None:
        v = Metric("l", bounds=(-1, 1))(0.8)
        assert v.loss == 0.8
        assert v.score == -0.8
        assert v.distance_to_optimal == pytest.approx(1.8)

    def test_unbounded_has_no_distance(self) -> None:
        assert Metric("l")(5.0).distance_to_optimal is None
        assert Metric("s", minimize=False)(5.0).distance_to_optimal is None
        assert Metric("s", minimize=False)(5.0).loss == -5.0

    @pytest.mark.parametrize("value", [-0.1, 1.5])
    def test_outside_bounds_distance_raises(self, value: float) -> None:
        v = Metric("s", minimize=False, bounds=(0, 1))(value)
        with pytest.raises(ValueError, match="not within"):
            v.distance_to_optimal  # noqa: B018

    def test_float(self) -> None:
        v = Metric("m")(2)
        assert float(v) == 2.0
        assert type(float(v)) is float
        assert type(v.value) is float

    def test_ordering(self) -> None:
        m = Metric("m")
        values = [m(3), m(-1), m(2.5), m(0)]
        assert [v.value for v in sorted(values)] == [-1.0, 0.0, 2.5, 3.0]
        assert max(values).value == 3.0
        assert m(1) < m(2) <= m(2) < m(5)
        assert m(5) > m(2) >= m(2)
        assert m(1) < 2 and m(3) > 2.5 and m(2) <= 2 and m(2) >= 2

    def test_ordering_with_strings_raises(self) -> None:
        with pytest.raises(TypeError):
            Metric("m")(1) < "2"  # type: ignore[operator]  # noqa: B015

    def test_equality_with_numbers(self) -> None:
        m = Metric("m")
        assert m(3) == 3
        assert m(3) == 3.0
        assert m(0.5) == 0.5
        assert m(3) != 4
        assert m(3) == m(3)
        assert m(3) != m(4)
        assert m(1) != "1"
        assert hash(m(3)) == hash(3.0)

    def test_as_value_accepts_numpy_scalars(self) -> None:
        m = Metric("m")
        for raw in (np.float64(0.25), np.float32(0.25), np.int64(3), np.int8(-2)):
            v = m.as_value(raw)
            assert type(v.value) is float
            assert v.value == float(raw)

    def test_as_value_accepts_zero_d_arrays(self) -> None:
        v = Metric("m")(np.array(0.75))
        assert type(v.value) is float
        assert v.value == 0.75

    @pytest.mark.parametrize("raw", ["0.3", b"1", None, [1.0], {"v": 1}])
    def test_as_value_refuses_non_numbers(self, raw: Any) -> None:
        with pytest.raises(ValueError):
            Metric("m").as_value(raw)

    @pytest.mark.parametrize("raw", [np.array([1.0, 2.0]), np.zeros((2, 2)), np.arange(5)])
    def test_as_value_refuses_arrays(self, raw: Any) -> None:
        with pytest.raises(ValueError, match="array"):
            Metric("m")(raw)

    def test_repr(self) -> None:
        r = repr(Metric("m")(1.5))
        assert "1.5" in r and "'m'" in r
