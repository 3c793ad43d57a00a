"""The forest plot of a model (pymer4's ``plot_summary``): each fixed effect's
estimate with its confidence interval (or standard error), over the
per-group coefficients (R's ``coef(m)``: fixed plus random effects, the
"BLUPs") drawn as faint points."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from mixedmodels.plots._figure import new_axes

__all__ = ["forest", "plot_summary"]


def plot_summary(
    model: Any,
    figsize: tuple[float, float] = (12, 6),
    error_bars: str = "ci",
    ranef: bool = True,
    axlim: tuple[float, float] | None = None,
    plot_intercept: bool = True,
    ranef_alpha: float = 0.5,
    coef_fmt: str = "o",
    orient: str = "v",
    ranef_idx: int = 0,
    ax: Any = None,
) -> Any:
    """A fitted model's forest plot (pymer4's ``Lmer.plot_summary``).

    ``error_bars``: ``"ci"`` (the intervals of ``coefs``) or ``"se"`` (one
    standard error); ``ranef``: overlay the per-group coefficients of the
    ``ranef_idx``-th grouping factor (``model.fixef``); ``orient``: ``"v"``
    (terms down the side) or ``"h"`` (terms along the bottom). Returns the Axes.
    """
    coefs = _coefs(model)
    groups = _group_coefficients(model, ranef_idx) if ranef else None
    return forest(
        coefs,
        groups,
        figsize=figsize,
        error_bars=error_bars,
        axlim=axlim,
        plot_intercept=plot_intercept,
        ranef_alpha=ranef_alpha,
        coef_fmt=coef_fmt,
        orient=orient,
        ax=ax,
    )


def _coefs(model: Any) -> pl.DataFrame:
    if not getattr(model, "fitted", False) or model.coefs is None:
        raise ValueError("the model has not been fitted yet: call fit() first")
    return model.coefs


def _group_coefficients(model: Any, ranef_idx: int) -> pl.DataFrame | None:
    """The per-group coefficient table: one of a mixed model's ``fixef`` (by
    position), or a two-stage model's single table."""
    fixef = getattr(model, "fixef", None)
    if fixef is None:
        return None
    if isinstance(fixef, pl.DataFrame):
        return fixef
    tables = list(fixef.values())
    if not -len(tables) <= ranef_idx < len(tables):
        raise ValueError(f"ranef_idx={ranef_idx}: the model has {len(tables)} grouping factors ({', '.join(fixef)})")
    return tables[ranef_idx]


def forest(
    coefs: pl.DataFrame,
    group_coefs: pl.DataFrame | None = None,
    figsize: tuple[float, float] = (12, 6),
    error_bars: str = "ci",
    axlim: tuple[float, float] | None = None,
    plot_intercept: bool = True,
    ranef_alpha: float = 0.5,
    coef_fmt: str = "o",
    orient: str = "v",
    ax: Any = None,
) -> Any:
    """The forest plot of a coefficient table (``term, Estimate, 2.5_ci,
    97.5_ci, SE``) and, optionally, a table of per-group coefficients (a
    column a term): the drawing behind every model's ``plot_summary``."""
    if orient not in ("v", "h"):
        raise ValueError("orient must be 'v' or 'h'")
    if error_bars not in ("ci", "se"):
        raise ValueError("error_bars must be 'ci' or 'se'")
    if not plot_intercept:
        coefs = coefs.filter(pl.col("term") != "(Intercept)")
    terms = coefs["term"].to_list()
    est = coefs["Estimate"].to_numpy()
    if error_bars == "ci":
        lower, upper = est - coefs["2.5_ci"].to_numpy(), coefs["97.5_ci"].to_numpy() - est
    else:
        lower = upper = coefs["SE"].to_numpy()
    ax = new_axes(ax, figsize)
    positions = np.arange(len(terms), dtype=float)
    shown = [est - lower, est + upper]
    if group_coefs is not None:
        for i, term in enumerate(terms):
            if term not in group_coefs.columns:
                continue
            values = group_coefs[term].to_numpy()
            jitter = np.linspace(-0.15, 0.15, len(values)) if len(values) > 1 else np.zeros(1)
            where = (values, positions[i] + jitter) if orient == "v" else (positions[i] + jitter, values)
            ax.scatter(*where, s=36, alpha=ranef_alpha, color="grey", linewidths=0, zorder=1, label="_groups")
            shown.append(values)
    bars = {"xerr": [lower, upper]} if orient == "v" else {"yerr": [lower, upper]}
    center = (est, positions) if orient == "v" else (positions, est)
    ax.errorbar(*center, **bars, fmt=coef_fmt, capsize=0, elinewidth=4, color="black", ms=12, zorder=3)
    span = np.concatenate([np.atleast_1d(v) for v in shown])
    pad = 0.05 * (span.max() - span.min() if span.size else 1.0) or 1.0
    limits = axlim if axlim is not None else (min(span.min(), 0) - pad, max(span.max(), 0) + pad)
    if orient == "v":
        ax.axvline(0, linestyle="--", color="grey", zorder=0)
        ax.set_yticks(positions, terms)
        ax.set_ylim(len(terms) - 0.5, -0.5)  # the first term on top
        ax.set_xlim(*limits)
        ax.set_xlabel("Estimate")
    else:
        ax.axhline(0, linestyle="--", color="grey", zorder=0)
        ax.set_xticks(positions, terms)
        ax.set_xlim(-0.5, len(terms) - 0.5)
        ax.set_ylim(*limits)
        ax.set_ylabel("Estimate")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return ax
