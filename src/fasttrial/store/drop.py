"""Lazy handles to single stored values, and the loader protocol they use.

A [`Drop`][fasttrial.store.drop.Drop] is what indexing a bucket gives back:
it does not read anything by itself, it only knows *where* a value lives and
*which* loaders may read or write it. Loading, storing, removing and checking
for existence all go through the drop.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Generic, TypeVar, cast, overload

__all__ = ["Drop", "Loader", "StoredValue"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")
Default = TypeVar("Default")
LinkT = TypeVar("LinkT")
KeyT_contra = TypeVar("KeyT_contra", contravariant=True)


class Loader(ABC, Generic[KeyT_contra, T]):
    """Protocol for classes that know how to write and read one kind of value.

    Loaders are used as classes (all methods are classmethods); a bucket keeps
    an ordered tuple of them and the first loader that accepts a value (for
    writing) or a location (for reading) is used.
    """

    name: ClassVar[str]
    """Short human readable name of the loader, used in error messages."""

    @classmethod
    @abstractmethod
    def can_load(cls, key: KeyT_contra, /, *, check: type | None = None) -> bool:
        """Tell whether this loader can read the value stored at `key`.

        Args:
            key: Location of the stored value.
            check: Optional type the caller expects the value to have.

        Returns:
            True if this loader should be used to read `key`.
        """

    @classmethod
    @abstractmethod
    def can_save(cls, obj: Any, key: KeyT_contra, /) -> bool:
        """Tell whether this loader can write `obj` to `key`.

        Args:
            obj: The value to be written.
            key: Location the value would be written to.

        Returns:
            True if this loader should be used to write `obj` to `key`.
        """

    @classmethod
    @abstractmethod
    def save(cls, obj: Any, key: KeyT_contra, /) -> None:
        """Write `obj` to `key`.

        Args:
            obj: The value to write.
            key: Location to write it to.
        """

    @classmethod
    @abstractmethod
    def load(cls, key: KeyT_contra, /) -> T:
        """Read the value stored at `key`.

        Args:
            key: Location to read from.

        Returns:
            The value that was read.
        """


def _type_name(tp: object) -> str:
    """Render a type (or tuple of types) for an error message.

    Args:
        tp: A type, a tuple of types or any other object.

    Returns:
        A readable name such as ``'dict'`` or ``'numpy.ndarray'``.
    """
    if isinstance(tp, tuple):
        return " | ".join(_type_name(t) for t in tp)
    if isinstance(tp, type):
        module = tp.__module__
        if module in ("builtins", None):
            return tp.__qualname__
        return f"{module.split('.')[0]}.{tp.__qualname__}"
    return repr(tp)


def _is_loader(obj: object) -> bool:
    """Tell whether `obj` is a `Loader` class (as opposed to a plain callable).

    Args:
        obj: Anything passed as `how=`.

    Returns:
        True if `obj` is a subclass of `Loader`.
    """
    return isinstance(obj, type) and issubclass(obj, Loader)


def _loader_name(loader: object) -> str:
    """Give a readable name for a loader class or a `how=` callable.

    Args:
        loader: A loader class or any callable.

    Returns:
        The loader's `name`, or the callable's qualified name.
    """
    name = getattr(loader, "name", None)
    if isinstance(name, str):
        return name
    return getattr(loader, "__qualname__", None) or repr(loader)


class StoredValue(Generic[K, V]):
    """A value kept at some location and read on first access.

    Useful to pass a cheap reference to a large stored object (for example
    to another process) and only pay for reading it where it is needed.

    Args:
        key: Location of the value.
        read: Callable that reads the value given `key`.
    """

    __slots__ = ("_loaded", "_value", "key", "read")

    def __init__(self, key: K, read: Callable[[K], V]) -> None:
        self.key = key
        self.read = read
        self._value: V | None = None
        self._loaded = False

    def value(self) -> V:
        """Read the value (only the first time) and return it.

        Returns:
            The value stored at `key`.
        """
        if not self._loaded:
            self._value = self.read(self.key)
            self._loaded = True
        return self._value  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"StoredValue(key={self.key!r}, read={_loader_name(self.read)})"


class Drop(Generic[LinkT]):
    """Lazy handle to one value in a bucket.

    A drop is cheap to create and touches nothing until one of its methods
    is called. Writing picks the first loader whose `can_save` accepts the
    value, reading picks the first loader whose `can_load` accepts the
    location. Every method accepts `how=` to bypass the loaders.

    Args:
        key: Backing location of the value (a full `Path` for path buckets).
        loaders: Loaders to try, in order.
        remove: Callable deleting the value at a location; returns True if
            something existed and was removed.
        exists: Callable telling whether a value exists at a location.
        name: The bucket-relative key, used in messages. Defaults to
            `str(key)`.
        prepare: Optional callable run before a write (for example to create
            the directory the value goes into). It receives the location.
    """

    __slots__ = ("_exists", "_prepare", "_remove", "key", "loaders", "name")

    def __init__(
        self,
        key: LinkT,
        loaders: Sequence[type[Loader[LinkT, Any]]],
        remove: Callable[[LinkT], bool],
        exists: Callable[[LinkT], bool],
        *,
        name: str | None = None,
        prepare: Callable[[LinkT], None] | None = None,
    ) -> None:
        self.key = key
        self.loaders: tuple[type[Loader[LinkT, Any]], ...] = tuple(loaders)
        self.name: str = str(key) if name is None else name
        self._remove = remove
        self._exists = exists
        self._prepare = prepare

    def __repr__(self) -> str:
        return f"Drop(key={self.key!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Drop):
            return NotImplemented
        return self.key == other.key and self.loaders == other.loaders

    def __hash__(self) -> int:
        return hash(self.key)

    # ------------------------------------------------------------------ helpers
    def _read_loader(self) -> type[Loader[LinkT, Any]]:
        """Find the loader used to read this drop.

        Returns:
            The first loader whose `can_load` accepts the location.

        Raises:
            ValueError: If no loader can read the location.
        """
        for loader in self.loaders:
            if loader.can_load(self.key):
                return loader
        names = ", ".join(_loader_name(ld) for ld in self.loaders) or "none"
        msg = (
            f"No loader knows how to read key {self.name!r} (loaders tried: {names})."
            " Pass `how=` with a function that reads it, or give the bucket a loader"
            " for this kind of key."
        )
        raise ValueError(msg)

    def _unsupported_value(self, obj: object) -> TypeError:
        """Build the error raised when no loader accepts a value.

        Args:
            obj: The value that could not be stored.

        Returns:
            A `TypeError` naming the key, the value type and the accepted types.
        """
        accepted: list[str] = []
        for loader in self.loaders:
            describe = getattr(loader, "accepted_types", None)
            if describe is None:
                continue
            for name in describe(self.key):
                if name not in accepted:
                    accepted.append(name)
        accepts = ", ".join(accepted) if accepted else "nothing known"
        msg = (
            f"Cannot store a value of type {_type_name(type(obj))} under key"
            f" {self.name!r}: this key accepts {accepts}. Use a key whose extension"
            " matches the value, convert the value, or pass `how=`."
        )
        return TypeError(msg)

    # ---------------------------------------------------------------- public API
    def saver(self, obj: Any) -> type[Loader[LinkT, Any]]:
        """Return the loader that would write `obj` here, without writing anything.

        Raises:
            TypeError: If no loader can write a value of this type to this key.
        """
        for loader in self.loaders:
            if loader.can_save(obj, self.key):
                return loader
        raise self._unsupported_value(obj)

    def put(self, obj: Any, *, how: Callable[[Any], None] | None = None) -> None:
        """Store `obj` at this drop's location, replacing what was there.

        Args:
            obj: The value to store.
            how: Optional function called as `how(obj)` to do the writing
                instead of a loader (a `Loader` class is also accepted).

        Raises:
            TypeError: If no loader can write a value of this type to this key.
                Nothing is written in that case.
        """
        if how is not None:
            if self._prepare is not None:
                self._prepare(self.key)
            if _is_loader(how):
                cast("type[Loader[LinkT, Any]]", how).save(obj, self.key)
            else:
                how(obj)
            return

        loader = self.saver(obj)
        if self._prepare is not None:
            self._prepare(self.key)
        logger.debug("Storing %s with loader %s", self.name, _loader_name(loader))
        loader.save(obj, self.key)

    @overload
    def load(self, *, check: None = None, how: None = None) -> Any: ...

    @overload
    def load(self, *, check: type[T], how: None = None) -> T: ...

    @overload
    def load(self, *, check: type[T] | None = ..., how: Callable[[LinkT], T]) -> T: ...

    def load(
        self,
        *,
        check: type[T] | tuple[type, ...] | None = None,
        how: Callable[[LinkT], T] | None = None,
    ) -> T | Any:
        """Read the stored value.

        Args:
            check: If given, the loaded value must be an instance of this type
                (or tuple of types).
            how: Optional function called as `how(key)` to read the value
                instead of a loader (a `Loader` class is also accepted).

        Returns:
            The stored value.

        Raises:
            FileNotFoundError: If nothing is stored under this key.
            TypeError: If `check` is given and the value is not an instance of it.
            ValueError: If no loader can read this key.
        """
        if how is not None:
            if _is_loader(how):
                value = cast("type[Loader[LinkT, Any]]", how).load(self.key)
            else:
                value = how(self.key)
            used = _loader_name(how)
        else:
            if not self._exists(self.key):
                msg = f"Nothing is stored under key {self.name!r} ({self.key})."
                raise FileNotFoundError(msg)
            loader = self._read_loader()
            value = loader.load(self.key)
            used = _loader_name(loader)

        if check is not None and not isinstance(value, check):
            msg = (
                f"Value loaded from key {self.name!r} (by {used!r}) has type"
                f" {_type_name(type(value))}, but check= expected {_type_name(check)}."
            )
            raise TypeError(msg)
        return value

    @overload
    def get(self, default: None = None, *, check: None = None, how: None = None) -> Any | None: ...

    @overload
    def get(self, default: Default, *, check: None = None, how: None = None) -> Any | Default: ...

    @overload
    def get(
        self,
        default: Default | None = None,
        *,
        check: type[T],
        how: Callable[[LinkT], T] | None = None,
    ) -> T | Default | None: ...

    def get(
        self,
        default: Default | None = None,
        *,
        check: type[T] | tuple[type, ...] | None = None,
        how: Callable[[LinkT], T] | None = None,
    ) -> T | Default | Any | None:
        """Read the stored value, falling back to `default` if it can't be read.

        A missing value gives `default` silently. Any other read failure (for
        example a corrupt file) is logged as a warning and also gives
        `default`. A wrong type with `check=` and a missing optional
        dependency are *not* swallowed.

        Args:
            default: Returned when the value can't be read. It is not checked
                against `check`.
            check: If given, the loaded value must be an instance of this type.
            how: Optional function called as `how(key)` to read the value.

        Returns:
            The stored value, or `default`.

        Raises:
            TypeError: If the value was read but is not an instance of `check`.
            ImportError: If reading needs a library that is not installed.
        """
        try:
            return self.load(check=check, how=how)  # type: ignore[arg-type]
        except (TypeError, ImportError):
            raise
        except (FileNotFoundError, NotADirectoryError):
            return default
        except Exception as e:
            logger.warning(
                "Could not load key %r, returning the default: %s",
                self.name,
                e,
                exc_info=True,
            )
            return default

    def remove(self, *, how: Callable[[LinkT], bool] | None = None) -> bool:
        """Delete the stored value.

        Args:
            how: Optional function called as `how(key)` to delete the value.

        Returns:
            True if something was stored and has been removed, False if there
            was nothing to remove (or it could not be removed).
        """
        logger.debug("Removing %s", self.name)
        if how is not None:
            return how(self.key)
        return self._remove(self.key)

    def exists(self, *, how: Callable[[LinkT], bool] | None = None) -> bool:
        """Tell whether a value is stored under this key.

        Args:
            how: Optional function called as `how(key)` to answer instead.

        Returns:
            True if a value is stored.
        """
        if how is not None:
            return how(self.key)
        return self._exists(self.key)

    def as_stored_value(self, read: Callable[[LinkT], T] | None = None) -> StoredValue[LinkT, Any]:
        """Wrap this drop's location in a lazily read `StoredValue`.

        Args:
            read: Function reading the value given the location. Defaults to
                the loader that `load()` would use.

        Returns:
            A `StoredValue` that reads the value on first access.

        Raises:
            ValueError: If `read` is not given and no loader can read this key.
        """
        if read is None:
            read = self._read_loader().load
        return StoredValue(self.key, read=read)
