"""statsmodels' module path ``regression.mixed_linear_model``, for code written
as ``sm.regression.mixed_linear_model.MixedLMParams``."""

from mixedmodels.sm.regression import mixed_linear_model

__all__ = ["mixed_linear_model"]
