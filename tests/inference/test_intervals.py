"""Confidence intervals: profile likelihood against lme4's confint(method =
"profile"), the parametric bootstrap (reproducible, thread-count independent,
agreeing with the profile within Monte Carlo error), Wald, and fit(conf_int=)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import mixedmodels as mm

from conftest import fit_case

PROFILE_CASES = ["sleepstudy_slope_reml", "sleepstudy_slope_ml", "penicillin_crossed", "pastes_nested", "dyestuff"]


@pytest.mark.parametrize("case", PROFILE_CASES)
def test_profile_intervals_match_lme4(case):
    m, ref = fit_case(case)
    ci = {r["term"]: r for r in m.confint(method="profile").iter_rows(named=True)}
    assert list(ci) == [r["term"] for r in ref["confint_profile"]]
    for r in ref["confint_profile"]:
        width = r["upper"] - r["lower"]
        # lme4 interpolates the profile with splines; we solve for the ends, so allow 0.1% of the width.
        assert ci[r["term"]]["lower"] == pytest.approx(r["lower"], abs=1e-3 * width), r["term"]
        assert ci[r["term"]]["upper"] == pytest.approx(r["upper"], abs=1e-3 * width), r["term"]


def test_reml_and_ml_profiles_agree_as_in_lme4():
    """lme4 1.1-31 profiles a REML fit on the ML deviance."""
    reml, _ = fit_case("sleepstudy_slope_reml")
    ml, _ = fit_case("sleepstudy_slope_ml")
    a = reml.confint(method="profile")
    b = ml.confint(method="profile")
    np.testing.assert_allclose(a["lower"], b["lower"], rtol=1e-5)
    np.testing.assert_allclose(a["upper"], b["upper"], rtol=1e-5)


@pytest.fixture(scope="module")
def sleep():
    m = mm.Lmer("Reaction ~ Days + (Days | Subject)", data=mm.load_dataset("sleepstudy"))
    m.fit(summarize=False)
    return m


def test_bootstrap_is_reproducible_and_chunk_independent(sleep):
    a = sleep.bootstrap(60, seed=11)
    b = sleep.bootstrap(60, seed=11)
    assert a.equals(b)
    assert not a.equals(sleep.bootstrap(60, seed=12))
    # Replicates 30..59 drawn alone equal the second half of a run of 60.
    half = sleep._fit.bootstrap(30, 30, 11)
    np.testing.assert_allclose(half["beta"], a.select(sleep._fit.fixed_names).to_numpy()[30:], rtol=0, atol=0)


def test_bootstrap_does_not_depend_on_thread_count(sleep):
    code = (
        "import mixedmodels as mm; m = mm.Lmer('Reaction ~ Days + (Days | Subject)', "
        "data=mm.load_dataset('sleepstudy')); m.fit(summarize=False); "
        "print(m.bootstrap(40, seed=5)['Days'].sum())"
    )
    env = {**os.environ, "RAYON_NUM_THREADS": "1"}
    one = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert float(one) == pytest.approx(sleep.bootstrap(40, seed=5)["Days"].sum(), rel=0, abs=0)


def test_bootstrap_intervals_agree_with_profile_within_monte_carlo_error(sleep):
    boot = sleep.confint(method="boot", n_boot=2000, seed=2026)
    prof = sleep.confint(method="profile")
    se = dict(zip(sleep.coefs["term"], sleep.coefs["SE"], strict=True))
    for term in ["(Intercept)", "Days"]:
        b = boot.filter(boot["term"] == term).row(0, named=True)
        p = prof.filter(prof["term"] == term).row(0, named=True)
        # A 2.5% quantile of 2000 draws has Monte Carlo sd ~0.06 SE; allow 5 of those.
        assert b["lower"] == pytest.approx(p["lower"], abs=0.3 * se[term])
        assert b["upper"] == pytest.approx(p["upper"], abs=0.3 * se[term])
    for term in ["sigma", "sd_(Intercept)|Subject", "sd_Days|Subject"]:
        b = boot.filter(boot["term"] == term).row(0, named=True)
        p = prof.filter(prof["term"] == term).row(0, named=True)
        width = p["upper"] - p["lower"]
        assert abs(b["lower"] - p["lower"]) < 0.15 * width, term
        assert abs(b["upper"] - p["upper"]) < 0.15 * width, term


def test_wald_and_fit_conf_int(sleep):
    wald = sleep.confint()
    assert wald["lower"].null_count() == 4  # no Wald intervals for sd/cor/sigma, as lme4
    m = mm.Lmer("Reaction ~ Days + (Days | Subject)", data=mm.load_dataset("sleepstudy"))
    coefs = m.fit(summarize=False, conf_int="profile")
    prof = m.confint(method="profile")
    np.testing.assert_allclose(coefs["2.5_ci"], prof["lower"].to_numpy()[-2:])
    with pytest.raises(mm.DataError, match="method"):
        sleep.confint(method="nope")
    with pytest.raises(mm.DataError, match="n_boot"):
        sleep.bootstrap(0)
