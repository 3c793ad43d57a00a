"""HLMdiag's ``dotplot_diag``: an influence measure of every observation or
group (:func:`mixedmodels.diagnostics.influence`), sorted, with a cut-off line
and the most influential labelled."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from mixedmodels import diagnostics
from mixedmodels.exceptions import DataError
from mixedmodels.plots._figure import new_axes

__all__ = ["internal_cutoff", "plot_influence"]

TWO_SIDED = ("covratio",)
"""Measures whose cut-offs bound both sides (HLMdiag: covratio and rvc)."""


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
    ax = new_axes(ax, (5, 4))
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
