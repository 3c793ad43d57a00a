"""Exceptions raised by mixedmodels.

Every error derives from :class:`MixedModelsError`. Errors in the formula
raise :class:`FormulaError` (a ``ValueError``); a missing or unusable column
raises :class:`ColumnError` (a ``KeyError``-like ``ValueError``); data that
cannot support the model raise :class:`DataError`; unavoidable numerical
failures raise :class:`NumericalError`.
"""

from mixedmodels._core import (
    ColumnError,
    DataError,
    FormulaError,
    MixedModelsError,
    NumericalError,
)

__all__ = ["ColumnError", "DataError", "FormulaError", "MixedModelsError", "NumericalError"]
