"""Formula interfaces in statsmodels' style (``mixedmodels.formula.api``)."""
