"""The abstract `Bucket`: a mutable mapping from keys to lazily loaded values.

Assigning to a bucket stores a value; indexing a bucket gives back a
[`Drop`][fasttrial.store.drop.Drop], a lazy handle through which the value is
loaded, replaced, checked or removed. Indexing never fails because a key is
missing: ask the drop (`bucket[key].exists()`) or the bucket (`key in bucket`).

Concrete implementation: [`PathBucket`][fasttrial.store.path.PathBucket].
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import (
    Callable,
    Hashable,
    Iterable,
    Iterator,
    Mapping,
    MutableMapping,
)
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, overload

from fasttrial.store.drop import Drop

if TYPE_CHECKING:
    from typing import Self

__all__ = ["Bucket"]

KeyT = TypeVar("KeyT", bound=Hashable)
LinkT = TypeVar("LinkT")


class Bucket(ABC, MutableMapping[KeyT, Drop[LinkT]], Generic[KeyT, LinkT]):
    """A keyed collection of stored values, accessed through drops.

    Subclasses implement storage (`__setitem__`), lookup (`__getitem__`,
    returning a `Drop`), deletion (`__delitem__`), key listing (`__iter__`)
    and `sub()` for nested buckets. Everything else is built on those.
    Note that `.values()` and `.items()` yield drops, not the loaded values.
    """

    __slots__ = ()

    @abstractmethod
    def __setitem__(self, key: KeyT, value: Any) -> None:
        """Store `value` under `key`, replacing any previous value.

        Args:
            key: Where to store the value.
            value: The value to store.
        """

    @abstractmethod
    def __getitem__(self, key: KeyT) -> Drop[LinkT]:
        """Return a lazy handle for `key`, whether or not a value is stored.

        Args:
            key: The key to look up.

        Returns:
            A `Drop` for the key.
        """

    @abstractmethod
    def __delitem__(self, key: KeyT) -> None:
        """Remove the value stored under `key`.

        Args:
            key: The key to remove.

        Raises:
            KeyError: If nothing is stored under `key`.
        """

    @abstractmethod
    def __iter__(self) -> Iterator[KeyT]:
        """Iterate over the keys that currently hold a value."""

    @abstractmethod
    def sub(self, name: KeyT) -> Self:
        """Return a child bucket called `name`, sharing this bucket's loaders.

        Args:
            name: Name of the child bucket.

        Returns:
            The child bucket.
        """

    def __contains__(self, key: object) -> bool:
        """Tell whether a value is stored under `key`.

        Args:
            key: The key to check.

        Returns:
            True if `key` is one of the bucket's keys.
        """
        return any(k == key for k in self)

    def __len__(self) -> int:
        """Count the keys that currently hold a value.

        Returns:
            The number of keys.
        """
        return sum(1 for _ in self)

    def __truediv__(self, name: KeyT) -> Self:
        """Return `self.sub(name)`, so that `bucket / "child"` works.

        Args:
            name: Name of the child bucket.

        Returns:
            The child bucket.
        """
        try:
            return self.sub(name)
        except TypeError:
            return NotImplemented

    @overload
    def find(
        self, pattern: str | re.Pattern[str], *, multi_key: Literal[False] = False
    ) -> dict[Any, Drop[LinkT]] | None: ...

    @overload
    def find(
        self, pattern: str | re.Pattern[str], *, multi_key: Literal[True]
    ) -> dict[tuple[Any, ...], Drop[LinkT]] | None: ...

    @overload
    def find(
        self, pattern: str | re.Pattern[str], *, multi_key: bool
    ) -> dict[Any, Drop[LinkT]] | None: ...

    def find(
        self,
        pattern: str | re.Pattern[str],
        *,
        multi_key: bool = False,
    ) -> dict[Any, Drop[LinkT]] | None:
        """Find the keys matching a regular expression.

        The pattern is applied with `re.search` to `str(key)` of every key.
        What the result is keyed by depends on the capture groups:

        * no group: the matching key itself;
        * one group: the text captured by that group (needs `multi_key=False`);
        * several groups: the tuple of captured texts (needs `multi_key=True`).

        For example `bucket.find(r"trial_(\\d+)\\.npy")` maps each captured
        trial number to the drop of its file. If two keys capture the same
        text, the later key (in iteration order) wins.

        Args:
            pattern: Regular expression, as a string or compiled pattern.
            multi_key: Must be True exactly when the pattern has two or more
                capture groups.

        Returns:
            A dict from captured text (or key) to drop, or None if no key
            matched.

        Raises:
            ValueError: If `multi_key` does not fit the number of capture
                groups in the pattern.
        """
        regex = re.compile(pattern)
        matches = [(key, m) for key in self if (m := regex.search(str(key)))]
        if not matches:
            return None

        n_groups = regex.groups
        if n_groups == 0:
            return {key: self[key] for key, _ in matches}
        if n_groups == 1:
            if multi_key:
                msg = (
                    f"Pattern {regex.pattern!r} has a single capture group; use"
                    " multi_key=False (results are keyed by the captured text)."
                )
                raise ValueError(msg)
            return {m.group(1): self[key] for key, m in matches}
        if not multi_key:
            msg = (
                f"Pattern {regex.pattern!r} has {n_groups} capture groups; use"
                " multi_key=True (results are keyed by tuples of captured texts)."
            )
            raise ValueError(msg)
        return {m.groups(): self[key] for key, m in matches}

    def store(self, items: Mapping[KeyT, Any]) -> None:
        """Store every value of `items` under its key, all or nothing up front.

        Every key is validated and every value matched to a loader before the
        first write, so a bad key or an unwritable value stores nothing.

        Args:
            items: Mapping from key to value.

        Raises:
            ValueError: If a key is invalid for this bucket.
            TypeError: If a value cannot be written under its key.
        """
        drops = [(self[key], value) for key, value in items.items()]
        for drop, value in drops:
            drop.saver(value)
        for drop, value in drops:
            drop.put(value)

    def update(  # type: ignore[override]
        self,
        items: Mapping[KeyT, Any] | Iterable[tuple[KeyT, Any]] = (),
        /,
    ) -> None:
        """Store every value of `items` under its key, like `store()`.

        Args:
            items: Mapping from key to value, or an iterable of key-value pairs.
        """
        pairs = items.items() if isinstance(items, Mapping) else items
        for key, value in pairs:
            self[key].put(value)

    def fetch(
        self,
        *keys: KeyT,
        default: Any = None,
    ) -> dict[KeyT, Any]:
        """Load several values at once.

        Args:
            *keys: The keys to load.
            default: Value used for keys that can't be loaded. If it is a
                mapping, each key's default is looked up in it (None when
                absent).

        Returns:
            A dict from each key to its loaded value or default.
        """
        if isinstance(default, Mapping):
            return {key: self[key].get(default.get(key)) for key in keys}
        return {key: self[key].get(default) for key in keys}

    def remove(
        self,
        keys: Iterable[KeyT],
        *,
        how: Callable[[LinkT], bool] | None = None,
    ) -> dict[KeyT, bool]:
        """Remove several values.

        Args:
            keys: The keys to remove.
            how: Optional function called with each drop's location to delete it.

        Returns:
            A dict from each key to True if a value existed and was removed,
            False otherwise.
        """
        return {key: self[key].remove(how=how) for key in keys}
