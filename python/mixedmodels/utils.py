"""Utilities from pymer4's ``pymer4.utils`` (and its R bridge's contrast helpers),
without R: contrast matrices between human-readable weights and R's coding,
positive semi-definiteness checks and Higham's nearest correlation matrix, and
a formatter for coefficient tables.

>>> import numpy as np
>>> from mixedmodels.utils import con2R, R2con
>>> codes = con2R(np.array([[-1, 0, 1]]))
>>> np.round(R2con(codes)[1], 6)
array([-0.5,  0. ,  0.5])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

__all__ = ["R2con", "con2R", "isPSD", "nearestPSD", "result_to_table", "upper"]


def con2R(arr: Any, names: Sequence[str] | None = None) -> np.ndarray | pl.DataFrame:
    """R's contrast coding (levels x k) for human-readable contrasts.

    ``arr`` holds one contrast a row and one weight a factor level (a 1-d
    array is one contrast). As gmodels' ``make.contrasts`` and pymer4's
    ``con2R``: the coding is the pseudo-inverse of the rows, and with fewer than
    ``levels - 1`` contrasts the remaining columns are filled with orthogonal
    ones (the Q of the QR decomposition of ``[1, pinv(arr)]``). With ``names``
    (one a contrast) the result is a polars DataFrame with those column names
    (the filled-in columns are ``orthogonal_1``, ...).

    The coefficient of coding column j estimates contrast j, the weighted sum
    of level means (for weights summing to zero).
    """
    arr = np.atleast_2d(np.asarray(arr, dtype=float))
    if arr.ndim != 2:
        raise ValueError(f"input array should be 1d or 2d but a {arr.ndim}d array was passed")
    nrow, ncol = arr.shape
    if names is not None:
        if not isinstance(names, (list, tuple, np.ndarray)):
            raise TypeError("names should be a list or numpy array")
        if len(names) != nrow:
            raise ValueError("names should have the same number of items as contrasts (rows)")
    if nrow >= ncol:
        raise ValueError(
            f"Too many contrasts requested ({nrow}). Must be less than the number of factor levels ({ncol})."
        )
    value = np.linalg.pinv(arr)
    q, r = np.linalg.qr(np.column_stack([np.ones(ncol), value]), mode="complete")
    if np.linalg.matrix_rank(r) != nrow + 1:
        raise ValueError("Singular contrast matrix. Some of the requested contrasts are perfectly co-linear.")
    coding = q[:, 1:ncol].copy()
    coding[:, :nrow] = value
    if names is not None:
        filled = [f"orthogonal_{i + 1}" for i in range(coding.shape[1] - nrow)]
        return pl.DataFrame(coding, schema=[*(str(n) for n in names), *filled], orient="row")
    return coding


def R2con(arr: Any) -> np.ndarray:
    """The human-readable contrasts of an R contrast coding (levels x k):
    the inverse of ``[1, arr]``. Row 0 is the intercept's weights (the mean of
    the level means for centred codings); row j the weights coefficient j
    estimates."""
    arr = np.asarray(arr, dtype=float)
    if arr.ndim == 1:
        arr = arr[:, None]
    return np.linalg.inv(np.column_stack([np.ones(arr.shape[0]), arr]))


def isPSD(mat: Any, tol: float = 1e-8) -> bool:
    """Whether every eigenvalue of ``mat`` is above ``-tol`` (positive
    semi-definite up to rounding)."""
    e = np.linalg.eigvals(np.asarray(mat, dtype=float))
    return bool(np.all(np.real(e) > -tol))


def nearestPSD(mat: Any, nit: int = 100, tol: float = 1e-12) -> np.ndarray:
    """The nearest correlation matrix to ``mat`` in the Frobenius norm (Higham
    2002, "Computing the nearest correlation matrix", IMA J. Numer. Anal.):
    alternating projections onto the positive semi-definite matrices and onto
    the matrices with a unit diagonal, with Dykstra's correction, for at most
    ``nit`` iterations or until an iteration changes the matrix by less than
    ``tol`` (relative, in the Frobenius norm). This is what pymer4's
    ``nearestPSD`` computes (it ran exactly ``nit`` iterations) and what R's
    ``Matrix::nearPD(corr = TRUE, do2eigen = FALSE)`` converges to.
    """
    a = np.asarray(mat, dtype=float)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"nearestPSD needs a square matrix, not shape {a.shape}")
    a = (a + a.T) / 2
    y = a.copy()
    correction = np.zeros_like(a)
    for _ in range(max(int(nit), 1)):
        r = y - correction
        x = _psd_projection(r)
        correction = x - r
        y_new = x.copy()
        np.fill_diagonal(y_new, 1.0)
        change = np.linalg.norm(y_new - y) / max(np.linalg.norm(y_new), 1e-300)
        y = y_new
        if change < tol:
            break
    return y


def _psd_projection(a: np.ndarray) -> np.ndarray:
    """The nearest positive semi-definite matrix: negative eigenvalues set to 0."""
    values, vectors = np.linalg.eigh((a + a.T) / 2)
    return (vectors * np.maximum(values, 0.0)) @ vectors.T


def upper(mat: Any) -> np.ndarray:
    """The values above the diagonal of a square matrix, row by row."""
    mat = np.asarray(mat)
    return mat[np.triu_indices_from(mat, k=1)]


def result_to_table(
    to_format: Any,
    drop_intercept: bool = True,
    iv_name: str = "Predictor",
    comparison_name: str = "b",
    ci_name: str = "ci",
    round: bool = True,
    pval_text: str = "< .001",
    pval_thresh: float = 0.001,
    fetch_name_col: str = "term",
) -> pl.DataFrame:
    """A fitted model's ``coefs`` (or such a table) formatted for a report:
    columns ``Predictor, b, ci, t, df, p`` (renamed by the arguments), values
    rounded to 3 decimals, the interval as the text ``"(lower upper)"`` and
    p-values below ``pval_thresh`` as ``pval_text``. ``fetch_name_col`` names
    the column holding the terms (``term`` in this package's tables).
    """
    if isinstance(to_format, pl.DataFrame):
        table = to_format
    else:
        if not getattr(to_format, "fitted", False) or getattr(to_format, "coefs", None) is None:
            raise ValueError("model must be fit to format results")
        table = to_format.coefs
    if fetch_name_col not in table.columns:
        raise ValueError(f"result_to_table: no column '{fetch_name_col}' holds the terms")
    if drop_intercept:
        table = table.filter(~pl.col(fetch_name_col).is_in(["(Intercept)", "Intercept"]))
    numeric = [c for c, t in table.schema.items() if t.is_numeric()]
    if round:
        table = table.with_columns(pl.col(numeric).round(3))
    stat = "T-stat" if "T-stat" in table.columns else "Z-stat"
    p_col = "P-val" if "P-val" in table.columns else "Perm-P-val"

    def fmt(v: float) -> str:
        return f"{v:g}" if round else repr(v)

    lo, hi = table["2.5_ci"].to_list(), table["97.5_ci"].to_list()
    ci = [f"({fmt(a)} {fmt(b)})" for a, b in zip(lo, hi, strict=True)]
    p = [pval_text if v < pval_thresh else fmt(v) for v in table[p_col].to_list()]
    df = table["DF"] if "DF" in table.columns else pl.Series([None] * table.height, dtype=pl.Float64)
    return pl.DataFrame(
        {
            iv_name: table[fetch_name_col],
            comparison_name: table["Estimate"],
            ci_name: ci,
            "t": table[stat],
            "df": df,
            "p": p,
        }
    )
