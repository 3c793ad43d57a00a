"""Residual plots from HLMdiag's residual tables
(:func:`mixedmodels.diagnostics.hlm_resid`): conditional, least-squares or
marginal residuals against their fitted values beside a normal
quantile-quantile plot, or QQ plots of a grouping factor's random effects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from mixedmodels import diagnostics
from mixedmodels.exceptions import DataError
from mixedmodels.plots._figure import panels
from mixedmodels.plots.residuals import ppoints

__all__ = ["plot_hlm_resid"]


def plot_hlm_resid(
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
    table = diagnostics.hlm_resid(model, level=level, standardize=standardize, include_ls=kind == "ls")
    if level == 1:
        resid_col, fitted_col = _residual_columns(table, kind)
        _, axes = panels(2, ax, (9, 4))
        resid = table[resid_col].cast(pl.Float64).fill_null(np.nan).to_numpy()
        fitted = table[fitted_col].cast(pl.Float64).fill_null(np.nan).to_numpy()
        axes[0].scatter(fitted, resid, s=10, color="tab:blue")
        axes[0].axhline(0.0, color="grey", linewidth=1)
        axes[0].set_xlabel(fitted_col)
        axes[0].set_ylabel(resid_col)
        _qq(axes[1], resid, resid_col)
    else:
        effects = [c for c in table.columns if c.startswith((".ranef.", ".std.ranef."))]
        _, axes = panels(len(effects), ax, (4 * len(effects), 4), ncols=len(effects))
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


def _qq(ax: Any, values: np.ndarray, name: str) -> None:
    """A normal QQ plot with R's ``ppoints`` and ``qqline`` (through the quartiles)."""
    x = np.sort(values[np.isfinite(values)])
    n = len(x)
    theoretical = stats.norm.ppf(ppoints(n))
    ax.scatter(theoretical, x, s=10, color="tab:blue")
    q = np.quantile(x, [0.25, 0.75])
    z = stats.norm.ppf([0.25, 0.75])
    slope = (q[1] - q[0]) / (z[1] - z[0])
    ax.axline((z[0], q[0]), slope=slope, color="grey", linewidth=1)
    ax.set_xlabel("normal quantiles")
    ax.set_ylabel(name)
