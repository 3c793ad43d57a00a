"""Factor levels and contrasts against lme4/lmerTest: pymer4's contrast
weights (``factors={"f": {"A": -1, "B": 0.5, "C": 0.5}}`` and lists of such
dicts), level lists, ``ordered=True``, ``contrasts=``, polars Enum order and
``C(f, ...)`` in the formula. Term names exactly as R writes them, fixed
effects, SEs, Satterthwaite df, REML criterion, and the contrast matrices R
builds from the weights. Reference values from tests/fixtures/contrasts/contrasts.R."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

import mixedmodels as mm
from mixedmodels.contrasts import contrasts_from_weights

REF = json.loads((Path(__file__).parents[1] / "fixtures" / "contrasts" / "contrasts.json").read_text())
CASES = sorted(k for k in REF if k != "r_versions")


def _fit(ref: dict[str, Any]) -> mm.Lmer:
    data = mm.load_dataset(ref["data"])
    for col, levels in (ref.get("enum") or {}).items():
        data = data.with_columns(pl.col(col).cast(pl.String).cast(pl.Enum(levels)))
    m = mm.Lmer(ref["formula"], data=data)
    m.fit(
        summarize=False,
        no_warnings=True,
        factors=ref.get("factors"),
        ordered=ref["ordered"],
        contrasts=ref.get("contrasts"),
    )
    return m


@pytest.mark.parametrize("case", CASES)
def test_contrasts_match_lmertest(case):
    ref = REF[case]
    m = _fit(ref)
    assert m.coefs["term"].to_list() == ref["terms"]
    np.testing.assert_allclose(m.coefs["Estimate"], ref["fixef"], rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(m.coefs["SE"], ref["se"], rtol=1e-4)
    np.testing.assert_allclose(m.coefs["DF"], ref["df"], rtol=1e-3)
    assert abs(m.deviance - ref["REMLcrit"]) < 1e-4


@pytest.mark.parametrize("case", [c for c in CASES if "contrast_matrix" in REF[c]])
def test_weights_give_rs_contrast_matrix(case):
    ref = REF[case]
    m = _fit(ref)
    assert m.contrast_codes is not None
    for col, cm in ref["contrast_matrix"].items():
        assert m.factors is not None and m.factors[col] == cm["levels"]
        np.testing.assert_allclose(m.contrast_codes[col], np.array(cm["rows"]), atol=1e-12)


def test_weight_contrast_estimates_the_weighted_means():
    """The coefficient of a weights row is that row (centred) times the level means."""
    d = mm.load_dataset("penicillin")
    w = {"A": 1.0, "B": -1.0, "C": 0.0, "D": 0.0, "E": 0.0, "F": 0.0}
    m = mm.Lmer("diameter ~ sample + (1 | plate)", d)
    coefs = m.fit(summarize=False, factors={"sample": w})
    means = d.group_by("sample").agg(pl.col("diameter").mean()).sort("sample")["diameter"].to_numpy()
    assert coefs["term"][1] == "sample1"
    assert coefs["Estimate"][1] == pytest.approx(means[0] - means[1], rel=1e-8)


def test_full_set_of_weights_is_inverted_exactly():
    w = np.array([[-1, 0.5, 0.5], [0, -1, 1]])
    cm = contrasts_from_weights(w)
    np.testing.assert_allclose(w @ cm, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(cm.sum(axis=0), 0, atol=1e-12)


def test_one_row_of_weights_is_completed_orthogonally():
    cm = contrasts_from_weights([3, -1, -1, -1])
    full = np.column_stack([np.ones(4), cm])
    gram = full.T @ full
    np.testing.assert_allclose(gram[1:, 2:][0], 0, atol=1e-12)  # the given column is orthogonal to the rest
    np.testing.assert_allclose(cm[:, 1:].T @ cm[:, 1:], np.eye(2), atol=1e-12)


@pytest.mark.parametrize(
    ("factors", "contrasts", "message"),
    [
        ({"Evit": {"Evit000": -1, "Evit100": 1}}, None, "no contrast weight"),
        ({"Evit": {"Evit000": -1, "Evit100": 1, "Evit200": 0, "Evit300": 0}}, None, "do not occur"),
        ({"Evit": [{"Evit000": -1, "Evit100": 1, "Evit200": 0}] * 2}, None, "collinear"),
        ({"Evit": [{"Evit000": -1, "Evit100": 1, "Evit200": 0}, {"Evit000": 1}, {"Evit200": 1}]}, None, "at most 2"),
        ({"Evit": {"Evit000": 1, "Evit100": 1, "Evit200": 1}}, None, "collinear"),
        ({"Evit": ["Evit000", {"Evit100": 1}]}, None, "only levels or only dicts"),
        ({"Evit": "Evit000"}, None, "not a string"),
        ({"Evit": {"Evit000": -1, "Evit100": 0.5, "Evit200": 0.5}}, {"Evit": "sum"}, "leave them out"),
        ({"Evit": {"Evit000": float("nan"), "Evit100": 1, "Evit200": 0}}, None, "finite number"),
        ({"Evit": ["Evit000", "Evit100", "Evit200", "Evit000"]}, None, r"\['Evit000'\] are listed more than once"),
        (None, {"Evit": np.ones((3, 0))}, "k >= 1"),
        (None, {"Evit": np.full((3, 2), np.inf)}, "finite number"),
    ],
)
def test_bad_weights_are_refused(factors, contrasts, message):
    m = mm.Lmer("Weight ~ Time + Evit + (1 | Pig)", mm.load_dataset("dietox"))
    with pytest.raises(mm.DataError, match=message):
        m.fit(summarize=False, factors=factors, contrasts=contrasts)


def test_weights_survive_predict_and_orthogonal_refit():
    d = mm.load_dataset("dietox")
    m = mm.Lmer("Weight ~ Time + Evit + (1 | Pig)", d)
    m.fit(summarize=False, factors={"Evit": {"Evit200": 1, "Evit000": -1, "Evit100": 0}})
    np.testing.assert_allclose(m.predict(d), m.fits, rtol=1e-10)
    table = m.anova(force_orthogonal=True)
    assert m.coefs["term"].to_list() == ["(Intercept)", "Time", "Evit.L", "Evit.Q"]
    assert m.factors == {"Evit": ["Evit200", "Evit000", "Evit100"]}
    assert table["term"].to_list() == ["Time", "Evit"]


def test_ordered_ignores_weight_factors():
    """pymer4: ordered=True applies to level lists, not to contrast weights."""
    d = mm.load_dataset("dietox")
    m = mm.Lmer("Weight ~ Time + Evit + Cu + (1 | Pig)", d)
    m.fit(
        summarize=False,
        ordered=True,
        factors={"Evit": {"Evit000": -1, "Evit100": 0.5, "Evit200": 0.5}, "Cu": ["Cu000", "Cu035", "Cu175"]},
    )
    assert m.coefs["term"].to_list() == ["(Intercept)", "Time", "Evit1", "Evit2", "Cu.L", "Cu.Q"]


def test_a_contrast_for_a_variable_not_in_the_model_warns():
    m = mm.Lmer("Weight ~ Time + Evit + (1 | Pig)", mm.load_dataset("dietox"))
    with pytest.warns(UserWarning, match="variable 'Cu' is not a factor of the fixed effects; its contrast is ignored"):
        m.fit(summarize=False, contrasts={"Evit": "sum", "Cu": "sum"})
    assert m.coefs["term"].to_list() == ["(Intercept)", "Time", "Evit1", "Evit2"]


def test_polynomial_contrasts_of_many_levels_stay_finite():
    # 159 ordered levels: powers of the centred scores (up to 79^158) overflowed to NaN
    # contrast columns; the basis spans the same space as treatment coding, so the fits agree.
    rng = np.random.default_rng(0)
    levels = [f"L{i:03d}" for i in range(159)]
    n = len(levels) * 6
    d = pl.DataFrame({"y": rng.normal(size=n), "f": np.repeat(levels, 6), "g": [f"g{i % 30}" for i in range(n)]})
    poly = mm.Lmer("y ~ f + (1 | g)", data=d)
    poly.fit(summarize=False, factors={"f": levels}, ordered=True, no_warnings=True)
    assert poly.coefs["term"][1:4].to_list() == ["f.L", "f.Q", "f.C"]
    assert np.isfinite(poly.coefs["Estimate"].to_numpy()).all()
    treatment = mm.Lmer("y ~ f + (1 | g)", data=d)
    treatment.fit(summarize=False, no_warnings=True)
    np.testing.assert_allclose(poly.fits, treatment.fits, atol=1e-8)
