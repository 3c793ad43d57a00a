"""Text summaries of the models without random effects, laid out as R prints
``summary(lm)`` and ``summary(glm)`` (numbers formatted by R's rules, see
:mod:`mixedmodels._summary`), with pymer4's lines on how the standard errors,
intervals and p-values were obtained; and pymer4's summary of ``Lm2``."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from mixedmodels._stats import r_quantile
from mixedmodels._summary import (
    SIGNIF_LEGEND,
    _named_vector,
    coef_table,
    format_pvalues,
    format_real,
)

DIGITS = 4  # print.summary.lm: max(3, getOption("digits") - 3)


def _quartiles(title: str, res: np.ndarray) -> list[str]:
    """R's residual quartiles (Min, 1Q, Median, 3Q, Max), ``digits`` significant."""
    res = np.asarray(res, dtype=float)
    res = res[np.isfinite(res)]
    if res.size < 5:
        return [title, _named_vector([str(i + 1) for i in range(res.size)], format_real(list(res), DIGITS))]
    q = r_quantile(res, [0, 0.25, 0.5, 0.75, 1])
    return [title, _named_vector(["Min", "1Q", "Median", "3Q", "Max"], format_real([float(v) for v in q], DIGITS))]


def _how(model: Any) -> str:
    return f"Standard errors: {model.se_type}; CIs: {model.ci_type} 95%; inference: {model.sig_type}"


def _coef_block(model: Any, stat: str, stat_name: str) -> list[str]:
    coefs = model.coefs
    p_col = "Perm-P-val" if "Perm-P-val" in coefs.columns else "P-val"
    table, stars = coef_table(
        coefs["term"].to_list(),
        coefs["Estimate"].to_list(),
        coefs["SE"].to_list(),
        coefs[stat].to_list(),
        stat_name=stat_name,
        pvalues=coefs[p_col].to_list(),
    )
    out = ["Coefficients:", table]
    if stars:
        out += ["---", SIGNIF_LEGEND]
    return out


def lm_summary(model: Any) -> str:
    """R's ``summary(lm)``, with the estimator and inference used."""
    weights = ", weights" if model.estimator == "WLS" else ""
    out = ["Call:", f"lm(formula = {model.formula}{weights})", "", _how(model), ""]
    out += _quartiles("Weighted Residuals:" if model.estimator == "WLS" else "Residuals:", model.residuals("pearson"))
    out.append("")
    out += _coef_block(model, "T-stat", "t value")
    out.append("")
    rdf = model.nobs - len(model.fixed_names)
    sigma = format_real([model.sigma], DIGITS)[0]
    out.append(f"Residual standard error: {sigma} on {rdf} degrees of freedom")
    intercept = "(Intercept)" in model.fixed_names
    numdf = len(model.fixed_names) - int(intercept)
    if numdf > 0 and rdf > 0:
        r2, adj = format_real([model.rsquared, model.rsquared_adj], DIGITS)
        out.append(f"Multiple R-squared:  {r2},\tAdjusted R-squared:  {adj} ")
        f = (model.rsquared / numdf) / ((1 - model.rsquared) / rdf)
        p = float(stats.f.sf(f, numdf, rdf))
        ftext = format_real([f], DIGITS)[0]
        out.append(f"F-statistic: {ftext} on {numdf} and {rdf} DF,  p-value: {format_pvalues([p], DIGITS)[0]}")
    if model.warnings:
        out += ["", *model.warnings]
    return "\n".join(out)


def glm_summary(model: Any) -> str:
    """R's ``summary(glm)``."""
    family = {"gamma": "Gamma", "inverse_gaussian": "inverse.gaussian"}.get(model.family, model.family)
    fit = model.core
    out = ["Call:", f"glm(formula = {model.formula}, family = {family})", ""]
    out += _quartiles("Deviance Residuals: ", model.residuals("deviance"))
    out.append("")
    if "Z-stat" in model.coefs.columns:
        out += _coef_block(model, "Z-stat", "z value")
    else:
        out += _coef_block(model, "T-stat", "t value")
    dispersion = "taken to be 1" if fit.dispersion == 1.0 else f"taken to be {format_real([fit.dispersion], 7)[0]}"
    out += ["", f"(Dispersion parameter for {family} family {dispersion})", ""]
    n = model.nobs
    null_df = n - int("(Intercept)" in model.fixed_names)
    dev = format_real([fit.null_deviance, fit.deviance], 5)
    out.append(f"    Null deviance: {dev[0]}  on {null_df}  degrees of freedom")
    out.append(f"Residual deviance: {dev[1]}  on {int(fit.df_residual)}  degrees of freedom")
    out.append(f"AIC: {format_real([model.AIC], 5)[0]}")
    out += ["", f"Number of Fisher Scoring iterations: {fit.iterations}"]
    if model.warnings:
        out += ["", *model.warnings]
    return "\n".join(out)


def lm2_summary(model: Any) -> str:
    """pymer4's summary of a two-stage model, with R's table layout."""
    groups = ", ".join(f"{g}: {k}" for g, k in model.grps.items())
    out = [
        "Two-stage (summary statistics) model",
        f"Formula: {model.formula}",
        f"First level: {model.first_level}; second level: one-sample tests across groups",
        _how(model),
        f"Number of observations: {model.nobs}\tGroups: {groups}",
        "",
    ]
    coefs = model.coefs
    p_col = "Perm-P-val" if "Perm-P-val" in coefs.columns else "P-val"
    df = coefs["DF"].to_list() if "DF" in coefs.columns else None
    table, stars = coef_table(
        coefs["term"].to_list(),
        coefs["Estimate"].to_list(),
        coefs["SE"].to_list(),
        coefs["T-stat"].to_list(),
        df=df,
        pvalues=coefs[p_col].to_list(),
    )
    out += ["Fixed effects:", table]
    if stars:
        out += ["---", SIGNIF_LEGEND]
    if model.warnings:
        out += ["", *model.warnings]
    return "\n".join(out)
