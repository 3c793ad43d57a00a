"""The names of ``statsmodels.regression.mixed_linear_model``, on this package's engine."""

from mixedmodels.sm.model import MixedLM
from mixedmodels.sm.params import MixedLMParams
from mixedmodels.sm.results import MixedLMResults
from mixedmodels.sm.spec import VCSpec

__all__ = ["MixedLM", "MixedLMParams", "MixedLMResults", "VCSpec"]
