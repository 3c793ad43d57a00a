"""The likelihood profiles of a linear mixed model, as lme4's
``xyplot(profile(m))``: one panel a parameter (lme4's names), its zeta trace
(the signed square root of the ML deviance's rise as the parameter moves from
its estimate with the others re-optimized, :meth:`Lmer.profile`), the
horizontal lines zeta = -+ z of the level, and the profile interval's ends
where the trace crosses them (``confint(method="profile")``). Where there is
one, the Wald interval's straight line zeta = (x - estimate) / SE is drawn
too: a trace that bends away from it is what the Wald approximation misses."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from mixedmodels.plots._figure import panels

__all__ = ["plot_profile"]

_SHOWN = 1.3  # the trace is drawn out to |zeta| = 1.3 z


def plot_profile(
    model: Any,
    level: float = 0.95,
    wald: bool = True,
    figsize: tuple[float, float] | None = None,
    ax: Any = None,
) -> Any:
    """One panel a parameter (``sd_(Intercept)|Subject``, ``cor_...``,
    ``sigma``, the fixed effects): the zeta trace, the interval's ends at
    ``level`` and, with ``wald``, the Wald line of the fixed effects. Returns
    the Figure."""
    traces = model.profile(level=level)
    intervals = model.confint(method="profile", level=level)
    z = float(stats.norm.ppf(0.5 + level / 2))
    se = dict(zip(model.fixed_names, np.sqrt(np.diag(model.vcov)), strict=True))
    terms = intervals["term"].to_list()
    n = len(terms)
    figsize = figsize or (4 * min(n, 3), 3 * -(-n // 3))
    fig, axes = panels(n, ax, figsize)
    for i, (a, (term, lower, upper)) in enumerate(zip(axes, intervals.iter_rows(), strict=True)):
        trace = traces.filter(traces["term"] == term)
        x, zeta = trace["value"].to_numpy(), trace["zeta"].to_numpy()
        shown = np.abs(zeta) <= _SHOWN * z  # the search's far overshoots would squash the panel
        x, zeta = x[shown], zeta[shown]
        estimate = float(x[np.argmin(np.abs(zeta))])
        a.plot(x, zeta, "-", color="black", marker=".", ms=4, label="profile")
        a.axhline(-z, color="grey", linestyle=":", linewidth=1)
        a.axhline(z, color="grey", linestyle=":", linewidth=1)
        a.vlines([lower, upper], [0, 0], [-z, z], colors="tab:blue", linewidth=1.5, label="interval")
        if wald and term in se:
            ends = np.array([x.min(), x.max()])
            a.plot(ends, (ends - estimate) / se[term], "--", color="tab:orange", linewidth=1, label="Wald")
        a.plot([estimate], [0], "o", color="white", markeredgecolor="black", ms=6, zorder=3, label="estimate")
        a.set_title(term, fontsize="medium")
        if i % 3 == 0:
            a.set_ylabel("zeta")
    return fig
