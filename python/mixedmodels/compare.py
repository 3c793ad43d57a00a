"""Model comparison: likelihood-ratio tests between fitted :class:`Lmer`
models (lme4's ``anova(m0, m1, ...)``) and tests of the random-effect terms
of one model (lmerTest's ``ranova``).

Both return polars DataFrames. The user's models are never modified: every
refit (ML refits for ``anova``, reduced models for ``ranova``) is a new
:class:`Lmer` fitted to the same prepared data with the same options.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from mixedmodels import _core
from mixedmodels._table import ResultTable
from mixedmodels.exceptions import DataError, KeywordError
from mixedmodels.model import FittedModel

__all__ = ["anova", "ranova"]

REFIT_MESSAGE = "refitting model(s) with ML (instead of REML)"


def _glmm_family(model: FittedModel) -> str | None:
    """The family of a generalized model (None for a linear model)."""
    return model.family if model.is_generalized else None


# ------------------------------------------------------------------ anova
def anova(*models: FittedModel, refit: bool = True, **named: FittedModel) -> pl.DataFrame:
    """Likelihood-ratio tests between nested models, as lme4's ``anova(m0, m1, ...)``.

    Pass at least two fitted :class:`~mixedmodels.Lmer` models, positionally
    (labelled ``model1``, ``model2``, ... in the order given) or as keywords
    (``anova(m0=m0, m1=m1)`` labels them ``m0``, ``m1``; R labels them by the
    argument expressions, which Python cannot see). Models are sorted by their
    number of parameters (ties keep the order given), as lme4 does, and each is
    tested against the one above it.

    With ``refit=True`` (the default) models fitted by REML are first refitted
    by ML, which R announces as "refitting model(s) with ML (instead of
    REML)": here a :class:`UserWarning`. The refits are copies; the models
    passed in are not changed. With ``refit=False`` the models' own
    log-likelihoods are compared (a warning is given when REML and ML fits are
    mixed).

    Returns one row a model with the columns ``model``, ``formula``, ``npar``,
    ``AIC``, ``BIC``, ``logLik``, ``deviance`` (-2 logLik), ``Chisq`` (twice the
    log-likelihood gain over the row above, floored at 0 as lme4 does), ``Df``
    (the difference in parameters) and ``P-val`` (the chi-square upper tail,
    null when ``Df`` is 0); the first row's test columns are null.

    Generalized models (``Lmer(..., family=...)``, fitted by maximum
    likelihood: nothing is refitted) are compared on ``logLike``, the
    Laplace-scale log-likelihood, whatever their ``nAGQ``; lme4 1.1-31 reports
    quadrature fits (nAGQ > 1) on another scale (``logLike_lme4``), which
    shifts R's ``logLik``, ``AIC``, ``BIC`` and ``deviance`` columns by the
    same constant for every model of the data, so ``Chisq`` and ``P-val`` are
    R's. Linear and generalized models, or generalized models of different
    families, cannot be compared.

    Raises :class:`~mixedmodels.DataError` for fewer than two models, an
    unfitted model, models fitted to different numbers of observations, or
    a mix of families.
    """
    for name, m in named.items():
        if not isinstance(m, FittedModel):
            raise KeywordError(
                f"anova() got an unexpected keyword argument '{name}': a {type(m).__name__}, not an Lmer model "
                "(models passed by keyword must be fitted models)"
            )
    entries: list[tuple[str, FittedModel]] = [(f"model{i + 1}", m) for i, m in enumerate(models)]
    entries += list(named.items())
    for name, m in entries:
        if not isinstance(m, FittedModel):
            raise DataError(f"anova: '{name}' is a {type(m).__name__}, not an Lmer model")
        if not m.fitted:
            raise DataError(f"anova: model '{name}' has not been fitted yet: call fit() first")
    if len(entries) < 2:
        raise DataError(
            "anova needs at least two fitted models to compare; for the random-effect terms of one model "
            "use ranova(model)"
        )
    families = [_glmm_family(m) for _, m in entries]
    if len(set(families)) > 1:
        detail = ", ".join(
            f"{name}: {fam or 'gaussian (linear mixed model)'}"
            for (name, _), fam in zip(entries, families, strict=True)
        )
        raise DataError(
            f"anova: cannot compare models of different families ({detail}); a likelihood-ratio test "
            "needs models of the same response distribution"
        )
    nobs = [m.nobs for _, m in entries]
    if len(set(nobs)) > 1:
        detail = ", ".join(f"{name}: {n}" for (name, _), n in zip(entries, nobs, strict=True))
        raise DataError(f"models were not all fitted to the same size of dataset ({detail})")

    reml = [m.REML for _, m in entries]
    if refit:
        if any(reml):
            warnings.warn(REFIT_MESSAGE, UserWarning, stacklevel=2)
        fits = [refit_copy(m, reml=False) if m.REML else m for _, m in entries]
    else:
        if any(reml) and not all(reml):
            warnings.warn("some models fit with REML = TRUE, some not", UserWarning, stacklevel=2)
        fits = [m for _, m in entries]

    rows = []
    for (name, m), f in zip(entries, fits, strict=True):
        ll, k, n = float(f.logLike), f.npar, f.nobs
        rows.append((name, m.formula, k, -2 * ll + 2 * k, -2 * ll + np.log(n) * k, ll))
    rows.sort(key=lambda r: r[2])  # stable, like R's order()

    loglik = np.array([r[5] for r in rows])
    npar = np.array([r[2] for r in rows])
    chisq, df, pval = _lr_test_columns(
        [(2.0 * max(0.0, loglik[i] - loglik[i - 1]), int(npar[i] - npar[i - 1])) for i in range(1, len(rows))]
    )
    return ResultTable(
        {
            "model": [r[0] for r in rows],
            "formula": [r[1] for r in rows],
            "npar": npar.tolist(),
            "AIC": [r[3] for r in rows],
            "BIC": [r[4] for r in rows],
            "logLik": loglik.tolist(),
            "deviance": (-2.0 * loglik).tolist(),
            "Chisq": chisq,
            "Df": df,
            "P-val": pval,
        },
        schema={
            "model": pl.String,
            "formula": pl.String,
            "npar": pl.Int64,
            "AIC": pl.Float64,
            "BIC": pl.Float64,
            "logLik": pl.Float64,
            "deviance": pl.Float64,
            "Chisq": pl.Float64,
            "Df": pl.Int64,
            "P-val": pl.Float64,
        },
    )


# ----------------------------------------------------------------- ranova
def ranova(model: FittedModel, reduce_terms: bool = True) -> pl.DataFrame:
    """lmerTest's ``ranova``: likelihood-ratio tests of the random-effect terms.

    Each random-effect term (after lme4's expansion of ``||`` and ``/``) is
    reduced or removed in turn and the reduced model is compared with the full
    one:

    - ``(f1 + f2 | g)`` is reduced to ``(f2 | g)`` and to ``(f1 | g)`` (one row
      each, labelled ``f1 in (f1 + f2 | g)`` and ``f2 in (f1 + f2 | g)``); only
      terms that are not part of an interaction also present are dropped (R's
      ``drop.scope``);
    - ``(f1 | g)`` and ``(0 + f1 | g)`` are reduced to ``(1 | g)``
      (``f1 in (f1 | g)``);
    - ``(1 | g)`` is removed (``(1 | g)``).

    With ``reduce_terms=False`` every term is removed whole. A REML model is
    compared on the REML likelihood (reduced models are REML fits too), an ML
    model on the ML likelihood. When removing a term leaves no random effects
    the reduced model is the linear model of the fixed part, with R's
    ``logLik(lm, REML = )`` (lmerTest fits it with ``lm``).

    Returns the columns ``term`` (``<none>`` for the full model, then one row a
    reduction), ``npar``, ``logLik``, ``AIC`` (-2 logLik + 2 npar), ``LRT``
    (twice the log-likelihood lost), ``Df`` and ``P-val``.
    """
    if not isinstance(model, FittedModel):
        raise DataError(f"ranova: model is a {type(model).__name__}, not an Lmer model")
    if model.is_generalized:
        raise DataError(
            "ranova() is for linear mixed models; compare generalized models with "
            "mixedmodels.anova(m0, m1), fitting the reduced model yourself"
        )
    if not model.fitted:
        raise DataError("the model has not been fitted yet: call fit() first")
    form = _core.formula_structure(model.formula)
    if not form["bars"]:
        raise DataError("Model should have at least one random-effects term")

    n0 = model.nobs
    rows: list[tuple[str, int, float]] = [("<none>", model.npar, float(model.logLike))]
    for name, reduced in _reductions(form, reduce_terms):
        reduced = list(dict.fromkeys(reduced))  # update.formula keeps one copy of identical terms
        if reduced:
            fit = refit_copy(model, reml=model.REML, formula=_formula_text(form, reduced))
            n, ll, k = fit.nobs, float(fit.logLike), fit.npar
        else:
            n, ll, k = _lm_loglik(model, _formula_text(form, []))
        if n != n0:
            raise DataError("number of rows in use has changed: remove missing values?")
        rows.append((name, k, ll))

    return lr_drop_table(rows)


# ---------------------------------------------------------------- helpers
LRT_SCHEMA = {
    "term": pl.String,
    "npar": pl.Int64,
    "logLik": pl.Float64,
    "AIC": pl.Float64,
    "LRT": pl.Float64,
    "Df": pl.Int64,
    "P-val": pl.Float64,
}


def lr_drop_table(rows: list[tuple[str, int, float]]) -> ResultTable:
    """The likelihood-ratio table of ranova(), drop1() and step(): ``rows`` are
    (term, npar, logLik), the full model (``<none>``) first, then one a reduced
    model, each tested against the full one."""
    ll0, k0 = rows[0][2], rows[0][1]
    lrt, df, pval = _lr_test_columns([(2.0 * (ll0 - ll), k0 - k) for _, k, ll in rows[1:]])
    return ResultTable(
        {
            "term": [r[0] for r in rows],
            "npar": [r[1] for r in rows],
            "logLik": [r[2] for r in rows],
            "AIC": [-2.0 * r[2] + 2.0 * r[1] for r in rows],
            "LRT": lrt,
            "Df": df,
            "P-val": pval,
        },
        schema=LRT_SCHEMA,
    )


def _lr_test_columns(
    tests: list[tuple[float, int]],
) -> tuple[list[float | None], list[int | None], list[float | None]]:
    """The statistic, df and p-value columns of likelihood-ratio tests, one
    (statistic, df) a row after the first (whose entries are null)."""
    return (
        [None, *(stat for stat, _ in tests)],
        [None, *(d for _, d in tests)],
        [None, *(_chisq_sf(stat, d) for stat, d in tests)],
    )


def _chisq_sf(x: float, df: int) -> float | None:
    """R's ``pchisq(x, df, lower.tail = FALSE)``; null for df <= 0 (lme4 gives NA)."""
    if df <= 0:
        return None
    return float(stats.chi2.sf(x, df))


# formulas are read by the core (formula_structure: R's terms, lme4's findbars after its
# expansion of || and /), reduced ones are assembled as text and handed back to it
def _bar_text(bar: dict[str, Any]) -> str:
    """A random-effect term as lme4 deparses it, without its parentheses: ``0 + Days | Subject``."""
    return f"{bar['lhs']} | {bar['group']}"


def _formula_text(form: dict[str, Any], bars: Sequence[str]) -> str:
    """The formula of ``form`` (a ``formula_structure``) with these random-effect terms
    (``_bar_text`` strings). The fixed part is written from R's term labels: ``a * b`` becomes
    ``a + b + a:b``, the same model."""
    fixed = [*form["terms"], *(f"offset({o})" for o in form["offsets"])]
    rhs = " + ".join(fixed) or ("1" if form["intercept"] else "0")
    if fixed and not form["intercept"]:
        rhs += " - 1"
    return " + ".join([f"{form['response']} ~ {rhs}", *(f"({b})" for b in bars)])


def _drop_scope(term_variables: Sequence[Sequence[str]]) -> list[int]:
    """R's ``drop.scope``: the indices of the terms whose variables no other term contains all of."""
    sets = [frozenset(v) for v in term_variables]
    return [i for i, s in enumerate(sets) if not any(j != i and s <= t for j, t in enumerate(sets))]


def _reductions(form: dict[str, Any], reduce_terms: bool) -> list[tuple[str, list[str]]]:
    """lmerTest's reduced models of ``ranova``: (row label, random-effect terms) a reduction.

    A term is removed whole (label ``(1 | g)``) when ``reduce_terms`` is off or it has no terms
    besides the intercept; otherwise each term of its drop scope is removed in turn, as R's
    ``update(~ lhs, ~ . - term)`` (``1`` when nothing is left)."""
    bars = [_bar_text(b) for b in form["bars"]]
    out: list[tuple[str, list[str]]] = []
    for i, bar in enumerate(form["bars"]):
        others = bars[:i] + bars[i + 1 :]
        terms: list[str] = bar["terms"]
        if not reduce_terms or not terms:
            out.append((f"({bars[i]})", others))
            continue
        # the variables of the bar's terms (same terms, same order as ``bar["terms"]``)
        lhs = _core.formula_structure(f"~ {bar['lhs']}")
        assert lhs["terms"] == terms
        for k in _drop_scope(lhs["term_variables"]):
            rest = terms[:k] + terms[k + 1 :]
            new_lhs = " + ".join(rest) + ("" if bar["intercept"] else " - 1") if rest else "1"
            out.append((f"{terms[k]} in ({bars[i]})", [*others, f"{new_lhs} | {bar['group']}"]))
    return out


def refit_copy(model: FittedModel, reml: bool, formula: str | None = None) -> FittedModel:
    """A new model fitted like ``model`` (same data and fit options), by REML
    or ML, optionally with another formula. ``model`` is not touched."""
    opts = model.fit_options
    if "ddf" in opts:
        opts["ddf"] = "lme4"  # no Satterthwaite derivatives: only the likelihood is needed
    copy = model.with_formula(formula)
    copy.fit(REML=reml, summarize=False, no_warnings=True, **opts)  # type: ignore[attr-defined]
    return copy


def _lm_loglik(model: Any, formula: str) -> tuple[int, float, int]:
    """(nobs, logLik, npar) of the linear model of ``model``'s fixed part, as
    R's ``logLik(lm(formula, weights = ...), REML = model.REML)``: lme4's
    criterion at theta = 0, where the random effects vanish (same X, weights
    and offsets). The linear model may use more rows than the mixed model
    (a grouping factor missing where the fixed part is not): then its nobs
    differs and the caller refuses the comparison, as lmerTest does."""
    n_lm = int(model.complete_rows(model.columns_read(formula)).sum())
    n, npar = model.nobs, len(model.fixed_names) + 1
    if n_lm != n:
        return n_lm, float("nan"), npar
    return n, -0.5 * model.objective_at(np.zeros(len(model.theta))), npar
