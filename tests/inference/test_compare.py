"""Model comparison against lme4's anova(m0, m1, ...) and lmerTest's ranova:
the reference fixtures (fields `lrt`, `lrt_multi`, `ranova`) and, for the
cases they do not cover (weights, offsets, ML fits, reduce.terms = FALSE,
`||`, several slopes, ordered factors), values printed by R 4.2.2 with
lme4 1.1-31 and lmerTest 3.1-3 (the R calls are quoted next to each).

Tolerances: logLik / AIC / BIC / deviance abs 1e-4 (the objective's),
Chisq / LRT abs 1e-3, p-values rel 1e-3."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import polars.testing
import pytest

import mixedmodels as mm
from mixedmodels import _core
from mixedmodels.compare import _bar_text, _drop_scope, _formula_text, _reductions, anova, ranova

from conftest import as_list, fit_case, load_reference

LL_TOL = 1e-4
CHISQ_TOL = 1e-3
P_RTOL = 1e-3

RANOVA_CASES = [
    "sleepstudy_compare_many",
    "machines_sum",
    "machines_helmert",
    "machines_custom",
    "dietox_evit_relevel",
    "sleepstudy_unbalanced_kr_extra",
    "penicillin_ranova",
    "pastes_ranova",
]


def fit(formula: str, data: pl.DataFrame, **opts) -> mm.Lmer:
    m = mm.Lmer(formula, data=data)
    m.fit(summarize=False, no_warnings=True, **opts)
    return m


def quiet_anova(*models, **kw) -> pl.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return anova(*models, **kw)


def assert_p(actual, expected):
    if expected is None:
        assert actual is None
    else:
        assert actual == pytest.approx(expected, rel=P_RTOL, abs=1e-300)


def check_ranova(table: pl.DataFrame, expected: list[dict]) -> None:
    """`expected`: rows with term, npar, logLik, AIC, LRT, Df, p (fixture layout)."""
    assert table.columns == ["term", "npar", "logLik", "AIC", "LRT", "Df", "P-val"]
    assert table["term"].to_list() == [r["term"] for r in expected]
    assert table["npar"].to_list() == [r["npar"] for r in expected]
    np.testing.assert_allclose(table["logLik"], [r["logLik"] for r in expected], rtol=0, atol=LL_TOL)
    np.testing.assert_allclose(table["AIC"], [r["AIC"] for r in expected], rtol=0, atol=2 * LL_TOL)
    assert table["LRT"][0] is None and table["Df"][0] is None and table["P-val"][0] is None
    for row, ref in zip(table.iter_rows(named=True), expected, strict=True):
        if ref["LRT"] is not None:
            assert row["LRT"] == pytest.approx(ref["LRT"], abs=CHISQ_TOL)
            assert row["Df"] == ref["Df"]
        assert_p(row["P-val"], ref["p"])


def rows(terms, npar, loglik, aic, lrt, df, p):
    return [
        {"term": t, "npar": k, "logLik": ll, "AIC": a, "LRT": x, "Df": d, "p": pv}
        for t, k, ll, a, x, d, pv in zip(terms, npar, loglik, aic, lrt, df, p, strict=True)
    ]


# ------------------------------------------------------------- anova (LRT)
def test_lrt_two_models_refits_with_ml():
    m, ref = fit_case("sleepstudy_slope_reml")
    lrt = ref["lrt"]
    assert lrt["reduced"] == ". ~ . - (Days | Subject) + (1 | Subject)"
    m0 = fit("Reaction ~ Days + (1 | Subject)", m.data)
    before = (m.REML, m.logLike, m0.REML, m0.logLike)
    with pytest.warns(UserWarning, match=r"refitting model\(s\) with ML \(instead of REML\)"):
        table = anova(m0, m)
    assert table.columns == ["model", "formula", "npar", "AIC", "BIC", "logLik", "deviance", "Chisq", "Df", "P-val"]
    assert table["model"].to_list() == ["model1", "model2"]
    assert table["formula"].to_list() == [m0.formula, m.formula]
    np.testing.assert_allclose(table["logLik"], lrt["logLik"], rtol=0, atol=LL_TOL)
    np.testing.assert_allclose(table["AIC"], lrt["AIC"], rtol=0, atol=LL_TOL)
    assert table["Chisq"][1] == pytest.approx(lrt["chisq"], abs=CHISQ_TOL)
    assert table["Df"][1] == lrt["df"]
    assert_p(table["P-val"][1], lrt["p"])
    assert table["Chisq"][0] is None and table["Df"][0] is None and table["P-val"][0] is None
    # the user's REML fits are untouched
    assert (m.REML, m.logLike, m0.REML, m0.logLike) == before
    assert m._fit.reml and m0._fit.reml


def test_lrt_multi_sorted_by_npar_named_by_keyword():
    m0, ref = fit_case("sleepstudy_compare_many")
    spec = ref["lrt_multi"]
    assert [x["update"] for x in spec["models"][1:]] == [
        ". ~ . - (Days | Subject) + (1 | Subject)",
        ". ~ . - (Days | Subject) + (Days || Subject)",
    ]
    m1 = fit("Reaction ~ Days + (1 | Subject)", m0.data)
    m2 = fit("Reaction ~ Days + (Days || Subject)", m0.data)
    with pytest.warns(UserWarning, match="refitting"):
        table = anova(m0=m0, m1=m1, m2=m2)
    expected = spec["table"]
    assert table["model"].to_list() == [r["model"] for r in expected]  # m1, m2, m0
    assert table["npar"].to_list() == [r["npar"] for r in expected]
    for col in ("AIC", "BIC", "logLik", "deviance"):
        np.testing.assert_allclose(table[col], [r[col] for r in expected], rtol=0, atol=2 * LL_TOL, err_msg=col)
    for row, r in zip(table.iter_rows(named=True), expected, strict=True):
        if r["Chisq"] is None:
            assert row["Chisq"] is None and row["Df"] is None
        else:
            assert row["Chisq"] == pytest.approx(r["Chisq"], abs=CHISQ_TOL)
            assert row["Df"] == r["Df"]
        assert_p(row["P-val"], r["p"])


def test_lrt_positional_order_and_ties_keep_input_order():
    # anova(m0, m1, m1b) and anova(m0, m1b, m1) in R: ties in npar keep the argument order, the
    # statistic is floored at 0 and a 0-df test has no p-value
    m0, _ = fit_case("sleepstudy_compare_many")
    m1 = fit("Reaction ~ Days + (1 | Subject)", m0.data)
    m1b = fit("Reaction ~ Days + (0 + Days | Subject)", m0.data)
    table = quiet_anova(m0, m1, m1b)
    assert table["model"].to_list() == ["model2", "model3", "model1"]
    assert table["npar"].to_list() == [4, 4, 6]
    np.testing.assert_allclose(table["logLik"], [-897.039321503, -887.040157640, -875.969672232], atol=LL_TOL)
    assert table["Df"].to_list() == [None, 0, 2]
    assert table["Chisq"][1] == pytest.approx(19.99833, abs=CHISQ_TOL)
    assert table["P-val"][1] is None
    assert_p(table["P-val"][2], 1.556501e-05)
    table = quiet_anova(m0, m1b, m1)
    assert table["model"].to_list() == ["model2", "model3", "model1"]
    assert table["Chisq"].to_list()[1] == 0.0
    assert table["P-val"][1] is None
    assert table["Chisq"][2] == pytest.approx(42.1393, abs=CHISQ_TOL)


def test_lrt_without_refit_compares_reml_fits():
    m0, _ = fit_case("sleepstudy_compare_many")
    m1 = fit("Reaction ~ Days + (1 | Subject)", m0.data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = anova(m1, m0, refit=False)
    np.testing.assert_allclose(table["logLik"], [m1.logLike, m0.logLike])
    # equals ranova's REML test of (Days | Subject) -> (1 | Subject)
    assert table["Chisq"][1] == pytest.approx(42.8368134364298, abs=CHISQ_TOL)
    ml = fit("Reaction ~ Days + (1 | Subject)", m0.data, REML=False)
    with pytest.warns(UserWarning, match="some models fit with REML = TRUE, some not"):
        anova(ml, m0, refit=False)


def test_lrt_ml_models_need_no_refit():
    d = mm.load_dataset("sleepstudy")
    m0 = fit("Reaction ~ Days + (Days | Subject)", d, REML=False)
    m1 = fit("Reaction ~ Days + (1 | Subject)", d, REML=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = anova(m1, m0)
    np.testing.assert_allclose(table["logLik"], [-897.039321502613, -875.9696722316], atol=LL_TOL)


def test_lrt_keeps_weights():
    # d$w <- 1 + (d$Days %% 3)
    # anova(lmer(Reaction ~ Days + (1 | Subject), d, weights = w),
    #       lmer(Reaction ~ Days + (Days | Subject), d, weights = w))
    m, _ = fit_case("sleepstudy_weights")
    m1 = fit("Reaction ~ Days + (1 | Subject)", m.data, weights="w")
    table = quiet_anova(m1, m)
    np.testing.assert_allclose(table["logLik"], [-897.878519886433, -871.020485938397], atol=LL_TOL)
    np.testing.assert_allclose(table["BIC"], [1816.52886717643, 1773.19871298214], atol=2 * LL_TOL)
    assert table["Chisq"][1] == pytest.approx(53.7160678960718, abs=CHISQ_TOL)
    assert_p(table["P-val"][1], 2.16622748377872e-12)


def test_lrt_keeps_ordered_factor_contrasts():
    # d$Dayf <- ordered(d$Days)
    # anova(lmer(Reaction ~ Days + (1 | Subject), d), lmer(Reaction ~ Dayf + (1 | Subject), d))
    mord, _ = fit_case("sleepstudy_days_ordered")
    m = fit("Reaction ~ Days + (1 | Subject)", mord.data)
    table = quiet_anova(m, mord)
    np.testing.assert_allclose(table["logLik"], [-897.039321502613, -895.167482984973], atol=LL_TOL)
    np.testing.assert_allclose(table["AIC"], [1802.07864300523, 1814.33496596995], atol=2 * LL_TOL)
    assert table["Df"][1] == 8
    assert_p(table["P-val"][1], 0.87947774931895)


# --------------------------------------------------------------- ranova
@pytest.mark.parametrize("case", RANOVA_CASES)
def test_ranova_matches_lmertest(case):
    m, ref = fit_case(case)
    before = (m.REML, m.logLike, list(m.theta))
    table = ranova(m)
    check_ranova(table, as_list(ref["ranova"]))
    assert (m.REML, m.logLike, list(m.theta)) == before


def test_ranova_fixture_coverage():
    """Every fixture with a `ranova` field is tested above."""
    from conftest import FIXTURES

    with_ranova = sorted(p.stem for p in FIXTURES.glob("*.json") if "ranova" in load_reference(p.stem))
    assert with_ranova == sorted(RANOVA_CASES)


def test_ranova_weights_reduce_and_remove():
    # m <- lmer(Reaction ~ Days + (Days | Subject), d, weights = w); ranova(m); ranova(m, reduce.terms = FALSE)
    m, _ = fit_case("sleepstudy_weights")
    check_ranova(
        ranova(m),
        rows(
            ["<none>", "Days in (Days | Subject)"],
            [6, 4],
            [-866.771773233096, -894.058534147212],
            [1745.54354646619, 1796.11706829442],
            [None, 54.5735218282312],
            [None, 2],
            [None, 1.41094571838172e-12],
        ),
    )
    # removing the only term leaves a weighted lm (REML log-likelihood)
    check_ranova(
        ranova(m, reduce_terms=False),
        rows(
            ["<none>", "(Days | Subject)"],
            [6, 3],
            [-866.771773233096, -953.244416476909],
            [1745.54354646619, 1912.48883295382],
            [None, 172.945286487626],
            [None, 3],
            [None, 2.94301429529458e-37],
        ),
    )


def test_ranova_weights_given_as_array():
    m, _ = fit_case("sleepstudy_weights")
    ma = fit(m.formula, m.data.drop("w"), weights=m.data["w"].to_numpy())
    np.testing.assert_allclose(ranova(ma)["logLik"], ranova(m)["logLik"], rtol=0, atol=1e-6)


def test_ranova_lm_with_offset():
    # ranova(lmer(Reaction ~ Days + offset(Days) + (1 | Subject), d))
    m = fit("Reaction ~ Days + offset(Days) + (1 | Subject)", mm.load_dataset("sleepstudy"))
    check_ranova(
        ranova(m),
        rows(
            ["<none>", "(1 | Subject)"],
            [4, 3],
            [-893.232542697460, -946.831831736054],
            [1794.46508539492, 1899.66366347211],
            [None, 107.198578077188],
            [None, 1],
            [None, 4.02725545386384e-25],
        ),
    )


def test_ranova_ml_model_uses_ml_likelihoods():
    # mml <- lmer(Reaction ~ Days + (Days | Subject), d, REML = FALSE); ranova(mml, reduce.terms = FALSE); ranova(mml)
    m = fit("Reaction ~ Days + (Days | Subject)", mm.load_dataset("sleepstudy"), REML=False)
    check_ranova(
        ranova(m, reduce_terms=False),
        rows(
            ["<none>", "(Days | Subject)"],
            [6, 3],
            [-875.969672244495, -950.146528178182],
            [1763.93934448899, 1906.29305635636],
            [None, 148.353711867373],
            [None, 3],
            [None, 5.96881940821716e-32],
        ),
    )
    check_ranova(
        ranova(m),
        rows(
            ["<none>", "Days in (Days | Subject)"],
            [6, 4],
            [-875.969672244495, -897.039321502613],
            [1763.93934448899, 1802.07864300523],
            [None, 42.1392985162349],
            [None, 2],
            [None, 7.07241263839854e-10],
        ),
    )


def test_ranova_double_bar_terms():
    # ranova(lmer(Reaction ~ Days + (Days || Subject), d))
    m = fit("Reaction ~ Days + (Days || Subject)", mm.load_dataset("sleepstudy"))
    check_ranova(
        ranova(m),
        rows(
            ["<none>", "(1 | Subject)", "Days in (0 + Days | Subject)"],
            [5, 4, 4],
            [-871.834646790741, -883.262513742785, -893.232542697461],
            [1753.66929358148, 1774.52502748557, 1794.46508539492],
            [None, 22.8557339040888, 42.7957918134400],
            [None, 1, 1],
            [None, 1.74627589670900e-06, 6.07627309942783e-11],
        ),
    )


def test_ranova_term_with_two_slopes():
    # d$x <- d$Days %% 2; ranova(lmer(Reaction ~ Days + (Days + x | Subject), d))
    d = mm.load_dataset("sleepstudy").with_columns(x=(pl.col("Days") % 2).cast(pl.Float64))
    m = fit("Reaction ~ Days + (Days + x | Subject)", d)
    check_ranova(
        ranova(m),
        rows(
            ["<none>", "Days in (Days + x | Subject)", "x in (Days + x | Subject)"],
            [9, 6, 6],
            [-871.280106014039, -892.854412376455, -871.814135979976],
            [1760.56021202808, 1797.70882475291, 1755.62827195995],
            [None, 43.14861272483245, 1.06805993187413],
            [None, 3, 3],
            [None, 2.28853589113635e-09, 7.84789593002368e-01],
        ),
    )


def test_ranova_ordered_factor_lm():
    # d$Dayf <- ordered(d$Days); ranova(lmer(Reaction ~ Dayf + (1 | Subject), d))
    m, _ = fit_case("sleepstudy_days_ordered")
    check_ranova(
        ranova(m),
        rows(
            ["<none>", "(1 | Subject)"],
            [12, 11],
            [-865.897572664848, -917.078055959370],
            [1755.79514532970, 1856.15611191874],
            [None, 102.360966589044],
            [None, 1],
            [None, 4.62729908967332e-24],
        ),
    )


def test_ranova_remove_terms_of_crossed_model():
    m, _ = fit_case("penicillin_ranova")
    # (1 | g) terms are removed whether or not reduce_terms is set
    assert ranova(m, reduce_terms=False).equals(ranova(m))


# -------------------------------------------------------------- bad input
def test_anova_needs_two_models():
    m, _ = fit_case("sleepstudy_slope_reml")
    with pytest.raises(mm.DataError, match="at least two"):
        anova(m)
    with pytest.raises(mm.DataError, match="at least two"):
        anova()


def test_anova_models_on_different_data_sizes():
    d = mm.load_dataset("sleepstudy")
    m0 = fit("Reaction ~ Days + (Days | Subject)", d)
    m1 = fit("Reaction ~ Days + (1 | Subject)", d.filter(pl.col("Days") < 9))
    with pytest.raises(mm.DataError, match="same size of dataset"):
        anova(m0, m1)


def test_anova_rejects_unfitted_and_foreign_objects():
    d = mm.load_dataset("sleepstudy")
    m0 = fit("Reaction ~ Days + (Days | Subject)", d)
    with pytest.raises(mm.DataError, match="not been fitted"):
        anova(m0, mm.Lmer("Reaction ~ Days + (1 | Subject)", d))
    with pytest.raises(mm.DataError, match="not an Lmer"):
        anova(m0, refti=False)  # a misspelt keyword is not taken for a model


def test_ranova_rejects_unfitted_model():
    with pytest.raises(mm.DataError, match="not been fitted"):
        ranova(mm.Lmer("Reaction ~ Days + (1 | Subject)", mm.load_dataset("sleepstudy")))
    with pytest.raises(mm.DataError, match="not an Lmer"):
        ranova("Reaction ~ Days")  # type: ignore[arg-type]


def test_ranova_rows_in_use_change():
    # a grouping factor with missing values: dropping its term would use more rows (lmerTest stops too)
    d = mm.load_dataset("sleepstudy").with_columns(
        g2=pl.when(pl.col("Days") < 9).then((pl.col("Days") % 3).cast(pl.String)).otherwise(None)
    )
    m = fit("Reaction ~ Days + (1 | Subject) + (1 | g2)", d)
    assert m.nobs == 162
    with pytest.raises(mm.DataError, match="number of rows in use has changed"):
        ranova(m)


# ------------------------------------------------------ formula handling
# the core's formula_structure gives the fixed part as R's term labels: reduced formulas write
# `a * b` as `a + b + a:b` (the same model)
@pytest.mark.parametrize(
    ("formula", "text", "bars"),
    [
        (
            "Reaction ~ Days + (Days||Subject)",
            "Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)",
            ["1 | Subject", "0 + Days | Subject"],
        ),
        (
            "strength ~ 1 + (1 | batch/cask)",
            "strength ~ 1 + (1 | cask:batch) + (1 | batch)",
            ["1 | cask:batch", "1 | batch"],
        ),
        (
            'Weight ~ Time * relevel(Evit, ref="Evit100") + (1|Pig)',
            'Weight ~ Time + relevel(Evit, ref = "Evit100") + Time:relevel(Evit, ref = "Evit100") + (1 | Pig)',
            ["1 | Pig"],
        ),
        (
            "log(y) ~ poly(x,2) - 1 + (1|g) + (x+z|h)",
            "log(y) ~ poly(x, 2) - 1 + (1 | g) + (x + z | h)",
            ["1 | g", "x + z | h"],
        ),
        ("y ~ (1 | g)", "y ~ 1 + (1 | g)", ["1 | g"]),
        ("y ~ 0 + offset(log(n)) + (1 | g)", "y ~ offset(log(n)) - 1 + (1 | g)", ["1 | g"]),
        ("y ~ a*b + I(x^2) + (a:b | g)", "y ~ a + b + I(x^2) + a:b + (a:b | g)", ["a:b | g"]),
    ],
)
def test_split_formula_as_lme4(formula, text, bars):
    form = _core.formula_structure(formula)
    assert [_bar_text(b) for b in form["bars"]] == bars
    assert _formula_text(form, bars) == text
    assert _core.formula_structure(text) == form


def test_ranova_labels_of_interactions_follow_drop_scope():
    """(a*b | g): only the interaction a:b can be dropped (R's drop.scope)."""
    assert _drop_scope([["f1"], ["f2"], ["f1", "f2"]]) == [2]
    assert _drop_scope([["a"], ["b"]]) == [0, 1]
    assert _drop_scope([["a"], ["a", "b"], ["a", "b", "c"], ["d"]]) == [2, 3]
    form = _core.formula_structure("y ~ x + (f1*f2 | g) + (0 + a + b | h) + (1 | k)")
    assert _reductions(form, reduce_terms=True) == [
        ("f1:f2 in (f1 * f2 | g)", ["0 + a + b | h", "1 | k", "f1 + f2 | g"]),
        ("a in (0 + a + b | h)", ["f1 * f2 | g", "1 | k", "b - 1 | h"]),
        ("b in (0 + a + b | h)", ["f1 * f2 | g", "1 | k", "a - 1 | h"]),
        ("(1 | k)", ["f1 * f2 | g", "0 + a + b | h"]),
    ]
    assert [label for label, _ in _reductions(form, reduce_terms=False)] == [
        "(f1 * f2 | g)",
        "(0 + a + b | h)",
        "(1 | k)",
    ]


def test_recorded_fit_options_are_used():
    """When Lmer records its fit() options (``_fit_options``), the refits use them."""
    m, _ = fit_case("sleepstudy_weights")
    expected = ranova(m)
    m._fit_options = {"weights": "w", "REML": True, "summarize": False}
    pl.testing.assert_frame_equal(ranova(m), expected, abs_tol=1e-6)
    m._fit_options = {}  # recorded as unweighted: the refits are unweighted
    assert abs(ranova(m)["logLik"][1] - expected["logLik"][1]) > 0.5
