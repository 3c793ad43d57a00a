"""The Lmer result attributes and methods beyond the lme4 numbers: R's
coef() tables, prediction on new data, simulation, the summary text, the
optimizer record."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import mixedmodels as mm

FORMULA = "Reaction ~ Days + (Days | Subject)"


@pytest.fixture(scope="module")
def sleep():
    return mm.load_dataset("sleepstudy")


@pytest.fixture(scope="module")
def model(sleep):
    m = mm.Lmer(FORMULA, data=sleep)
    m.fit(summarize=False)
    return m


def test_coef_tables_add_fixed_and_random_effects(model):
    beta = dict(zip(model.coefs["term"], model.coefs["Estimate"], strict=True))
    fixef = model.fixef["Subject"]
    ranef = model.ranef["Subject"]
    assert fixef.columns == ["level", "(Intercept)", "Days"]
    assert fixef["level"].to_list() == ranef["level"].to_list()
    np.testing.assert_allclose(fixef["Days"], beta["Days"] + ranef["Days"].to_numpy())
    # Conditional modes of a Gaussian model average to zero over levels.
    assert abs(ranef["(Intercept)"].mean()) < 1e-8


def test_predict_reproduces_fits_and_handles_new_levels(model, sleep):
    np.testing.assert_allclose(model.predict(sleep), model.fits, rtol=1e-10)
    fixed_only = model.predict(sleep, use_rfx=False)
    X = model.design_matrix.to_numpy()
    np.testing.assert_allclose(fixed_only, X @ model.coefs["Estimate"].to_numpy(), rtol=1e-10)
    new = pl.DataFrame({"Days": [0.0, 5.0], "Subject": ["308", "999"]})
    pred = model.predict(new)
    b = model.ranef["Subject"].filter(pl.col("level") == "308").row(0, named=True)
    beta = model.coefs["Estimate"].to_numpy()
    assert pred[0] == pytest.approx(beta[0] + b["(Intercept)"])
    assert pred[1] == pytest.approx(beta[0] + 5 * beta[1])  # unseen subject: zero random effects
    with pytest.raises(mm.ColumnError, match="'Days'"):
        model.predict(pl.DataFrame({"Subject": ["308"]}))


def test_predict_keeps_transformations_learned_in_fitting(sleep):
    m = mm.Lmer("Reaction ~ poly(Days, 2) + scale(Days) + (1 | Subject)", data=sleep)
    m.fit(summarize=False, no_warnings=True)
    # Predicting on a subset must reuse the fitting data's polynomial basis and centring.
    sub = sleep.filter(pl.col("Subject") == "308")
    np.testing.assert_allclose(m.predict(sub), m.fits[:10], rtol=1e-10)


def test_simulate_is_reproducible_and_centred(model):
    a = model.simulate(200, seed=7)
    b = model.simulate(200, seed=7)
    assert a.shape == (180, 200)
    assert a.equals(b)
    assert not a.equals(model.simulate(200, seed=8))
    centre = a.to_numpy().mean(axis=1)
    # Conditional on the random effects: mean fits, spread sigma.
    assert np.max(np.abs(centre - model.fits)) < 5 * model.sigma / np.sqrt(200)
    fresh = model.simulate(400, use_rfx=False, seed=1).to_numpy()
    sd = fresh.std(axis=1).mean()
    assert sd > model.sigma * 1.2  # new random effects add between-subject spread


def test_summary_text_has_lmertest_layout(model):
    text = model.summary_text()
    assert "Linear mixed model fit by REML. t-tests use Satterthwaite's method" in text
    assert "REML criterion at convergence: 1743.6" in text
    assert "Number of obs: 180, groups:  Subject, 18" in text
    assert "Correlation of Fixed Effects:" in text


def test_optsummary_reports_evaluations(model):
    o = model.optsummary
    assert o["converged"] and o["optimizer"] == "bobyqa"
    assert 10 < o["feval"] < 200
    assert o["derivative_evaluations"] == 13  # 1 + 2k + k(k-1) for k = 3


def test_ml_fit_and_lme4_ddf(sleep):
    m = mm.Lmer(FORMULA, data=sleep)
    coefs = m.fit(REML=False, summarize=False, ddf="lme4")
    assert "DF" not in coefs.columns and "T-stat" in coefs.columns
    assert "fit by maximum likelihood" in m.summary_text()


def test_unfitted_model_refuses_results(sleep):
    m = mm.Lmer(FORMULA, data=sleep)
    with pytest.raises(mm.DataError, match="fit"):
        m.predict(sleep)
