"""``all_fit()``: the model refitted with every optimizer (lme4's ``allFit``).
On well-posed models every optimizer reaches the default fit's optimum (the
default fits themselves are checked against lme4 elsewhere); an optimizer
held to a few evaluations shows as not converged; the convergence warning
names ``all_fit()``."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import mixedmodels as mm
from mixedmodels._table import ResultTable


@pytest.fixture(scope="module")
def sleep_model() -> mm.Lmer:
    m = mm.Lmer("Reaction ~ Days + (Days | Subject)", data=mm.load_dataset("sleepstudy"))
    m.fit(summarize=False)
    return m


@pytest.fixture(scope="module")
def cbpp_model() -> mm.Glmer:
    formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
    g = mm.Lmer(formula, data=mm.load_dataset("cbpp"), family="binomial")
    g.fit(summarize=False)
    return g


def test_every_optimizer_reaches_the_optimum_of_a_linear_mixed_model(sleep_model: mm.Lmer) -> None:
    m = sleep_model
    table = m.all_fit()
    assert isinstance(table, ResultTable)
    assert table["optimizer"].to_list() == ["bobyqa", "nelder_mead", "bfgs"]
    assert table["converged"].all(), table["messages"].to_list()
    assert table["max_diff_objective"].max() < 1e-6
    np.testing.assert_allclose(table["objective"], m.optsummary["fmin"], rtol=1e-9)
    np.testing.assert_allclose(table["loglik"], m.logLike, rtol=1e-9)
    np.testing.assert_allclose(table.select(m.fixed_names).to_numpy(), np.tile(m.beta, (3, 1)), rtol=1e-5)
    np.testing.assert_allclose(table.select(m.sd_cor_names).to_numpy(), np.tile(m.sd_cor, (3, 1)), rtol=2e-3)
    np.testing.assert_allclose(table["sigma"], m.sigma, rtol=1e-5)
    np.testing.assert_allclose(np.vstack(table["theta"].to_list()), np.tile(m.theta, (3, 1)), atol=2e-4)
    assert (table["feval"] > 0).all() and (table["seconds"] >= 0).all()


def test_an_optimizer_out_of_evaluations_shows_in_the_table(sleep_model: mm.Lmer) -> None:
    table = sleep_model.all_fit(["nelder_mead", "bobyqa"], max_feval=12)
    assert table["optimizer"].to_list() == ["nelder_mead", "bobyqa"]
    assert not table["converged"].any()
    assert (table["max_diff_objective"] > 0).any()
    assert (table["objective"] > sleep_model.optsummary["fmin"] + 1e-3).all()
    nelder_mead = table.filter(pl.col("optimizer") == "nelder_mead")
    assert nelder_mead["messages"][0].startswith("maximum evaluations reached")


def test_a_glmm_refits_both_stages_with_each_derivative_free_optimizer(cbpp_model: mm.Glmer) -> None:
    g = cbpp_model
    table = g.all_fit()
    assert table["optimizer"].to_list() == ["bobyqa", "nelder_mead"]
    assert "sigma" not in table.columns
    assert table["converged"].all(), table["messages"].to_list()
    np.testing.assert_allclose(table["loglik"], g.logLike, atol=1e-5)
    np.testing.assert_allclose(table.select(g.fixed_names).to_numpy(), np.tile(g.beta, (2, 1)), rtol=2e-3, atol=1e-4)


def test_bad_arguments(sleep_model: mm.Lmer, cbpp_model: mm.Glmer) -> None:
    with pytest.raises(mm.DataError, match="unknown optimizer 'lbfgs' in all_fit"):
        sleep_model.all_fit(["bobyqa", "lbfgs"])
    with pytest.raises(mm.DataError, match="optimizer 'bfgs' is not available for this model"):
        cbpp_model.all_fit(["bfgs"])
    with pytest.raises(mm.DataError, match="optimizers must name at least one optimizer"):
        sleep_model.all_fit([])
    with pytest.raises(mm.DataError, match="max_feval must be at least 1"):
        sleep_model.all_fit(max_feval=0)
    unfitted = mm.Lmer("Reaction ~ Days + (1 | Subject)", data=mm.load_dataset("sleepstudy"))
    with pytest.raises(mm.DataError, match="not been fitted"):
        unfitted.all_fit()


def test_the_convergence_warning_names_all_fit() -> None:
    m = mm.Lmer("Reaction ~ Days + (Days | Subject)", data=mm.load_dataset("sleepstudy"))
    with pytest.warns(UserWarning, match=r"max\|grad\|.*compare the optimizers' fits with m\.all_fit\(\)"):
        m.fit(control="optCtrl = list(ftol_abs = 1e-2, xtol_abs = 1e-2)", summarize=False)
    # A real warning: the refits keep the loose tolerances (as allFit keeps optCtrl), which BOBYQA
    # and Nelder-Mead obey and BFGS does not; BFGS reaches a lower objective and the others fail the checks.
    table = m.all_fit().sort("objective")
    assert table["optimizer"].to_list() == ["bfgs", "nelder_mead", "bobyqa"]
    assert table["converged"].to_list() == [True, False, False]
    assert table["objective"][0] < m.optsummary["fmin"] - 1e-2
    assert all("all_fit()" in text for text in table["messages"][1:])


def test_lme4s_nelder_mead_name_runs_nelder_mead(sleep_model: mm.Lmer) -> None:
    m = mm.Lmer("Reaction ~ Days + (Days | Subject)", data=mm.load_dataset("sleepstudy"))
    m.fit(control={"optimizer": "Nelder_Mead"}, summarize=False)
    assert m.optsummary["optimizer"] == "nelder_mead" and m.control.optimizer == "Nelder_Mead"
    np.testing.assert_allclose(m.beta, sleep_model.beta, rtol=1e-6)
    assert m.optsummary["fmin"] == pytest.approx(sleep_model.optsummary["fmin"], abs=1e-7)
