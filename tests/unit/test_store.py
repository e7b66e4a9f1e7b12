"""Tests for `fasttrial.store`: PathBucket, Drop, the Bucket base class and loaders.

Everything runs against real files under `tmp_path`.
"""

from __future__ import annotations

import copy
import json
import logging
import operator
import os
import pickle
import re
import subprocess
import sys
from collections.abc import Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from fasttrial.store import (
    DEFAULT_LOADERS,
    Bucket,
    ByteLoader,
    Drop,
    JSONLoader,
    Loader,
    NPYLoader,
    PathBucket,
    PathLoader,
    PDLoader,
    PickleLoader,
    StoredValue,
    TxtLoader,
    YAMLLoader,
)
from fasttrial.store.path import TEMP_PREFIX

POSIX = os.name == "posix"


# ----------------------------------------------------------------------- helpers
def make_frame(index_name: str | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.integers(0, 10, size=(3, 3)), columns=list("ABC"))
    df.index.name = index_name
    return df


def make_series(name: str | None = "ABC", index_name: str | None = None) -> pd.Series:
    rng = np.random.default_rng(1)
    series = pd.Series(rng.integers(0, 10, size=3), name=name)
    series.index.name = index_name
    return series


def frames_equal(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    pd.testing.assert_frame_equal(a, b)
    return True


def series_equal(a: pd.Series, b: pd.Series) -> bool:
    pd.testing.assert_series_equal(a, b)
    return True


def arrays_equal(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and np.array_equal(a, b)


def needs(key: str) -> None:
    """Skip when the optional library a key's format needs is missing."""
    if key.endswith((".yaml", ".yml")):
        pytest.importorskip("yaml")
    if key.endswith(".parquet"):
        pytest.importorskip("pyarrow")


def dir_listing(path: Path) -> list[str]:
    return sorted(os.listdir(path)) if path.exists() else []


def tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


class UpperTextLoader(PathLoader[str]):
    """Custom loader: stores str upper-cased in `.up` files."""

    name: ClassVar[str] = "upper"
    suffixes: ClassVar[tuple[str, ...]] = (".up",)
    accepts: ClassVar[tuple[str, ...]] = ("str",)

    @classmethod
    def can_load(cls, key: Path, /, *, check: type | None = None) -> bool:
        return cls.handles(key)

    @classmethod
    def can_save(cls, obj: Any, key: Path, /) -> bool:
        return cls.handles(key) and isinstance(obj, str)

    @classmethod
    def save(cls, obj: str, key: Path, /) -> None:
        key.write_text(obj.upper(), encoding="utf-8")

    @classmethod
    def load(cls, key: Path, /) -> str:
        return key.read_text(encoding="utf-8")


class BareLoader(Loader[Path, Any]):
    """A loader written against the bare `Loader` protocol (no accepted_types)."""

    name: ClassVar[str] = "bare"

    @classmethod
    def can_load(cls, key: Path, /, *, check: type | None = None) -> bool:
        return key.suffix == ".bare"

    @classmethod
    def can_save(cls, obj: Any, key: Path, /) -> bool:
        return key.suffix == ".bare" and isinstance(obj, int)

    @classmethod
    def save(cls, obj: int, key: Path, /) -> None:
        key.write_text(str(obj))

    @classmethod
    def load(cls, key: Path, /) -> int:
        return int(key.read_text())


@pytest.fixture
def bucket(tmp_path: Path) -> PathBucket:
    return PathBucket(tmp_path / "bucket", lazy=True)


# ------------------------------------------------------------------ round trips
ROUND_TRIPS = [
    ("array.npy", lambda: np.random.default_rng(0).random((10, 10)), np.ndarray, arrays_equal),
    ("ints.npy", lambda: np.arange(12, dtype=np.int32).reshape(3, 4), np.ndarray, arrays_equal),
    ("df.csv", make_frame, pd.DataFrame, frames_equal),
    ("df.parquet", make_frame, pd.DataFrame, frames_equal),
    ("df.pdpickle", make_frame, pd.DataFrame, frames_equal),
    ("series.parquet", make_series, pd.Series, series_equal),
    ("series.pdpickle", make_series, pd.Series, series_equal),
    ("string.txt", lambda: "Hello World", str, operator.eq),
    ("unicode.text", lambda: "héllo\r\nwörld\n ✓", str, operator.eq),
    ("dict.json", lambda: {"a": 1, "b": [1.5, None, "x"]}, dict, operator.eq),
    ("list.json", lambda: [1, 2, 3], list, operator.eq),
    ("dict.yaml", lambda: {"a": 1, "b": {"c": [1, 2]}}, dict, operator.eq),
    ("list.yaml", lambda: [1, 2, 3], list, operator.eq),
    ("dict.yml", lambda: {"z": "last", "a": "first"}, dict, operator.eq),
    ("pickle.pkl", lambda: 42, int, operator.eq),
    ("set.pickle", lambda: {1, 2, 3}, set, operator.eq),
    ("nested.pkl", lambda: {"f": frozenset({1}), "t": (1, "2")}, dict, operator.eq),
    ("bytes.bin", lambda: b"Hello\x00World", bytes, operator.eq),
    ("blob.dat", lambda: bytes(range(256)), bytes, operator.eq),
    ("no_extension", lambda: b"raw", bytes, operator.eq),
]


@pytest.mark.parametrize(
    ("key", "make", "check", "equal"),
    ROUND_TRIPS,
    ids=[case[0] for case in ROUND_TRIPS],
)
def test_round_trip(
    bucket: PathBucket,
    key: str,
    make: Callable[[], Any],
    check: type,
    equal: Callable[[Any, Any], bool],
) -> None:
    needs(key)
    item = make()

    bucket[key] = item
    assert bucket[key].exists()
    assert key in bucket
    assert len(bucket) == 1
    assert list(bucket) == [key]
    assert (bucket.path / key).is_file()

    assert equal(item, bucket[key].load())
    assert equal(item, bucket[key].get())
    assert equal(item, bucket[key].load(check=check))
    assert equal(item, bucket[key].get(check=check))
    assert isinstance(bucket[key].load(), check)

    assert bucket[key].remove() is True
    assert not bucket[key].exists()
    assert key not in bucket
    assert len(bucket) == 0
    assert bucket[key].remove() is False


def test_yaml_dict_keeps_key_order(bucket: PathBucket) -> None:
    pytest.importorskip("yaml")
    bucket["order.yaml"] = {"z": 1, "a": 2, "m": 3}
    assert list(bucket["order.yaml"].load()) == ["z", "a", "m"]


def test_text_is_written_as_utf8_without_newline_translation(bucket: PathBucket) -> None:
    bucket["t.txt"] = "a\r\nb\nü"
    assert (bucket.path / "t.txt").read_bytes() == "a\r\nb\nü".encode()


def test_extension_matching_is_case_insensitive(bucket: PathBucket) -> None:
    bucket["CONFIG.JSON"] = {"a": 1}
    assert json.loads((bucket.path / "CONFIG.JSON").read_text()) == {"a": 1}
    assert bucket["CONFIG.JSON"].load() == {"a": 1}


def test_bytes_under_a_known_extension_are_written_raw(bucket: PathBucket) -> None:
    bucket["raw.json"] = b'{"a": 1}'
    assert (bucket.path / "raw.json").read_bytes() == b'{"a": 1}'
    assert bucket["raw.json"].load() == {"a": 1}

    bucket["ba.bin"] = bytearray(b"xy")
    assert bucket["ba.bin"].load() == b"xy"


def test_bytes_under_a_pickle_extension_are_pickled(bucket: PathBucket) -> None:
    bucket["b.pkl"] = b"payload"
    assert (bucket.path / "b.pkl").read_bytes() != b"payload"
    assert bucket["b.pkl"].load() == b"payload"


# ------------------------------------------------------------------------ pandas
@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".pdpickle"])
@pytest.mark.parametrize("index_name", ["index", None, "my index"])
def test_dataframe_index_name_round_trips(
    bucket: PathBucket, suffix: str, index_name: str | None
) -> None:
    needs(suffix)
    df = make_frame(index_name)
    key = f"df{suffix}"

    bucket[key] = df
    loaded = bucket[key].load(check=pd.DataFrame)

    assert loaded.index.name == index_name
    assert loaded.equals(df)
    pd.testing.assert_frame_equal(loaded, df)
    # storing must not modify the caller's frame
    assert df.index.name == index_name


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_dataframe_with_string_index_round_trips(bucket: PathBucket, suffix: str) -> None:
    needs(suffix)
    df = pd.DataFrame(
        {"score": [0.5, 0.25, 1.0], "name": ["x", "y", "z"]},
        index=pd.Index(["a", "b", "c"], name="trial"),
    )
    bucket[f"df{suffix}"] = df
    pd.testing.assert_frame_equal(bucket[f"df{suffix}"].load(), df)


@pytest.mark.parametrize("suffix", [".parquet", ".pdpickle"])
@pytest.mark.parametrize("name", ["ABC", None, 3])
@pytest.mark.parametrize("index_name", ["index", None])
def test_series_round_trips(
    bucket: PathBucket, suffix: str, name: str | int | None, index_name: str | None
) -> None:
    needs(suffix)
    series = make_series(name=name, index_name=index_name)  # type: ignore[arg-type]
    key = f"s{suffix}"

    bucket[key] = series
    loaded = bucket[key].load(check=pd.Series)

    assert isinstance(loaded, pd.Series)
    assert loaded.name == name
    assert loaded.index.name == index_name
    pd.testing.assert_series_equal(loaded, series)


def test_parquet_series_with_unsupported_name_is_refused(bucket: PathBucket) -> None:
    pytest.importorskip("pyarrow")
    series = pd.Series([1, 2], name=("a", "b"))
    with pytest.raises(TypeError, match=r"Series name .*pdpickle"):
        bucket["s.parquet"] = series
    assert "s.parquet" not in bucket
    assert dir_listing(bucket.path) == []


def test_one_column_dataframe_in_parquet_stays_a_dataframe(bucket: PathBucket) -> None:
    pytest.importorskip("pyarrow")
    df = pd.DataFrame({"only": [1, 2, 3]})
    bucket["one.parquet"] = df
    loaded = bucket["one.parquet"].load()
    assert isinstance(loaded, pd.DataFrame)
    pd.testing.assert_frame_equal(loaded, df)


# ------------------------------------------------------------ type checks (check=)
def test_load_with_wrong_check_raises_type_error_naming_both_types(
    bucket: PathBucket,
) -> None:
    bucket["d.json"] = {"a": 1}
    with pytest.raises(TypeError, match=r"'d\.json'.*type dict.*expected list"):
        bucket["d.json"].load(check=list)
    # get() does not swallow a type mismatch
    with pytest.raises(TypeError, match=r"expected list"):
        bucket["d.json"].get(check=list)


def test_check_names_non_builtin_types(bucket: PathBucket) -> None:
    bucket["n.pkl"] = 42
    with pytest.raises(TypeError, match=r"type int.*expected pandas\.DataFrame"):
        bucket["n.pkl"].load(check=pd.DataFrame)


def test_check_accepts_a_tuple_of_types(bucket: PathBucket) -> None:
    bucket["l.json"] = [1]
    assert bucket["l.json"].load(check=(dict, list)) == [1]
    with pytest.raises(TypeError, match=r"expected str \| bytes"):
        bucket["l.json"].load(check=(str, bytes))


def test_get_default_is_not_checked(bucket: PathBucket) -> None:
    assert bucket["missing.json"].get("fallback", check=dict) == "fallback"


# ------------------------------------------------------- values a key can't hold
UNSUPPORTED = [
    ("a.npy", lambda: {"a": 1}, "dict", "numpy.ndarray"),
    ("df.csv", lambda: "text", "str", "pandas.DataFrame"),
    ("s.csv", make_series, "pandas.Series", "pandas.DataFrame"),
    (
        "mi.csv",
        lambda: make_frame().set_index(["A", "B"]),
        "pandas.DataFrame",
        "single-level",
    ),
    ("df.feather", make_frame, "pandas.DataFrame", "bytes"),
    ("x.txt", lambda: 42, "int", "str"),
    ("d.json", lambda: "a string", "str", "dict, list"),
    ("d.yaml", lambda: 3.0, "float", "dict, list"),
    ("raw.bin", lambda: [1, 2], "list", "bytes"),
    ("arr.parquet", lambda: np.zeros(3), "numpy.ndarray", "pandas.Series"),
]


@pytest.mark.parametrize(
    ("key", "make", "type_name", "accepted"),
    UNSUPPORTED,
    ids=[case[0] for case in UNSUPPORTED],
)
def test_storing_an_unsupported_type_raises_and_writes_nothing(
    bucket: PathBucket, key: str, make: Callable[[], Any], type_name: str, accepted: str
) -> None:
    value = make()
    with pytest.raises(TypeError) as info:
        bucket[key] = value

    message = str(info.value)
    assert repr(key) in message
    assert f"type {type_name} " in message
    assert accepted in message
    # not even the bucket directory was created
    assert not bucket.path.exists()

    # and in an existing bucket nothing appears either
    bucket["other.txt"] = "x"
    with pytest.raises(TypeError):
        bucket[key].put(value)
    assert dir_listing(bucket.path) == ["other.txt"]


def test_unserialisable_content_keeps_the_previous_value(bucket: PathBucket) -> None:
    bucket["c.json"] = {"a": 1}
    with pytest.raises(TypeError, match="not JSON serializable"):
        bucket["c.json"] = {"a": object()}
    assert bucket["c.json"].load() == {"a": 1}
    assert dir_listing(bucket.path) == ["c.json"]


def test_failing_pickle_leaves_no_partial_file(bucket: PathBucket) -> None:
    bucket["m.pkl"] = "old"
    payload = [b"x" * 200_000, lambda: None]  # large data is written before failing
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        bucket["m.pkl"] = payload
    assert bucket["m.pkl"].load() == "old"
    assert dir_listing(bucket.path) == ["m.pkl"]

    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        bucket["new.pkl"] = payload
    assert "new.pkl" not in bucket
    assert dir_listing(bucket.path) == ["m.pkl"]


def test_missing_yaml_gives_a_clear_import_error(
    bucket: PathBucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)  # makes `import yaml` fail
    with pytest.raises(ImportError, match=r"PyYAML.*pip install pyyaml|pyyaml"):
        bucket["c.yaml"] = {"a": 1}
    assert "c.yaml" not in bucket
    assert dir_listing(bucket.path) == []

    # reading is not silently turned into a default either
    bucket["d.yaml"] = b"a: 1\n"
    with pytest.raises(ImportError, match="pyyaml"):
        bucket["d.yaml"].get("default")


# --------------------------------------------------------------- key safety
def bad_keys(tmp_path: Path) -> list[str]:
    return [
        "",
        ".",
        "./",
        "..",
        "../escape.json",
        "a/../../escape.json",
        "a/../inside_but_dotdot.json",
        "sub/..",
        str(tmp_path / "absolute.json"),
        "/absolute.json",
        f"{TEMP_PREFIX}reserved",
    ]


def test_escaping_keys_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    bucket = PathBucket(tmp_path / "bucket")
    bucket["keep.txt"] = "x"
    before = tree(tmp_path)

    for key in bad_keys(tmp_path):
        with pytest.raises(ValueError, match="relative names inside the bucket") as info:
            bucket[key] = {"evil": True}
        assert repr(key) in str(info.value)
        with pytest.raises(ValueError, match="relative names inside the bucket"):
            bucket[key]
        with pytest.raises(ValueError, match="relative names inside the bucket"):
            del bucket[key]
        with pytest.raises(ValueError, match="relative names inside the bucket"):
            bucket.remove([key])
        assert key not in bucket

    assert tree(tmp_path) == before
    assert not (tmp_path / "escape.json").exists()
    assert not (tmp_path / "absolute.json").exists()


def test_escaping_sub_bucket_names_are_refused(tmp_path: Path) -> None:
    bucket = PathBucket(tmp_path / "bucket")
    for name in bad_keys(tmp_path):
        with pytest.raises(ValueError, match="relative names inside the bucket") as info:
            bucket.sub(name)
        assert "sub-bucket name" in str(info.value)
        with pytest.raises(ValueError, match="relative names inside the bucket"):
            bucket / name
    # only the bucket's own directory (made by create=True) exists, nothing else
    assert list(tmp_path.iterdir()) == [tmp_path / "bucket"]
    assert list((tmp_path / "bucket").iterdir()) == []


def test_symlinks_leading_out_of_the_bucket_are_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    bucket = PathBucket(tmp_path / "bucket")
    bucket["keep.txt"] = "x"
    try:
        (bucket.path / "link").symlink_to(outside, target_is_directory=True)
        (bucket.path / "evil.json").symlink_to(outside / "target.json")
    except (OSError, NotImplementedError):  # pragma: no cover - no symlink support
        pytest.skip("symlinks are not supported here")

    with pytest.raises(ValueError, match="outside the bucket directory"):
        bucket["link/x.json"] = {"a": 1}
    with pytest.raises(ValueError, match="outside the bucket directory"):
        bucket["evil.json"] = {"a": 1}
    with pytest.raises(ValueError, match="outside the bucket directory"):
        bucket.sub("link")
    assert list(outside.iterdir()) == []


def test_non_string_keys_are_type_errors(bucket: PathBucket) -> None:
    with pytest.raises(TypeError, match="must be str"):
        bucket[1] = "x"  # type: ignore[index]
    with pytest.raises(TypeError):
        bucket / 1  # type: ignore[operator]
    assert 1 not in bucket
    assert None not in bucket


def test_pathlike_and_nested_keys(bucket: PathBucket) -> None:
    bucket[Path("a.json")] = {"a": 1}  # type: ignore[index]
    assert Path("a.json") in bucket
    assert bucket["a.json"].load() == {"a": 1}

    bucket["fold_1/scores.json"] = [1, 2]
    assert (bucket.path / "fold_1" / "scores.json").is_file()
    assert "fold_1/scores.json" in bucket
    assert bucket["./fold_1//scores.json"].load() == [1, 2]
    assert bucket.sub("fold_1")["scores.json"].load() == [1, 2]


# ----------------------------------------------------- laziness / create flag
def test_construction_creates_the_directory_like_amltk(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "bucket"
    bucket = PathBucket(path)
    assert path.is_dir()
    child = bucket / "child"
    assert child.path.is_dir()
    assert len(bucket) == 1


def test_lazy_construction_does_not_create_the_directory(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "bucket"
    bucket = PathBucket(path, lazy=True)
    assert not path.exists()
    assert not (bucket / "child").path.exists()

    # reading a bucket that does not exist behaves as empty
    assert len(bucket) == 0
    assert list(bucket) == []
    assert "x.json" not in bucket
    assert not bucket["x.json"].exists()
    assert bucket["x.json"].get() is None
    assert bucket["x.json"].get(default=5) == 5
    assert bucket.sizes() == {}
    assert bucket.find(r"(.*)") is None
    assert bucket.fetch("x.json", default=0) == {"x.json": 0}
    assert bucket.remove(["x.json"]) == {"x.json": False}
    with pytest.raises(FileNotFoundError, match=r"'x\.json'"):
        bucket["x.json"].load()
    with pytest.raises(KeyError):
        del bucket["x.json"]
    bucket.rmdir()  # no-op on a missing directory
    assert not (tmp_path / "a").exists()

    # the first store creates the directory with its parents
    bucket["x.json"] = {"a": 1}
    assert path.is_dir()
    assert list(bucket) == ["x.json"]


def test_relative_bucket_is_not_created_in_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    bucket = PathBucket("results", lazy=True)
    assert bucket.path == Path("results")
    assert list(tmp_path.iterdir()) == []
    bucket["r.txt"] = "done"
    assert (tmp_path / "results" / "r.txt").read_text() == "done"


def test_create_false_never_creates_directories(tmp_path: Path) -> None:
    path = tmp_path / "bucket"
    bucket = PathBucket(path, create=False)
    assert bucket.create is False

    with pytest.raises(FileNotFoundError, match="create=False"):
        bucket["x.json"] = {"a": 1}
    assert not path.exists()

    path.mkdir()
    bucket["x.json"] = {"a": 1}
    assert bucket["x.json"].load() == {"a": 1}

    with pytest.raises(FileNotFoundError, match="create=False"):
        bucket["nested/y.json"] = {"a": 1}
    assert not (path / "nested").exists()


def test_clean_and_exists_ok(tmp_path: Path) -> None:
    path = tmp_path / "bucket"
    PathBucket(path)["old.txt"] = "old"

    with pytest.raises(FileExistsError, match="exists_ok=False"):
        PathBucket(path, exists_ok=False)
    assert (path / "old.txt").exists()

    fresh = PathBucket(path, clean=True)
    assert path.is_dir()  # cleaned, then made again (create=True)
    assert len(fresh) == 0
    assert not (path / "old.txt").exists()

    gone = PathBucket(path, clean=True, lazy=True)
    assert not path.exists()
    assert len(gone) == 0
    PathBucket(path, exists_ok=False, lazy=True)  # fine now that it is gone


def test_bucket_path_that_is_a_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(NotADirectoryError, match="not a directory"):
        list(PathBucket(path, lazy=True))


# ----------------------------------------------------------------- sub buckets
def test_sub_bucket_is_lazy_and_nested(bucket: PathBucket) -> None:
    child = bucket.sub("child")
    assert isinstance(child, PathBucket)
    assert child.path == bucket.path / "child"
    assert child == bucket / "child"
    assert not bucket.path.exists()

    child["a.json"] = {"a": 1}
    assert (bucket.path / "child" / "a.json").is_file()
    assert "child" in bucket
    assert list(bucket) == ["child"]
    assert bucket["child"].exists()

    grandchild = bucket / "child" / "deeper"
    assert grandchild.path == bucket.path / "child" / "deeper"
    assert bucket.sub("child/deeper") == grandchild
    assert not grandchild.path.exists()


def test_sub_bucket_inherits_create_flag_and_loaders(tmp_path: Path) -> None:
    parent = PathBucket(tmp_path / "p", create=False, loaders=[UpperTextLoader])
    child = parent.sub("c")
    assert child.create is False
    assert child.loaders[0] is UpperTextLoader
    assert child.loaders[1:] == DEFAULT_LOADERS  # defaults are not duplicated
    with pytest.raises(FileNotFoundError, match="create=False"):
        child["x.txt"] = "x"
    assert not (tmp_path / "p").exists()

    creating = parent.sub("c", create=True)
    assert creating.create is True
    creating["x.up"] = "shout"
    assert (tmp_path / "p" / "c" / "x.up").read_text() == "SHOUT"


def test_removing_a_sub_bucket_removes_its_tree(bucket: PathBucket) -> None:
    (bucket / "child")["a.json"] = [1]
    (bucket / "child" / "deeper")["b.json"] = [2]
    assert bucket["child"].remove() is True
    assert not (bucket.path / "child").exists()
    assert list(bucket) == []


# ---------------------------------------------------------- mapping behaviour
def test_mapping_protocol(bucket: PathBucket) -> None:
    assert isinstance(bucket, MutableMapping)
    assert isinstance(bucket, Bucket)

    bucket.store({"a.json": {"a": 1}, "b.txt": "b"})
    bucket.update({"c.pkl": 3})
    bucket.update([("d.bin", b"d")])

    assert list(bucket) == ["a.json", "b.txt", "c.pkl", "d.bin"]
    assert list(bucket.keys()) == ["a.json", "b.txt", "c.pkl", "d.bin"]
    assert len(bucket) == 4
    assert all(isinstance(drop, Drop) for drop in bucket.values())
    loaded = {key: drop.load() for key, drop in bucket.items()}
    assert loaded == {"a.json": {"a": 1}, "b.txt": "b", "c.pkl": 3, "d.bin": b"d"}

    del bucket["b.txt"]
    assert "b.txt" not in bucket
    with pytest.raises(KeyError):
        del bucket["b.txt"]

    bucket.clear()
    assert len(bucket) == 0
    assert dir_listing(bucket.path) == []


def test_remove_reports_what_existed(bucket: PathBucket) -> None:
    bucket["a.json"] = [1]
    bucket["b.json"] = [2]
    result = bucket.remove(["a.json", "missing.json", "b.json"])
    assert result == {"a.json": True, "missing.json": False, "b.json": True}
    assert dir_listing(bucket.path) == []


def test_remove_with_how(bucket: PathBucket) -> None:
    bucket["a.json"] = [1]
    seen: list[Path] = []

    def how(path: Path) -> bool:
        seen.append(path)
        return False

    assert bucket.remove(["a.json"], how=how) == {"a.json": False}
    assert seen == [bucket.path / "a.json"]
    assert "a.json" in bucket


def test_fetch(bucket: PathBucket) -> None:
    bucket["a.json"] = {"a": 1}
    bucket["b.txt"] = "b"

    assert bucket.fetch("a.json", "b.txt", "c.json") == {
        "a.json": {"a": 1},
        "b.txt": "b",
        "c.json": None,
    }
    assert bucket.fetch("c.json", default=0) == {"c.json": 0}
    assert bucket.fetch("a.json", "c.json", "d.json", default={"c.json": 7}) == {
        "a.json": {"a": 1},
        "c.json": 7,
        "d.json": None,
    }


def test_find(bucket: PathBucket) -> None:
    bucket["trial_1_val.npy"] = np.array([1])
    bucket["trial_2_val.npy"] = np.array([2])
    bucket["trial_2_test.npy"] = np.array([3])
    bucket["config.json"] = {"x": 1}

    found = bucket.find(r"trial_(\d+)_val\.npy")
    assert found is not None
    assert sorted(found) == ["1", "2"]
    assert found["2"].load().tolist() == [2]

    multi = bucket.find(r"trial_(\d+)_(\w+)\.npy", multi_key=True)
    assert multi is not None
    assert sorted(multi) == [("1", "val"), ("2", "test"), ("2", "val")]
    assert multi[("2", "test")].load().tolist() == [3]

    with pytest.raises(ValueError, match="multi_key=True"):
        bucket.find(r"trial_(\d+)_(\w+)\.npy")
    with pytest.raises(ValueError, match="multi_key=False"):
        bucket.find(r"trial_(\d+)", multi_key=True)

    assert bucket.find(r"nothing_(\d+)") is None
    no_groups = bucket.find(r"\.json$")
    assert no_groups is not None
    assert list(no_groups) == ["config.json"]

    compiled = bucket.find(re.compile(r"^trial_(\d)_test"))
    assert compiled is not None
    assert list(compiled) == ["2"]


# -------------------------------------------------------------- atomic writes
def test_writes_leave_no_temporary_files(bucket: PathBucket) -> None:
    keys = {
        f"k{i}{ext}": v
        for i, (ext, v) in enumerate(
            [
                (".json", {"a": 1}),
                (".txt", "t"),
                (".pkl", 1),
                (".npy", np.arange(3)),
                (".csv", make_frame()),
                (".pdpickle", make_series()),
                (".bin", b"b"),
            ]
            * 3
        )
    }
    for key, value in keys.items():
        bucket[key] = value
        bucket[key] = value  # overwrite as well
    assert dir_listing(bucket.path) == sorted(keys)
    assert not any(name.startswith(TEMP_PREFIX) for name in os.listdir(bucket.path))


def test_leftover_temporary_files_are_not_keys(bucket: PathBucket) -> None:
    bucket["a.txt"] = "a"
    (bucket.path / f"{TEMP_PREFIX}crashed").write_bytes(b"half")
    assert list(bucket) == ["a.txt"]
    assert len(bucket) == 1
    assert bucket.sizes() == {"a.txt": 1}


@pytest.mark.skipif(not POSIX, reason="relies on POSIX rename semantics")
def test_overwrite_replaces_the_file_instead_of_rewriting_it(bucket: PathBucket) -> None:
    bucket["v.txt"] = "old content"
    with (bucket.path / "v.txt").open("rb") as reader:
        bucket["v.txt"] = "new"
        assert reader.read() == b"old content"
    assert bucket["v.txt"].load() == "new"


@pytest.mark.skipif(not POSIX, reason="POSIX permission bits")
def test_written_files_get_normal_permissions(bucket: PathBucket) -> None:
    bucket["a.json"] = {"a": 1}
    reference = bucket.path / "reference"
    reference.write_text("x")
    assert (bucket.path / "a.json").stat().st_mode == reference.stat().st_mode


# ---------------------------------------------------------------------- drops
def test_drop_basics(bucket: PathBucket) -> None:
    drop = bucket["a.json"]
    assert drop.key == bucket.path / "a.json"
    assert drop.name == "a.json"
    assert repr(drop) == f"Drop(key={bucket.path / 'a.json'!r})"
    assert drop == bucket["a.json"]
    assert drop != bucket["b.json"]
    assert hash(drop) == hash(bucket["a.json"])

    drop.put({"a": 1})
    assert drop.exists()
    assert drop.load() == {"a": 1}


def test_drop_how_overrides(bucket: PathBucket) -> None:
    target = bucket.path / "custom.data"

    bucket["custom.data"].put("hello", how=lambda obj: target.write_text(obj * 2))
    assert target.read_text() == "hellohello"  # directory was prepared for `how`

    assert bucket["custom.data"].load(how=lambda p: p.read_text()[:5]) == "hello"
    assert bucket["custom.data"].get(how=lambda p: p.stat().st_size) == 10
    assert bucket["custom.data"].exists(how=lambda p: p.suffix == ".nope") is False

    # a Loader class works as `how` too
    bucket["j.json"] = {"a": 1}
    assert bucket["j.json"].load(how=TxtLoader) == '{"a": 1}'
    bucket["t.weird"].put("text", how=TxtLoader)
    assert (bucket.path / "t.weird").read_text() == "text"


def test_get_on_a_corrupt_file_logs_and_returns_default(
    bucket: PathBucket, caplog: pytest.LogCaptureFixture
) -> None:
    bucket["bad.json"] = b"{not json"
    with pytest.raises(json.JSONDecodeError):
        bucket["bad.json"].load()
    with caplog.at_level(logging.WARNING, logger="fasttrial.store"):
        assert bucket["bad.json"].get("fallback") == "fallback"
    assert any("bad.json" in record.getMessage() for record in caplog.records)


def test_as_stored_value_reads_lazily_once(bucket: PathBucket) -> None:
    stored = bucket["a.json"].as_stored_value()
    assert isinstance(stored, StoredValue)
    bucket["a.json"] = {"a": 1}  # written after the StoredValue was made
    assert stored.value() == {"a": 1}
    bucket["a.json"].remove()
    assert stored.value() == {"a": 1}  # cached

    custom = bucket["b.txt"].as_stored_value(read=lambda p: p.name)
    assert custom.value() == "b.txt"


# ---------------------------------------------------------------- loaders
def test_default_loader_registry() -> None:
    assert (
        NPYLoader,
        PDLoader,
        JSONLoader,
        YAMLLoader,
        TxtLoader,
        PickleLoader,
        ByteLoader,
    ) == DEFAULT_LOADERS
    assert all(issubclass(loader, PathLoader) for loader in DEFAULT_LOADERS)
    assert PathBucket("x").loaders == DEFAULT_LOADERS


def test_loader_can_load_respects_check() -> None:
    assert JSONLoader.can_load(Path("a.json"), check=dict)
    assert not JSONLoader.can_load(Path("a.json"), check=str)
    assert PDLoader.can_load(Path("a.parquet"), check=pd.Series)
    assert not PDLoader.can_load(Path("a.csv"), check=pd.Series)
    assert NPYLoader.can_load(Path("a.npy"), check=np.ndarray)
    assert not NPYLoader.can_load(Path("a.npz"))
    assert ByteLoader.can_load(Path("anything.xyz"))


def test_custom_loaders_take_precedence(tmp_path: Path) -> None:
    plain = PathBucket(tmp_path / "plain")
    with pytest.raises(TypeError, match=r"'x\.up'"):
        plain["x.up"] = "text"

    custom = PathBucket(tmp_path / "custom", loaders=[UpperTextLoader])
    custom["x.up"] = "text"
    assert custom["x.up"].load() == "TEXT"

    plain.add_loader(UpperTextLoader)
    plain["x.up"] = "added"
    assert plain["x.up"].load() == "ADDED"


def test_bare_protocol_loader(tmp_path: Path) -> None:
    bucket = PathBucket(tmp_path / "b", loaders=[BareLoader])
    bucket["n.bare"] = 12
    assert bucket["n.bare"].load() == 12
    with pytest.raises(TypeError, match=r"type str under key 'n\.bare'"):
        bucket["n.bare"] = "not an int"


def test_importing_the_store_stays_light(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "import fasttrial.store as store\n"
        "heavy = ('numpy', 'pandas', 'yaml', 'pyarrow')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        f"bucket = store.PathBucket({str(tmp_path / 'b')!r})\n"
        "bucket['a.json'] = {'a': 1}\n"
        "bucket['b.txt'] = 'b'\n"
        "bucket['c.pkl'] = [1]\n"
        "assert bucket['a.json'].load() == {'a': 1}\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    after_import, after_use = result.stdout.splitlines()
    assert after_import == "[]", f"importing fasttrial.store pulled in {after_import}"
    assert after_use == "[]", f"json/text/pickle round trips pulled in {after_use}"


# ------------------------------------------------------- repr / eq / pickling
def test_repr_and_path() -> None:
    bucket = PathBucket("results")
    assert isinstance(bucket.path, Path)
    assert repr(bucket) == f"PathBucket({Path('results')!r})"
    if POSIX:
        assert repr(bucket) == "PathBucket(PosixPath('results'))"


def test_equality_and_hash() -> None:
    a = PathBucket("results")
    assert a == PathBucket(Path("results"))
    assert a == PathBucket(a)
    assert a == PathBucket("results", create=False)
    assert a != PathBucket("other")
    assert a != "results"
    assert hash(a) == hash(PathBucket("results"))
    assert len({a, PathBucket("results"), PathBucket("other")}) == 2


def test_pickle_and_deepcopy_round_trip(tmp_path: Path) -> None:
    bucket = PathBucket(tmp_path / "b", create=False, loaders=[UpperTextLoader])
    for clone in (pickle.loads(pickle.dumps(bucket)), copy.deepcopy(bucket)):
        assert clone == bucket
        assert clone.create is False
        assert clone.loaders == bucket.loaders


def test_sizes_and_rmdir(bucket: PathBucket) -> None:
    bucket["a.bin"] = b"abc"
    bucket["b.txt"] = "hello"
    (bucket / "child")["c.bin"] = b"x"
    assert bucket.sizes() == {"a.bin": 3, "b.txt": 5}
    bucket.rmdir()
    assert not bucket.path.exists()


# ------------------------------------------------------ the abstract base class
class DictBucket(Bucket[str, str]):
    """Minimal in-memory bucket, exercising the base class's default methods."""

    def __init__(self, data: dict[str, Any] | None = None, prefix: str = "") -> None:
        self.data: dict[str, Any] = {} if data is None else data
        self.prefix = prefix
        store = self.data

        class MemoryLoader(Loader[str, Any]):
            name: ClassVar[str] = "memory"

            @classmethod
            def can_load(cls, key: str, /, *, check: type | None = None) -> bool:
                return True

            @classmethod
            def can_save(cls, obj: Any, key: str, /) -> bool:
                return not isinstance(obj, set)

            @classmethod
            def save(cls, obj: Any, key: str, /) -> None:
                store[key] = obj

            @classmethod
            def load(cls, key: str, /) -> Any:
                return store[key]

        self.loader = MemoryLoader

    def _remove(self, key: str) -> bool:
        return self.data.pop(key, self) is not self

    def __getitem__(self, key: str) -> Drop[str]:
        return Drop(
            self.prefix + key,
            (self.loader,),
            remove=self._remove,
            exists=self.data.__contains__,
            name=key,
        )

    def __setitem__(self, key: str, value: Any) -> None:
        self[key].put(value)

    def __delitem__(self, key: str) -> None:
        if not self[key].remove():
            raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        n = len(self.prefix)
        return iter([k[n:] for k in self.data if k.startswith(self.prefix) and "/" not in k[n:]])

    def sub(self, name: str) -> DictBucket:
        if not isinstance(name, str):
            raise TypeError(name)
        return DictBucket(self.data, prefix=f"{self.prefix}{name}/")


def test_bucket_is_abstract() -> None:
    with pytest.raises(TypeError):
        Bucket()  # type: ignore[abstract]


def test_base_class_defaults() -> None:
    bucket = DictBucket()
    bucket.store({"a": 1, "b": 2})
    bucket.update({"c": 3})

    assert "a" in bucket
    assert "z" not in bucket
    assert len(bucket) == 3
    assert bucket.fetch("a", "z", default=0) == {"a": 1, "z": 0}
    assert bucket["a"].get(check=int) == 1
    assert bucket["z"].get("dflt") == "dflt"
    with pytest.raises(FileNotFoundError, match="'z'"):
        bucket["z"].load()

    found = bucket.find(r"^(a|b)$")
    assert found is not None
    assert {k: d.load() for k, d in found.items()} == {"a": 1, "b": 2}

    child = bucket / "child"
    child["x"] = 10
    assert child["x"].load() == 10
    assert "child/x" in bucket.data
    assert len(bucket) == 3  # the child's keys are not the parent's
    with pytest.raises(TypeError):
        bucket / 3  # type: ignore[operator]

    with pytest.raises(TypeError, match=r"type set under key 'd'.*accepts nothing known"):
        bucket["d"] = {1}

    assert bucket.remove(["a", "nope"]) == {"a": True, "nope": False}
    assert "a" not in bucket
