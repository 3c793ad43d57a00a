"""Per-group fitted lines for one predictor (pymer4's ``Lmer.plot``): each
group's line from its own coefficients (R's ``coef(m)``), over them the
population line and its pointwise Wald interval."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from mixedmodels.plots._figure import new_axes

__all__ = ["plot_lines"]


def plot_lines(
    model: Any,
    param: str,
    figsize: tuple[float, float] = (8, 6),
    xlabel: str = "",
    ylabel: str = "",
    plot_fixef: bool = True,
    plot_ci: bool = True,
    grps: Sequence[int] | Sequence[str] = (),
    ax: Any = None,
    group: str | None = None,
    level: float = 0.95,
) -> Any:
    """Lines of ``(Intercept) + param * x`` over the distinct values ``x`` of
    the predictor ``param`` (a numeric column of the design): one a group of
    ``group`` (default: the first grouping factor; ``grps`` picks groups by
    position or level), the population's (``plot_fixef``, dashed) and its
    ``level`` Wald interval (``plot_ci``, from the covariance of the two
    estimates: ``sqrt(v00 + 2 x v01 + x^2 v11)``). Other predictors are left
    at zero, as in pymer4. Returns the Axes."""
    names = model.fixed_names
    if param not in names:
        raise ValueError(f"param '{param}' is not a fixed-effects column ({', '.join(names)})")
    if "(Intercept)" not in names:
        raise ValueError("plot() draws intercept + slope lines: the model has no intercept")
    i0, i1 = names.index("(Intercept)"), names.index(param)
    x = np.unique(model.design_matrix[param].to_numpy())
    table = _group_table(model, group)
    rows = _pick(table, grps)
    ax = new_axes(ax, figsize)
    for row in rows.iter_rows(named=True):
        ax.plot(x, row["(Intercept)"] + row[param] * x, "-", linewidth=2)
    beta, vcov = model.beta, model.vcov
    population = beta[i0] + beta[i1] * x
    if plot_fixef:
        ax.plot(x, population, "--", color="black", linewidth=3, zorder=10, label="population")
    if plot_ci:
        se = np.sqrt(vcov[i0, i0] + 2 * x * vcov[i0, i1] + x**2 * vcov[i1, i1])
        z = stats.norm.ppf(0.5 + level / 2)
        ax.fill_between(x, population - z * se, population + z * se, facecolor="black", alpha=0.25, zorder=9)
    fits = np.asarray(model.fits)
    ax.set(xlim=(x.min(), x.max()), ylim=(fits.min(), fits.max()))
    ax.set_xlabel(xlabel or param)
    ax.set_ylabel(ylabel or model.formula.split("~")[0].strip())
    return ax


def _group_table(model: Any, group: str | None) -> Any:
    fixef = model.fixef
    if group is None:
        return next(iter(fixef.values()))
    if group not in fixef:
        raise ValueError(f"group '{group}' is not a grouping factor ({', '.join(fixef)})")
    return fixef[group]


def _pick(table: Any, grps: Sequence[int] | Sequence[str]) -> Any:
    """The rows of the groups asked for: positions (ints) or levels (strings)."""
    grps = list(grps)
    if not grps:
        return table
    if all(isinstance(g, int | np.integer) for g in grps):
        return table[[int(g) for g in grps]]
    if all(isinstance(g, str) for g in grps):
        levels = table["level"].to_list()
        missing = [g for g in grps if g not in levels]
        if missing:
            raise ValueError(f"grps: no group {', '.join(map(repr, missing))}")
        return table[[levels.index(g) for g in grps]]
    raise TypeError("grps must be a list of positions (int) or of levels (str)")
