"""m.influence(): HLMdiag's hlm_influence at the observation and group level,
one-step and by refits, with HLMdiag's column names; the rows of the data; GLMMs."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from diag_refs import by_label, diag_reference, fit_reference, sleepstudy_fit

import mixedmodels as mm
from mixedmodels.exceptions import DataError


@pytest.fixture
def sleepstudy():
    return sleepstudy_fit()


MEASURES = ["cooksd", "mdffits", "covtrace", "covratio"]


@pytest.mark.parametrize("case", ["sleepstudy_diag", "machines_diag"])
def test_observation_level_matches_hlmdiag(case):
    m, ref = fit_reference(case)
    leverage = ["overall", "fixef", "ranef", "ranef.uc"]
    table = m.influence(leverage=leverage)
    assert table.columns == ["row", *MEASURES, *(f"leverage.{k}" for k in leverage)]
    assert table["row"].to_list() == list(range(ref["nobs"]))
    for name in table.columns[1:]:
        want = np.asarray(ref["obs_influence"][name])
        got = table[name].to_numpy()
        np.testing.assert_allclose(got, want, rtol=2e-3, atol=1e-3 * np.abs(want).max(), err_msg=name)


def test_group_level_one_step_and_refits(sleepstudy):
    m, ref = sleepstudy
    one_step = m.influence(level="Subject")
    assert one_step.columns == ["Subject", *MEASURES, "leverage.overall"]
    approx = ref["group_influence_approx"]
    for name in [*MEASURES, "leverage.overall"]:
        got = by_label(one_step, "Subject", approx["level"], name)
        np.testing.assert_allclose(got, approx[name], rtol=2e-3, err_msg=name)
    exact = m.influence(level="Subject", approx=False, leverage=())
    assert exact.columns == ["Subject", *MEASURES, "rvc.sigma2", "rvc.D11", "rvc.D21", "rvc.D22"]
    tight = diag_reference("sleepstudy_diag_extra")["refit_tight"]["Subject"]
    for name in ["cooksd", "mdffits", "covratio"]:
        got = by_label(exact, "Subject", tight["level"], name)
        np.testing.assert_allclose(got, tight[name], rtol=3e-3, err_msg=name)
    # ratio - 1 measures: absolute tolerance on the ratio
    for name in ["covtrace", "rvc.sigma2", "rvc.D11", "rvc.D22"]:
        got = by_label(exact, "Subject", tight["level"], name)
        np.testing.assert_allclose(got, tight[name], atol=1e-4, err_msg=name)


def test_row_is_the_position_in_the_data_as_given():
    data = mm.load_dataset("sleepstudy").with_columns(
        pl.when(pl.int_range(pl.len()) % 7 == 3).then(None).otherwise(pl.col("Reaction")).alias("Reaction")
    )
    m = mm.Lmer("Reaction ~ Days + (Days | Subject)", data=data)
    m.fit(summarize=False, no_warnings=True)
    table = m.influence()
    assert table.height == m.nobs < data.height
    np.testing.assert_array_equal(table["row"].to_numpy(), m.fit_rows)
    assert 3 not in table["row"].to_list()
    resid = m.hlm_resid()
    np.testing.assert_array_equal(resid["row"].to_numpy(), m.fit_rows)


def test_exact_refits_show_progress_when_asked(sleepstudy, capsys):
    m, _ = sleepstudy
    m.influence(level="Subject", approx=False, progress=True)
    assert "influence refits" in capsys.readouterr().err


def test_arguments_are_checked(sleepstudy):
    m, _ = sleepstudy
    with pytest.raises(DataError, match="level must be 1 or a grouping factor"):
        m.influence(level="Days")
    with pytest.raises(DataError, match="leverage type 'hat'"):
        m.influence(leverage="hat")
    with pytest.raises(DataError, match="approx must be True or False"):
        m.influence(approx="yes")
    with pytest.raises(DataError, match="not been fitted"):
        mm.Lmer("Reaction ~ Days + (1 | Subject)", data=mm.load_dataset("sleepstudy")).influence()


def test_crossed_models_are_supported():
    m = mm.Lmer("diameter ~ 1 + (1 | plate) + (1 | sample)", data=mm.load_dataset("penicillin"))
    m.fit(summarize=False, no_warnings=True)
    ref = diag_reference("penicillin_crossed_diag_extra")
    table = m.influence()
    np.testing.assert_allclose(table["cooksd"].to_numpy(), ref["obs_influence"]["cooksd"], rtol=2e-3)
    np.testing.assert_allclose(table["leverage.overall"].to_numpy(), ref["hatvalues"], rtol=2e-3)
    by_sample = m.influence(level="sample", approx=False)
    assert by_sample.height == 6 and by_sample["cooksd"].is_not_null().all()


def test_generalized_models_by_refits_only():
    m = mm.Lmer(
        "cbind(incidence, size - incidence) ~ period + (1 | herd)", data=mm.load_dataset("cbpp"), family="binomial"
    )
    m.fit(summarize=False, no_warnings=True)
    with pytest.raises(DataError, match="approx=False"):
        m.influence(level="herd")
    with pytest.raises(DataError, match="leverage is defined for linear mixed models"):
        m.influence(level="herd", approx=False, leverage="overall")
    table = m.influence(level="herd", approx=False)
    assert table.columns == ["herd", *MEASURES, "rvc.D11"]
    assert table.height == 15
    assert (table["cooksd"] >= 0).all() and (table["covratio"] > 0).all()


def test_deleting_what_identifies_a_fixed_effect_gives_nulls():
    # Only subject 308 has the level "rare": without it, f's coefficient is not identified.
    data = mm.load_dataset("sleepstudy").with_columns(
        f=pl.when(pl.col("Subject") == "308").then(pl.lit("rare")).otherwise(pl.lit("common"))
    )
    m = mm.Lmer("Reaction ~ Days + f + (1 | Subject)", data=data)
    m.fit(summarize=False, no_warnings=True)
    one_step = m.influence(level="Subject")
    with pytest.warns(UserWarning, match="1 of 18 refits without one of the levels of Subject failed"):
        exact = m.influence(level="Subject", approx=False)
    for table in (one_step, exact):
        row = table.filter(pl.col("Subject") == "308")
        assert row["cooksd"].is_null().all() and row["covratio"].is_null().all()
        assert table["cooksd"].null_count() == 1
    with pytest.warns(UserWarning, match="1 of 18 training refits failed"):
        cv = m.cross_validate(group="Subject")
    assert cv.folds.filter(pl.col("Subject") == "308")["rmse"].is_null().all()
    assert cv.scores["rmse"] == pytest.approx(
        float(np.sqrt(((cv.predictions["y"] - cv.predictions["prediction"]) ** 2).mean()))
    )
