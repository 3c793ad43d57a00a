"""m.cross_validate(): leave-one-group-out against lme4, k folds, observation
folds, scores, reproducibility, generalized models."""

from __future__ import annotations

import numpy as np
import pytest
from diag_refs import by_label, fit_reference, sleepstudy_fit

import mixedmodels as mm
from mixedmodels.exceptions import DataError


@pytest.fixture
def sleepstudy():
    return sleepstudy_fit()


@pytest.mark.parametrize("case", ["sleepstudy_diag", "dietox_diag", "machines_diag"])
def test_leave_one_group_out_matches_lme4(case):
    m, ref = fit_reference(case)
    cv = m.cross_validate(group=ref["group"])
    logo = ref["logo_cv"]
    assert cv.folds.columns == [ref["group"], "n", "converged", "rmse"]
    got = by_label(cv.folds, ref["group"], logo["levels"], "rmse")
    np.testing.assert_allclose(got, logo["rmse_per_group"], rtol=1e-4)
    assert cv.scores["rmse"] == pytest.approx(logo["rmse_overall"], rel=1e-4)
    # one out-of-fold prediction a row of the fit, in the data's order
    assert cv.predictions.height == m.nobs
    np.testing.assert_array_equal(cv.predictions["row"].to_numpy(), m.fit_rows)
    err = cv.predictions["y"] - cv.predictions["prediction"]
    assert float(np.sqrt((err**2).mean())) == pytest.approx(logo["rmse_overall"], rel=1e-4)


def test_k_folds_are_reproducible_for_a_seed(sleepstudy):
    m, _ = sleepstudy
    a = m.cross_validate(folds=3, seed=11, scoring=["rmse", "mae", "r2"])
    b = m.cross_validate(folds=3, seed=11, scoring=["rmse", "mae", "r2"])
    c = m.cross_validate(folds=3, seed=12)
    assert a.folds.equals(b.folds) and a.scores == b.scores
    assert a.folds["Subject"].to_list() != c.folds["Subject"].to_list()
    assert sorted(s for f in a.folds["Subject"].to_list() for s in f) == sorted(m.ranef["Subject"]["level"].to_list())
    y, yhat = a.predictions["y"].to_numpy(), a.predictions["prediction"].to_numpy()
    assert a.scores["mae"] == pytest.approx(np.abs(y - yhat).mean())
    assert a.scores["r2"] == pytest.approx(1 - ((y - yhat) ** 2).sum() / ((y - y.mean()) ** 2).sum())


def test_observation_folds_use_the_groups_effects(sleepstudy):
    m, _ = sleepstudy
    by_group = m.cross_validate(folds=5, seed=1)
    by_row = m.cross_validate(split="observation", folds=5, seed=1)
    assert by_row.folds.columns[0] == "fold" and by_row.folds["n"].sum() == m.nobs
    # Predicting with the subjects' effects beats predicting new subjects.
    assert by_row.scores["rmse"] < 0.7 * by_group.scores["rmse"]


def test_callable_scores_and_ml_refits(sleepstudy):
    m, _ = sleepstudy

    def max_error(y, yhat):
        return float(np.abs(y - yhat).max())

    cv = m.cross_validate(scoring=["rmse", max_error], refit="ML")
    assert "max_error" in cv.folds.columns
    assert cv.scores["max_error"] == pytest.approx(np.abs(cv.predictions["y"] - cv.predictions["prediction"]).max())


def test_arguments_are_checked(sleepstudy):
    m, _ = sleepstudy
    with pytest.raises(DataError, match="unknown score 'auc'"):
        m.cross_validate(scoring="auc")
    with pytest.raises(DataError, match="observation folds need a number of folds"):
        m.cross_validate(split="observation")
    with pytest.raises(DataError, match="folds must be between 2"):
        m.cross_validate(folds=40)
    with pytest.raises(DataError, match="refit must be"):
        m.cross_validate(refit="OLS")
    with pytest.raises(DataError, match="neither a grouping factor"):
        m.cross_validate(group="nonexistent")
    with pytest.raises(DataError, match="the log_loss score is defined for binomial models"):
        m.cross_validate(scoring="log_loss")


def test_a_data_column_as_group():
    data = mm.load_dataset("sleepstudy")
    m = mm.Lmer("Reaction ~ Days + (Days | Subject)", data=data)
    m.fit(summarize=False)
    cv = m.cross_validate(group="Days")
    assert cv.folds.height == 10 and cv.folds["n"].to_list() == [18] * 10


def test_generalized_models():
    m = mm.Lmer(
        "cbind(incidence, size - incidence) ~ period + (1 | herd)", data=mm.load_dataset("cbpp"), family="binomial"
    )
    m.fit(summarize=False, no_warnings=True)
    cv = m.cross_validate(folds=3, seed=2, scoring=["deviance", "log_loss", "brier"])
    assert set(cv.scores) == {"deviance", "log_loss", "brier"}
    p = cv.predictions["prediction"].to_numpy()
    assert ((p > 0) & (p < 1)).all()
    assert 0 < cv.scores["brier"] < 0.25
