"""Lmer/Glmer: pymer4's fit options (control, old_optimizer, rank, permute,
summary=), the tables pymer4 kept on the model, and R's coef() layout."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from mixedmodels import DataError, Lmer, load_dataset
from mixedmodels.control import parse_control


@pytest.fixture(scope="module")
def sleep() -> pl.DataFrame:
    return load_dataset("sleepstudy")


def test_control_text_and_dicts_map_onto_the_optimizer() -> None:
    c = parse_control("optimizer='Nelder_Mead', optCtrl = list(FtolAbs=1e-8, XtolRel=1e-7, maxfun = 2e4)")
    assert c.optimizer == "Nelder_Mead"
    assert c.settings == {"ftol_abs": 1e-8, "rho_end": 1e-7, "max_feval": 20000.0}
    c = parse_control('calc.derivs = FALSE, check.conv.singular = .makeCC(action = "ignore")')
    assert c.derivatives is False and c.checks == {"check.conv.singular": "ignore"}
    assert parse_control({"optimizer": "bobyqa", "maxfun": 500, "optCtrl": {"xtol_abs": 1e-6}}).settings == {
        "max_feval": 500.0,
        "rho_end": 1e-6,
    }
    assert parse_control("optimizer=c('bobyqa', 'Nelder_Mead')").optimizer == "bobyqa, Nelder_Mead"
    with pytest.raises(DataError, match=r"unknown option 'check\.rankX'"):
        parse_control("check.rankX = 'ignore'")
    with pytest.raises(DataError, match="unknown optimizer"):
        parse_control("optimizer = 'simplex'")
    with pytest.raises(DataError, match="tolerance is lme4's"):
        parse_control("check.conv.grad = .makeCC('warning', tol = 1e-3)")
    with pytest.raises(DataError, match="cannot read"):
        parse_control("optCtrl = list(maxfun = 10) ;")


def test_control_reaches_the_fit_and_its_warnings(sleep: pl.DataFrame) -> None:
    m = Lmer("Reaction ~ Days + (Days | Subject)", data=sleep)
    m.fit(summarize=False, control={"maxfun": 12}, no_warnings=True)
    assert m.optsummary["feval"] <= 13 and any("stopped before converging" in w for w in m.warnings)
    tight = m.fit(summarize=False, control="optCtrl = list(xtol_abs = 1e-10)")
    default = Lmer("Reaction ~ Days + (Days | Subject)", data=sleep).fit(summarize=False)
    np.testing.assert_allclose(tight["Estimate"], default["Estimate"], rtol=1e-6)
    # calc.derivs = FALSE: no Satterthwaite df (lme4's table)
    m.fit(summarize=False, control="calc.derivs = FALSE")
    assert "DF" not in m.coefs.columns and m.ddf == "lme4"
    with pytest.raises(DataError, match="EITHER control OR old_optimizer"):
        m.fit(summarize=False, control="optimizer='bobyqa'", old_optimizer=True)
    m.fit(summarize=False, old_optimizer=True)
    assert m.control.optimizer == "bobyqa"


def test_singular_warnings_can_be_ignored_or_stop() -> None:
    d = load_dataset("dyestuff2")
    m = Lmer("Yield ~ 1 + (1 | Batch)", data=d)
    m.fit(summarize=False, no_warnings=True)
    assert any(w.startswith("boundary (singular) fit") for w in m.warnings)
    m.fit(summarize=False, control={"check.conv.singular": "ignore"})
    assert m.warnings == []
    with pytest.raises(DataError, match=r"check\.conv\.singular = 'stop'"):
        m.fit(summarize=False, control={"check.conv.singular": "stop"})


def test_permute_shuffles_within_subjects_reproducibly(sleep: pl.DataFrame, capsys: pytest.CaptureFixture[str]) -> None:
    m = Lmer("Reaction ~ Days + (1 | Subject)", data=sleep)
    a = m.fit(permute=600, seed=4, summary=False)
    assert capsys.readouterr().out == ""  # pymer4's summary= alias
    b = m.fit(permute=600, seed=4, summarize=False)
    assert a.equals(b) and m.sig_type == "permutation (600)"
    assert a.columns == ["term", "Estimate", "2.5_ci", "97.5_ci", "SE", "Num_perm", "T-stat", "Perm-P-val", "Sig"]
    assert a["Perm-P-val"][1] == pytest.approx(1 / 601)
    lme4_only = m.fit(permute=600, seed=4, summarize=False, ddf="lme4")
    assert "Num_perm" in lme4_only.columns and "Perm-P-val" in lme4_only.columns
    g = Lmer("incidence ~ period + (1 | herd)", data=load_dataset("cbpp"), family="poisson")
    first = g.fit(permute=100, seed=2, summarize=False, no_warnings=True)
    assert "Perm-P-val" in first.columns and "Z-stat" in first.columns and g.sig_type == "permutation (100)"
    assert first.equals(g.fit(permute=100, seed=2, summarize=False, no_warnings=True))
    # incidence is shuffled across periods within each herd: the strong period effects stand out
    assert (first["Perm-P-val"][1:] < 0.05).all()


def test_rank_within_groups_matches_ranked_data(sleep: pl.DataFrame) -> None:
    m = Lmer("Reaction ~ Days + (1 | Subject)", data=sleep)
    m.fit(summarize=False, rank=True, rank_group="Subject", no_warnings=True)
    ranked = sleep.with_columns(
        pl.col("Reaction").rank("average").over("Subject"),
        pl.col("Days").cast(pl.Float64).rank("average").over("Subject"),
    )
    direct = Lmer("Reaction ~ Days + (1 | Subject)", data=ranked).fit(summarize=False, no_warnings=True)
    np.testing.assert_allclose(m.coefs["Estimate"], direct["Estimate"], rtol=1e-8)
    excluded = m.fit(summarize=False, rank=True, rank_group="Subject", rank_exclude_cols="Days", no_warnings=True)
    only_response = Lmer("Reaction ~ Days + (1 | Subject)", data=ranked.with_columns(sleep["Days"]))
    only_response.fit(summarize=False, no_warnings=True)
    np.testing.assert_allclose(excluded["Estimate"], only_response.coefs["Estimate"], rtol=1e-8)
    assert excluded["Estimate"][0] != pytest.approx(direct["Estimate"][0])
    with pytest.raises(DataError, match="rank_group"):
        m.fit(summarize=False, rank=True)


def test_tables_pymer4_kept_on_the_model(sleep: pl.DataFrame) -> None:
    data = sleep.with_columns(
        pl.when(pl.int_range(pl.len()) == 5).then(None).otherwise(pl.col("Reaction")).alias("Reaction"),
        grp=pl.when(pl.col("Days") < 5).then(pl.lit("early")).otherwise(pl.lit("late")),
    )
    m = Lmer("Reaction ~ grp + (1 | Subject)", data=data)
    m.fit(summarize=False, no_warnings=True, factors={"grp": ["late", "early"]})
    # fits and residuals on model.data, null on the row the fit left out
    assert m.data["fits"][5] is None and m.data["residuals"].null_count() == 1
    np.testing.assert_allclose(m.data["fits"].drop_nulls(), m.fits)
    est, con = m.post_hoc("grp", summarize=False)
    assert m.marginal_estimates is est and m.marginal_contrasts is con
    m.post_hoc("grp", summarize=False, verbose=True)
    m.anova(force_orthogonal=True)
    assert m.factors_prev_ == {"grp": ["late", "early"]}


def test_coef_tables_have_every_random_effect_for_every_factor() -> None:
    # R's coef(): (Days | Subject) + (1 | grp) gives both tables (Intercept) and Days,
    # and a random effect without a fixed effect is a column of its own (zero where absent).
    sleep = load_dataset("sleepstudy").with_columns(grp=(pl.col("Subject").cast(pl.Int64) % 3).cast(pl.String))
    m = Lmer("Reaction ~ 1 + (Days | Subject) + (1 | grp)", data=sleep)
    m.fit(summarize=False, no_warnings=True)
    assert m.fixef["Subject"].columns == ["level", "(Intercept)", "Days"]
    assert m.fixef["grp"].columns == ["level", "(Intercept)", "Days"]
    assert (m.fixef["grp"]["Days"] == 0).all()
    beta0 = m.coefs["Estimate"][0]
    np.testing.assert_allclose(m.fixef["grp"]["(Intercept)"], beta0 + m.ranef["grp"]["(Intercept)"].to_numpy())
