"""Negative binomial GLMMs against lme4: ``family="negative_binomial"`` estimates
theta as ``glmer.nb`` does; ``nb_theta=`` fixes it, as
``glmer(family = MASS::negative.binomial(theta))``.

References: tests/fixtures/glmm/negbin.json, made by negbin.R there. For the
estimated theta the reference is glmer.nb run to convergence (PIRLS to
tolPwrss = 1e-13, tight bobyqa): with glmer's default tolPwrss R's logLik is
off by ~2e-4 (its PIRLS stops early), which the default fits are compared at.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

import mixedmodels as mm
from mixedmodels.posthoc import marginal_analysis

FIXTURES = Path(__file__).parents[1] / "fixtures"
REF = json.loads((FIXTURES / "glmm" / "negbin.json").read_text())
CASES = REF["cases"]


def data(name: str) -> pl.DataFrame:
    if name == "negbin_visits":
        return pl.read_csv(FIXTURES / "data" / "negbin_visits.csv")
    return mm.load_dataset(name)


def fit(case: dict[str, Any], formula: str | None = None) -> mm.Glmer:
    given = {} if case["estimated"] else {"nb_theta": case["nb_theta"]}
    m = mm.Lmer(formula or case["formula"], data=data(case["data"]), family="negative_binomial", **given)
    m.fit(summarize=False)
    return m


_FITS: dict[str, mm.Glmer] = {}


def fitted_case(name: str) -> mm.Glmer:
    """Each reference model fitted once for the module (a glmer.nb fit is ~1 s)."""
    if name not in _FITS:
        _FITS[name] = fit(CASES[name])
    return _FITS[name]


@pytest.fixture(scope="module", params=sorted(CASES))
def fitted(request: pytest.FixtureRequest) -> tuple[mm.Glmer, dict[str, Any]]:
    return fitted_case(request.param), CASES[request.param]


def values(named: dict[str, float]) -> np.ndarray:
    return np.array(list(named.values()))


def test_theta_fixed_effects_and_likelihood(fitted: Any) -> None:
    m, case = fitted
    ref = case.get("converged") or case  # the converged glmer.nb fit, or glmer at a given theta
    assert m.nb_theta == pytest.approx(ref["nb_theta"], rel=1e-3)
    assert m.fixed_names == list(ref["fixef"])
    np.testing.assert_allclose(m.beta, values(ref["fixef"]), rtol=1e-4)
    np.testing.assert_allclose(np.sqrt(np.diag(m.vcov)), values(ref["se"]), rtol=2e-3)
    np.testing.assert_allclose(m.theta, np.atleast_1d(ref["theta"]), rtol=1e-3, atol=1e-5)
    assert m.logLike == pytest.approx(ref["logLik"], abs=1e-6)
    # lme4 counts theta among the parameters, estimated or given
    assert m.npar == case["npar"] == len(m.beta) + len(m.theta) + 1
    assert pytest.approx(case["AIC"], abs=2e-3) == m.AIC
    assert pytest.approx(case["BIC"], abs=2e-3) == m.BIC


def test_agrees_with_glmer_nb_defaults(fitted: Any) -> None:
    """R's own default fit: the same estimates; its logLik within the bias of
    its PIRLS tolerance (2.4e-4 on the simulated data)."""
    m, case = fitted
    assert m.nb_theta == pytest.approx(case["nb_theta"], rel=1e-3)
    np.testing.assert_allclose(m.beta, values(case["fixef"]), rtol=1e-4)
    np.testing.assert_allclose(np.sqrt(np.diag(m.vcov)), values(case["se"]), rtol=2e-3)
    assert m.logLike == pytest.approx(case["logLik"], abs=1e-3)


def test_fitted_values_residuals_and_deviance(fitted: Any) -> None:
    """Against R's default fits, whose estimates differ from the converged ones
    by up to 5e-5 (relative): residuals near zero differ by up to ~2e-4."""
    m, case = fitted
    np.testing.assert_allclose(m.fits, case["fitted"], rtol=1e-3)
    np.testing.assert_allclose(m.residuals, case["resid_deviance"], rtol=2e-3, atol=5e-4)
    np.testing.assert_allclose(m.residuals(type="pearson"), case["resid_pearson"], rtol=2e-3, atol=5e-4)
    assert m.deviance == pytest.approx(case["deviance"], rel=1e-4)


def test_summary_names_the_family_as_glmer_nb(fitted: Any) -> None:
    """MASS's family name, theta as format(round(theta, 4)): R's default fit's
    for a given theta, the converged fit's for an estimated one (R's default
    stops at 2.34612 on the simulated data, which prints 2.3461)."""
    m, case = fitted
    line = case["summary_family"]
    if case["estimated"]:
        line = f" Family: Negative Binomial({format(round(case['converged']['nb_theta'], 4), 'g')})  ( log )"
    assert m.summary_text().splitlines()[1] == line
    assert m.family_name == line.split(": ")[1].split("  ")[0]
    assert m.link == case["link"] == "log"
    assert not m.warnings


def test_optsummary_reports_the_search() -> None:
    m = fitted_case("grouseticks")
    opt = m.optsummary
    assert opt["nb_theta_evaluations"] >= 5
    lo, hi = opt["nb_theta_interval"]
    # lme4's interval: the start -+ 3 on the log scale
    assert lo == pytest.approx(opt["nb_theta_start"] * np.exp(-3)) and lo < m.nb_theta < hi


def test_anova_compares_glmer_nb_fits() -> None:
    ref = REF["anova"]
    full = fitted_case("grouseticks")
    noyear = fit(CASES["grouseticks"], ref["formulas"][0])  # jsonlite drops the names
    assert noyear.nb_theta == pytest.approx(ref["nb_theta_noyear"], rel=1e-3)
    table = mm.anova(noyear, full)
    r = ref["table"]
    assert table["npar"].to_list() == [row["npar"] for row in r]
    # R's logLik of the default fits carry their PIRLS bias (~2e-4)
    np.testing.assert_allclose(table["logLik"], [row["logLik"] for row in r], atol=1e-3)
    assert table["Chisq"][1] == pytest.approx(r[1]["Chisq"], abs=2e-3)
    assert table["P-val"][1] == pytest.approx(r[1]["p"], rel=1e-2)


@pytest.mark.parametrize("scale", ["link", "response"])
def test_post_hoc_matches_emmeans(scale: str) -> None:
    m = fitted_case("grouseticks")
    ref = REF["emmeans"][scale]
    res = marginal_analysis(m, ["YEAR"], type=scale)
    est, rows = res.estimates, ref["estimates"]
    value = "emmean" if scale == "link" else "response"
    np.testing.assert_allclose(est["Estimate"], [r[value] for r in rows], rtol=2e-4)
    np.testing.assert_allclose(est["SE"], [r["SE"] for r in rows], rtol=2e-3)
    con, rows = res.contrasts, ref["contrasts"]
    assert con["Contrast"].to_list() == [r["contrast"] for r in rows]
    value = "estimate" if scale == "link" else "ratio"
    np.testing.assert_allclose(con["Estimate"], [r[value] for r in rows], rtol=2e-4)
    np.testing.assert_allclose(con["Z-stat"], [r["z.ratio"] for r in rows], rtol=2e-3)


def test_predict_on_new_rows() -> None:
    m = fitted_case("grouseticks")
    ref = REF["predict"]
    rows = m.data[[i - 1 for i in ref["rows"]]]
    np.testing.assert_allclose(m.predict(rows, pred_type="link"), ref["link_re"], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(m.predict(rows, use_rfx=False), ref["response_pop"], rtol=1e-4)


def test_simulated_counts_have_the_negative_binomial_variance() -> None:
    """Given the random effects, a count has mean mu and variance mu + mu^2 / theta.
    Pooled over 403 rows and 200 draws, the means of both sides are estimated
    to within ~1% (the variance of a squared deviation is ~2 var^2 + 6 mu^4/theta^2
    terms: its standard error over 80k draws is under 1.5% here); 5% leaves
    room without letting a Poisson (variance mu, 40% lower here) pass."""
    m = fitted_case("grouseticks_theta2")
    sims = m.simulate(200, use_rfx=True, seed=11).to_numpy()
    mu = m.fits
    assert np.all(sims >= 0) and np.all(sims == np.round(sims))
    assert sims.mean() == pytest.approx(mu.mean(), rel=0.05)
    var = ((sims - mu[:, None]) ** 2).mean()
    assert var == pytest.approx((mu + mu**2 / m.nb_theta).mean(), rel=0.05)
    assert np.array_equal(sims, m.simulate(200, use_rfx=True, seed=11).to_numpy())


def test_bad_theta_and_data_are_refused() -> None:
    g = mm.load_dataset("grouseticks_std")
    f = "TICKS ~ YEAR + (1 | BROOD)"
    for bad in (0, -1.5, float("nan"), "2"):
        with pytest.raises(mm.DataError, match="nb_theta must be a positive number"):
            mm.Lmer(f, data=g, family="negative_binomial", nb_theta=bad)
    with pytest.raises(mm.DataError, match="nb_theta is the negative binomial family's dispersion"):
        mm.Lmer(f, data=g, family="poisson", nb_theta=2.0)
    with pytest.raises(mm.DataError, match="nb_theta is the negative binomial family's dispersion"):
        mm.Lmer(f, data=g, family="poisson").fit(summarize=False, nb_theta=2.0)
    neg = g.with_columns(TICKS=pl.col("TICKS") - 1)
    with pytest.raises(mm.ColumnError, match="negative binomial response must be non-negative counts"):
        mm.Lmer(f, data=neg, family="negative_binomial").fit(summarize=False)
    with pytest.raises(mm.DataError, match="does not take the 'logit' link"):
        mm.Lmer(f, data=g, family="negative_binomial", link="logit").fit(summarize=False)
