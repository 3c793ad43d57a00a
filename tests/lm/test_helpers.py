"""mixedmodels.stats, simulate and utils: definitions checked against direct
computations and scipy, seeds, and errors."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import stats as sps

from mixedmodels import Lm
from mixedmodels import stats as mst
from mixedmodels.simulate import easy_multivariate_normal, simulate_lm, simulate_lmm
from mixedmodels.utils import R2con, con2R, isPSD, nearestPSD, result_to_table, upper


@pytest.fixture(scope="module")
def xy() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(42)
    return rng.normal(2.0, 1.0, 40), rng.normal(2.6, 1.5, 40)


def test_cohens_d_definitions(xy: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = xy
    pooled = np.sqrt((39 * x.var(ddof=1) + 39 * y.var(ddof=1)) / 78)
    assert mst.cohens_d(x, y, n_boot=0) == pytest.approx((x.mean() - y.mean()) / pooled)
    avg = np.sqrt((x.var(ddof=1) + y.var(ddof=1)) / 2)
    assert mst.cohens_d(x, y, n_boot=0, equal_var=True) == pytest.approx((x.mean() - y.mean()) / avg)
    d = x - y
    assert mst.cohens_d(x, y, paired=True, n_boot=0) == pytest.approx(d.mean() / d.std(ddof=1))
    assert mst.cohens_d(x, n_boot=0, value=1.0) == pytest.approx((x.mean() - 1.0) / x.std(ddof=1))
    eff, (lo, hi) = mst.cohens_d(x, y, n_boot=300, seed=1)  # type: ignore[misc]
    assert lo < eff < hi
    assert mst.cohens_d(x, y, n_boot=300, seed=1) == mst.cohens_d(x, y, n_boot=300, seed=1)
    with pytest.raises(ValueError, match="paired"):
        mst.cohens_d(x, y[:10], paired=True)


@pytest.mark.parametrize("stat", ["tstat", "tstat-paired", "mean", "cohensd", "pearsonr", "spearmanr"])
def test_perm_test_statistics_and_pvalues(xy: tuple[np.ndarray, np.ndarray], stat: str) -> None:
    x, y = xy
    observed, p, dist = mst.perm_test(x, y, stat=stat, n_perm=499, seed=3, return_dist=True)
    expected = {
        "tstat": sps.ttest_ind(x, y, equal_var=False).statistic,
        "tstat-paired": sps.ttest_rel(x, y).statistic,
        "mean": x.mean() - y.mean(),
        "cohensd": mst.cohens_d(x, y, n_boot=0),
        "pearsonr": sps.pearsonr(x, y)[0],
        "spearmanr": sps.spearmanr(x, y)[0],
    }[stat]
    assert observed == pytest.approx(expected, rel=1e-10)
    assert len(dist) == 499
    assert p == pytest.approx((np.sum(np.abs(dist) >= abs(observed)) + 1) / 500)
    one_tailed = mst.perm_test(x, y, stat=stat, n_perm=499, seed=3, tails=1)[1]
    assert one_tailed <= p + 1e-12


def test_perm_test_one_sample_and_errors(xy: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = xy
    t, p = mst.perm_test(x, stat="tstat", n_perm=999, seed=2)
    assert t == pytest.approx(sps.ttest_1samp(x, 0).statistic) and p == pytest.approx(1 / 1000)
    assert mst.perm_test(x, 2.0, n_perm=999, seed=2)[0] == pytest.approx(sps.ttest_1samp(x, 2.0).statistic)
    parametric = mst.perm_test(x, y, n_perm=0)
    assert parametric.pvalue == pytest.approx(sps.ttest_ind(x, y, equal_var=False).pvalue)
    with pytest.raises(ValueError, match="stat must be"):
        mst.perm_test(x, y, stat="median")
    with pytest.raises(ValueError, match="y must be provided"):
        mst.perm_test(x, stat="pearsonr")


def test_boot_func_and_tost(xy: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = xy
    m, (lo, hi) = mst.boot_func(x, y, func=lambda a, b: a.mean() - b.mean(), n_boot=400, seed=4)
    assert lo < m < hi
    with pytest.raises(TypeError, match="callable"):
        mst.boot_func(x, y, func=None)
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.145, 0.025, 35), rng.normal(0.15, 0.05, 17)
    r = mst.tost_equivalence(a, b, -0.1, 0.1, n_perm=300, n_boot=300, seed=1)
    assert r["In_Equivalence_Range"] is True
    # The bounds' one-sided p-values are Welch t tests shifted by the bounds.
    t_lower = sps.ttest_ind(a - (-0.1), b, equal_var=False)
    assert r["lower"]["t"] == pytest.approx(t_lower.statistic)
    assert r["lower"]["p"] == pytest.approx(t_lower.pvalue / 2)


def test_fit_statistics_and_corrections() -> None:
    y = np.array([1.0, 2.0, 4.0, 3.0, 5.0])
    res = np.array([0.1, -0.2, 0.3, -0.1, -0.1])
    r2 = mst.rsquared(y, res)
    assert r2 == pytest.approx(1 - 0.16 / 10)
    assert mst.rsquared_adj(r2, 5, 3) == pytest.approx(1 - 4 / 3 * (1 - r2))
    assert np.isnan(mst.rsquared_adj(r2, 5, 0))
    p = np.array([0.01, 0.04, 0.03, 0.2])
    np.testing.assert_allclose(mst.correct_pvals(p), [0.04, 0.09, 0.09, 0.2])
    np.testing.assert_allclose(mst.correct_pvals(p, "bonf"), [0.04, 0.16, 0.12, 0.8])
    a, b = np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.0, 8.0])
    assert mst.welch_dof(a, b) == pytest.approx(4 / (1 / 18 + 25 / 27))


def test_vif_is_the_inverse_correlation_diagonal() -> None:
    rng = np.random.default_rng(1)
    z = rng.normal(size=(200, 3))
    z[:, 2] = z[:, 0] + 0.1 * rng.normal(size=200)
    design = pl.DataFrame({"(Intercept)": np.ones(200), "a": z[:, 0], "b": z[:, 1], "c": z[:, 2]})
    high, all_vifs = mst.vif(design)
    expected = np.diag(np.linalg.inv(np.corrcoef(z, rowvar=False)))
    np.testing.assert_allclose(list(all_vifs.values()), expected)
    assert set(high) == {"a", "c"}
    with pytest.raises(ValueError, match="constant"):
        mst.vif(design.drop("(Intercept)"))


def test_simulated_data_recover_their_parameters() -> None:
    data, b = simulate_lm(2000, 3, coef_vals=[10, 2.2, -4.1, 3], mus=[10.0, 3.0, 2.0], corrs=0.3, seed=4)
    assert data.columns == ["DV", "IV1", "IV2", "IV3"]
    again, _ = simulate_lm(2000, 3, coef_vals=[10, 2.2, -4.1, 3], mus=[10.0, 3.0, 2.0], corrs=0.3, seed=4)
    assert data.equals(again)
    corr = np.corrcoef(data.select(["IV1", "IV2", "IV3"]).to_numpy(), rowvar=False)
    np.testing.assert_allclose(upper(corr), 0.3, atol=0.06)
    m = Lm("DV ~ IV1 + IV2 + IV3", data=data)
    m.fit(summarize=False)
    np.testing.assert_allclose(m.coefs["Estimate"][1:], b[1:], atol=0.1)
    lmm, blups, b = simulate_lmm(20, 2, 30, coef_vals=[1.0, 2.0, -1.0], grp_sigmas=[0.5, 0.2, 0.2], seed=3)
    assert lmm.shape == (600, 4) and blups.shape == (30, 4) and lmm["Group"].n_unique() == 30
    np.testing.assert_allclose(blups.select(["Intercept", "IV1", "IV2"]).std().to_numpy()[0], [0.5, 0.2, 0.2], rtol=0.4)
    with pytest.raises(ValueError, match="intercept"):
        simulate_lm(10, 3, coef_vals=[1, 2, 3])


def test_multivariate_normal_with_a_non_psd_request() -> None:
    corrs = np.array([[1.0, 0.9, 0.7], [0.9, 1.0, -0.9], [0.7, -0.9, 1.0]])
    with pytest.warns(UserWarning, match="positive semi-definite"):
        x = easy_multivariate_normal(500, 3, corrs, seed=1)
    x2, used = easy_multivariate_normal(500, 3, corrs, seed=1, return_new_corrs=True)
    np.testing.assert_allclose(x, x2)
    assert isPSD(used) and not isPSD(corrs)
    np.testing.assert_allclose(np.diag(used), 1.0)
    with pytest.raises(ValueError, match="forcePSD"):
        easy_multivariate_normal(10, 3, corrs, forcePSD=False)
    sd = easy_multivariate_normal(20_000, 2, 0.5, sigma=[1.0, 3.0], seed=2).std(axis=0)
    np.testing.assert_allclose(sd, [1.0, 3.0], rtol=0.03)


def test_contrast_conversions_invert_each_other() -> None:
    weights = np.array([[-1, 0, 0, 1], [-0.5, -0.5, 0.5, 0.5], [-1, 1 / 3, 1 / 3, 1 / 3]])
    coding = con2R(weights)
    # R2con gives back the weights (rows 1..k-1) and the mean of the levels (row 0).
    np.testing.assert_allclose(R2con(coding)[1:], weights, atol=1e-12)
    np.testing.assert_allclose(R2con(coding)[0], 0.25, atol=1e-12)
    table = con2R(weights[:1], names=["4 vs 1"])
    assert isinstance(table, pl.DataFrame) and table.columns == ["4 vs 1", "orthogonal_1", "orthogonal_2"]
    with pytest.raises(ValueError, match="Too many contrasts"):
        con2R(np.eye(3))
    assert np.allclose(nearestPSD(np.eye(3)), np.eye(3))


def test_result_to_table_formats_a_model() -> None:
    rng = np.random.default_rng(5)
    data = pl.DataFrame({"x": rng.normal(size=50)}).with_columns(y=3 + 2 * pl.col("x") + rng.normal(size=50))
    m = Lm("y ~ x", data=data)
    m.fit(summarize=False)
    table = result_to_table(m, drop_intercept=False)
    assert table.columns == ["Predictor", "b", "ci", "t", "df", "p"]
    assert table["p"].to_list() == ["< .001", "< .001"]
    lo, hi = m.coefs["2.5_ci"].round(3)[1], m.coefs["97.5_ci"].round(3)[1]
    assert table["ci"][1] == f"({lo:g} {hi:g})"
    assert result_to_table(m).height == 1
