# ruff: noqa: F811  (the tests take pymer4's fixtures df and gammas as arguments)
"""pymer4 0.8.2's pymer4/tests/test_stats.py, ported (imports and table
access adapted; every assertion kept, see test_pymer4_models.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest
from pymer4_data import df, gammas  # noqa: F401  (pytest fixtures, named as pymer4's)

from mixedmodels import Lm2, Lmer
from mixedmodels.stats import boot_func, cohens_d, lrt, perm_test, tost_equivalence


def _mean_diff(x, y):
    """pymer4.utils._mean_diff (a private helper of pymer4's tests)."""
    return np.mean(x) - np.mean(y)


def test_cohens_d():
    x = np.random.normal(loc=2, size=100)
    y = np.random.normal(loc=2.2, size=100)
    result = cohens_d(x, y, n_jobs=1, n_boot=500)
    assert len(result) == 2
    result = cohens_d(x, y, paired=True, n_jobs=1, n_boot=500)
    assert len(result) == 2
    y = np.random.normal(loc=2.5, size=15)
    result = cohens_d(x, y, equal_var=False, n_jobs=1, n_boot=500)
    result = cohens_d(x, y=None, equal_var=False, n_jobs=1, n_boot=500)
    assert len(result) == 2


def test_perm_test():
    x = np.random.normal(loc=2, size=10)
    y = np.random.normal(loc=2.5, size=15)
    result = perm_test(x, y, stat="tstat", n_perm=500, n_jobs=1, return_dist=True)
    assert len(result) == 3
    y = np.random.normal(loc=2.5, size=10)
    result = perm_test(x, y, stat="tstat-paired", n_perm=500, n_jobs=1, return_dist=False)
    assert len(result) == 2
    result = perm_test(x, y, stat="cohensd", n_perm=500, n_jobs=1, return_dist=False)
    assert len(result) == 2
    result = perm_test(x, y, stat="pearsonr", n_perm=500, n_jobs=1, return_dist=False)
    assert len(result) == 2
    result = perm_test(x, y, stat="spearmanr", n_perm=500, n_jobs=1, return_dist=False)
    assert len(result) == 2
    result = perm_test(x, y=None, stat="tstat", n_perm=500, n_jobs=1, return_dist=False)


def test_tost():
    np.random.seed(10)
    lower, upper = -0.1, 0.1
    x, y = np.random.normal(0.145, 0.025, 35), np.random.normal(0.16, 0.05, 17)
    result = tost_equivalence(x, y, lower, upper, n_perm=500)
    assert result["In_Equivalence_Range"] is True
    assert result["Means_Are_Different"] is False
    np.random.seed(1)
    x, y = np.random.normal(0.12, 0.025, 35), np.random.normal(0.14, 0.05, 17)
    result = tost_equivalence(x, y, lower, upper)
    assert result["In_Equivalence_Range"] is True
    assert result["Means_Are_Different"] is True
    x, y = np.random.normal(0.32, 0.025, 35), np.random.normal(0.14, 0.05, 17)
    result = tost_equivalence(x, y, lower, upper)
    assert result["In_Equivalence_Range"] is False
    assert result["Means_Are_Different"] is True


def test_boot_func():
    x = np.random.normal(loc=2, size=10)
    y = np.random.normal(loc=2.5, size=15)
    result = boot_func(x, y, func=_mean_diff)
    assert len(result) == 2
    assert len(result[1]) == 2


def test_lrt(df):
    # read the data and build 3 nexted models
    model = Lmer("DV ~ IV3 + IV2 + (1|Group)", data=df)
    model.fit(summarize=False)
    model_sub = Lmer("DV ~ IV2 + (1|Group)", data=df)
    model_sub.fit(summarize=False)
    model_sub2 = Lmer("DV ~ 1+ (1|Group)", data=df)
    model_sub2.fit(summarize=False)

    # Can only compare Lmer models
    lm_model = Lm2("DV ~ IV3 + IV2", group="Group", data=df)
    with pytest.raises(TypeError):
        lrt([model, lm_model])

    # lrt test with REML (i.e. WITHOUT refitting the models)
    lrt_reml = lrt([model, model_sub, model_sub2], refit=False)
    # the order in which we give the models should not affect the output
    lrt_reml_scrambled = lrt([model_sub, model, model_sub2], refit=False)
    assert lrt_reml.equals(lrt_reml_scrambled) is True
    # now do an lrt with ML (i.e. refittiing the models)
    with pytest.warns(UserWarning, match="refitting model"):  # adapted: R's message is a warning here
        lrt_ml = lrt([model, model_sub, model_sub2], refit=True)
    # refitting with ML does change the output compared to REML
    assert lrt_reml.equals(lrt_ml) is False

    # pymer4 typed R's tables in (its live comparison with rpy2 is commented
    # out) and compared each with itself; kept, then (added) compared with ours.
    columns = ["index", "npar", "AIC", "BIC", "log-likelihood", "deviance", "Chisq", "Df", "P-val"]
    r_lrt_reml_sub = pd.DataFrame.from_records(
        [
            (0, 3.0, 4832.10121511, 4845.10637787, -2413.05060756, 4826.10121511, "", "", ""),
            (
                1,
                4.0,
                4587.9706894,
                4605.3109064,
                -2289.9853447,
                4579.9706894,
                246.13052571481512,
                1.0,
                1.8115312634852814e-55,
            ),
            (
                2,
                5.0,
                4584.81022022,
                4606.48549148,
                -2287.40511011,
                4574.81022022,
                5.160469174164973,
                1.0,
                0.02310665453923671,
            ),
        ],
        columns=columns,
    )
    pd.testing.assert_frame_equal(r_lrt_reml_sub, r_lrt_reml_sub, check_dtype=False)
    r_lrt_ml_sub = pd.DataFrame.from_records(
        [
            (0, 3.0, 4836.69171163, 4849.69687439, -2415.34585582, 4830.69171163, "", "", ""),
            (
                1,
                4.0,
                4586.95522083,
                4604.29543783,
                -2289.47761041,
                4578.95522083,
                251.7364908061154,
                1.0,
                1.08611087137599e-56,
            ),
            (
                2,
                5.0,
                4586.10807729,
                4607.78334855,
                -2288.05403865,
                4576.10807729,
                2.8471435322935577,
                1.0,
                0.09153644160564649,
            ),
        ],
        columns=columns,
    )
    pd.testing.assert_frame_equal(r_lrt_ml_sub, r_lrt_ml_sub, check_dtype=False)
    for ours, theirs in [(lrt_reml, r_lrt_reml_sub), (lrt_ml, r_lrt_ml_sub)]:
        for col in ["npar", "AIC", "BIC", "log-likelihood", "deviance"]:
            np.testing.assert_allclose(ours[col].to_numpy(), theirs[col].to_numpy(dtype=float), rtol=1e-8)
        for col in ["Chisq", "P-val"]:
            np.testing.assert_allclose(ours[col][1:].to_numpy(), theirs[col][1:].to_numpy(dtype=float), rtol=1e-5)
        assert ours["Chisq"][0] is None and isinstance(ours, pl.DataFrame)
