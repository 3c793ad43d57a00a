"""Residual diagnostics, as R's ``plot(m)`` and ``qqnorm(resid(m))`` draw
them: residuals against fitted values, a normal quantile-quantile plot, and
the scale-location plot (square root of the absolute standardized residuals
against fitted values). Standardized residuals are lme4's
``resid(m, type = "pearson", scaled = TRUE)``: Pearson residuals over sigma
(for families without a scale, the Pearson residuals)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from mixedmodels.plots._figure import new_axes, panels

__all__ = ["plot_diagnostics", "plot_qq", "plot_residuals", "plot_scale_location", "ppoints", "standardized_residuals"]


def standardized_residuals(model: Any) -> np.ndarray:
    """lme4's scaled Pearson residuals."""
    pearson = np.asarray(model.residuals(type="pearson"))
    return pearson / model.sigma if model.has_scale else pearson


def ppoints(n: int) -> np.ndarray:
    """R's ``ppoints(n)``: ``(i - a) / (n + 1 - 2a)`` with ``a = 3/8`` for
    ``n <= 10``, else ``1/2`` (the probabilities of ``qqnorm``)."""
    a = 3 / 8 if n <= 10 else 0.5
    return (np.arange(1, n + 1) - a) / (n + 1 - 2 * a)


def plot_residuals(model: Any, figsize: tuple[float, float] = (6, 4.5), ax: Any = None) -> Any:
    """Residuals (response scale) against fitted values. Returns the Axes."""
    ax = new_axes(ax, figsize)
    ax.scatter(np.asarray(model.fits), np.asarray(model.residuals), s=14, alpha=0.7, color="black", linewidths=0)
    ax.axhline(0, linestyle="--", color="grey", zorder=0)
    ax.set(xlabel="Fitted values", ylabel="Residuals", title="Residuals vs fitted")
    return ax


def plot_qq(model: Any, figsize: tuple[float, float] = (6, 4.5), ax: Any = None) -> Any:
    """Normal Q-Q plot of the standardized residuals with R's ``qqline``
    (through the first and third quartiles). Returns the Axes."""
    ax = new_axes(ax, figsize)
    r = np.sort(standardized_residuals(model))
    q = stats.norm.ppf(ppoints(len(r)))
    ax.scatter(q, r, s=14, alpha=0.7, color="black", linewidths=0)
    r_quartiles = np.quantile(r, [0.25, 0.75])  # R's qqline: quantile type 7
    q_quartiles = stats.norm.ppf([0.25, 0.75])
    slope = (r_quartiles[1] - r_quartiles[0]) / (q_quartiles[1] - q_quartiles[0])
    intercept = r_quartiles[0] - slope * q_quartiles[0]
    ax.axline((0, intercept), slope=slope, color="grey", linestyle="--")
    ax.set(xlabel="Theoretical quantiles", ylabel="Standardized residuals", title="Normal Q-Q")
    return ax


def plot_scale_location(model: Any, figsize: tuple[float, float] = (6, 4.5), ax: Any = None) -> Any:
    """Square root of the absolute standardized residuals against fitted
    values (a trend means the spread changes with the mean). Returns the Axes."""
    ax = new_axes(ax, figsize)
    ax.scatter(
        np.asarray(model.fits),
        np.sqrt(np.abs(standardized_residuals(model))),
        s=14,
        alpha=0.7,
        color="black",
        linewidths=0,
    )
    ax.set(xlabel="Fitted values", ylabel="√|standardized residuals|", title="Scale-location")
    return ax


def plot_diagnostics(model: Any, figsize: tuple[float, float] = (15, 4.5), ax: Any = None) -> Any:
    """The three panels side by side (``ax``: three Axes). Returns the Figure."""
    fig, axes = panels(3, ax, figsize)
    plot_residuals(model, ax=axes[0])
    plot_qq(model, ax=axes[1])
    plot_scale_location(model, ax=axes[2])
    return fig
