"""Prior weights, offsets and rows dropped for missing values, together, in every
result that reads the rows of the fit: residuals of each kind (the Pearson
residuals of a weighted fit with a dropped row raised a shape error), fitted
values, predictions, simulations, marginal means, the anova table and the
bootstrap. Reference values from lme4, lmerTest and emmeans
(tests/fixtures/rows/rows.R); also population-level predictions of fixed
parts of every shape (intercept only, no intercept, factors only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

import mixedmodels as mm

REF = json.loads((Path(__file__).parents[1] / "fixtures" / "rows" / "rows.json").read_text())
KINDS = ("response", "pearson", "deviance", "working")


def _nulls_to_nan(values: list[Any]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _set_null(frame: pl.DataFrame, column: str, row: int) -> pl.DataFrame:
    index = pl.int_range(pl.len())
    return frame.with_columns(pl.when(index == row).then(None).otherwise(pl.col(column)).alias(column))


def sleep_data() -> pl.DataFrame:
    """rows.R's sleepstudy: weights, an offset, a factor, and a missing response, weight and factor."""
    i = pl.int_range(pl.len())
    d = mm.load_dataset("sleepstudy").with_columns(
        w=0.5 + (i % 7) / 4,
        off=((i % 5) - 2).cast(pl.Float64),
        cond=pl.when(i % 3 == 0).then(pl.lit("a")).when(i % 3 == 1).then(pl.lit("b")).otherwise(pl.lit("c")),
    )
    return _set_null(_set_null(_set_null(d, "Reaction", 4), "w", 19), "cond", 32)


def cbpp_data() -> pl.DataFrame:
    i = pl.int_range(pl.len())
    d = mm.load_dataset("cbpp").with_columns(
        prop=pl.col("incidence") / pl.col("size"), off=((i % 4) - 1.5) / 4, size=pl.col("size").cast(pl.Float64)
    )
    return _set_null(_set_null(d, "prop", 2), "size", 9)


@pytest.fixture(scope="module")
def lmm() -> mm.Lmer:
    m = mm.Lmer(REF["lmm"]["formula"], data=sleep_data())
    m.fit(weights="w", summarize=False, no_warnings=True)
    return m


@pytest.fixture(scope="module")
def glmm() -> mm.Lmer:
    m = mm.Lmer(REF["glmm"]["formula"], data=cbpp_data(), family="binomial")
    m.fit(weights="size", summarize=False, no_warnings=True)
    return m


# ------------------------------------------------------------ linear model
def test_the_fit_knows_its_rows(lmm: mm.Lmer) -> None:
    ref = REF["lmm"]
    np.testing.assert_array_equal(lmm.fit_rows, ref["rows"])
    assert lmm.fit_mask.shape == (180,) and lmm.fit_mask.sum() == lmm.nobs == 177
    assert lmm.fit_frame.height == 177 and lmm.fit_frame["Reaction"].null_count() == 0
    np.testing.assert_allclose(lmm.prior_weights, sleep_data()["w"].to_numpy()[ref["rows"]])
    np.testing.assert_allclose(lmm.offset, sleep_data()["off"].to_numpy()[ref["rows"]])
    assert any("3 rows with missing values were dropped" in w for w in lmm.warnings)
    np.testing.assert_allclose(lmm.coefs["Estimate"], list(ref["fixef"].values()), rtol=1e-5)
    assert lmm.sigma == pytest.approx(ref["sigma"], rel=1e-4)


@pytest.mark.parametrize("kind", KINDS)
def test_residuals_of_every_kind(lmm: mm.Lmer, kind: str) -> None:
    # residuals of about 30 ms, equal to a thousandth of a millisecond (the conditional modes
    # agree to the tolerance of theta)
    np.testing.assert_allclose(lmm.residuals(type=kind), REF["lmm"]["residuals"][kind], rtol=1e-4, atol=1e-3)


def test_fitted_and_predicted_values(lmm: mm.Lmer) -> None:
    ref = REF["lmm"]
    np.testing.assert_allclose(lmm.fits, ref["fitted"], rtol=1e-6)
    data = sleep_data()
    np.testing.assert_allclose(lmm.predict(data), _nulls_to_nan(ref["predict"]), rtol=1e-6)
    np.testing.assert_allclose(lmm.predict(data, use_rfx=False), _nulls_to_nan(ref["predict_fixed"]), rtol=1e-6)


def test_simulations_have_the_rows_and_the_weighted_variances(lmm: mm.Lmer) -> None:
    sims = lmm.simulate(400, seed=1).to_numpy()
    assert sims.shape == (177, 400)
    # given the random effects, row i varies as sigma^2 / w_i
    ratio = sims.var(axis=1) * lmm.prior_weights / lmm.sigma**2
    assert ratio.mean() == pytest.approx(1.0, abs=0.03)
    assert np.corrcoef(sims.var(axis=1), 1 / lmm.prior_weights)[0, 1] > 0.9


def test_marginal_means_on_the_rows_of_the_fit(lmm: mm.Lmer) -> None:
    ref = REF["lmm"]
    means, pairs = lmm.post_hoc("cond", summarize=False)
    np.testing.assert_allclose(means["Estimate"], ref["emmeans"]["emmean"], rtol=1e-5)
    np.testing.assert_allclose(means["SE"], ref["emmeans"]["SE"], rtol=1e-4)
    np.testing.assert_allclose(means["DF"], ref["emmeans"]["df"], rtol=1e-3)
    np.testing.assert_allclose(pairs["Estimate"], ref["pairs"]["estimate"], rtol=1e-4)
    np.testing.assert_allclose(pairs["P-val"], ref["pairs"]["p.value"], rtol=1e-3)


def test_anova_on_the_rows_of_the_fit(lmm: mm.Lmer) -> None:
    ref = REF["lmm"]["anova"]
    table = lmm.anova()
    assert table["term"].to_list() == ["Days", "cond"]
    np.testing.assert_allclose(table["F-stat"], ref["F value"], rtol=1e-4)
    np.testing.assert_allclose(table["DenomDF"], ref["DenDF"], rtol=1e-3)
    np.testing.assert_allclose(table["P-val"], ref["Pr(>F)"], rtol=1e-3)


def test_bootstrap_refits_the_rows_with_weights_and_offsets(lmm: mm.Lmer) -> None:
    reps = lmm.bootstrap(n_boot=40, seed=3, progress=False)
    assert reps.height == 40 and reps.null_count().sum_horizontal().item() == 0
    assert reps.equals(lmm.bootstrap(n_boot=40, seed=3, progress=False))
    # the replicates are centred on the estimates (within 4 standard errors of their mean)
    est, se = lmm.coefs["Estimate"].to_numpy(), lmm.coefs["SE"].to_numpy()
    mean = reps.select(lmm.coefs["term"].to_list()).mean().to_numpy().ravel()
    assert np.all(np.abs(mean - est) < 4 * se / np.sqrt(40) + 1e-9)


# ------------------------------------------------------- generalized model
def test_generalized_fit_knows_its_rows(glmm: mm.Lmer) -> None:
    ref = REF["glmm"]
    np.testing.assert_array_equal(glmm.fit_rows, ref["rows"])
    assert glmm.nobs == 54 and glmm.fit_mask.sum() == 54
    np.testing.assert_allclose(glmm.prior_weights, cbpp_data()["size"].to_numpy()[ref["rows"]])
    np.testing.assert_allclose(glmm.offset, cbpp_data()["off"].to_numpy()[ref["rows"]])
    np.testing.assert_allclose(glmm.coefs["Estimate"], list(ref["fixef"].values()), rtol=1e-4)


@pytest.mark.parametrize("kind", KINDS)
def test_generalized_residuals_of_every_kind(glmm: mm.Lmer, kind: str) -> None:
    np.testing.assert_allclose(glmm.residuals(type=kind), REF["glmm"]["residuals"][kind], rtol=1e-3, atol=1e-5)


def test_generalized_fitted_and_predicted_values(glmm: mm.Lmer) -> None:
    ref = REF["glmm"]
    data = cbpp_data()
    np.testing.assert_allclose(glmm.fits, ref["fitted"], rtol=1e-4)
    np.testing.assert_allclose(glmm.predict(data, pred_type="link"), _nulls_to_nan(ref["predict_link"]), rtol=1e-4)
    np.testing.assert_allclose(glmm.predict(data), _nulls_to_nan(ref["predict_response"]), rtol=1e-4)
    np.testing.assert_allclose(glmm.predict(data, use_rfx=False), _nulls_to_nan(ref["predict_fixed"]), rtol=1e-4)
    assert glmm.simulate(3, seed=1).shape == (54, 3)


def test_generalized_marginal_means(glmm: mm.Lmer) -> None:
    ref = REF["glmm"]
    link, _ = glmm.post_hoc("period", summarize=False)
    np.testing.assert_allclose(link["Estimate"], ref["emmeans"]["emmean"], rtol=1e-4)
    np.testing.assert_allclose(link["SE"], ref["emmeans"]["SE"], rtol=1e-3)
    response, _ = glmm.post_hoc("period", summarize=False, type="response")
    np.testing.assert_allclose(response["Estimate"], ref["emmeans_response"]["prob"], rtol=1e-4)
    np.testing.assert_allclose(response["SE"], ref["emmeans_response"]["SE"], rtol=1e-3)


# ------------------------------------------ fixed parts of every shape
def _new_rows(family: str) -> pl.DataFrame:
    if family == "gaussian":
        return pl.DataFrame({"Days": [0.0, 4.5, 9.0], "cond": ["c", "a", "b"], "Subject": ["308", "new", "309"]})
    return pl.DataFrame({"period": ["4", "1", "2"], "x": [4.0, 1.0, 2.5], "herd": ["1", "99", "3"]})


def _shape_data(family: str) -> pl.DataFrame:
    if family == "gaussian":
        i = pl.int_range(pl.len())
        cond = pl.when(i % 3 == 0).then(pl.lit("a")).when(i % 3 == 1).then(pl.lit("b")).otherwise(pl.lit("c"))
        return mm.load_dataset("sleepstudy").with_columns(cond=cond)
    return mm.load_dataset("cbpp").with_columns(x=pl.col("period").cast(pl.Float64))


@pytest.mark.parametrize("case", REF["shapes"], ids=lambda c: c["formula"])
def test_population_predictions_of_every_fixed_part(case: dict[str, Any]) -> None:
    m = mm.Lmer(case["formula"], data=_shape_data(case["family"]), family=case["family"])
    m.fit(summarize=False, no_warnings=True)
    new = _new_rows(case["family"])
    np.testing.assert_allclose(m.predict(new, use_rfx=False), case["fixed"], rtol=1e-4)
    if case["family"] != "gaussian":
        np.testing.assert_allclose(m.predict(new, use_rfx=False, pred_type="link"), case["fixed_link"], rtol=1e-4)
    # without the grouping factor at all, and with missing values in it
    np.testing.assert_allclose(m.predict(new.drop(new.columns[-1]), use_rfx=False), case["fixed"], rtol=1e-4)
