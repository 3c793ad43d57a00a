"""Formula features against lme4: term names exactly as R writes them, and
the fit (fixed effects, SEs, Satterthwaite df, REML criterion). Reference
values from tests/fixtures/formula/formula_features.R."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
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
