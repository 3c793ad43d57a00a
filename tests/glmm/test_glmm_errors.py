"""Bad input to generalized models: each raises a mixedmodels exception naming the
column or argument at fault; response forms R accepts (a factor with more than two
levels: the first level is failure, the others success) behave as in R; complete
separation does not hang (a warning, or an error that says what is wrong).

Reference values: tests/fixtures/glmm/glmm.json (`response_forms`, gen_glmm.R)."""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

import mixedmodels as mm

REF = json.loads((Path(__file__).parents[1] / "fixtures" / "glmm" / "glmm.json").read_text())


def fit(formula: str, data: pl.DataFrame, family: str = "binomial", **options: Any) -> mm.Lmer:
    m = mm.Lmer(formula, data=data, family=family)
    m.fit(summarize=False, **options)
    return m


@pytest.fixture(scope="module")
def cbpp() -> pl.DataFrame:
    return mm.load_dataset("cbpp")


@pytest.fixture(scope="module")
def sleep() -> pl.DataFrame:
    return mm.load_dataset("sleepstudy")


def three_levels(sleep: pl.DataFrame) -> pl.Expr:
    return (
        pl.when(pl.col("Reaction") < 250)
        .then(pl.lit("a"))
        .when(pl.col("Reaction") < 320)
        .then(pl.lit("b"))
        .otherwise(pl.lit("c"))
    )


# ------------------------------------------------------------ the response
def test_binomial_response_outside_unit_interval(cbpp: pl.DataFrame) -> None:
    with pytest.raises(mm.ColumnError, match=r"column 'incidence': a binomial response must lie in \[0, 1\]"):
        fit("incidence ~ period + (1 | herd)", cbpp)
    d = cbpp.with_columns(p=pl.col("incidence") / pl.col("size") - 0.1)
    with pytest.raises(mm.ColumnError, match=r"column 'p': a binomial response must lie in \[0, 1\]"):
        fit("p ~ period + (1 | herd)", d, weights="size")


def test_binomial_negative_counts(cbpp: pl.DataFrame) -> None:
    with pytest.raises(mm.ColumnError, match=r"cbind\(incidence, size - incidence - 5\).*non-negative counts"):
        fit("cbind(incidence, size - incidence - 5) ~ period + (1 | herd)", cbpp)


def test_three_level_factor_response_is_first_level_against_the_rest(sleep: pl.DataFrame) -> None:
    """R's binomial family: a factor response is failure at its first level, success at any
    other (glmer does not refuse three levels)."""
    ref = REF["response_forms"]["three_level_factor"]
    d = sleep.with_columns(f=three_levels(sleep))
    m = fit(ref["formula"], d)
    np.testing.assert_allclose(m.coefs["Estimate"], list(ref["fixef"].values()), rtol=1e-4)
    assert m.logLike == pytest.approx(ref["logLik"], abs=1e-3)
    binary = fit("y ~ Days + (1 | Subject)", d.with_columns(y=pl.col("f") != "a"))
    np.testing.assert_allclose(m.coefs["Estimate"], binary.coefs["Estimate"], rtol=1e-10)
    # the first level is the first of the Enum's order, as R's factor levels
    enum = d.with_columns(pl.col("f").cast(pl.Enum(["c", "a", "b"])))
    m_enum = fit("f ~ Days + (1 | Subject)", enum)
    other = fit("y ~ Days + (1 | Subject)", d.with_columns(y=pl.col("f") != "c"))
    np.testing.assert_allclose(m_enum.coefs["Estimate"], other.coefs["Estimate"], rtol=1e-10)


def test_boolean_and_two_level_string_responses(sleep: pl.DataFrame) -> None:
    b = fit("b ~ Days + (1 | Subject)", sleep.with_columns(b=pl.col("Reaction") > 300))
    # strings: levels sorted as R's factor(): "hi" < "lo", so "hi" is failure
    s = fit(
        "s ~ Days + (1 | Subject)",
        sleep.with_columns(s=pl.when(pl.col("Reaction") > 300).then(pl.lit("hi")).otherwise(pl.lit("lo"))),
    )
    np.testing.assert_allclose(s.coefs["Estimate"], -b.coefs["Estimate"], rtol=1e-5)


@pytest.mark.filterwarnings("ignore:boundary \\(singular\\) fit", "ignore:the Hessian of the deviance")
def test_proportion_without_weights_warns(cbpp: pl.DataFrame) -> None:
    d = cbpp.with_columns(p=pl.col("incidence") / pl.col("size"))
    with pytest.warns(UserWarning, match="non-integer #successes in a binomial glm"):
        fit("p ~ period + (1 | herd)", d)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit("p ~ period + (1 | herd)", d, weights="size")


def test_poisson_negative_or_non_finite_counts(cbpp: pl.DataFrame) -> None:
    with pytest.raises(mm.ColumnError, match="column 'y': a Poisson response must be non-negative counts"):
        fit("y ~ period + (1 | herd)", cbpp.with_columns(y=pl.col("incidence") - 3), "poisson")
    inf = cbpp.with_columns(
        y=pl.when(pl.col("incidence") == 0).then(float("inf")).otherwise(pl.col("incidence").cast(pl.Float64))
    )
    with pytest.raises(mm.ColumnError, match="column 'y': a Poisson response must be non-negative counts"):
        fit("y ~ period + (1 | herd)", inf, "poisson")
    with pytest.raises(mm.ColumnError, match="column 'period': the response is categorical"):
        fit("period ~ 1 + (1 | herd)", cbpp, "poisson")


def test_poisson_missing_counts_are_dropped(cbpp: pl.DataFrame) -> None:
    nan = cbpp.with_columns(
        y=pl.when(pl.col("incidence") == 0).then(float("nan")).otherwise(pl.col("incidence").cast(pl.Float64))
    )
    n_missing = int((cbpp["incidence"] == 0).sum())
    with pytest.warns(UserWarning, match=f"{n_missing} rows with missing values were dropped"):
        m = fit("y ~ period + (1 | herd)", nan, "poisson")
    assert m.nobs == cbpp.height - n_missing


def test_poisson_non_integer_counts_warn(cbpp: pl.DataFrame) -> None:
    """glmer's deviance is infinite for non-integer counts (R fails to fit: "Gradient
    contains NAs"); we fit with lgamma(y + 1) in the log-likelihood, and warn."""
    with pytest.warns(UserWarning, match="non-integer counts in a Poisson model"):
        m = fit("y ~ period + (1 | herd)", cbpp.with_columns(y=pl.col("incidence") + 0.5), "poisson")
    assert np.isfinite(m.logLike)


@pytest.mark.parametrize("family", ["gamma", "inverse_gaussian"])
def test_non_positive_response(sleep: pl.DataFrame, family: str) -> None:
    zero = sleep.with_columns(y=pl.col("Reaction") - pl.col("Reaction").min())
    with pytest.raises(mm.ColumnError, match="column 'y': this family needs a positive response"):
        fit("y ~ Days + (1 | Subject)", zero, family)
    with pytest.raises(mm.ColumnError, match="column 'y': this family needs a positive response"):
        fit("y ~ Days + (1 | Subject)", sleep.with_columns(y=pl.col("Reaction") - 300), family)


def test_negative_weights(cbpp: pl.DataFrame) -> None:
    d = cbpp.with_columns(p=pl.col("incidence") / pl.col("size"), w=-pl.col("size"))
    with pytest.raises(mm.ColumnError, match=r"column 'w': weights must be non-negative and finite; row 0 has -14"):
        fit("p ~ period + (1 | herd)", d, weights="w")
    with pytest.raises(mm.DataError, match="weights: column 'zzz' is not in the data"):
        fit("p ~ period + (1 | herd)", d, weights="zzz")


# ------------------------------------------------------------ the options
def test_quadrature_needs_one_scalar_random_effect(sleep: pl.DataFrame) -> None:
    g = mm.load_dataset("grouseticks_std")
    with pytest.raises(mm.DataError, match="nAGQ > 1 is only available for models with a single, scalar"):
        fit("TICKS ~ YEAR + (1 | BROOD) + (1 | LOCATION)", g, "poisson", nAGQ=5)
    b = sleep.with_columns(b=pl.col("Reaction") > 300)
    with pytest.raises(mm.DataError, match="nAGQ > 1 is only available for models with a single, scalar"):
        fit("b ~ Days + (Days | Subject)", b, nAGQ=5)
    with pytest.raises(mm.DataError, match="nAGQ must be between 0 and 100, not -1"):
        fit("b ~ Days + (1 | Subject)", b, nAGQ=-1)
    with pytest.raises(mm.DataError, match="nAGQ must be between 0 and 100, not 101"):
        fit("b ~ Days + (1 | Subject)", b, nAGQ=101)
    with pytest.raises(mm.DataError, match=r"nAGQ must be a whole number, not 2\.7"):
        fit("b ~ Days + (1 | Subject)", b, nAGQ=2.7)


def test_unknown_family_and_link(sleep: pl.DataFrame) -> None:
    with pytest.raises(mm.DataError, match="unknown family 'tweedie'"):
        mm.Lmer("Reaction ~ Days + (1 | Subject)", data=sleep, family="tweedie")
    b = sleep.with_columns(b=pl.col("Reaction") > 300)
    with pytest.raises(mm.DataError, match="unknown link 'foo'"):
        fit("b ~ Days + (1 | Subject)", b, link="foo")
    with pytest.raises(mm.DataError, match="unknown link 'foo'"):
        mm.Lmer("b ~ Days + (1 | Subject)", data=b, family="binomial", link="foo").fit(summarize=False)
    with pytest.raises(mm.DataError, match="the poisson family does not take the 'logit' link"):
        fit("incidence ~ period + (1 | herd)", mm.load_dataset("cbpp"), "poisson", link="logit")


def test_options_of_linear_models_only(cbpp: pl.DataFrame) -> None:
    m = fit("incidence ~ period + (1 | herd)", cbpp, "poisson")
    with pytest.raises(mm.DataError, match="method must be one of Wald, profile, boot, not 'satterthwaite'"):
        m.confint(method="satterthwaite")
    with pytest.raises(mm.DataError, match=r"compare GLMMs with mixedmodels\.anova"):
        m.anova()
    with pytest.raises(mm.DataError, match="pred_type must be 'response' or 'link'"):
        m.predict(cbpp, pred_type="probability")
    with pytest.raises(mm.DataError, match="unknown residual type 'studentized'"):
        m.residuals(type="studentized")


def test_no_random_effects(cbpp: pl.DataFrame) -> None:
    with pytest.raises(mm.DataError, match="no random-effects term"):
        fit("incidence ~ period", cbpp, "poisson")


def test_unfitted_model(cbpp: pl.DataFrame) -> None:
    m = mm.Lmer("incidence ~ period + (1 | herd)", data=cbpp, family="poisson")
    calls = {
        "predict": lambda: m.predict(cbpp),
        "simulate": lambda: m.simulate(),
        "post_hoc": lambda: m.post_hoc("period"),
        "confint": lambda: m.confint(),
        "summary": lambda: m.summary(),
        "deviance": lambda: m.deviance,
        "logLike_lme4": lambda: m.logLike_lme4,
        "linear_predictor": lambda: m.linear_predictor,
        "vcov": lambda: m.vcov,
        "ranef_condvar": lambda: m.ranef_condvar(),
    }
    for name, call in calls.items():
        with pytest.raises(mm.DataError, match=r"not been fitted yet: call fit\(\) first"):
            call()
        assert name
    assert m.coefs is None and m.residuals is None


def test_exceptions_are_mixedmodels_errors() -> None:
    for e in (mm.ColumnError, mm.DataError, mm.NumericalError):
        assert issubclass(e, mm.MixedModelsError)


# ------------------------------------------------------ complete separation
def separated(sleep: pl.DataFrame) -> pl.DataFrame:
    return sleep.with_columns(
        b=pl.col("Days") > 4, g=pl.when(pl.col("Days") > 4).then(pl.lit("late")).otherwise(pl.lit("early"))
    )


@pytest.mark.filterwarnings("ignore:the Hessian of the deviance")
@pytest.mark.parametrize("nagq", [1, 10])
def test_separation_by_a_covariate_warns(sleep: pl.DataFrame, nagq: int) -> None:
    """Days > 4 separates b: glmer returns enormous estimates and SEs with a singular
    Hessian warning; so do we, warning that fitted probabilities are 0 or 1."""
    start = time.perf_counter()
    with pytest.warns(UserWarning, match="fitted probabilities numerically 0 or 1") as record:
        m = fit("b ~ Days + (1 | Subject)", separated(sleep), nAGQ=nagq)
    assert time.perf_counter() - start < 30
    assert any("Hessian" in str(w.message) for w in record)
    assert not any(issubclass(w.category, RuntimeWarning) for w in record)  # no overflow in the OR columns
    coefs = m.coefs.row(1, named=True)
    assert abs(coefs["Estimate"]) > 10 and coefs["SE"] > 1e3 and coefs["P-val"] > 0.99
    assert coefs["OR"] > 1e10


def test_separation_by_a_factor_raises_a_clear_error(sleep: pl.DataFrame) -> None:
    """A two-level factor separating b makes PIRLS fail (glmer fits it with estimates of
    about 80 and SEs of 1e7); the error says what is wrong, at once."""
    start = time.perf_counter()
    with pytest.raises(mm.NumericalError, match="separates the response completely"):
        fit("b ~ g + (1 | Subject)", separated(sleep))
    assert time.perf_counter() - start < 30


@pytest.mark.parametrize(("family", "value"), [("binomial", True), ("binomial", False), ("poisson", 0)])
def test_constant_response_raises_naming_the_column(sleep: pl.DataFrame, family: str, value: object) -> None:
    """R: "Response is constant"."""
    with pytest.raises(mm.ColumnError, match="column 'b': the response is constant"):
        fit("b ~ Days + (1 | Subject)", sleep.with_columns(b=pl.lit(value)), family=family)


def test_non_integer_cbind_counts_warn(cbpp: pl.DataFrame) -> None:
    """R's binomial family: "non-integer counts in a binomial glm!"."""
    frac = cbpp.with_columns(half=pl.col("incidence") / 2)
    with pytest.warns(UserWarning, match="non-integer counts in a binomial glm!"):
        fit("cbind(half, size - half) ~ period + (1 | herd)", frac)
