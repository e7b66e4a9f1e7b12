"""``python -m fasttrial``: the ``fasttrial`` command (see ``fasttrial.cli``)."""

from __future__ import annotations

import sys

from fasttrial.cli import main

sys.exit(main())
