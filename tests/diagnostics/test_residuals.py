"""m.hlm_resid() and m.hlm_augment(): HLMdiag's residual tables."""

from __future__ import annotations

import numpy as np
import pytest
from diag_refs import by_label, diag_reference, fit_reference, sleepstudy_fit

import mixedmodels as mm
from mixedmodels.diagnostics import clean_name
from mixedmodels.exceptions import UnavailableError


@pytest.fixture
def sleepstudy():
    return sleepstudy_fit()


def _compare(table, ref, columns, what):
    for c in columns:
        want = np.array([np.nan if v is None else v for v in ref[c]], dtype=float)
        got = table[c].cast(float).fill_null(np.nan).to_numpy()
        scale = np.nanmax(np.abs(want))
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6 * scale, err_msg=f"{what} {c}")


@pytest.mark.parametrize("case", ["sleepstudy_diag", "dietox_diag", "machines_diag"])
def test_observation_level_matches_hlmdiag(case):
    m, _ = fit_reference(case)
    ref = diag_reference(f"{case}_extra")["hlm_resid"]["level1"]
    for standardize, key in [(False, "plain"), (True, "standardized"), ("semi", "semi")]:
        table = m.hlm_resid(standardize=standardize)
        columns = [c for c in ref[key] if c.startswith(".")]
        assert [c for c in table.columns if c.startswith(".")] == columns
        _compare(table, ref[key], columns, f"{case} {key}")


def test_group_level_matches_hlmdiag(sleepstudy):
    m, _ = sleepstudy
    ref = diag_reference("sleepstudy_diag_extra")["hlm_resid"]["Subject"]
    for standardize, key in [(False, "plain"), (True, "standardized")]:
        table = m.hlm_resid(level="Subject", standardize=standardize)
        assert table.columns == list(ref[key])
        for c in table.columns[1:]:
            got = by_label(table, "Subject", ref[key]["Subject"], c)
            np.testing.assert_allclose(got, ref[key][c], rtol=1e-4, err_msg=c)


def test_augment_joins_residuals_and_influence(sleepstudy):
    m, _ = sleepstudy
    aug = m.hlm_augment()
    resid, infl = m.hlm_resid(), m.influence()
    assert aug.columns == [*resid.columns, *infl.columns[1:]]
    assert aug.height == m.nobs
    group = m.hlm_augment(level="Subject")
    assert group.columns[0] == "Subject" and "cooksd" in group.columns and ".ls.days" in group.columns


def test_clean_names_are_hlmdiag_s():
    assert clean_name("(Intercept)") == "intercept"
    assert clean_name("Days") == "days"
    assert clean_name("MachineB") == "machine_b"
    assert clean_name("log(x):HHValue") == "log_x_hh_value"


def test_generalized_models_have_no_residual_tables():
    m = mm.Lmer(
        "cbind(incidence, size - incidence) ~ period + (1 | herd)", data=mm.load_dataset("cbpp"), family="binomial"
    )
    m.fit(summarize=False, no_warnings=True)
    with pytest.raises(UnavailableError, match="linear mixed models"):
        m.hlm_resid()
    assert not hasattr(m, "hlm_augment")
