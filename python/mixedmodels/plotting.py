"""Plots of fitted models (the ``plot`` extra: ``pip install mixedmodels[plot]``).

matplotlib is imported when a plot is drawn, not with the package. Every
function draws into the Axes given as ``ax=`` (or a new figure) and returns
what it drew on, so plots compose into a user's own figures. Functions take a
model and read its public interface; new plots of models belong here.

- :func:`plot_influence`: HLMdiag's ``dotplot_diag``, an influence measure
  of every observation or group, sorted, with a cut-off line and the most
  influential labelled.
- :func:`plot_residuals`: residuals against fitted values and a normal
  quantile-quantile plot, from :func:`~mixedmodels.diagnostics.hlm_resid`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from mixedmodels import diagnostics
from mixedmodels.exceptions import DataError

__all__ = ["internal_cutoff", "plot_influence", "plot_residuals", "pyplot"]

TWO_SIDED = ("covratio",)
"""Measures whose cut-offs bound both sides (HLMdiag: covratio and rvc)."""


def pyplot() -> Any:
    """matplotlib's pyplot, or an ImportError saying how to get it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("plots need matplotlib: pip install 'mixedmodels[plot]'") from e
    return plt


def internal_cutoff(values: np.ndarray, measure: str) -> tuple[float, float]:
    """HLMdiag's ``internal_cutoff``: Q3 + 3 IQR above (and Q1 - 3 IQR below
    for covratio and rvc); -inf where a side has no bound."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    q1, q3 = np.quantile(x, [0.25, 0.75])
    iqr = q3 - q1
    lower = q1 - 3 * iqr if _two_sided(measure) else -np.inf
    return float(lower), float(q3 + 3 * iqr)


def _two_sided(measure: str) -> bool:
    return measure in TWO_SIDED or measure.startswith("rvc.")


def plot_influence(
    model: Any,
    measure: str = "cooksd",
    level: int | str = 1,
    approx: bool = True,
    cutoff: float | Sequence[float] | str | None = "internal",
    n_label: int = 5,
    table: pl.DataFrame | None = None,
    ax: Any = None,
) -> Any:
    """HLMdiag's ``dotplot_diag`` of an influence measure: the values sorted
    (the largest at the top), a red cut-off line (``"internal"``: Q3 + 3 IQR,
    two-sided for covratio and rvc; a number or (lower, upper); None: none),
    the values beyond it as red triangles, the ``n_label`` most extreme of
    them labelled with their row or level. ``table``: an influence table
    already computed (:func:`~mixedmodels.diagnostics.influence`), else it is
    computed with ``level`` and ``approx``. Returns the Axes."""
    plt = pyplot()
    if table is None:
        table = diagnostics.influence(model, level=level, approx=approx)
    if measure not in table.columns[1:]:
        raise DataError(f"measure {measure!r} is not a column of the influence table ({', '.join(table.columns[1:])})")
    key = table.columns[0]
    values = table[measure].cast(pl.Float64).fill_null(np.nan).to_numpy()
    labels = [str(v) for v in table[key].to_list()]
    order = np.argsort(-np.where(np.isnan(values), -np.inf, values), kind="stable")
    values, labels = values[order], [labels[i] for i in order]
    y = np.arange(len(values), 0, -1)
    bounds = _bounds(values, measure, cutoff)
    extreme = np.zeros(len(values), dtype=bool)
    if bounds is not None:
        extreme = (values > bounds[1]) | (values < bounds[0])
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(values[~extreme], y[~extreme], color="tab:blue", s=12, label="_values")
    if extreme.any():
        ax.scatter(values[extreme], y[extreme], color="red", marker="^", s=24, label="_extreme")
        # The most extreme first: the largest, or for two-sided measures the farthest from the median.
        distance = np.abs(values - np.nanmedian(values)) if bounds and np.isfinite(bounds[0]) else values
        ranked = [i for i in np.argsort(-np.nan_to_num(distance, nan=-np.inf), kind="stable") if extreme[i]]
        for i in ranked[:n_label]:
            ax.annotate(labels[i], (values[i], y[i]), textcoords="offset points", xytext=(4, 2), fontsize=8)
    if bounds is not None:
        for b in bounds:
            if np.isfinite(b):
                ax.axvline(b, color="red", linewidth=1)
    ax.set_xlabel(measure)
    ax.set_ylabel(key if key != "row" else "observation")
    ax.set_yticks([])
    return ax


def _bounds(values: np.ndarray, measure: str, cutoff: Any) -> tuple[float, float] | None:
    if cutoff is None:
        return None
    if isinstance(cutoff, str):
        if cutoff != "internal":
            raise DataError(f"cutoff must be 'internal', a number, (lower, upper) or None, not {cutoff!r}")
        return internal_cutoff(values, measure)
    if isinstance(cutoff, (int, float, np.integer, np.floating)):
        return (-np.inf, float(cutoff))
    bounds = tuple(float(c) for c in cutoff)
    if len(bounds) != 2:
        raise DataError("cutoff as a sequence must be (lower, upper)")
    return (bounds[0], bounds[1])


def plot_residuals(
    model: Any,
    level: int | str = 1,
    kind: str = "conditional",
    standardize: bool | str = False,
    ax: Sequence[Any] | None = None,
) -> Any:
    """Residual plots from :func:`~mixedmodels.diagnostics.hlm_resid`.

    ``level=1``: residuals against fitted values (left) and a normal
    quantile-quantile plot of the residuals (right), for the ``kind`` of
    residual: ``"conditional"`` (``.resid``, ``.fitted``), ``"ls"``
    (least squares) or ``"marginal"``. ``level="<factor>"``: a normal QQ plot
    of each random effect (``.ranef.*``). ``ax``: the Axes to draw in (two
    for level 1, one an effect otherwise). Returns the Figure."""
    plt = pyplot()
    table = diagnostics.hlm_resid(model, level=level, standardize=standardize, include_ls=kind == "ls")
    if level == 1:
        resid_col, fitted_col = _residual_columns(table, kind)
        axes = _axes(plt, ax, 2, (9, 4))
        resid = table[resid_col].cast(pl.Float64).fill_null(np.nan).to_numpy()
        fitted = table[fitted_col].cast(pl.Float64).fill_null(np.nan).to_numpy()
        axes[0].scatter(fitted, resid, s=10, color="tab:blue")
        axes[0].axhline(0.0, color="grey", linewidth=1)
        axes[0].set_xlabel(fitted_col)
        axes[0].set_ylabel(resid_col)
        _qq(axes[1], resid, resid_col)
    else:
        effects = [c for c in table.columns if c.startswith((".ranef.", ".std.ranef."))]
        axes = _axes(plt, ax, len(effects), (4 * len(effects), 4))
        for a, c in zip(axes, effects, strict=True):
            _qq(a, table[c].cast(pl.Float64).fill_null(np.nan).to_numpy(), c)
    return axes[0].figure


def _residual_columns(table: pl.DataFrame, kind: str) -> tuple[str, str]:
    choices = {
        "conditional": ((".resid", ".std.resid"), ".fitted"),
        "ls": ((".ls.resid", ".std.ls.resid", ".semi.ls.resid"), ".ls.fitted"),
        "marginal": ((".mar.resid", ".chol.mar.resid"), ".mar.fitted"),
    }
    if kind not in choices:
        raise DataError(f"kind must be 'conditional', 'ls' or 'marginal', not {kind!r}")
    residuals, fitted = choices[kind]
    return next(c for c in residuals if c in table.columns), fitted


def _axes(plt: Any, ax: Sequence[Any] | Any | None, count: int, size: tuple[float, float]) -> list[Any]:
    if ax is None:
        _, created = plt.subplots(1, count, figsize=size, squeeze=False)
        return list(created[0])
    axes = list(ax) if isinstance(ax, (list, tuple, np.ndarray)) else [ax]
    if len(axes) != count:
        raise DataError(f"this plot draws in {count} Axes; ax= gave {len(axes)}")
    return axes


def _qq(ax: Any, values: np.ndarray, name: str) -> None:
    """A normal QQ plot with R's ``ppoints`` and ``qqline`` (through the quartiles)."""
    x = np.sort(values[np.isfinite(values)])
    n = len(x)
    a = 3 / 8 if n <= 10 else 1 / 2
    theoretical = stats.norm.ppf((np.arange(1, n + 1) - a) / (n + 1 - 2 * a))
    ax.scatter(theoretical, x, s=10, color="tab:blue")
    q = np.quantile(x, [0.25, 0.75])
    z = stats.norm.ppf([0.25, 0.75])
    slope = (q[1] - q[0]) / (z[1] - z[0])
    ax.axline((z[0], q[0]), slope=slope, color="grey", linewidth=1)
    ax.set_xlabel("normal quantiles")
    ax.set_ylabel(name)
