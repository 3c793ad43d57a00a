"""lmerTest's ``anova(model, type = 1 | 2 | 3)``: F tests of the fixed-effects terms.

Each term gets a hypothesis (contrast) matrix ``L`` and an F test of
``L beta = 0`` with Satterthwaite's (lmerTest's ``contestMD``) or
Kenward-Roger's denominator df. The matrices follow lmerTest 3.1-3:

* Type I (sequential): rows of the Doolittle factor of ``X'X`` belonging to the
  term (``get_contrasts_type1``).
* Type II: for a term contained in no other term, the marginal test of its
  coefficients; otherwise the Doolittle rows of ``X'X`` with the columns
  reordered as [unrelated terms, term, terms containing it]
  (``get_contrasts_type2_unfolded``).
* Type III: contrasts computed for treatment coding from the full
  (rank-deficient) dummy design, with the columns of contained terms made
  orthogonal to those of the terms containing them, then carried over to the
  model's own coding with ``ginv(X_treatment) X`` (``get_contrasts_type3``).

Containment follows lmerTest's ``containment()``: term F1 is contained in F2
when every variable of F1 is in F2, F2 has more variables, and both involve the
same numeric covariates. As in R, "variables" are those coded by contrasts in
the term (``attr(terms, "factors") == 1``) and matrix-valued variables
(``poly()``, ``scale()``) do not count as numeric.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from mixedmodels import _core
from mixedmodels._stats import significance, zapsmall
from mixedmodels._table import result_table
from mixedmodels.contest import f_test
from mixedmodels.exceptions import DataError, UnavailableError

__all__ = ["anova_contrasts", "anova_table", "doolittle"]

COLUMNS = ["term", "SS", "MS", "NumDF", "DenomDF", "F-stat", "P-val", "Sig"]

_TYPES: dict[Any, int] = {
    1: 1,
    2: 2,
    3: 3,
    "1": 1,
    "2": 2,
    "3": 3,
    "I": 1,
    "II": 2,
    "III": 3,
}
_DDF = {
    "satterthwaite": "Satterthwaite",
    "kenward-roger": "Kenward-Roger",
    "kenward_roger": "Kenward-Roger",
    "kr": "Kenward-Roger",
    "lme4": "lme4",
}
# R functions whose value is a matrix: their dataClass is "nmatrix.k", not "numeric".
_MATRIX_FUNCTIONS = ("poly(", "scale(")


# ---------------------------------------------------------------- public API
def anova_table(model: Any, type: Any = 3, ddf: str = "Satterthwaite") -> pl.DataFrame:
    """lmerTest's ANOVA table of a fitted :class:`~mixedmodels.Lmer`.

    ``type`` is 1, 2 or 3 (also ``"I"``, ``"II"``, ``"III"``); ``ddf`` is
    ``"Satterthwaite"``, ``"Kenward-Roger"`` (REML fits) or ``"lme4"`` (lme4's
    own sequential table: no denominator df, no p-values; ``type`` is ignored,
    as in lmerTest). Returns one row a fixed-effects term with columns ``term,
    SS, MS, NumDF, DenomDF, F-stat, P-val, Sig``.
    """
    method = _check_ddf(ddf)
    kind = _check_type(type)
    _check_model(model)
    if method == "lme4":
        return result_table(_lme4_table(model))
    if method == "Satterthwaite" and getattr(model, "ddf", "Satterthwaite") == "lme4":
        raise DataError(
            "anova(ddf='Satterthwaite') needs the derivatives of a fit with ddf='Satterthwaite'; "
            "refit with fit(ddf='Satterthwaite') or use anova(ddf='lme4')"
        )
    if method == "Kenward-Roger" and not model.REML:
        raise DataError("Kenward-Roger's method is only available for REML fits; refit with REML=True")
    hypotheses = anova_contrasts(model, kind)
    rows: list[dict[str, Any]] = []
    empty: list[str] = []
    for term, L in hypotheses.items():
        if L.shape[0] == 0:
            empty.append(term)  # lmerTest appends terms without a test, as NA rows, at the end
            continue
        rows.append({"term": term, **f_test(model, L, None, method)})
    rows += [
        {"term": t, "SS": np.nan, "MS": np.nan, "NumDF": None, "DenomDF": np.nan, "F-stat": np.nan, "P-val": np.nan}
        for t in empty
    ]
    return result_table(_frame(rows))


def anova_contrasts(model: Any, type: Any = 3) -> dict[str, np.ndarray]:
    """The hypothesis matrix of each term's F test (lmerTest's ``show_tests``):
    a dict from term label to an array with one column a coefficient."""
    kind = _check_type(type)
    _check_model(model)
    info = _Terms(model)
    if not info.labels:
        return {}
    if kind == 1 or (kind in (2, 3) and (info.X.shape[1] <= 1 or len(info.labels) <= 1)):
        return _type1(info)
    if kind == 2:
        return _type2_unfolded(info)
    return _type3(model, info)


def doolittle(x: np.ndarray, eps: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """lmerTest's Doolittle factorisation ``x = L U`` (``L`` unit lower
    triangular), with its absolute tolerance ``eps``: a column of ``L`` is zero
    where ``|U[i, i]| < eps``, and entries below ``eps`` are set to zero."""
    x = np.asarray(x, dtype=float)
    n = x.shape[0]
    L = np.eye(n)
    U = np.zeros((n, n))
    for i in range(n):
        U[i, :] = x[i, :] - L[i, :i] @ U[:i, :]
        if i + 1 < n:
            col = x[i + 1 :, i] - L[i + 1 :, :i] @ U[:i, i]
            L[i + 1 :, i] = 0.0 if abs(U[i, i]) < eps else col / U[i, i]
    L[np.abs(L) < eps] = 0.0
    U[np.abs(U) < eps] = 0.0
    return L, U


# ------------------------------------------------------------- model facts
class _Terms:
    """The fixed-effects terms of a fit: labels, columns of X, containment."""

    def __init__(self, model: Any) -> None:
        if model.streamed:
            # Types I and II read X only through crossprod(X): a square root of it stands for
            # the rows an out-of-core fit does not hold (type III refuses, see _type3).
            self.X = np.linalg.cholesky(np.asarray(model.core.x_crossprod, dtype=float)).T
        else:
            self.X = model.design_matrix.to_numpy().astype(float)
        self.names = model.fixed_names
        self.intercept = "(Intercept)" in self.names
        info = model.fixed_terms
        self.labels = [t.label for t in info]
        self.variables = [t.variables for t in info]
        self.columns = {t.label: t.columns for t in info}
        numeric: dict[str, bool] = {}
        factors: list[str] = []
        for t in info:
            for v, is_num in zip(t.variables, t.numeric, strict=True):
                numeric[v] = bool(is_num) and not v.startswith(_MATRIX_FUNCTIONS)
                if not is_num and v not in factors:
                    factors.append(v)
        self.numeric = numeric  # R's dataClass is "numeric"
        self.factors = factors  # coded as factors by the core
        self.order = [len(v) for v in self.variables]
        self.contained_in = _containment(self.labels, self.variables, numeric)


def _coded_variables(variables: list[list[str]]) -> list[set[str]]:
    """The variables R's terms object codes by contrasts (``factors == 1``) in
    each term: v in term T is coded 1 when T without v is empty or is part of
    an earlier term (R's TermCode), otherwise 2 (dummy coding of all levels)."""
    sets = [set(v) for v in variables]
    out = []
    for k, term in enumerate(sets):
        coded = set()
        for v in term:
            rest = term - {v}
            if not rest or any(rest <= prev for prev in sets[:k]):
                coded.add(v)
        out.append(coded)
    return out


def _containment(labels: list[str], variables: list[list[str]], numeric: dict[str, bool]) -> dict[str, list[str]]:
    """lmerTest's ``containment()``: for each term, the terms containing it."""
    coded = _coded_variables(variables)
    nums = [{v for v in c if numeric.get(v, False)} for c in coded]

    def contains(f1: int, f2: int) -> bool:  # F2 contains F1
        return coded[f1] <= coded[f2] and len(coded[f2] - coded[f1]) > 0 and nums[f1] == nums[f2]

    return {labels[i]: [labels[j] for j in range(len(labels)) if contains(i, j)] for i in range(len(labels))}


# --------------------------------------------------------------- contrasts
def _type1(info: _Terms) -> dict[str, np.ndarray]:
    X = info.X
    p = X.shape[1]
    Lt = np.ones((1, 1)) if p == 1 else doolittle(X.T @ X)[0].T
    return {t: Lt[info.columns[t], :] for t in info.labels}


def _type2_unfolded(info: _Terms) -> dict[str, np.ndarray]:
    p = info.X.shape[1]
    eye = np.eye(p)
    out = {}
    for t in info.labels:
        if info.contained_in[t]:
            out[t] = _type2(info, t)
        else:
            out[t] = eye[info.columns[t], :]
    return out


def _type2(info: _Terms, term: str) -> np.ndarray:
    """Type II contrast of a term contained in others: Doolittle rows of X'X
    with X's columns reordered as [unrelated, term, containing terms]."""
    X = info.X
    p = X.shape[1]
    moved = list(info.columns[term])
    for t in info.contained_in[term]:
        moved += info.columns[t]
    order = [j for j in range(p) if j not in set(moved)] + moved
    Xn = X[:, order]
    Lc = doolittle(Xn.T @ Xn)[0].T
    term_cols = set(info.columns[term])
    rows = [k for k, j in enumerate(order) if j in term_cols]
    out = np.zeros((len(rows), p))
    out[:, order] = Lc[rows, :]  # back to X's column order
    return out


def _type3(model: Any, info: _Terms) -> dict[str, np.ndarray]:
    if model.streamed:
        raise UnavailableError(
            "anova(type=3) builds lmerTest's hypotheses from designs of the fit's rows, which an out-of-core fit "
            "does not hold: use type=1 or type=2, or contest() for a hypothesis of your own"
        )
    frame = model.fit_frame
    Xt, tnames, tassign = model.full_design(frame, contrasts=[(v, "treatment") for v in info.factors])
    # Drop aliased columns as lmerTest's ensure_full_rank (R's qr, LINPACK) does.
    keep = list(_core.independent_columns(Xt))
    Xt = Xt[:, keep]
    tnames = [tnames[j] for j in keep]
    tassign = [tassign[j] for j in keep]
    # Map of terms to columns of the treatment-coded X (assign: 0 intercept, k term k).
    tcols = {t: [j for j, a in enumerate(tassign) if a == k + 1] for k, t in enumerate(info.labels)}
    # Full dummy design: intercept and each term's model.matrix(~ 0 + term).
    blocks, rd_names = [], []
    if info.intercept:
        blocks.append(np.ones((Xt.shape[0], 1)))
        rd_names.append("(Intercept)")
    for t in info.labels:
        B, bn, _ = model.full_design(frame, formula=f"~ 0 + {t}", contrasts=[])
        blocks.append(B)
        rd_names += bn
    rdX = np.hstack(blocks)
    Lfull = zapsmall((_ginv(Xt) @ rdX).T)  # rdX columns x Xt columns
    # Orthogonalise the columns of contained terms (higher-order terms first).
    by_order = sorted(range(len(info.labels)), key=lambda k: -info.order[k])
    for k in by_order:
        t = info.labels[k]
        containing = info.contained_in[t]
        if not containing or not tcols[t]:
            continue
        A = Lfull[:, [j for c in containing for j in tcols[c]]]
        Y = Lfull[:, tcols[t]]
        Lfull[:, tcols[t]] = zapsmall(_residuals(A, Y))
    index = {n: i for i, n in enumerate(rd_names)}
    missing = [n for n in tnames if n not in index]
    if missing:
        raise DataError(f"anova: cannot match coefficient(s) {', '.join(missing)} to the full dummy design")
    Lsq = Lfull[[index[n] for n in tnames], :]
    out: dict[str, np.ndarray] = {}
    for t in info.labels:
        Lt = Lsq[:, tcols[t]].T
        out[t] = Lt[np.abs(Lt).sum(axis=1) > 1e-8, :]
    # Carry the contrasts over to the model's coding.
    same = list(tnames) == info.names and np.array_equal(Xt, info.X)
    if not same:
        cmap = zapsmall(_ginv(Xt) @ info.X)
        out = {t: L @ cmap for t, L in out.items()}
    return out


# ------------------------------------------------------------------ tests
def _lme4_table(model: Any) -> pl.DataFrame:
    """lme4's anova() of one model: sequential sums of squares (RX beta)^2 by
    term, F = MS / sigma^2, no denominator df."""
    info = _Terms(model)
    beta = model.beta
    sigma = float(model.sigma)
    prec = sigma**2 * np.linalg.inv(np.asarray(model.vcov, dtype=float))
    RX = np.linalg.cholesky((prec + prec.T) / 2).T  # upper triangular, RX'RX = X'V^-1 X
    ss_col = (RX @ beta) ** 2
    rows = []
    for t in info.labels:
        cols = info.columns[t]
        if not cols:
            continue
        ss = float(ss_col[cols].sum())
        ms = ss / len(cols)
        rows.append(
            {"term": t, "SS": ss, "MS": ms, "NumDF": len(cols), "DenomDF": None, "F-stat": ms / sigma**2, "P-val": None}
        )
    return _frame(rows)


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    schema: dict[str, Any] = {c: pl.String if c in ("term", "Sig") else pl.Float64 for c in COLUMNS}
    schema["NumDF"] = pl.Int64
    for r in rows:
        p = r.get("P-val")
        r["Sig"] = significance(p) if p is not None else ""
    return pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)


# ----------------------------------------------------------------- helpers
def _check_type(type_: Any) -> int:
    try:
        kind = None if isinstance(type_, bool) else _TYPES.get(type_)
    except TypeError:  # unhashable
        kind = None
    if kind is None:
        raise DataError(f"type must be 1, 2 or 3 (or 'I', 'II', 'III'), not {type_!r}")
    return kind


def _check_ddf(ddf: str) -> str:
    key = str(ddf).lower()
    if key not in _DDF:
        raise DataError(f"ddf must be 'Satterthwaite', 'Kenward-Roger' or 'lme4', not {ddf!r}")
    return _DDF[key]


def _check_model(model: Any) -> None:
    if not getattr(model, "fitted", False):
        raise DataError("the model has not been fitted yet: call fit() first")
    if model.is_generalized:
        raise DataError("F tables are for linear mixed models; compare GLMMs with mixedmodels.anova(m0, m1)")


def _ginv(x: np.ndarray) -> np.ndarray:
    """MASS::ginv: pseudo-inverse dropping singular values below sqrt(eps) * max."""
    return np.linalg.pinv(x, rcond=np.sqrt(np.finfo(float).eps))


def _residuals(A: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Residuals of the least-squares fit of Y's columns on A's (lm.fit)."""
    U, s, _ = np.linalg.svd(A, full_matrices=False)
    if s.size == 0:
        return Y.copy()
    rank = int((s > 1e-7 * s[0]).sum())
    Q = U[:, :rank]
    return Y - Q @ (Q.T @ Y)
