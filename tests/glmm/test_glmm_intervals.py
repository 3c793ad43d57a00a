"""GLMM intervals: ``confint(method="profile")`` against lme4's
``confint(glmer, method = "profile")`` (tests/fixtures/glmm/glmm_intervals.json,
made by glmm_intervals.R there), and the parametric bootstrap (``bootstrap()``,
``confint(method="boot")``) against the profile intervals within Monte Carlo
error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

import mixedmodels as mm

REF = json.loads((Path(__file__).parents[1] / "fixtures" / "glmm" / "glmm_intervals.json").read_text())["cases"]


def fit(case: dict[str, Any]) -> mm.Glmer:
    m = mm.Lmer(case["formula"], data=mm.load_dataset(case["data"]), family=case["family"])
    m.fit(summarize=False, no_warnings=True)
    return m


@pytest.fixture(scope="module")
def cbpp() -> mm.Glmer:
    return fit(REF["cbpp_binomial"])


@pytest.mark.parametrize("case", sorted(REF))
def test_profile_intervals_match_lme4(case: str) -> None:
    """lme4 reads the ends off a spline through its profile grid; ours are the
    roots of zeta. They agree to ~5e-5 (relative), 1e-4 (absolute) at an end
    near zero; an sd whose profile never reaches the bound ends at 0, as in R."""
    ref = REF[case]
    ci = fit(ref).confint(method="profile")
    assert ci["term"].to_list() == [r["term"] for r in ref["profile"]]
    for col in ("lower", "upper"):
        np.testing.assert_allclose(ci[col], [r[col] for r in ref["profile"]], rtol=2e-3, atol=1e-4, err_msg=col)


def test_profile_in_the_fit_and_its_level(cbpp: mm.Glmer) -> None:
    m = fit(REF["cbpp_binomial"])
    m.fit(summarize=False, conf_int="profile")
    ci = cbpp.confint(method="profile")
    fixed = ci.filter(pl.col("term") != "sd_(Intercept)|herd")
    np.testing.assert_allclose(m.coefs["2.5_ci"], fixed["lower"], rtol=1e-10)
    np.testing.assert_allclose(m.coefs["OR_97.5_ci"], np.exp(fixed["upper"]), rtol=1e-10)
    narrow = cbpp.confint(method="profile", level=0.5)
    assert (narrow["lower"] > ci["lower"]).all() and (narrow["upper"] < ci["upper"]).all()


def test_bootstrap_agrees_with_the_profile_within_monte_carlo_error(cbpp: mm.Glmer) -> None:
    """The percentile interval's ends are sample quantiles of n = 300 refits:
    a 2.5% quantile has a Monte Carlo standard error of sqrt(p (1 - p) / n) / f(q),
    the density f estimated from the replicates' own quantiles around it
    (about 0.14 bootstrap sds here). The fixed effects' ends must lie within 4
    such errors of the profile's. (A variance parameter's percentile interval
    is biased low against its profile, in R too; its ends are not compared.)"""
    n = 300
    reps = cbpp.bootstrap(n_boot=n, seed=7)
    assert reps.columns == [*cbpp.sd_cor_names, *cbpp.fixed_names]  # no sigma row for a binomial model
    assert reps.null_count().sum_horizontal()[0] == 0
    profile = cbpp.confint(method="profile")
    boot = cbpp.confint(method="boot", n_boot=n, seed=7)
    for name in cbpp.fixed_names:
        values = reps[name].to_numpy()
        prof = profile.filter(pl.col("term") == name)
        got = boot.filter(pl.col("term") == name)
        for p, end in ((0.025, "lower"), (0.975, "upper")):
            slope = (np.quantile(values, p + 0.02) - np.quantile(values, max(p - 0.02, 0.0))) / (0.02 + min(p, 0.02))
            mc_se = slope * np.sqrt(p * (1 - p) / n)
            assert abs(got[end][0] - prof[end][0]) < 4 * mc_se, (name, end, got[end][0], prof[end][0], mc_se)
    # the replicates scatter around the estimates
    np.testing.assert_allclose(reps.select(cbpp.fixed_names).median().to_numpy()[0], cbpp.beta, atol=0.15)


def test_bootstrap_is_reproducible_for_a_seed(cbpp: mm.Glmer) -> None:
    a = cbpp.bootstrap(n_boot=8, seed=3)
    assert a.equals(cbpp.bootstrap(n_boot=8, seed=3))
    assert not a.equals(cbpp.bootstrap(n_boot=8, seed=4))


def test_families_with_a_dispersion_have_no_profile() -> None:
    d = mm.load_dataset("dietox").with_columns(W100=pl.col("Weight") / 100)
    m = mm.Lmer("W100 ~ Time + (1 | Pig)", data=d, family="gamma", link="log")
    m.fit(summarize=False, no_warnings=True)
    with pytest.raises(mm.DataError, match="families without a dispersion parameter"):
        m.confint(method="profile")
    zero = fit(REF["cbpp_binomial"])
    zero.fit(summarize=False, nAGQ=0)
    with pytest.raises(mm.DataError, match="refit with nAGQ >= 1"):
        zero.confint(method="profile")
