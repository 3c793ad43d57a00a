"""Exceptions raised by mixedmodels.

Every error derives from :class:`MixedModelsError` and from the builtin a
Python user expects. Errors in the formula raise :class:`FormulaError`; a
missing or unusable column raises :class:`ColumnError`; data or arguments that
cannot support the model raise :class:`DataError` (all three are
value errors, ``ValueError``); unavoidable numerical failures raise
:class:`NumericalError` (an ``ArithmeticError``). A fit whose progress
callback asked it to stop (``fit(verbose=callback)``) raises
:class:`FitStoppedError` (a ``RuntimeError``). :class:`KeywordError` is
also a ``TypeError``, :class:`UnavailableError` an ``AttributeError``.
"""

from mixedmodels._core import (
    ColumnError,
    DataError,
    FitStoppedError,
    FormulaError,
    MixedModelsError,
    NumericalError,
)

__all__ = [
    "ColumnError",
    "DataError",
    "FitStoppedError",
    "FormulaError",
    "KeywordError",
    "MixedModelsError",
    "NumericalError",
    "UnavailableError",
]


class KeywordError(DataError, TypeError):
    """A keyword argument a function does not take, where it also takes
    keywords of another kind (``anova(m0, m1=m1)``): a ``TypeError`` naming
    the keyword."""


class UnavailableError(DataError, AttributeError):
    """A method one kind of model has and this one has not (``anova()`` of a
    GLMM): ``hasattr`` is False, and asking for it says what to use instead."""
