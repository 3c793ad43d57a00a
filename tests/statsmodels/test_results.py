"""The statsmodels-style results beyond what statsmodels' own tests check:
predictions of new data, z tests and intervals, polars input, and the errors
of what has no lme4 translation."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import mixedmodels as mm
import mixedmodels.formula.api as smf


@pytest.fixture(scope="module")
def result():
    data = mm.load_dataset("dietox").to_pandas()
    return smf.mixedlm("Weight ~ Time", data, groups=data["Pig"]).fit()


def test_predict_new_data_is_the_fixed_part(result):
    new = pd.DataFrame({"Time": [1.0, 5.0, 12.0]}, index=[10, 20, 30])
    expected = result.fe_params["Intercept"] + result.fe_params["Time"] * new["Time"]
    predicted = result.predict(new)
    assert list(predicted.index) == [10, 20, 30]
    assert predicted.to_numpy() == pytest.approx(expected.to_numpy())
    assert result.predict().to_numpy() == pytest.approx(result.model.exog @ result.fe_params.to_numpy())


def test_z_tests_and_intervals(result):
    z = result.params / result.bse
    assert result.tvalues.to_numpy() == pytest.approx(z.to_numpy())
    assert result.pvalues.to_numpy() == pytest.approx(2 * stats.norm.sf(np.abs(z.to_numpy())))
    ci = result.conf_int(alpha=0.1)
    q = stats.norm.ppf(0.95)
    assert ci[0].to_numpy() == pytest.approx((result.params - q * result.bse).to_numpy())
    assert list(ci.index) == ["Intercept", "Time", "Group Var"]
    assert result.cov_params().loc["Time", "Time"] == pytest.approx(result.lmer.vcov[1, 1])
    # the Lmer underneath has lme4's summary and lmerTest's tests
    assert result.lmer.coefs["Estimate"].to_list() == pytest.approx(result.fe_params.to_list())


def test_polars_data_and_groups_by_name():
    data = mm.load_dataset("dietox")
    r = mm.mixedlm("Weight ~ Time", data, groups="Pig", re_formula="~Time").fit(reml=False)
    assert r.method == "ML" and np.isfinite(r.aic) and r.aic == pytest.approx(r.lmer.AIC)
    assert r.model.data.exog_re_names == ["Pig", "Time"]
    assert set(r.random_effects) == set(data["Pig"].unique().to_list())


def test_untranslatable_descriptions_are_refused():
    data = mm.load_dataset("dietox")
    with pytest.raises(NotImplementedError, match="one column a component"):
        mm.mixedlm("Weight ~ Time", data, groups="Pig", vc_formula={"a": "0 + Time + Start"})
    with pytest.raises(NotImplementedError, match="'0 \\+ \\.\\.\\.'"):
        mm.mixedlm("Weight ~ Time", data, groups="Pig", vc_formula={"a": "C(Litter)"})
    with pytest.raises(mm.FormulaError, match="groups=, re_formula= and vc_formula="):
        mm.mixedlm("Weight ~ Time + (1 | Pig)", data, groups="Pig")
    with pytest.raises(AttributeError, match="'groups' is a required keyword"):
        mm.MixedLM.from_formula("Weight ~ Time", data)
    model = mm.mixedlm("Weight ~ Time", data, groups="Pig")
    with pytest.raises(NotImplementedError, match="penalized"):
        model.fit(fe_pen=1)
