"""Single-term deletions: ``drop1`` of lmerTest (linear mixed models) and of
lme4 (generalized ones, ``test = "Chisq"``).

Only the marginal terms are tested: those no other fixed term contains
(R's ``drop.scope``: ``a`` and ``b`` are not tested while ``a:b`` is in the
model). For a linear mixed model each term gets the F test of its
coefficients being zero in the full model (lmerTest's
``drop1.lmerModLmerTest``): nothing is refitted, and the denominator df are
Satterthwaite's or Kenward-Roger's, as in :func:`~mixedmodels.anova_table.anova_table`,
whose columns the table has. When the design is rank deficient (columns
dropped) the hypothesis is instead the part of the design the reduced model
loses, as lmerTest computes it (``get_Ldiffmat2``). A generalized model is
refitted without each term and compared with the full model by a
likelihood-ratio test, as lme4's ``drop1(m, test = "Chisq")``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from mixedmodels._stats import significance, zapsmall
from mixedmodels._table import result_table
from mixedmodels.anova_table import COLUMNS, anova_contrasts
from mixedmodels.compare import _drop_scope, lr_drop_table
from mixedmodels.contest import F_SCHEMA, check_ddf, f_test
from mixedmodels.exceptions import DataError

__all__ = ["drop1", "marginal_terms"]


def marginal_terms(model: Any) -> list[str]:
    """The fixed terms that can be dropped while respecting marginality (R's
    ``drop.scope``): those whose variables no other term contains all of."""
    terms = model.fixed_terms
    return [terms[i].label for i in _drop_scope([t.variables for t in terms])]


def drop1(model: Any, ddf: str = "Satterthwaite", scope: Sequence[str] | None = None) -> pl.DataFrame:
    """Tests of the marginal fixed terms (see the module's documentation).

    ``scope`` restricts the tests to some marginal terms (R's term labels,
    ``"a:b"``); naming a term that is not marginal, or not in the model,
    raises :class:`~mixedmodels.DataError`.

    A linear mixed model gets one row a term with the columns of ``anova()``:
    ``term, SS, MS, NumDF, DenomDF, F-stat, P-val, Sig`` (``ddf`` is
    ``"Satterthwaite"`` or ``"Kenward-Roger"``). A generalized model gets a
    ``<none>`` row for the full model and one row a term: ``term, npar``
    (parameters of the model), ``logLik``, ``AIC``, ``LRT`` (twice the
    log-likelihood lost), ``Df`` (parameters removed) and ``P-val``
    (lme4's ``Pr(Chi)``); ``ddf`` is ignored.
    """
    if not getattr(model, "fitted", False):
        raise DataError("the model has not been fitted yet: call fit() first")
    terms = _scope(model, scope)
    if model.is_generalized and not model.is_mixed:
        raise DataError(
            "drop1() of a generalized linear model (Lm with a family) is not available; compare fits "
            "with update() and their deviances"
        )
    if model.is_generalized:
        return _lrt_table(model, terms)
    if not model.is_mixed:
        return _lm_table(model, terms)
    method = check_ddf(model, ddf, "drop1")
    hypotheses = _hypotheses(model, terms)
    rows = [{"term": t, **_f_row(model, hypotheses[t], method)} for t in terms]
    schema = {"term": pl.String, **F_SCHEMA}
    return result_table(pl.DataFrame(rows, schema=schema).select(COLUMNS))


def _scope(model: Any, scope: Sequence[str] | None) -> list[str]:
    marginal = marginal_terms(model)
    if scope is None:
        return marginal
    if isinstance(scope, str):
        scope = [scope]
    labels = [t.label for t in model.fixed_terms]
    for term in scope:
        if term not in labels:
            raise DataError(f"drop1: '{term}' is not a fixed term of the model (its terms: {', '.join(labels)})")
        if term not in marginal:
            raise DataError(
                f"drop1: only marginal terms can be dropped; '{term}' is contained in another term "
                f"(the marginal terms: {', '.join(marginal)})"
            )
    return list(scope)


# ----------------------------------------------------------- F tests (LMM)
def _hypotheses(model: Any, terms: list[str]) -> dict[str, np.ndarray | None]:
    """The hypothesis matrix of each term (lmerTest's ``get_contrasts_marginal``:
    the term's coefficients; with at most one column or one term, the type I
    contrasts), or the lost part of the design for a rank-deficient fit."""
    if model.dropped_columns:
        return {t: _lost_design(model, t) for t in terms}
    info = model.fixed_terms
    if len(model.fixed_names) <= 1 or len(info) <= 1:
        return {t: L for t, L in anova_contrasts(model, 1).items() if t in terms}
    eye = np.eye(len(model.fixed_names))
    columns = {t.label: t.columns for t in info}
    return {t: eye[columns[t], :] for t in terms}


def _lost_design(model: Any, term: str) -> np.ndarray | None:
    """lmerTest's ``get_Ldiffmat2``: the columns of the full design X the
    reduced model's design X0 does not span (residuals of X on X0), carried
    to a restriction on X's coefficients (orthonormal rows of X'R); None when
    the reduced model spans the same space (no test)."""
    X = model.design_matrix.to_numpy().astype(float)
    labels = [t.label for t in model.fixed_terms if t.label != term]
    intercept = "(Intercept)" in model.fixed_names
    rhs = " + ".join(labels) if labels else "1"
    formula = f"~ {rhs}" + ("" if intercept else " - 1")
    X0, _, _ = model.full_design(model.fit_frame, formula=formula)
    coef, *_ = np.linalg.lstsq(X0, X, rcond=None)
    R = X - X0 @ coef
    R = R[:, np.abs(R).sum(axis=0) > 1e-8]
    if R.shape[1] == 0:
        return None
    U, s, _ = np.linalg.svd(X.T @ R, full_matrices=False)
    rank = int((s > 1e-7 * s[0]).sum())
    return zapsmall(U[:, :rank]).T


def _f_row(model: Any, L: np.ndarray | None, method: str) -> dict[str, Any]:
    if L is None or L.shape[0] == 0:
        return {
            "SS": np.nan,
            "MS": np.nan,
            "NumDF": None,
            "DenomDF": np.nan,
            "F-stat": np.nan,
            "P-val": np.nan,
            "Sig": "",
        }
    return f_test(model, L, None, method)


# --------------------------------------------------- F tests (linear model)
def _lm_table(model: Any, terms: list[str]) -> pl.DataFrame:
    """R's ``drop1(lm, test = "F")``: each term removed by a refit, F = (loss
    of residual sum of squares / df) / (residual mean square of the full
    model), on the full model's residual df (lmerTest's ``step`` uses it once
    every random effect is gone)."""
    rss, p = model.deviance, len(model.fixed_names)
    rdf = model.nobs - p
    rows = []
    for term in terms:
        reduced = model.update(f". ~ . - {term}", no_warnings=True)
        if reduced.nobs != model.nobs:
            raise DataError("number of rows in use has changed: remove missing values?")
        df = p - len(reduced.fixed_names)
        ss = reduced.deviance - rss
        fval = ss / df / (rss / rdf) if df > 0 else float("nan")
        pval = float(stats.f.sf(fval, df, rdf)) if df > 0 else float("nan")
        ms = ss / df if df > 0 else float("nan")
        rows.append(
            {"term": term, "SS": ss, "MS": ms, "NumDF": df, "DenomDF": float(rdf), "F-stat": fval, "P-val": pval}
        )
    for r in rows:
        r["Sig"] = significance(r["P-val"])
    schema = {"term": pl.String, **F_SCHEMA}
    return result_table(pl.DataFrame(rows, schema=schema).select(COLUMNS))


# ------------------------------------------------------ LR tests (GLMM)
def _lrt_table(model: Any, terms: list[str]) -> pl.DataFrame:
    """lme4's ``drop1(m, test = "Chisq")``: each term removed by a refit."""
    rows = [("<none>", model.npar, float(model.logLike))]
    for term in terms:
        reduced = model.update(f". ~ . - {term}", no_warnings=True)
        if reduced.nobs != model.nobs:
            raise DataError("number of rows in use has changed: remove missing values?")
        rows.append((term, reduced.npar, float(reduced.logLike)))
    return lr_drop_table(rows)
