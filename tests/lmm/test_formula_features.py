"""Formula features against lme4: term names exactly as R writes them, and
the fit (fixed effects, SEs, Satterthwaite df, REML criterion). Reference
values from tests/fixtures/formula/formula_features.R."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import mixedmodels as mm

REF = json.loads((Path(__file__).parents[1] / "fixtures" / "formula" / "formula_features.json").read_text())


@pytest.mark.parametrize("case", sorted(REF))
def test_formula_feature_matches_lme4(case):
    ref = REF[case]
    m = mm.Lmer(ref["formula"][0], data=mm.load_dataset(ref["data"][0]))
    m.fit(summarize=False, no_warnings=True)
    assert m.coefs["term"].to_list() == ref["terms"]
    np.testing.assert_allclose(m.coefs["Estimate"], ref["fixef"], rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(m.coefs["SE"], ref["se"], rtol=1e-4)
    np.testing.assert_allclose(m.coefs["DF"], ref["df"], rtol=1e-3)
    assert abs(m.deviance - ref["REMLcrit"][0]) < 1e-4
    assert list(m.grps) == list(dict.fromkeys(ref["groups"]))


def test_a_huge_power_is_the_full_expansion():
    # R: (a + b + c)^k for k >= 3 is (a + b + c)^3; a power of 1e9 once ran 1e9 expansion steps.
    d = mm.load_dataset("dietox")
    full = mm.Lmer("Weight ~ (Time + Evit + Cu)^3 + (1 | Pig)", data=d)
    full.fit(summarize=False)
    huge = mm.Lmer("Weight ~ (Time + Evit + Cu)^1e9 + (1 | Pig)", data=d)
    huge.fit(summarize=False)
    assert huge.coefs["term"].to_list() == full.coefs["term"].to_list()
    assert len(full.coefs) == 18  # 1 + (1 + 2 + 2) + (2 + 2 + 4) + 4


def test_unicode_spaces_separate_tokens():
    # A no-break space (U+00A0, Unicode white space) pasted from a web page reads as a space.
    d = mm.load_dataset("sleepstudy")
    m = mm.Lmer("Reaction ~\u00a0Days + (1\u00a0| Subject)", data=d)
    m.fit(summarize=False)
    assert m.coefs["term"].to_list() == ["(Intercept)", "Days"]


def test_relevel_with_a_number_takes_the_level_at_that_position():
    # lme4: lmer(Reaction ~ relevel(factor(Days), ref = 3) + (1 | Subject), sleepstudy): ref = 3 is level "2"
    m = mm.Lmer("Reaction ~ relevel(factor(Days), ref = 3) + (1 | Subject)", data=mm.load_dataset("sleepstudy"))
    m.fit(summarize=False)
    assert m.coefs["term"][1] == "relevel(factor(Days), ref = 3)0"
    np.testing.assert_allclose(m.coefs["Estimate"][:3], [265.3619, -8.7100944444, -0.8661444444], rtol=1e-8)


def test_columns_named_like_r_constants_are_read_from_the_data():
    # R's model frame looks in the data first: F and T here are columns, not FALSE and TRUE.
    # lme4: lmer(Reaction ~ F + T + (1 | Subject), d) with F = ifelse(Days < 5, "lo", "hi"), T = 2 Days
    d = mm.load_dataset("sleepstudy").with_columns(
        F=pl.when(pl.col("Days") < 5).then(pl.lit("lo")).otherwise(pl.lit("hi")), T=pl.col("Days") * 2.0
    )
    m = mm.Lmer("Reaction ~ F + T + (1 | Subject)", data=d)
    m.fit(summarize=False)
    assert m.coefs["term"].to_list() == ["(Intercept)", "Flo", "T"]
    np.testing.assert_allclose(m.coefs["Estimate"], [258.322709167, -5.8533575, 4.790206806], rtol=1e-8)
    assert m.anova()["term"].to_list() == ["F", "T"]
    np.testing.assert_allclose(m.predict(d.head(3)), m.fits[:3], rtol=1e-12)
