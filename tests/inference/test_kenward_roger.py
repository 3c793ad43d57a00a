"""Kenward-Roger against pbkrtest (through lmerTest's summary(ddf = "Kenward-Roger")):
adjusted SEs and df for every case with KR references, the adjusted
covariance matrix, and usability on thousands of observations."""

from __future__ import annotations

import time

import numpy as np
import polars as pl
import pytest

import mixedmodels as mm

from conftest import fit_case, load_reference

KR_CASES = [
    "sleepstudy_slope_reml",
    "sleepstudy_uncorr",
    "sleepstudy_unbalanced_kr",
    "dietox_slope",
    "dietox_evit_factor",
    "machines_nested_factor",
    "machines_sum",
    "machines_helmert",
    "machines_custom",
    "dietox_evit_relevel",
    "dietox_evit_cu",
    "sleepstudy_days_ordered",
]


@pytest.mark.parametrize("case", KR_CASES)
def test_kr_coefficients_match_pbkrtest(case):
    ref = load_reference(case)
    if "kenward_roger" not in ref:
        pytest.skip("no KR reference")
    m, _ = fit_case(case, ddf="Kenward-Roger")
    kr = ref["kenward_roger"]
    for row in m.coefs.iter_rows(named=True):
        name = row["term"]
        assert row["SE"] == pytest.approx(kr["se"][name], rel=1e-4), name
        assert row["DF"] == pytest.approx(kr["df"][name], rel=1e-3), name
        assert row["P-val"] == pytest.approx(kr["p"][name], rel=1e-3, abs=1e-14), name


def test_kr_differs_from_satterthwaite_where_it_should():
    """The unbalanced case separates the two methods (the references differ by 1-4%)."""
    sat, _ = fit_case("sleepstudy_unbalanced_kr")
    kr, _ = fit_case("sleepstudy_unbalanced_kr", ddf="Kenward-Roger")
    rel = np.abs(kr.coefs["SE"].to_numpy() / sat.coefs["SE"].to_numpy() - 1)
    assert rel.max() > 0.005
    assert "Kenward-Roger's method" in kr.summary_text()


def test_kr_adjusted_covariance_matches_vcovadj():
    m, ref = fit_case("sleepstudy_unbalanced_kr_extra", ddf="Kenward-Roger")
    want = np.asarray(ref["kenward_roger_vcov"], float)
    np.testing.assert_allclose(m.vcov_kr, want, rtol=1e-4, atol=1e-8 * np.abs(want).max())


def test_kr_needs_reml():
    with pytest.raises(mm.DataError, match="REML"):
        mm.Lmer("Reaction ~ Days + (1 | Subject)", data=mm.load_dataset("sleepstudy")).fit(
            REML=False, ddf="Kenward-Roger", summarize=False
        )


def test_kr_is_usable_on_thousands_of_observations():
    """pbkrtest's dense n x n algebra is its weak point; here n only enters the cross-products."""
    rng = np.random.default_rng(3)
    n, groups = 20_000, 400
    g = rng.integers(0, groups, n)
    x = rng.normal(size=n)
    y = 1 + 0.5 * x + rng.normal(size=groups)[g] + rng.normal(size=n)
    d = pl.DataFrame({"y": y, "x": x, "g": [f"g{i}" for i in g]})
    m = mm.Lmer("y ~ x + (1 + x | g)", data=d)
    t0 = time.perf_counter()
    m.fit(ddf="Kenward-Roger", summarize=False)
    assert time.perf_counter() - t0 < 30
    # Both coefficients vary between groups: their df are of the order of the number of groups.
    assert np.all(np.abs(m.coefs["DF"].to_numpy() / (groups - 1) - 1) < 0.1)
    sat = mm.Lmer("y ~ x + (1 + x | g)", data=d)
    sat.fit(summarize=False)
    np.testing.assert_allclose(m.coefs["DF"], sat.coefs["DF"], rtol=0.05)
