"""Tests of linear hypotheses ``L beta = rhs`` about the fixed effects of a
linear mixed model, as lmerTest's ``contest()``: one row of ``L`` is a t test
(``contest1D``), several rows a joint F test (``contestMD``), with
Satterthwaite's or Kenward-Roger's denominator df (pbkrtest's scaled F).
:func:`f_test` is the one F test behind ``contest`` and ``anova``, as
lmerTest's anova calls ``contestMD`` for each term.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from mixedmodels._stats import significance, t_pvalues
from mixedmodels._table import result_table
from mixedmodels.exceptions import DataError

__all__ = ["DDF", "check_ddf", "contest", "f_test"]

DDF = {
    "satterthwaite": "Satterthwaite",
    "kenward-roger": "Kenward-Roger",
    "kenward_roger": "Kenward-Roger",
    "kr": "Kenward-Roger",
}


def check_ddf(model: Any, ddf: str, what: str) -> str:
    """The df method's canonical name; refuses Satterthwaite without the fit's
    derivatives and Kenward-Roger for an ML fit."""
    method = DDF.get(str(ddf).lower())
    if method is None:
        raise DataError(f"ddf must be 'Satterthwaite' or 'Kenward-Roger', not {ddf!r}")
    if method == "Satterthwaite" and model.ddf == "lme4":
        raise DataError(
            f"{what}(ddf='Satterthwaite') needs the derivatives of a fit with ddf='Satterthwaite' "
            "(or 'Kenward-Roger'); refit without ddf='lme4'"
        )
    if method == "Kenward-Roger" and not model.REML:
        raise DataError("Kenward-Roger's method is only available for REML fits; refit with REML=True")
    return method


def contest(
    model: Any,
    L: Any,
    rhs: float | Sequence[float] = 0.0,
    ddf: str = "Satterthwaite",
    joint: bool | None = None,
    level: float = 0.95,
) -> pl.DataFrame:
    """lmerTest's ``contest()``: tests of ``L @ beta = rhs`` for a contrast
    matrix ``L`` (one row a contrast, one column a fixed effect, in the
    order of ``coefs``; a 1-D ``L`` is one contrast).

    One contrast gives lmerTest's t test (``contest1D``: ``Estimate``
    (= L beta), the Wald interval at ``level`` with the contrast's df,
    ``SE``, ``DF``, ``T-stat`` = (Estimate - rhs) / SE, ``P-val``, ``Sig``);
    several give the joint F test (``contestMD``: ``SS, MS, NumDF,
    DenomDF, F-stat, P-val, Sig``; NumDF is the rank of ``L``).
    ``joint=False`` tests each row on its own, ``joint=True`` makes one
    row an F test. ``ddf`` is ``"Satterthwaite"`` or ``"Kenward-Roger"``
    (REML fits: the Kenward-Roger covariance and df, pbkrtest's scaled F).
    """
    if model.is_generalized:
        raise DataError("contest() is for linear mixed models")
    method = check_ddf(model, ddf, "contest")
    if not 0 < level < 1:
        raise DataError(f"level must be between 0 and 1, not {level}")
    Lm = contrast_matrix(L, model.fixed_names)
    r = np.asarray(rhs, dtype=float).ravel()
    if r.size not in (1, Lm.shape[0]) or not np.all(np.isfinite(r)):
        raise DataError(f"rhs must be one finite number or one a row of L ({Lm.shape[0]}), got {r.size}")
    r = np.broadcast_to(r, (Lm.shape[0],))
    if joint if joint is not None else Lm.shape[0] > 1:
        return result_table(pl.DataFrame([f_test(model, Lm, r, method)], schema=F_SCHEMA))
    return result_table(pl.concat([_t_test(model, row, float(v), method, level) for row, v in zip(Lm, r, strict=True)]))


def contrast_matrix(L: Any, names: list[str]) -> np.ndarray:
    """``L`` as a 2-D array of finite numbers, one column a coefficient."""
    try:
        Lm = np.asarray(L, dtype=float)
    except (TypeError, ValueError) as e:
        raise DataError(f"L must be numbers: a contrast (1-D) or one contrast a row (2-D): {e}") from None
    if Lm.ndim == 1:
        Lm = Lm[None, :]
    if Lm.ndim != 2 or Lm.shape[0] == 0 or Lm.shape[1] != len(names):
        raise DataError(
            f"L must have {len(names)} columns, one a coefficient ({', '.join(names)}), "
            f"and at least one row; got shape {np.shape(L)}"
        )
    if not np.all(np.isfinite(Lm)):
        raise DataError("L has missing or infinite values")
    return Lm


# columns of an F test, as lmerTest's anova and contestMD
F_SCHEMA = {
    "SS": pl.Float64,
    "MS": pl.Float64,
    "NumDF": pl.Int64,
    "DenomDF": pl.Float64,
    "F-stat": pl.Float64,
    "P-val": pl.Float64,
    "Sig": pl.String,
}


def f_test(model: Any, L: np.ndarray, rhs: np.ndarray | None, method: str) -> dict[str, Any]:
    """The F test of ``L beta = rhs`` (the core's; lmerTest's ``contestMD``,
    with Kenward-Roger's method pbkrtest's scaled F): sum and mean of squares
    (on the response's scale), numerator df (the rank of L), denominator df,
    F and its p-value."""
    rows = [[float(v) for v in row] for row in L]
    rhs_values = [0.0] * len(rows) if rhs is None else [float(v) for v in rhs]
    fval, ndf, ddf, ms = model.core.f_test(rows, rhs_values, method)
    p = float(stats.f.sf(fval, ndf, ddf)) if np.isfinite(fval) else float("nan")
    return {
        "SS": ms * ndf,
        "MS": ms,
        "NumDF": round(ndf),
        "DenomDF": float(ddf),
        "F-stat": float(fval),
        "P-val": p,
        "Sig": significance(p),
    }


def _t_test(model: Any, row: np.ndarray, rhs: float, method: str, level: float) -> pl.DataFrame:
    """lmerTest's ``contest1D``: the t test of ``row @ beta = rhs``, with the
    interval of ``row @ beta`` at ``level``."""
    estimate, se, df, t = model.core.t_test([float(v) for v in row], rhs, method)
    p = float(t_pvalues(np.array([t]), np.array([df]))[0]) if np.isfinite(t) else float("nan")
    q = float(stats.t.ppf(0.5 + level / 2, df)) if np.isfinite(df) else float("nan")
    lo, hi = ci_names(level)
    return pl.DataFrame(
        {
            "Estimate": [estimate],
            lo: [estimate - q * se],
            hi: [estimate + q * se],
            "SE": [se],
            "DF": [df],
            "T-stat": [t],
            "P-val": [p],
            "Sig": [significance(p)],
        },
        schema_overrides={c: pl.Float64 for c in ("Estimate", lo, hi, "SE", "DF", "T-stat", "P-val")},
    )


def ci_names(level: float) -> tuple[str, str]:
    """pymer4's names of interval columns: ``2.5_ci``, ``97.5_ci`` at level 0.95."""
    a = (1 - level) / 2 * 100
    return f"{a:g}_ci", f"{100 - a:g}_ci"
