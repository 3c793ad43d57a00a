"""Plots of fitted models (matplotlib, the ``plot`` extra, imported on first use).

Every function takes a fitted model (read through its public interface),
draws on ``ax=`` when given (an Axes, or a sequence of Axes for the
several-panel plots) and returns the Axes or the Figure it drew on. The model
classes call them as methods (``m.plot_summary()``, ``m.plot("Days")``, ...).

One concept a module; a new plot is a module here plus a one-line method:

- :mod:`~mixedmodels.plots.forest`: ``plot_summary`` (fixed effects over the per-group coefficients)
- :mod:`~mixedmodels.plots.lines`: ``plot_lines`` (per-group fitted lines for one predictor)
- :mod:`~mixedmodels.plots.caterpillar`: ``plot_ranef`` (conditional modes with condVar intervals)
- :mod:`~mixedmodels.plots.profile`: ``plot_profile`` (profile-likelihood intervals)
- :mod:`~mixedmodels.plots.residuals`: residuals vs fitted, normal Q-Q, scale-location
- :mod:`~mixedmodels.plots.influence`: ``plot_influence`` (HLMdiag's ``dotplot_diag`` of an influence measure)
- :mod:`~mixedmodels.plots.hlm_resid`: ``plot_hlm_resid`` (HLMdiag's residuals vs fitted and their Q-Q)
"""

from mixedmodels.plots.caterpillar import plot_ranef
from mixedmodels.plots.forest import forest, plot_summary
from mixedmodels.plots.hlm_resid import plot_hlm_resid
from mixedmodels.plots.influence import internal_cutoff, plot_influence
from mixedmodels.plots.lines import plot_lines
from mixedmodels.plots.profile import plot_profile
from mixedmodels.plots.residuals import (
    plot_diagnostics,
    plot_qq,
    plot_residuals,
    plot_scale_location,
    standardized_residuals,
)

__all__ = [
    "forest",
    "internal_cutoff",
    "plot_diagnostics",
    "plot_hlm_resid",
    "plot_influence",
    "plot_lines",
    "plot_profile",
    "plot_qq",
    "plot_ranef",
    "plot_residuals",
    "plot_scale_location",
    "plot_summary",
    "standardized_residuals",
]
