"""Generalized linear mixed models against glmer: fixed effects rel 1e-4,
SEs and variance components rel 1e-3, logLik abs 1e-3, plus deviance,
fitted values, the four kinds of residuals and the conditional modes."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import mixedmodels as mm

from conftest import as_list, load_reference

PREP = {
    "cbpp_proportion_weights": lambda d: d.with_columns(prop=pl.col("incidence") / pl.col("size")),
    "sleepstudy_factor_response": lambda d: d.with_columns(
        hi=pl.when(pl.col("Reaction") > 300).then(pl.lit("high")).otherwise(pl.lit("low"))
    ),
    "dietox_gamma_inverse": lambda d: d.with_columns(W100=pl.col("Weight") / 100),
}
FAMILY = {"binomial": "binomial", "poisson": "poisson", "Gamma": "gamma", "inverse.gaussian": "inverse_gaussian"}
CASES = [
    "cbpp_binomial",
    "cbpp_binomial_agq",
    "cbpp_binomial_agq25",
    "cbpp_binomial_agq100",
    "cbpp_probit",
    "cbpp_cloglog",
    "cbpp_proportion_weights",
    "cbpp_poisson_offset",
    "grouseticks_poisson",
    "grouseticks_poisson_agq",
    "sleepstudy_factor_response",
    "dietox_gamma_log",
    "dietox_gamma_inverse",
    "dietox_invgauss",
]


def fit_glmm(case):
    ref = load_reference(case)
    d = mm.load_dataset(ref["data"].removesuffix(".csv"))
    d = PREP.get(case, lambda x: x)(d)
    m = mm.Lmer(ref["formula"], data=d, family=FAMILY[ref["family"]])
    opts = {"nAGQ": ref.get("nAGQ") or 1, "link": ref.get("link")}
    if ref.get("weights"):
        opts["weights"] = ref["weights"]
    m.fit(summarize=False, no_warnings=True, **opts)
    return m, ref


@pytest.fixture(scope="module", params=CASES)
def fitted(request):
    return fit_glmm(request.param)


def test_fixed_effects_and_standard_errors(fitted):
    m, ref = fitted
    coefs = {r["term"]: r for r in m.coefs.iter_rows(named=True)}
    assert set(coefs) == set(ref["fixef"])
    for name, value in ref["fixef"].items():
        assert coefs[name]["Estimate"] == pytest.approx(value, rel=1e-4, abs=1e-7), name
        assert coefs[name]["SE"] == pytest.approx(ref["se"][name], rel=1e-3), name
        assert coefs[name]["Z-stat"] == pytest.approx(ref["wald_z"]["z"][name], rel=1e-3), name
        assert coefs[name]["P-val"] == pytest.approx(ref["wald_z"]["p"][name], rel=2e-3, abs=1e-12), name


def test_variance_components_and_likelihood(fitted):
    m, ref = fitted
    np.testing.assert_allclose(m.theta, as_list(ref["theta"]), rtol=1e-3, atol=1e-5)
    var = {(r["group"], r["name"]): r["Var"] for r in m.ranef_var.iter_rows(named=True)}
    for row in ref["varcorr"]:
        key = ("Residual", "") if row["grp"] == "Residual" else (row["grp"], row["var1"])
        assert var[key] == pytest.approx(row["vcov"], rel=1e-3), row
    assert m.sigma == pytest.approx(ref["sigma"], rel=1e-4)
    # lme4 reports quadrature fits on another scale: compare there (see Glmer.logLike_lme4).
    assert m.logLike_lme4 == pytest.approx(ref["logLik"], abs=1e-3)
    assert m.deviance == pytest.approx(ref["deviance"], rel=1e-4)
    if (ref.get("nAGQ") or 1) == 1:
        assert m.logLike == pytest.approx(ref["logLik"], abs=1e-3)
        assert pytest.approx(ref["AIC"], abs=2e-3) == m.AIC
        assert pytest.approx(ref["BIC"], abs=2e-3) == m.BIC


def test_fitted_values_and_residuals(fitted):
    m, ref = fitted
    np.testing.assert_allclose(m.fits, ref["fitted"], rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(m.residuals, ref["resid"], rtol=2e-3, atol=1e-4)
    for kind in ("pearson", "response", "working"):
        if f"resid_{kind}" in ref:
            np.testing.assert_allclose(m.residuals(type=kind), ref[f"resid_{kind}"], rtol=2e-3, atol=1e-4)
    if "fitted_link" in ref:
        np.testing.assert_allclose(m.linear_predictor, ref["fitted_link"], rtol=1e-3, atol=1e-5)


def test_conditional_modes(fitted):
    m, ref = fitted
    cv = m.ranef_condvar()
    for row in ref["ranef"][:: max(1, len(ref["ranef"]) // 100)]:
        table = m.ranef[row["group"]]
        j = table["level"].to_list().index(row["level"])
        assert table[row["term"]][j] == pytest.approx(row["condval"], abs=2e-3 * max(1, abs(row["condval"])))
        sd = np.sqrt(cv[row["group"]][j, 0, 0])
        assert sd == pytest.approx(row["condsd"], rel=2e-3), row


def test_agq_log_likelihood_is_comparable_with_laplace():
    """lme4 reports -50.0 for cbpp with nAGQ = 10 against -92.0 with Laplace;
    our logLike stays on the Laplace scale."""
    laplace, _ = fit_glmm("cbpp_binomial")
    agq, ref = fit_glmm("cbpp_binomial_agq")
    assert agq.logLike_lme4 == pytest.approx(ref["logLik"], abs=1e-3)
    assert abs(agq.logLike - laplace.logLike) < 0.5
    assert agq.logLike != pytest.approx(agq.logLike_lme4, abs=1)


def test_predict_reproduces_fits_and_gives_nan_for_missing_rows():
    """predict() on the fitting data gives the fitted values on either scale;
    a row with a missing predictor is NaN (R's NA), an unseen herd gets zero
    random effects (the fixed part alone)."""
    m, _ = fit_glmm("cbpp_binomial")
    cbpp = m.data
    np.testing.assert_allclose(m.predict(cbpp), m.fits, rtol=1e-12)
    np.testing.assert_allclose(m.predict(cbpp, pred_type="link"), m.linear_predictor, rtol=1e-12)
    period = pl.when(pl.int_range(4) == 1).then(None).otherwise(pl.col("period"))
    holes = cbpp.head(4).with_columns(period.alias("period"))
    got = m.predict(holes, pred_type="link")
    assert np.isnan(got[1]) and not np.isnan(got[[0, 2, 3]]).any()
    np.testing.assert_allclose(got[[0, 2, 3]], m.linear_predictor[[0, 2, 3]], rtol=1e-12)
    unseen = cbpp.head(1).with_columns(pl.lit("new herd").alias("herd"))
    assert m.predict(unseen, pred_type="link")[0] == pytest.approx(m.coefs["Estimate"][0])
