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


def sleepstudy_ft() -> pl.DataFrame:
    """sleepstudy with columns named like R's constants F and T (as formula_features.R builds it)."""
    return mm.load_dataset("sleepstudy").with_columns(
        F=pl.when(pl.col("Days") < 5).then(pl.lit("lo")).otherwise(pl.lit("hi")), T=pl.col("Days") * 2.0
    )


def load(name: str) -> pl.DataFrame:
    return sleepstudy_ft() if name == "sleepstudy_FT" else mm.load_dataset(name)


@pytest.mark.parametrize("case", sorted(REF))
def test_formula_feature_matches_lme4(case):
    ref = REF[case]
    m = mm.Lmer(ref["formula"][0], data=load(ref["data"][0]))
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


def test_columns_named_like_r_constants_serve_every_method():
    # The fit is checked against lme4 in r_constant_columns; the methods that read the
    # data again (anova, predict) must read the F and T columns too, not the constants.
    d = sleepstudy_ft()
    m = mm.Lmer("Reaction ~ F + T + (1 | Subject)", data=d)
    m.fit(summarize=False)
    assert m.anova()["term"].to_list() == ["F", "T"]
    np.testing.assert_allclose(m.predict(d.head(3)), m.fits[:3], rtol=1e-12)
