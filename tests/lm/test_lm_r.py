"""Lm, Lm2 and utils.nearestPSD against R (lm + sandwich, glm, lmList + t.test,
Matrix::nearPD): tests/fixtures/lm/lm.R made the reference values."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from mixedmodels import Lm, Lm2
from mixedmodels.utils import nearestPSD

FIXTURES = Path(__file__).parents[1] / "fixtures"
REF = json.loads((FIXTURES / "lm" / "lm.json").read_text())


def read(name: str) -> pl.DataFrame:
    path = FIXTURES / ("pymer4" if name == "sample_data.csv" else "data") / name
    return pl.read_csv(path, null_values="NA", infer_schema_length=10_000)


def dietox() -> pl.DataFrame:
    return read("dietox.csv").with_columns(pl.col("Pig").cast(pl.String))


ESTIMATORS = {"hc0": "hc0", "hc1": "hc1", "hc2": "hc2", "hc3": "hc3", "hac1": ("hac", 1), "hac3": ("hac", 3)}


@pytest.mark.parametrize(("case", "weights"), [("ols", None), ("ols_missing", None), ("wls", "Start")])
def test_every_estimator_matches_lm_and_sandwich(case: str, weights: str | None) -> None:
    ref = REF[case]
    data = dietox()
    m = Lm(ref["formula"], data=data)
    w = None if weights is None else data[weights].to_numpy()
    m.fit(summarize=False, weights=w)
    assert m.coefs["term"].to_list() == ref["terms"]
    np.testing.assert_allclose(m.coefs["Estimate"], ref["estimate"], rtol=1e-9)
    np.testing.assert_allclose(m.coefs["SE"], ref["se"], rtol=1e-8)
    assert m.coefs["DF"].to_list() == [ref["df"]] * len(ref["terms"])
    for ours, theirs in [(m.sigma, "sigma"), (m.rsquared, "r2"), (m.rsquared_adj, "adj_r2")]:
        assert ours == pytest.approx(ref[theirs], rel=1e-9)
    for ours, theirs in [(m.logLike, "logLik"), (m.AIC, "AIC"), (m.BIC, "BIC")]:
        assert ours == pytest.approx(ref[theirs], rel=1e-10)
    assert m.nobs == ref["nobs"]
    np.testing.assert_allclose(m.fits[:10], ref["fitted_head"], rtol=1e-9)
    np.testing.assert_allclose(np.asarray(m.residuals)[:10], ref["resid_head"], rtol=1e-7, atol=1e-9)
    for name, how in ESTIMATORS.items():
        robust, lags = (how, 1) if isinstance(how, str) else how
        m.fit(summarize=False, robust=robust, n_lags=lags, weights=w, no_warnings=True)
        np.testing.assert_allclose(m.coefs["SE"], ref["robust"][name], rtol=1e-8, err_msg=name)
    m.fit(summarize=False, robust="cluster", cluster="Pig", weights=w, no_warnings=True)
    np.testing.assert_allclose(m.coefs["SE"], ref["robust"]["cluster"], rtol=1e-8)
    assert m.coefs["DF"][0] == ref["robust"]["cluster_df"]
    assert m.se_type == "robust (cluster)"


def test_rows_with_missing_values_are_dropped_and_reported() -> None:
    ref = REF["ols_missing"]
    m = Lm(ref["formula"], data=dietox())
    with pytest.warns(UserWarning, match=f"{ref['dropped']} rows with missing values"):
        m.fit(summarize=False)
    assert m.data.height == 861 and m.nobs == 861 - ref["dropped"]
    # pymer4's fits and residuals columns: null on the rows the fit left out.
    assert m.data["fits"].null_count() == ref["dropped"]
    assert m.data.filter(pl.col("Feed").is_null())["residuals"].null_count() == ref["dropped"]


def test_group_variance_weights_are_welchs_t_test() -> None:
    ref = REF["welch"]
    m = Lm(ref["formula"], data=read("sleepstudy_unbal.csv"))
    m.fit(summarize=False, weights="grp")
    assert m.estimator == "WLS"
    np.testing.assert_allclose(m.coefs["Estimate"], ref["estimate"], rtol=1e-9)
    np.testing.assert_allclose(m.coefs["SE"], ref["se"], rtol=1e-8)
    row = m.coefs.row(1, named=True)
    assert row["DF"] == pytest.approx(ref["welch_df"], rel=1e-10)
    assert -row["T-stat"] == pytest.approx(ref["welch_t"], rel=1e-9)
    assert row["P-val"] == pytest.approx(ref["welch_p"], rel=1e-8)
    # Without the correction the df are n - p.
    m.fit(summarize=False, weights="grp", wls_dof_correction=False)
    assert m.coefs["DF"][1] == m.nobs - 2


@pytest.mark.parametrize("case", ["logistic", "logistic_multi", "logistic_proportion"])
def test_logistic_regression_matches_glm(case: str) -> None:
    ref = REF[case]
    if case == "logistic_proportion":
        data = read("cbpp.csv").with_columns(pl.col("period").cast(pl.String))
        m = Lm(ref["formula"], data=data, family="binomial")
        m.fit(summarize=False, weights=data["size"].to_numpy())
    else:
        m = Lm(ref["formula"], data=read("sample_data.csv"), family="binomial")
        m.fit(summarize=False)
    c = m.coefs
    assert c["term"].to_list() == ref["terms"]
    np.testing.assert_allclose(c["Estimate"], ref["estimate"], rtol=1e-7)
    np.testing.assert_allclose(c["SE"], ref["se"], rtol=1e-6)
    np.testing.assert_allclose(c["Z-stat"], ref["z"], rtol=1e-6)
    np.testing.assert_allclose(c["P-val"], ref["p"], rtol=1e-5)
    np.testing.assert_allclose(c["2.5_ci"], ref["wald_lower"], rtol=1e-6)
    np.testing.assert_allclose(c["97.5_ci"], ref["wald_upper"], rtol=1e-6)
    np.testing.assert_allclose(c["OR"], np.exp(ref["estimate"]), rtol=1e-7)
    assert m.deviance == pytest.approx(ref["deviance"], rel=1e-9)
    assert m.logLike == pytest.approx(ref["logLik"], rel=1e-9)
    assert pytest.approx(ref["AIC"], rel=1e-9) == m.AIC
    assert pytest.approx(ref["BIC"], rel=1e-9) == m.BIC
    assert m.core.iterations == ref["iter"]
    np.testing.assert_allclose(m.fits[:10], ref["fitted_head"], rtol=1e-7)
    np.testing.assert_allclose(m.core.linear_predictor[:10], ref["link_head"], rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("case", ["lm2_sleepstudy", "lm2_sample"])
def test_two_stage_matches_lmlist_and_t_tests(case: str) -> None:
    ref = REF[case]
    data = read("sample_data.csv" if case == "lm2_sample" else "sleepstudy.csv")
    m = Lm2(ref["formula"], data=data, group=ref["group"])
    m.fit(summarize=False)
    c = m.coefs
    assert c["term"].to_list() == ref["terms"]
    np.testing.assert_allclose(c["Estimate"], ref["estimate"], rtol=1e-9)
    np.testing.assert_allclose(c["SE"], ref["se"], rtol=1e-9)
    np.testing.assert_allclose(c["T-stat"], ref["t"], rtol=1e-9)
    np.testing.assert_allclose(c["DF"], ref["df"])
    np.testing.assert_allclose(c["P-val"], ref["p"], rtol=1e-7)
    np.testing.assert_allclose(c["2.5_ci"], ref["lower"], rtol=1e-9)
    np.testing.assert_allclose(c["97.5_ci"], ref["upper"], rtol=1e-9)
    assert m.fixef[ref["group"]].to_list() == ref["groups"]
    np.testing.assert_allclose(m.fixef.select(ref["terms"]).to_numpy(), np.asarray(ref["coefficients"]), rtol=1e-9)


@pytest.mark.parametrize("index", range(3))
def test_nearest_correlation_matrix_matches_nearpd(index: int) -> None:
    ref = REF["near_pd"][index]
    got = nearestPSD(np.asarray(ref["input"]), nit=1000)
    np.testing.assert_allclose(got, np.asarray(ref["nearest"]), atol=1e-8)
