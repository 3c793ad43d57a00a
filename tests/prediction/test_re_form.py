"""``predict(re_form=...)`` and ``simulate(re_form=...)``, lme4's ``re.form``.

References: tests/fixtures/predict/re_form.json (made by re_form.R there), on the
fitting rows and on new rows with an unseen level. The linear models were fitted
in R with a tight bobyqa, so predictions compare at 1e-6; the binomial model
with glmer's defaults, whose estimates ours match to ~1e-5 (see the GLMM parity
tests), so its predictions compare at 5e-5."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

import mixedmodels as mm

REF = json.loads((Path(__file__).parents[1] / "fixtures" / "predict" / "re_form.json").read_text())["cases"]
# lme4 deparses (Days || Subject) as its expansion; fit the formula as written
FORMULA = {"sleepstudy_uncorr": "Reaction ~ Days + (Days || Subject)"}
REL = {"cbpp_binomial": 5e-5}


@pytest.fixture(scope="module", params=sorted(REF))
def case(request: pytest.FixtureRequest) -> tuple[mm.MixedModel, dict[str, Any]]:
    ref = REF[request.param]
    family = "binomial" if ref["family"] == "binomial" else "gaussian"
    m = mm.Lmer(FORMULA.get(ref["id"], ref["formula"]), data=mm.load_dataset(ref["data"]), family=family)
    m.fit(summarize=False, no_warnings=True)
    return m, ref


def test_predictions_match_lme4(case: Any) -> None:
    m, ref = case
    new = pl.DataFrame(ref["newdata"]).with_columns(pl.col(pl.Int64).cast(pl.Float64))
    rel = REL.get(ref["id"], 1e-6)
    for p in ref["predictions"]:
        kw = {} if p["re_form"] == "NULL" else {"re_form": p["re_form"]}
        got = m.predict(m.data, pred_type=ref["type"], **kw)
        np.testing.assert_allclose(got, p["fitted_rows"], rtol=rel, err_msg=p["re_form"])
        got = m.predict(new, pred_type=ref["type"], **kw)
        np.testing.assert_allclose(got, p["new_rows"], rtol=rel, err_msg=p["re_form"])


def test_spellings_of_none_and_all() -> None:
    sleep = mm.load_dataset("sleepstudy")
    m = mm.Lmer("Reaction ~ Days + (Days | Subject)", data=sleep)
    m.fit(summarize=False)
    population = m.predict(sleep, use_rfx=False)
    for none in ("~0", "~ 0", "NA", False, float("nan")):
        np.testing.assert_array_equal(m.predict(sleep, re_form=none), population)
    np.testing.assert_array_equal(m.predict(sleep, re_form=True), m.predict(sleep))
    # re_form decides over use_rfx
    np.testing.assert_array_equal(m.predict(sleep, use_rfx=False, re_form="(Days | Subject)"), m.predict(sleep))


def test_only_the_named_grouping_factors_are_read() -> None:
    """Conditioning on the plates needs no sample column, as in R."""
    pen = mm.load_dataset("penicillin")
    m = mm.Lmer("diameter ~ 1 + (1 | plate) + (1 | sample)", data=pen)
    m.fit(summarize=False)
    with_sample = m.predict(pen, re_form="(1 | plate)")
    np.testing.assert_array_equal(m.predict(pen.drop("sample"), re_form="(1 | plate)"), with_sample)
    with pytest.raises(mm.ColumnError, match="sample"):
        m.predict(pen.drop("sample"))


def test_bad_re_form_is_refused() -> None:
    sleep = mm.load_dataset("sleepstudy")
    m = mm.Lmer("Reaction ~ Days + (1 | Subject)", data=sleep)
    m.fit(summarize=False)
    with pytest.raises(mm.DataError, match="'Days', which has no random effects in the model"):
        m.predict(sleep, re_form="(1 | Days)")
    with pytest.raises(mm.DataError, match="random effect 'Days' of 'Subject', which the model does not have"):
        m.predict(sleep, re_form="(0 + Days | Subject)")
    with pytest.raises(mm.FormulaError, match="re_form takes random-effect terms only"):
        m.predict(sleep, re_form="(1 | Subject) + Days")
    with pytest.raises(mm.DataError, match="re_form must be None, False"):
        m.predict(sleep, re_form=3)


def test_simulate_conditions_on_the_named_terms() -> None:
    """Conditioned on the plates, a simulated response has mean X beta + b_plate
    and variance sigma^2 + var(sample effect). Over 400 draws a row's mean is
    within 4 standard errors (sd / 20) of that, and the pooled variance over
    144 rows x 400 draws within 5% (its relative standard error is ~1%)."""
    pen = mm.load_dataset("penicillin")
    m = mm.Lmer("diameter ~ 1 + (1 | plate) + (1 | sample)", data=pen)
    m.fit(summarize=False)
    sims = m.simulate(400, re_form="(1 | plate)", seed=5).to_numpy()
    mean = m.predict(pen, re_form="(1 | plate)")
    var_sample = m.ranef_var.filter(pl.col("group") == "sample")["Var"][0]
    sd = np.sqrt(m.sigma**2 + var_sample)
    assert np.all(np.abs(sims.mean(axis=1) - mean) < 4 * sd / 20)
    assert ((sims - mean[:, None]) ** 2).mean() == pytest.approx(sd**2, rel=0.05)
    # naming every term is use_rfx=True, naming none use_rfx=False
    both = "(1 | plate) + (1 | sample)"
    np.testing.assert_array_equal(m.simulate(3, re_form=both, seed=2), m.simulate(3, seed=2))
    np.testing.assert_array_equal(m.simulate(3, re_form="~0", seed=2), m.simulate(3, use_rfx=False, seed=2))


def test_simulate_refuses_part_of_a_term() -> None:
    sleep = mm.load_dataset("sleepstudy")
    m = mm.Lmer("Reaction ~ Days + (Days | Subject)", data=sleep)
    m.fit(summarize=False)
    with pytest.raises(mm.DataError, match="simulate\\(\\) conditions on whole random-effect terms"):
        m.simulate(2, re_form="(1 | Subject)")


def test_glmm_simulation_with_re_form() -> None:
    cbpp = mm.load_dataset("cbpp")
    m = mm.Lmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", data=cbpp, family="binomial")
    m.fit(summarize=False)
    np.testing.assert_array_equal(m.simulate(2, re_form="(1 | herd)", seed=3), m.simulate(2, seed=3))
    np.testing.assert_array_equal(m.simulate(2, re_form=False, seed=3), m.simulate(2, use_rfx=False, seed=3))
