"""The file loaders of a [`PathBucket`][fasttrial.store.path.PathBucket]: the file
extension of a key decides how a value is written and read:

| extension                      | values                                  |
|--------------------------------|-----------------------------------------|
| `.json`                        | `dict`, `list`                          |
| `.yaml`, `.yml`                | `dict`, `list` (needs PyYAML)           |
| `.pkl`, `.pickle`              | anything picklable                      |
| `.npy`                         | `numpy.ndarray`                         |
| `.csv`                         | `pandas.DataFrame`                      |
| `.parquet`, `.pdpickle`        | `pandas.DataFrame`, `pandas.Series`     |
| `.txt`, `.text`                | `str`                                   |
| anything else                  | `bytes` (raw file content)              |

A `bytes` value is written as raw file content under any extension except
the pickle ones (where it is pickled like any other object).

numpy, pandas and PyYAML are only imported when a loader needs them.
Writes go to a temporary file in the target directory which is then renamed
over the key, so a key never holds a half-written file.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import pickle
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import IO, Any, ClassVar, TypeVar

from fasttrial.store.drop import Loader

__all__ = [
    "DEFAULT_LOADERS",
    "ByteLoader",
    "JSONLoader",
    "NPYLoader",
    "PDLoader",
    "PathLoader",
    "PickleLoader",
    "TxtLoader",
    "YAMLLoader",
    "atomic_write",
]

T = TypeVar("T")

TEMP_PREFIX = ".fasttrial-tmp-"
"""File name prefix of in-progress writes; such names are never listed as keys."""

_SERIES_MARKER = "__fasttrial_series__"
"""`DataFrame.attrs` entry marking a parquet file that holds a single Series."""

_SERIES_COLUMN = "__series__"
"""Column name a Series is stored under inside a parquet file."""


# --------------------------------------------------------------------------- io
def _require(module: str, *, package: str, purpose: str) -> ModuleType:
    """Import an optional dependency, with an actionable error if it is missing.

    Args:
        module: Module to import.
        package: Name of the distribution to install.
        purpose: What the module is needed for, used in the error message.

    Returns:
        The imported module.

    Raises:
        ImportError: If the module can't be imported.
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        msg = f"{purpose} requires {package}; install it with `pip install {package}`."
        raise ImportError(msg, name=module) from e


def atomic_write(target: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Write a file so that `target` either keeps its old content or gets the new.

    `write` receives a binary file opened on a fresh temporary file in the
    same directory; when it returns, the data is flushed to disk and the
    temporary file is renamed over `target` with `os.replace`. If anything
    fails, the temporary file is deleted and `target` is left untouched.

    Args:
        target: Final path of the file. Its directory must exist.
        write: Function writing the content to the given binary file.
    """
    directory = target.parent
    while True:
        tmp = directory / f"{TEMP_PREFIX}{secrets.token_hex(8)}"
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
            fd = os.open(tmp, flags, 0o666)
        except FileExistsError:  # pragma: no cover - 64 random bits collided
            continue
        break

    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _write_text(target: Path, text: str) -> None:
    data = text.encode("utf-8")
    atomic_write(target, lambda f: f.write(data))


def _suffix(key: Path) -> str:
    return key.suffix.lower()


def _loaded_module(name: str) -> ModuleType | None:
    """Return `name` if already imported, without importing it.

    A value can only be an instance of a numpy or pandas type if that library
    was imported, so type checks can skip the (slow) import altogether.

    Args:
        name: Top level module name.

    Returns:
        The module, or None if it has not been imported.
    """
    return sys.modules.get(name)


# ---------------------------------------------------------------------- loaders
class PathLoader(Loader[Path, T]):
    """Base class of loaders that read and write files identified by a `Path`.

    Subclasses set `suffixes` (lower-case extensions they handle) and
    `accepts` (readable names of the value types they can write, used in
    error messages), and implement `save` and `load`; `can_load`/`can_save` follow
    `types` unless a subclass needs subtler rules.
    """

    name: ClassVar[str] = "path"
    suffixes: ClassVar[tuple[str, ...]] = ()
    accepts: ClassVar[tuple[str, ...]] = ()
    #: The value types the default `can_load`/`can_save` go by; loaders with subtler
    #: rules (numpy, pandas, pickle, bytes) override those two instead.
    types: ClassVar[tuple[type, ...]] = ()

    @classmethod
    def can_load(cls, key: Path, /, *, check: type | None = None) -> bool:
        """Return True for a handled extension when `check` is None or one of `types`.

        Args:
            key: A file path.
            check: Optional expected type.

        Returns:
            Whether this loader reads `key`.
        """
        return cls.handles(key) and (check is None or check in cls.types)

    @classmethod
    def can_save(cls, obj: Any, key: Path, /) -> bool:
        """Return True for a value of one of `types` going to a handled extension.

        Args:
            obj: Value to store.
            key: A file path.

        Returns:
            Whether this loader writes `obj` to `key`.
        """
        return cls.handles(key) and isinstance(obj, cls.types)

    @classmethod
    def handles(cls, key: Path) -> bool:
        """Tell whether this loader is responsible for the extension of `key`.

        Args:
            key: A file path.

        Returns:
            True if the extension of `key` is one of `suffixes`.
        """
        return _suffix(key) in cls.suffixes

    @classmethod
    def accepted_types(cls, key: Path) -> tuple[str, ...]:
        """List the value types this loader could write to `key`.

        Args:
            key: A file path.

        Returns:
            Readable type names, empty if the loader does not handle `key`.
        """
        return cls.accepts if cls.handles(key) else ()


class NPYLoader(PathLoader[Any]):
    """Stores `numpy.ndarray` values in `.npy` files (object arrays refused)."""

    name: ClassVar[str] = "np"
    suffixes: ClassVar[tuple[str, ...]] = (".npy",)
    accepts: ClassVar[tuple[str, ...]] = ("numpy.ndarray",)

    @classmethod
    def can_load(cls, key: Path, /, *, check: type | None = None) -> bool:
        """Return True for `.npy` files when `check` is None or ndarray.

        Args:
            key: A file path.
            check: Optional expected type.

        Returns:
            Whether this loader reads `key`.
        """
        if not cls.handles(key):
            return False
        if check is None:
            return True
        np = _require("numpy", package="numpy", purpose="Reading '.npy' files")
        return check is np.ndarray

    @classmethod
    def can_save(cls, obj: Any, key: Path, /) -> bool:
        """Return True for an ndarray going to a `.npy` file.

        Args:
            obj: Value to store.
            key: A file path.

        Returns:
            Whether this loader writes `obj` to `key`.
        """
        np = _loaded_module("numpy")
        return np is not None and cls.handles(key) and isinstance(obj, np.ndarray)

    @classmethod
    def save(cls, obj: Any, key: Path, /) -> None:
        """Write an ndarray to `key` in `.npy` format.

        Args:
            obj: The array.
            key: Destination file.
        """
        np = _require("numpy", package="numpy", purpose="Writing '.npy' files")
        atomic_write(key, lambda f: np.save(f, obj, allow_pickle=False))

    @classmethod
    def load(cls, key: Path, /) -> Any:
        """Read an ndarray from a `.npy` file.

        Args:
            key: Source file.

        Returns:
            The array.

        Raises:
            TypeError: If the file does not hold a single array.
        """
        np = _require("numpy", package="numpy", purpose="Reading '.npy' files")
        with key.open("rb") as f:
            item = np.load(f, allow_pickle=False)
        if not isinstance(item, np.ndarray):
            msg = f"Expected a numpy.ndarray in {key}, found {type(item).__name__}."
            raise TypeError(msg)
        return item


class PDLoader(PathLoader[Any]):
    """Stores pandas DataFrames (and Series) as `.csv`, `.parquet` or `.pdpickle`.

    * `.csv`: DataFrames with a single-level index and single-level columns.
      The index is written as the first column and read back as the index,
      keeping its name (an unnamed index comes back unnamed).
    * `.parquet`: DataFrames and Series (needs pyarrow). A Series is stored as
      a one-column frame and comes back as a Series with its name.
      Column labels must be strings.
    * `.pdpickle`: DataFrames and Series, via pandas' pickling.
    """

    name: ClassVar[str] = "pd"
    suffixes: ClassVar[tuple[str, ...]] = (".csv", ".parquet", ".pdpickle")
    accepts: ClassVar[tuple[str, ...]] = ("pandas.DataFrame", "pandas.Series")

    @classmethod
    def accepted_types(cls, key: Path) -> tuple[str, ...]:
        """List the pandas types that can be written to `key`.

        Args:
            key: A file path.

        Returns:
            Readable type names, empty if the extension is not a pandas one.
        """
        if _suffix(key) == ".csv":
            return ("pandas.DataFrame (single-level index and columns)",)
        return super().accepted_types(key)

    @classmethod
    def can_load(cls, key: Path, /, *, check: type | None = None) -> bool:
        """Return True for pandas file extensions compatible with `check`.

        Args:
            key: A file path.
            check: Optional expected type.

        Returns:
            Whether this loader reads `key`.
        """
        if not cls.handles(key):
            return False
        if check is None:
            return True
        pd = _require("pandas", package="pandas", purpose="Reading pandas files")
        if _suffix(key) == ".csv":
            return check is pd.DataFrame
        return check in (pd.DataFrame, pd.Series)

    @classmethod
    def can_save(cls, obj: Any, key: Path, /) -> bool:
        """Return True if `obj` is a pandas object the extension can hold.

        Args:
            obj: Value to store.
            key: A file path.

        Returns:
            Whether this loader writes `obj` to `key`.
        """
        pd = _loaded_module("pandas")
        if pd is None or not cls.handles(key):
            return False
        if _suffix(key) == ".csv":
            return (
                isinstance(obj, pd.DataFrame)
                and obj.index.nlevels == 1
                and obj.columns.nlevels == 1
            )
        return isinstance(obj, pd.DataFrame | pd.Series)

    @classmethod
    def save(cls, obj: Any, key: Path, /) -> None:
        """Write a DataFrame or Series to `key`.

        Args:
            obj: The DataFrame or Series.
            key: Destination file; its extension selects the format.

        Raises:
            TypeError: If a Series name can't be kept in a parquet file.
            ValueError: If the extension is not a pandas one.
        """
        pd = _require("pandas", package="pandas", purpose="Writing pandas files")
        suffix = _suffix(key)
        if suffix == ".csv":

            def write_csv(f: IO[bytes]) -> None:
                text = io.TextIOWrapper(f, encoding="utf-8", newline="")
                obj.to_csv(text, index=True)
                text.flush()
                text.detach()

            atomic_write(key, write_csv)
        elif suffix == ".parquet":
            frame = obj
            if isinstance(obj, pd.Series):
                name = obj.name
                if name is not None and not isinstance(name, str | int | float):
                    msg = (
                        f"Cannot keep the Series name {name!r} ({type(name).__name__})"
                        f" in parquet file {key.name!r}; use a str/int/float name or"
                        " the '.pdpickle' extension."
                    )
                    raise TypeError(msg)
                frame = obj.to_frame(name=_SERIES_COLUMN)
                frame.attrs = {**obj.attrs, _SERIES_MARKER: {"name": name}}
            atomic_write(key, lambda f: frame.to_parquet(f))
        elif suffix == ".pdpickle":
            atomic_write(key, lambda f: obj.to_pickle(f, compression=None))
        else:
            msg = f"PDLoader can't write {key.name!r}: unsupported extension {suffix!r}."
            raise ValueError(msg)

    @classmethod
    def load(cls, key: Path, /) -> Any:
        """Read a DataFrame or Series from `key`.

        Args:
            key: Source file; its extension selects the format.

        Returns:
            The DataFrame or Series.

        Raises:
            TypeError: If a `.pdpickle` file holds something else.
            ValueError: If the extension is not a pandas one.
        """
        pd = _require("pandas", package="pandas", purpose="Reading pandas files")
        suffix = _suffix(key)
        if suffix == ".csv":
            with key.open("rb") as f:
                return pd.read_csv(f, index_col=0)
        if suffix == ".parquet":
            with key.open("rb") as f:
                frame = pd.read_parquet(f)
            marker = frame.attrs.pop(_SERIES_MARKER, None)
            if marker is None or frame.shape[1] != 1:
                return frame
            series = frame.iloc[:, 0]
            series.name = marker.get("name")
            series.attrs = dict(frame.attrs)
            return series
        if suffix == ".pdpickle":
            with key.open("rb") as f:
                obj = pd.read_pickle(f, compression=None)
            if not isinstance(obj, pd.DataFrame | pd.Series):
                msg = (
                    f"Expected a pandas.DataFrame or pandas.Series in {key},"
                    f" found {type(obj).__name__}."
                )
                raise TypeError(msg)
            return obj
        msg = f"PDLoader can't read {key.name!r}: unsupported extension {suffix!r}."
        raise ValueError(msg)


class JSONLoader(PathLoader[dict[str, Any] | list[Any]]):
    """Stores `dict` and `list` values as UTF-8 JSON in `.json` files."""

    name: ClassVar[str] = "json"
    suffixes: ClassVar[tuple[str, ...]] = (".json",)
    accepts: ClassVar[tuple[str, ...]] = ("dict", "list")
    types: ClassVar[tuple[type, ...]] = (dict, list)

    @classmethod
    def save(cls, obj: Any, key: Path, /) -> None:
        """Write `obj` as JSON.

        Args:
            obj: A JSON serialisable dict or list.
            key: Destination file.
        """
        _write_text(key, json.dumps(obj))

    @classmethod
    def load(cls, key: Path, /) -> Any:
        """Read a JSON document.

        Args:
            key: Source file.

        Returns:
            The decoded document.
        """
        return json.loads(key.read_bytes())


class YAMLLoader(PathLoader[dict[str, Any] | list[Any]]):
    """Stores `dict` and `list` values as YAML in `.yaml`/`.yml` files.

    Only plain data (what `yaml.safe_dump` accepts) can be stored; reading uses
    `yaml.safe_load`. PyYAML is imported on first use.
    """

    name: ClassVar[str] = "yaml"
    suffixes: ClassVar[tuple[str, ...]] = (".yaml", ".yml")
    accepts: ClassVar[tuple[str, ...]] = ("dict", "list")
    types: ClassVar[tuple[type, ...]] = (dict, list)

    @classmethod
    def save(cls, obj: Any, key: Path, /) -> None:
        """Write `obj` as YAML.

        Args:
            obj: A dict or list of plain data.
            key: Destination file.
        """
        yaml = _require("yaml", package="pyyaml", purpose="Writing YAML files")
        _write_text(key, yaml.safe_dump(obj, sort_keys=False, allow_unicode=True))

    @classmethod
    def load(cls, key: Path, /) -> Any:
        """Read a YAML document.

        Args:
            key: Source file.

        Returns:
            The decoded document.
        """
        yaml = _require("yaml", package="pyyaml", purpose="Reading YAML files")
        return yaml.safe_load(key.read_text(encoding="utf-8"))


class TxtLoader(PathLoader[str]):
    """Stores `str` values as UTF-8 text in `.txt`/`.text` files, byte for byte."""

    name: ClassVar[str] = "text"
    suffixes: ClassVar[tuple[str, ...]] = (".txt", ".text")
    accepts: ClassVar[tuple[str, ...]] = ("str",)
    types: ClassVar[tuple[type, ...]] = (str,)

    @classmethod
    def save(cls, obj: str, key: Path, /) -> None:
        """Write `obj` as UTF-8 without newline translation.

        Args:
            obj: The text.
            key: Destination file.
        """
        _write_text(key, obj)

    @classmethod
    def load(cls, key: Path, /) -> str:
        """Read UTF-8 text without newline translation.

        Args:
            key: Source file.

        Returns:
            The text.
        """
        return key.read_bytes().decode("utf-8")


class PickleLoader(PathLoader[Any]):
    """Stores any picklable value in `.pkl`/`.pickle` files.

    Only load pickles you trust: unpickling can run arbitrary code.
    """

    name: ClassVar[str] = "pickle"
    suffixes: ClassVar[tuple[str, ...]] = (".pkl", ".pickle")
    accepts: ClassVar[tuple[str, ...]] = ("any picklable object",)

    @classmethod
    def can_load(cls, key: Path, /, *, check: type | None = None) -> bool:
        """Return True for pickle files.

        Args:
            key: A file path.
            check: Ignored, a pickle can hold any type.

        Returns:
            Whether this loader reads `key`.
        """
        return cls.handles(key)

    @classmethod
    def can_save(cls, obj: Any, key: Path, /) -> bool:
        """Return True for any value going to a pickle file.

        Args:
            obj: Value to store.
            key: A file path.

        Returns:
            Whether this loader writes `obj` to `key`.
        """
        return cls.handles(key)

    @classmethod
    def save(cls, obj: Any, key: Path, /) -> None:
        """Pickle `obj` to `key`.

        Args:
            obj: Any picklable value.
            key: Destination file.
        """
        atomic_write(key, lambda f: pickle.dump(obj, f))

    @classmethod
    def load(cls, key: Path, /) -> Any:
        """Unpickle the value in `key`.

        Args:
            key: Source file.

        Returns:
            The unpickled value.
        """
        with key.open("rb") as f:
            return pickle.load(f)


class ByteLoader(PathLoader[bytes]):
    """Stores bytes-like values as raw file content, under any extension.

    It is the fallback loader: it reads any file no other loader claimed
    (returning its bytes) and writes bytes values the other loaders refused.
    """

    name: ClassVar[str] = "bytes"
    suffixes: ClassVar[tuple[str, ...]] = (".bin", ".bytes")
    accepts: ClassVar[tuple[str, ...]] = ("bytes (raw file content)",)

    @classmethod
    def handles(cls, key: Path) -> bool:
        """Return True: raw bytes can go to any file.

        Args:
            key: A file path.

        Returns:
            Always True.
        """
        return True

    @classmethod
    def can_load(cls, key: Path, /, *, check: type | None = None) -> bool:
        """Return True when `check` is None or bytes.

        Args:
            key: A file path.
            check: Optional expected type.

        Returns:
            Whether this loader reads `key`.
        """
        return check in (None, bytes)

    @classmethod
    def can_save(cls, obj: Any, key: Path, /) -> bool:
        """Return True for bytes, bytearray and memoryview values.

        Args:
            obj: Value to store.
            key: A file path.

        Returns:
            Whether this loader writes `obj` to `key`.
        """
        return isinstance(obj, bytes | bytearray | memoryview)

    @classmethod
    def save(cls, obj: bytes | bytearray | memoryview, key: Path, /) -> None:
        """Write `obj` as the file's content.

        Args:
            obj: The bytes to write.
            key: Destination file.
        """
        atomic_write(key, lambda f: f.write(obj))

    @classmethod
    def load(cls, key: Path, /) -> bytes:
        """Read the file's content.

        Args:
            key: Source file.

        Returns:
            The raw bytes.
        """
        return key.read_bytes()


DEFAULT_LOADERS: tuple[type[PathLoader[Any]], ...] = (
    NPYLoader,
    PDLoader,
    JSONLoader,
    YAMLLoader,
    TxtLoader,
    PickleLoader,
    ByteLoader,
)
"""Loaders every PathBucket uses, in the order they are tried (after any
loaders given to the bucket)."""
