"""Key-value storage of trial artifacts: buckets, drops and loaders.

```python
from fasttrial.store import PathBucket

bucket = PathBucket("results")
bucket["config.json"] = {"lr": 0.1}
config = bucket["config.json"].load(check=dict)
```

`PathBucket` stores each value as a file whose extension selects the format
(see [`fasttrial.store.loaders`][fasttrial.store.loaders] for the table). Importing
this package does not import numpy, pandas or PyYAML.
"""

from __future__ import annotations

from fasttrial.store.bucket import Bucket
from fasttrial.store.drop import Drop, Loader, StoredValue
from fasttrial.store.loaders import (
    DEFAULT_LOADERS,
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
from fasttrial.store.path import PathBucket

__all__ = [
    "DEFAULT_LOADERS",
    "Bucket",
    "ByteLoader",
    "Drop",
    "JSONLoader",
    "Loader",
    "NPYLoader",
    "PDLoader",
    "PathBucket",
    "PathLoader",
    "PickleLoader",
    "StoredValue",
    "TxtLoader",
    "YAMLLoader",
    "atomic_write",
]
