"""Bridges to real optimizers behind amltk's ask/tell API.

- ``fasttrial.optimization.optimizers.optuna.OptunaOptimizer`` (``pip install 'fasttrial[optuna]'``)
- ``fasttrial.optimization.optimizers.smac.SMACOptimizer`` (``pip install 'fasttrial[smac]'``)

Each lives in its own module, imported only when asked for: importing this package (or
``fasttrial``) imports neither Optuna nor SMAC. See ``docs/optimizers.md``.
"""

from __future__ import annotations
