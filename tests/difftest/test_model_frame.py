"""Regression tests of issue 15 against lme4, on the shared data files it
names (copied to fixtures/data; R's values in fixtures/lme4.json, by
fit_lme4.R): data-dependent terms are evaluated over every row of the data
before incomplete rows are dropped, as R's model frame does; and
random-effects terms tied on their number of levels are ordered as lme4
orders them. The differential harness (test_difftest.py) compares every
number of these cases; the tests here pin what the issue was about."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest
from test_difftest import CASES, REFERENCE, as_array, fit_case, read_data

import mixedmodels as mm
from mixedmodels.exceptions import ColumnError


def case(case_id: str) -> dict:
    return next(c for c in CASES if c["id"] == case_id)


def fitted(case_id: str) -> tuple[mm.Lmer, dict]:
    fit = fit_case(case(case_id))
    assert fit.error is None, fit.error
    return fit.model, REFERENCE[case_id]


def estimate(m: mm.Lmer, term: str) -> tuple[float, float]:
    row = m.coefs.filter(pl.col("term") == term)
    return float(row["Estimate"][0]), float(row["SE"][0])


def test_poly_is_learned_over_every_row_before_incomplete_rows_are_dropped() -> None:
    # R: lmer(y ~ poly(x, 2) + x2 * f + (1 | g), poly_missing.csv): poly(x, 2)1 = 6.0130 (SE 1.442);
    # the same model on the 209 complete rows alone gives 5.3746 (SE 1.357)
    m, ref = fitted("issue15_poly_missing")
    names = list(ref["fixef"]["names"])
    beta, se = as_array(ref["fixef"]["estimate"]), as_array(ref["fixef"]["se"])
    j = names.index("poly(x, 2)1")
    ours, ours_se = estimate(m, "poly(x, 2)1")
    assert ours == pytest.approx(beta[j], rel=1e-5) and beta[j] == pytest.approx(6.0130, abs=1e-4)
    assert ours_se == pytest.approx(se[j], rel=1e-4)
    assert m.nobs == ref["nobs"] == 209
    complete = read_data({}, "poly_missing.csv").drop_nulls(["y", "x2"])
    on_complete_rows = mm.Lmer(m.formula, complete)
    on_complete_rows.fit(summarize=False)
    assert estimate(on_complete_rows, "poly(x, 2)1")[0] == pytest.approx(5.3746, abs=1e-4)


def test_scale_leaves_out_only_its_own_missing_values() -> None:
    # scale(x2) centres on the mean of every non-missing x2, rows with a missing y included
    m, ref = fitted("issue15_scale_missing")
    names = list(ref["fixef"]["names"])
    beta = as_array(ref["fixef"]["estimate"])
    for term in ("(Intercept)", "scale(x2)", "scale(x2):fL4"):
        assert estimate(m, term)[0] == pytest.approx(beta[names.index(term)], rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("case_id", ["issue15_poly_missing", "issue15_scale_missing"])
def test_predict_reuses_the_learned_transform(case_id: str) -> None:
    """R's makepredictcall: new data go through the fitted centring, scaling
    and polynomial coefficients, so the fitted rows predict their fitted values."""
    m, ref = fitted(case_id)
    data = read_data({}, "poly_missing.csv").drop_nulls(["y", "x2"])
    assert np.allclose(m.predict(data.head(25)), m.fits[:25], rtol=1e-12, atol=1e-12)
    new = read_data({}, case(case_id)["newdata"])
    assert np.allclose(m.predict(new), as_array(ref["predict"]["re"]), rtol=1e-5)


def test_poly_of_a_column_with_missing_values_is_an_error_as_in_r() -> None:
    # R: "missing values are not allowed in 'poly'"; raw powers are evaluated row by row
    data = read_data({}, "poly_missing.csv")
    with pytest.raises(ColumnError, match=r"poly\(x2, 2\).*missing at row"):
        mm.Lmer("y ~ poly(x2, 2) + (1 | g)", data).fit(summarize=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = mm.Lmer("y ~ poly(x2, 2, raw = TRUE) + (1 | g)", data)
        raw.fit(summarize=False)
    assert raw.nobs == 209


@pytest.mark.parametrize(
    ("case_id", "order"),
    [
        ("issue15_tied_levels", ["g", "a", "b"]),  # 6, 5, 6 levels: reordered, the tie in reverse formula order
        ("issue15_tied_levels_kept", ["g", "a", "b"]),  # 6, 6, 5: never increasing, formula order kept
        ("issue15_tied_levels_ml", ["g", "a", "b"]),  # 5, 6, 6: reordered
    ],
)
def test_tied_terms_are_ordered_as_lme4_orders_them(case_id: str, order: list[str]) -> None:
    m, ref = fitted(case_id)
    groups = [str(n).split(".")[0] for n in ref["theta_names"]]
    assert list(dict.fromkeys(groups)) == order
    ours = [g for g in m.ranef_var["group"].to_list() if g != "Residual"]
    assert list(dict.fromkeys(ours)) == order
    assert np.allclose(m.theta, as_array(ref["theta"]), atol=1e-4)


def test_tied_levels_theta_matches_the_issue() -> None:
    # issue 15: lme4 orders the terms g, a, b with theta (0, 0.7113, 0)
    m, _ = fitted("issue15_tied_levels")
    assert m.theta == pytest.approx([0.0, 0.7113, 0.0], abs=1e-4)
