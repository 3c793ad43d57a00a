"""statsmodels' ``statsmodels.formula.api`` for mixed models:
``import mixedmodels.formula.api as smf`` then ``smf.mixedlm(...)``."""

from mixedmodels.sm.model import mixedlm

__all__ = ["mixedlm"]
