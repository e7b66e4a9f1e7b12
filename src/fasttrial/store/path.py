"""A bucket backed by a directory: [`PathBucket`][fasttrial.store.path.PathBucket].

Keys are file names relative to the bucket directory; the file extension decides how a
value is written and read (the table is in
[`fasttrial.store.loaders`][fasttrial.store.loaders]; the loaders are importable from
here too).
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fasttrial.store.bucket import Bucket
from fasttrial.store.drop import Drop, Loader
from fasttrial.store.loaders import (
    DEFAULT_LOADERS,
    TEMP_PREFIX,
    ByteLoader,
    JSONLoader,
    NPYLoader,
    PathLoader,
    PDLoader,
    PickleLoader,
    TxtLoader,
    YAMLLoader,
    atomic_write,
)

if TYPE_CHECKING:
    from typing import Self

__all__ = [
    "DEFAULT_LOADERS",
    "TEMP_PREFIX",
    "ByteLoader",
    "JSONLoader",
    "NPYLoader",
    "PDLoader",
    "PathBucket",
    "PathLoader",
    "PickleLoader",
    "TxtLoader",
    "YAMLLoader",
    "atomic_write",
]

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------- bucket
def _exists(path: Path) -> bool:
    return os.path.lexists(path)


def _delete(path: Path) -> bool:
    """Delete the file, symlink or directory tree at `path`.

    Args:
        path: Location to delete.

    Returns:
        True if something was deleted, False if nothing was there.

    Raises:
        OSError: If the entry exists but could not be deleted.
    """
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except (FileNotFoundError, NotADirectoryError):
        return False
    return True


def _delete_quietly(path: Path) -> bool:
    """``_delete``, with a failure logged and returned as False."""
    try:
        return _delete(path)
    except OSError as e:
        logger.warning("Could not remove %s: %s", path, e)
        return False


class PathBucket(Bucket[str, Path]):
    """A bucket storing each value as a file in a directory.

    ```python
    bucket = PathBucket("results")           # creates results/ (as amltk does)
    bucket["config.json"] = {"lr": 0.1}      # writes results/config.json
    bucket["config.json"].load()             # {'lr': 0.1}
    trial = bucket / "trial-1"               # child bucket results/trial-1
    trial["preds.npy"] = predictions
    ```

    With ``lazy=True`` nothing touches the disk until the first value is stored
    (``Trial`` uses this for its default bucket, so making a trial creates no
    folder). Keys are
    relative file names; keys that would point outside the bucket (absolute
    paths, `..` components, symlinks leading out) are refused.

    Args:
        path: Directory of the bucket (a str, a path, or another PathBucket).
        create: If True, the directory (and parents) are created now, as amltk
            does, and again whenever a store needs them. If False, nothing is
            created and storing into a missing directory raises
            `FileNotFoundError`.
        lazy: If True (with `create=True`), create nothing now: the directory
            is made by the first store. Sub-buckets inherit this.
        loaders: Extra loaders, tried before the default ones.
        clean: If True, delete whatever is at `path` right away.
        exists_ok: If False, raise `FileExistsError` if `path` already exists.

    Raises:
        FileExistsError: If `exists_ok` is False and `path` exists.
        TypeError: If `path` is not a str, path or PathBucket.
    """

    __slots__ = ("_create", "_extra_loaders", "_lazy", "path")

    def __init__(
        self,
        path: PathBucket | str | os.PathLike[str],
        *,
        create: bool = True,
        loaders: Sequence[type[Loader[Path, Any]]] | None = None,
        clean: bool = False,
        exists_ok: bool = True,
        lazy: bool = False,
    ) -> None:
        if isinstance(path, PathBucket):
            path = path.path
        if not isinstance(path, str | os.PathLike):
            msg = (
                "PathBucket needs a directory path as a str, os.PathLike or"
                f" PathBucket, got {type(path).__name__}: {path!r}."
            )
            raise TypeError(msg)

        self.path: Path = Path(path)
        self._create = bool(create)
        self._lazy = bool(lazy)
        self._extra_loaders: tuple[type[Loader[Path, Any]], ...] = tuple(loaders or ())

        if clean and _exists(self.path):
            _delete(self.path)
        if not exists_ok and _exists(self.path):
            msg = f"{self!r}: {self.path} already exists and exists_ok=False."
            raise FileExistsError(msg)
        if self._create and not self._lazy:
            self.path.mkdir(parents=True, exist_ok=True)

    # -------------------------------------------------------------- properties
    @property
    def create(self) -> bool:
        """Whether missing directories are created when storing."""
        return self._create

    @property
    def loaders(self) -> tuple[type[Loader[Path, Any]], ...]:
        """All loaders of the bucket, in the order they are tried."""
        return (*self._extra_loaders, *DEFAULT_LOADERS)

    def add_loader(self, loader: type[Loader[Path, Any]]) -> None:
        """Add a loader that is tried before all current ones.

        Args:
            loader: The loader class.
        """
        self._extra_loaders = (loader, *self._extra_loaders)

    # ------------------------------------------------------------------- keys
    def _locate(self, key: object, *, what: str = "key") -> tuple[str, Path]:
        """Validate a key and return it normalised together with its full path.

        Args:
            key: The key (or sub-bucket name) to check.
            what: How to call the key in error messages.

        Returns:
            The normalised key (POSIX separators) and the path it refers to.

        Raises:
            TypeError: If the key is not a str or os.PathLike.
            ValueError: If the key is empty, absolute, contains `..`, names the
                bucket itself, is reserved, or resolves outside the bucket.
        """
        raw = os.fspath(key) if isinstance(key, os.PathLike) else key
        if not isinstance(raw, str):
            msg = f"PathBucket {what}s must be str, got {type(key).__name__}: {key!r}."
            raise TypeError(msg)

        relative = Path(raw)
        problem: str | None = None
        if not raw:
            problem = "it is empty"
        elif "\x00" in raw:
            problem = "it contains a NUL character"
        elif relative.is_absolute() or relative.anchor:
            problem = "it is an absolute path"
        elif ".." in relative.parts:
            problem = "it contains a '..' component"
        elif not relative.parts:
            problem = "it refers to the bucket directory itself"
        elif relative.name.startswith(TEMP_PREFIX):
            problem = f"names starting with {TEMP_PREFIX!r} are reserved"

        full = self.path / relative
        if problem is None:
            root = os.path.realpath(self.path)
            resolved = os.path.realpath(full)
            try:
                inside = resolved != root and os.path.commonpath([root, resolved]) == root
            except ValueError:  # different drives on Windows
                inside = False
            if not inside:
                problem = f"it resolves to {resolved}, outside the bucket directory"

        if problem is not None:
            msg = (
                f"Invalid {what} {raw!r} for {self!r}: {problem}. Keys must be"
                " relative names inside the bucket, such as 'model.pkl' or"
                " 'fold_1/scores.json'."
            )
            raise ValueError(msg)
        return relative.as_posix(), full

    def _prepare(self, target: Path) -> None:
        """Make sure the directory `target` will be written into exists.

        Args:
            target: The file about to be written.

        Raises:
            FileNotFoundError: If the directory is missing and the bucket was
                made with `create=False`.
        """
        parent = target.parent
        if parent.is_dir():
            return
        if not self._create:
            msg = (
                f"Cannot store {target.name!r} in {self!r}: directory {parent} does"
                " not exist and the bucket was made with create=False. Create the"
                " directory first or use create=True."
            )
            raise FileNotFoundError(msg)
        parent.mkdir(parents=True, exist_ok=True)

    def _drop(self, name: str, path: Path) -> Drop[Path]:
        """Build the drop for a validated key.

        Args:
            name: Normalised key.
            path: Full path of the key.

        Returns:
            The drop.
        """
        return Drop(
            path,
            self.loaders,
            remove=_delete_quietly,
            exists=_exists,
            name=name,
            prepare=self._prepare,
        )

    # --------------------------------------------------------- mapping protocol
    def __getitem__(self, key: str) -> Drop[Path]:
        """Return the drop for `key`; nothing is read.

        Args:
            key: Relative file name.

        Returns:
            The drop.

        Raises:
            ValueError: If the key would escape the bucket.
        """
        name, path = self._locate(key)
        return self._drop(name, path)

    def __setitem__(self, key: str, value: Any) -> None:
        """Store `value` in the file `key`, picking the format from its extension.

        Args:
            key: Relative file name.
            value: The value to store.

        Raises:
            ValueError: If the key would escape the bucket.
            TypeError: If the extension's loader can't store this type of value.
            FileNotFoundError: If the directory is missing and `create=False`.
        """
        self[key].put(value)

    def __delitem__(self, key: str) -> None:
        """Delete the file (or sub-bucket directory) `key`.

        Args:
            key: Relative file name.

        Raises:
            KeyError: If nothing is stored under `key`.
            ValueError: If the key would escape the bucket.
        """
        _, path = self._locate(key)
        if not _delete(path):
            raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        """Iterate, in sorted order, over the names in the bucket directory.

        Sub-bucket directories are listed too. A missing directory is empty.

        Returns:
            An iterator over the names.

        Raises:
            NotADirectoryError: If the bucket path exists but is not a directory.
        """
        try:
            names = os.listdir(self.path)
        except FileNotFoundError:
            return iter(())
        except NotADirectoryError as e:
            msg = f"{self!r}: {self.path} exists but is not a directory."
            raise NotADirectoryError(msg) from e
        return iter(sorted(n for n in names if not n.startswith(TEMP_PREFIX)))

    def __len__(self) -> int:
        """Count the names in the bucket directory.

        Returns:
            The number of keys.
        """
        return sum(1 for _ in self)

    def __contains__(self, key: object) -> bool:
        """Tell whether something is stored under `key`.

        Invalid keys (wrong type, escaping the bucket) are simply not contained.

        Args:
            key: Relative file name.

        Returns:
            True if the file exists.
        """
        try:
            _, path = self._locate(key)
        except (TypeError, ValueError):
            return False
        return _exists(path)

    # ------------------------------------------------------------------ others
    def sub(self, name: str, *, create: bool | None = None) -> Self:
        """Return the child bucket in directory `name` (created now unless lazy).

        Args:
            name: Relative name of the child directory.
            create: Override the `create` flag; by default the parent's is used.

        Returns:
            A bucket at `self.path / name` with the same extra loaders.

        Raises:
            TypeError: If `name` is not a str or os.PathLike.
            ValueError: If `name` would escape the bucket.
        """
        _, path = self._locate(name, what="sub-bucket name")
        return type(self)(
            path,
            create=self._create if create is None else create,
            loaders=self._extra_loaders,
            lazy=self._lazy,
        )

    def sizes(self) -> dict[str, int]:
        """Return the size in bytes of every file directly in the bucket.

        Returns:
            A dict from key to file size; directories are skipped.
        """
        sizes: dict[str, int] = {}
        for name in self:
            path = self.path / name
            if path.is_file():
                sizes[name] = path.stat().st_size
        return sizes

    def rmdir(self) -> None:
        """Delete the bucket directory and everything in it, if it exists."""
        if _exists(self.path):
            _delete(self.path)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PathBucket):
            return NotImplemented
        return self.path == other.path

    def __hash__(self) -> int:
        return hash(self.path)
