"""The Lmer result attributes and methods beyond the lme4 numbers: R's
coef() tables, prediction on new data, simulation, the summary text, the
optimizer record."""

from __future__ import annotations

import json
from pathlib import Path

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


def test_predict_gives_nan_for_rows_with_missing_values(model, sleep):
    # R: predict(m, newdata) is NA where a column the model reads is NA; a missing
    # grouping factor is a new level (population prediction, allow.new.levels = TRUE).
    new = pl.DataFrame({"Days": [0.0, None, 5.0, float("nan"), 5.0], "Subject": ["308", "308", None, "308", "999"]})
    pred = model.predict(new)
    assert np.isnan(pred[[1, 3]]).all()
    beta = model.coefs["Estimate"].to_numpy()
    b = model.ranef["Subject"].filter(pl.col("level") == "308").row(0, named=True)
    assert pred[0] == pytest.approx(beta[0] + b["(Intercept)"])
    assert pred[2] == pytest.approx(beta[0] + 5 * beta[1])
    assert pred[4] == pytest.approx(beta[0] + 5 * beta[1])
    np.testing.assert_array_equal(model.predict(new.to_pandas()), pred)
    assert np.isnan(model.predict(new.filter(pl.col("Days").is_null()))).all()
    # Only the columns a prediction reads count: without random effects, a null
    # in a random-slope-only covariate does not matter.
    m = mm.Lmer("Reaction ~ 1 + (Days | Subject)", data=sleep)
    m.fit(summarize=False)
    assert not np.isnan(m.predict(new, use_rfx=False)).any()
    assert np.isnan(m.predict(new)).tolist() == [False, True, False, True, False]
    # A level the model was not fitted with is still an error, not a missing value.
    u = mm.load_dataset("sleepstudy_unbal")
    m = mm.Lmer("Reaction ~ Days * grp + (1 | Subject)", data=u)
    m.fit(summarize=False, factors={"grp": ["b", "a"]})
    new = pl.DataFrame({"Days": [1.0, 1.0, 1.0], "grp": ["a", None, "c"], "Subject": [308, 308, 308]})
    assert np.isnan(m.predict(new[:2])).tolist() == [False, True]
    with pytest.raises(mm.ColumnError, match="'grp'"):
        m.predict(new)


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


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda m: m.simulate(-1), "num_datasets must be at least 1, not -1"),
        (lambda m: m.simulate(2.5), "num_datasets must be a whole number"),
        (lambda m: m.simulate(10**12), "simulate\\(1000000000000\\) would need about"),
        (lambda m: m.simulate(2, seed=-3), "seed must be between 0 and"),
        (lambda m: m.simulate(2, seed=2**70), "seed must be between 0 and"),
        (lambda m: m.bootstrap(0, seed=1), "n_boot must be at least 1, not 0"),
        (lambda m: m.bootstrap(5, seed=-1), "seed must be between 0 and"),
        (lambda m: m.bootstrap(2**62, seed=1), "bootstrap\\(4611686018427387904\\) would need about"),
    ],
)
def test_counts_and_seeds_are_checked(model, call, match):
    with pytest.raises(mm.DataError, match=match):
        call(model)


def test_max_feval_is_checked(sleep):
    with pytest.raises(mm.DataError, match="max_feval must be at least 1, not -1"):
        mm.Lmer("Reaction ~ Days + (1 | Subject)", data=sleep).fit(summarize=False, max_feval=-1)


def test_summary_text_has_lmertest_layout(model):
    text = model.summary_text()
    assert "Linear mixed model fit by REML. t-tests use Satterthwaite's method" in text
    assert "REML criterion at convergence: 1743.6" in text
    assert "Number of obs: 180, groups:  Subject, 18" in text
    assert "Correlation of Fixed Effects:" in text


def test_optsummary_reports_evaluations(model):
    o = model.optsummary
    assert o["converged"] and o["optimizer"] == "bfgs"  # the default for a model with a gradient
    assert 5 < o["feval"] < 100
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


def test_bootstrap_intervals_in_coefs_are_reproducible_with_a_seed(sleep):
    def boot(seed):
        m = mm.Lmer(FORMULA, data=sleep)
        return m.fit(summarize=False, conf_int="boot", n_boot=20, seed=seed)

    a, b, c = boot(11), boot(11), boot(12)
    assert a.equals(b)
    assert not a.equals(c)
    # The intervals are those of confint(method="boot") with the same seed.
    m = mm.Lmer(FORMULA, data=sleep)
    m.fit(summarize=False)
    ci = m.confint(method="boot", n_boot=20, seed=11).filter(pl.col("term").is_in(["(Intercept)", "Days"]))
    np.testing.assert_allclose(a["2.5_ci"], ci["lower"], rtol=1e-12)
    np.testing.assert_allclose(a["97.5_ci"], ci["upper"], rtol=1e-12)


# ------------------------------------------------------------------ contest
CONTEST = json.loads((Path(__file__).parents[1] / "fixtures" / "contest" / "contest.json").read_text())
T_COLUMNS = {
    "Estimate": "Estimate",
    "SE": "SE",
    "df": "DF",
    "t": "T-stat",
    "lower": "2.5_ci",
    "upper": "97.5_ci",
    "p": "P-val",
}
F_COLUMNS = {"SumSq": "SS", "MeanSq": "MS", "NumDF": "NumDF", "DenDF": "DenomDF", "F": "F-stat", "p": "P-val"}


@pytest.fixture(scope="module")
def unbal():
    m = mm.Lmer(CONTEST["formula"], data=mm.load_dataset(CONTEST["data"]))
    m.fit(summarize=False)
    return m


def check_row(row, ref, columns):
    for r_name, name in columns.items():
        # Statistics and df as lmerTest's to 1e-4 (the two optimizers' estimates
        # differ by about 1e-6); p-values, which amplify that, to 1e-3.
        rtol = 1e-3 if name == "P-val" else 1e-4
        assert row[name] == pytest.approx(ref[r_name], rel=rtol), name


@pytest.mark.parametrize("case", sorted(CONTEST["cases"]))
@pytest.mark.parametrize("ddf", ["Satterthwaite", "Kenward-Roger"])
def test_contest_matches_lmertest(unbal, case, ddf):
    """contest(m, L, joint = FALSE) (one row: t test) and contest(m, L) (F test)."""
    ref = CONTEST["cases"][case]
    key = "satterthwaite" if ddf == "Satterthwaite" else "kenward_roger"
    L = np.atleast_2d(np.asarray(ref["L"], dtype=float))
    out = unbal.contest(L, rhs=ref["rhs"], ddf=ddf)
    assert out.height == 1
    if L.shape[0] == 1:
        assert out.columns == ["Estimate", "2.5_ci", "97.5_ci", "SE", "DF", "T-stat", "P-val", "Sig"]
        check_row(out.row(0, named=True), ref[key], T_COLUMNS)
        joint = unbal.contest(L[0], rhs=ref["rhs"], ddf=ddf, joint=True)
        check_row(joint.row(0, named=True), ref[f"{key}_joint"], F_COLUMNS)
    else:
        assert out.columns == ["SS", "MS", "NumDF", "DenomDF", "F-stat", "P-val", "Sig"]
        check_row(out.row(0, named=True), ref[key], F_COLUMNS)


def test_contest_agrees_with_coefs_and_anova(unbal):
    coefs = unbal.coefs
    one = unbal.contest([0, 0, 1, 0])
    assert one["Estimate"][0] == pytest.approx(coefs["Estimate"][2], rel=1e-12)
    assert one["SE"][0] == pytest.approx(coefs["SE"][2], rel=1e-12)
    assert one["DF"][0] == pytest.approx(coefs["DF"][2], rel=1e-8)
    assert one["P-val"][0] == pytest.approx(coefs["P-val"][2], rel=1e-8)
    each = unbal.contest(np.eye(4)[1:], joint=False)
    np.testing.assert_allclose(each["T-stat"], coefs["T-stat"][1:], rtol=1e-10)
    interaction = unbal.anova().filter(pl.col("term") == "Days:grp")  # its type III test
    f = unbal.contest([[0, 0, 0, 1]], joint=True)
    assert f["F-stat"][0] == pytest.approx(interaction["F-stat"][0], rel=1e-8)


def test_contest_checks_its_input(unbal, sleep):
    with pytest.raises(mm.DataError, match="4 columns"):
        unbal.contest([1, 0])
    with pytest.raises(mm.DataError, match="rhs"):
        unbal.contest(np.eye(4)[:2], rhs=[1, 2, 3])
    with pytest.raises(mm.DataError, match="ddf"):
        unbal.contest([0, 1, 0, 0], ddf="lme4")
    m = mm.Lmer(FORMULA, data=sleep)
    m.fit(summarize=False, REML=False)
    with pytest.raises(mm.DataError, match="REML"):
        m.contest([0, 1], ddf="Kenward-Roger")
