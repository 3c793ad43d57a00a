"""post_hoc (emmeans) against R's emmeans 1.8.4: marginal means, trends, pairwise
contrasts under every adjustment, `by` families, and the reference-grid rules.

Reference values: tests/fixtures/lme4/*.json (pairs tables, without intervals) and
tests/fixtures/emmeans/posthoc.json (intervals of contrasts and harder grids; made by
tests/fixtures/emmeans/gen_posthoc.R)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

import mixedmodels as mm
from mixedmodels import multcomp
from mixedmodels.posthoc import marginal_analysis, post_hoc

from conftest import fit_case, load_reference

EXTRA = json.loads((Path(__file__).parents[1] / "fixtures" / "emmeans" / "posthoc.json").read_text())

# emmeans adjust name -> the spelling passed to post_hoc (pymer4's where it has one)
ADJUST_ARG = {
    "tukey": "tukey",
    "bonferroni": "bonf",
    "holm": "holm",
    "hochberg": "hochberg",
    "hommel": "hommel",
    "fdr": "fdr",
    "sidak": "sidak",
    "dunnettx": "dunnet",
    "mvt": "mvt",
    "scheffe": "scheffe",
    "none": "none",
}

REL = 1e-3  # df, p-values, intervals (emmeans' df are numerical derivatives)
REL_EST = 1e-4  # estimates and SEs
MVT_ABS = 2e-3  # mvtnorm is Monte-Carlo


def close(ours: Any, ref: list[Any], rel: float = REL, abs_: float = 1e-8) -> None:
    ours = np.asarray(ours, dtype=float)
    ref_arr = np.array([np.nan if v is None else v for v in ref], dtype=float)
    assert ours.shape == ref_arr.shape
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref_arr))
    np.testing.assert_allclose(ours, ref_arr, rtol=rel, atol=abs_, equal_nan=True)


def col(rows: list[dict[str, Any]], name: str) -> list[Any]:
    return [r[name] for r in rows]


def check_estimates(est: pl.DataFrame, rows: list[dict[str, Any]], value: str, names: list[str]) -> None:
    for n in names:
        ours = est[n].to_list()
        ref = col(rows, n)
        if est[n].dtype == pl.String:
            assert ours == [str(v) for v in ref]
        else:
            close(ours, ref, rel=0, abs_=1e-12)
    se = np.array([np.nan if v is None else v for v in col(rows, "SE")], dtype=float)
    close(est["Estimate"], col(rows, value), rel=REL_EST, abs_=1e-6)
    close(est["SE"], col(rows, "SE"), rel=REL_EST)
    close(est["DF"], col(rows, "df"), rel=REL)
    if "lower.CL" in rows[0]:
        close(est["2.5_ci"], col(rows, "lower.CL"), rel=REL, abs_=float(np.nanmax(se)) * 1e-3)
        close(est["97.5_ci"], col(rows, "upper.CL"), rel=REL, abs_=float(np.nanmax(se)) * 1e-3)


ASYMPTOTIC = {"z.ratio": "t.ratio", "asymp.LCL": "lower.CL", "asymp.UCL": "upper.CL"}


def check_contrasts(
    con: pl.DataFrame,
    rows: list[dict[str, Any]],
    adjust: str,
    by: list[str] | None = None,
    lo: str = "2.5_ci",
    hi: str = "97.5_ci",
) -> None:
    # emmeans names the columns z.ratio / asymp.LCL when no row has df (e.g. all SEs are 0)
    rows = [{ASYMPTOTIC.get(k, k): v for k, v in r.items()} for r in rows]
    assert con["Contrast"].to_list() == col(rows, "contrast")
    for b in by or []:
        if con[b].dtype == pl.String:
            assert con[b].to_list() == [str(v) for v in col(rows, b)]
        else:
            close(con[b], col(rows, b), rel=0, abs_=1e-12)
    close(con["Estimate"], col(rows, "estimate"), rel=REL_EST, abs_=1e-6)
    close(con["SE"], col(rows, "SE"), rel=REL_EST)
    close(con["DF"], col(rows, "df"), rel=REL)
    close(con["T-stat"], col(rows, "t.ratio"), rel=REL_EST)
    if adjust == "mvt":
        close(con["P-val"], col(rows, "p.value"), rel=0, abs_=MVT_ABS)
    else:
        close(con["P-val"], col(rows, "p.value"), rel=REL, abs_=1e-7)
    if "lower.CL" in rows[0]:
        se = float(np.nanmax(con["SE"].to_numpy()))
        tol = 5e-3 * se if adjust == "mvt" else 1e-3 * se  # R's qtukey/uniroot/qmvt are approximate
        close(con[lo], col(rows, "lower.CL"), rel=REL, abs_=tol)
        close(con[hi], col(rows, "upper.CL"), rel=REL, abs_=tol)


def p_note(mesg: list[str]) -> list[str]:
    return [m for m in mesg if m.startswith(("P value adjustment", "Conf-level adjustment"))]


# --------------------------------------------------------- lme4 fixtures
EMMEANS_CASES = [
    "dietox_evit_factor",
    "machines_nested_factor",
    "sleepstudy_unbalanced_kr",
    "machines_sum",
    "machines_helmert",
    "machines_custom",
    "dietox_evit_relevel",
    "sleepstudy_unbalanced_kr_extra",
    "sleepstudy_days_ordered",
]


@pytest.fixture(scope="module")
def fitted() -> Any:
    cache: dict[str, Any] = {}

    def get(case: str) -> Any:
        if case not in cache:
            cache[case] = fit_case(case)
        return cache[case]

    return get


@pytest.mark.parametrize("case", EMMEANS_CASES)
def test_emmeans_table(case: str, fitted: Any) -> None:
    m, ref = fitted(case)
    spec = ref["emmeans"]["spec"]
    est, _ = post_hoc(m, spec, summarize=False)
    check_estimates(est, ref["emmeans"]["table"], "emmean", [spec])


def _adjust_cases() -> list[tuple[str, str]]:
    out = []
    for case in EMMEANS_CASES:
        ref = load_reference(case)
        out += [(case, k.removeprefix("emmeans_pairs_")) for k in ref if k.startswith("emmeans_pairs_")]
    return out


@pytest.mark.parametrize(("case", "adjust"), _adjust_cases())
def test_pairs(case: str, adjust: str, fitted: Any) -> None:
    m, ref = fitted(case)
    res = marginal_analysis(m, ref["emmeans"]["spec"], p_adjust=ADJUST_ARG[adjust])
    check_contrasts(res.contrasts, ref[f"emmeans_pairs_{adjust}"], adjust)
    mesg = ref.get("emmeans_mesg", {}).get(adjust)
    if mesg is not None:
        ours = [n for n in res.notes_contrasts if n.startswith("P value adjustment")]
        assert ours == [m_ for m_ in mesg if m_.startswith("P value adjustment")]


@pytest.mark.parametrize("case", [c for c in EMMEANS_CASES if "emmeans_trt_vs_ctrl_dunnettx" in load_reference(c)])
def test_trt_vs_ctrl(case: str, fitted: Any) -> None:
    m, ref = fitted(case)
    res = marginal_analysis(m, ref["emmeans"]["spec"], p_adjust="dunnettx", contrasts="trt.vs.ctrl")
    check_contrasts(res.contrasts, ref["emmeans_trt_vs_ctrl_dunnettx"], "dunnettx")
    ours = [n for n in res.notes_contrasts if n.startswith("P value adjustment")]
    assert ours == p_note(ref["emmeans_mesg"]["trt.vs.ctrl_dunnettx"])


def test_emmeans_by(fitted: Any) -> None:
    m, ref = fitted("dietox_evit_cu")
    by = ref["emmeans_by"]
    res = marginal_analysis(m, by["specs"], grouping_vars=by["by"])
    check_estimates(res.estimates, by["table"], "emmean", [by["specs"], by["by"]])
    check_contrasts(res.contrasts, by["pairs_tukey"], "tukey", by=[by["by"]])
    assert res.contrasts.columns[:2] == ["Contrast", "Cu"]


def test_emtrends(fitted: Any) -> None:
    m, ref = fitted("dietox_evit_relevel")
    et = ref["emtrends"]
    res = marginal_analysis(m, et["spec"], trend=et["var"])
    check_estimates(res.estimates, et["table"], f"{et['var']}.trend", [et["spec"]])
    check_contrasts(res.contrasts, et["pairs_tukey"], "tukey")


# ------------------------------------------------- emmeans/posthoc.json
def _extra_data(case: str) -> pl.DataFrame:
    if case == "coerced_factor":
        return mm.load_dataset("sleepstudy")
    d = mm.load_dataset("dietox")
    if case == "two_valued_covariate":
        d = d.with_columns(heavy=(pl.col("Start") > 26).cast(pl.Float64))
    elif case == "empty_cell":
        d = d.filter(~((pl.col("Evit") == "Evit200") & (pl.col("Cu") == "Cu175")))
    elif case == "parens_labels":
        d = d.with_columns(Cu2=pl.col("Cu").replace({"Cu000": "Cu-0", "Cu035": "Cu+35"}))
    return d


# R's level order where it differs from a plain sort (R collates ignoring punctuation)
EXTRA_FACTORS = {
    "relevel_all_adjust": {"Evit": ["Evit100", "Evit000", "Evit200"]},
    "parens_labels": {"Cu2": ["Cu-0", "Cu+35", "Cu175"]},
}


@pytest.fixture(scope="module")
def extra_fit() -> Any:
    cache: dict[str, mm.Lmer] = {}

    def get(case: str) -> mm.Lmer:
        if case not in cache:
            spec = EXTRA["cases"][case]
            m = mm.Lmer(spec["formula"], data=_extra_data(case))
            m.fit(summarize=False, no_warnings=True, factors=EXTRA_FACTORS.get(case))
            cache[case] = m
        return cache[case]

    return get


def _families() -> list[Any]:
    out = []
    for case, spec in EXTRA["cases"].items():
        for i, fam in enumerate(spec["families"]):
            label = "+".join(fam["specs"]) + ("|" + "+".join(fam["by"]) if fam["by"] else "")
            label += f"~{fam['trend']}" if fam["trend"] else ""
            label += f"@{fam['level']}" if fam["level"] != 0.95 else ""
            out.append(pytest.param(case, i, id=f"{case}-{label}"))
    return out


@pytest.mark.parametrize(("case", "index"), _families())
def test_extra_family(case: str, index: int, extra_fit: Any) -> None:
    m = extra_fit(case)
    fam = EXTRA["cases"][case]["families"][index]
    by = fam["by"] or []
    level = fam["level"]
    lo, hi = ("2.5_ci", "97.5_ci") if level == 0.95 else ("5_ci", "95_ci")
    value = f"{fam['trend']}.trend" if fam["trend"] else "emmean"
    for adjust, ref in fam["contrasts"].items():
        res = marginal_analysis(
            m, fam["specs"], grouping_vars=by or None, p_adjust=ADJUST_ARG[adjust], level=level, trend=fam["trend"]
        )
        est = res.estimates.rename({lo: "2.5_ci", hi: "97.5_ci"}) if level != 0.95 else res.estimates
        check_estimates(est, fam["estimates"]["table"], value, [*fam["specs"], *by])
        check_contrasts(res.contrasts, ref["table"], adjust, by=by, lo=lo, hi=hi)
        assert [n for n in res.notes_contrasts if n.startswith(("P value", "Conf-level"))] == p_note(ref["mesg"])
        averaged = [n for n in fam["estimates"]["mesg"] if n.startswith("Results are averaged")]
        assert [n for n in res.notes_estimates if n.startswith("Results are averaged")] == averaged
    if "trt_vs_ctrl" in fam:
        res = marginal_analysis(
            m,
            fam["specs"],
            grouping_vars=by or None,
            p_adjust="dunnettx",
            level=level,
            contrasts="trt.vs.ctrl",
            trend=fam["trend"],
        )
        check_contrasts(res.contrasts, fam["trt_vs_ctrl"]["table"], "dunnettx", by=by, lo=lo, hi=hi)


# ------------------------------------------------------ the public call
def test_post_hoc_prints_and_returns(fitted: Any, capsys: pytest.CaptureFixture[str]) -> None:
    m, _ = fitted("dietox_evit_factor")
    est, con = post_hoc(m, "Evit")
    out = capsys.readouterr().out
    assert "Evit000 - Evit100" in out and "tukey method" in out
    assert est.columns == ["Evit", "Estimate", "2.5_ci", "97.5_ci", "SE", "DF"]
    assert con.columns == ["Contrast", "Estimate", "2.5_ci", "97.5_ci", "SE", "DF", "T-stat", "P-val", "Sig"]
    post_hoc(m, "Evit", summarize=False)
    assert capsys.readouterr().out == ""


def test_adjust_spellings(fitted: Any) -> None:
    m, _ = fitted("dietox_evit_relevel")
    for a, b in [("bonf", "bonferroni"), ("dunnet", "dunnettx"), ("fdr", "BH"), ("Tukey", "tukey")]:
        pa = post_hoc(m, "Evit", p_adjust=a, summarize=False)[1]["P-val"]
        pb = post_hoc(m, "Evit", p_adjust=b, summarize=False)[1]["P-val"]
        assert pa.to_list() == pb.to_list()


def test_holm_intervals_are_bonferroni(fitted: Any) -> None:
    m, _ = fitted("dietox_evit_relevel")
    holm = post_hoc(m, "Evit", p_adjust="holm", summarize=False)[1]
    bonf = post_hoc(m, "Evit", p_adjust="bonf", summarize=False)[1]
    assert holm["2.5_ci"].to_list() == bonf["2.5_ci"].to_list()


def test_level_names_columns(fitted: Any) -> None:
    m, _ = fitted("dietox_evit_factor")
    est, con = post_hoc(m, "Evit", level=0.9, summarize=False)
    assert "5_ci" in est.columns and "95_ci" in con.columns


def test_without_satterthwaite_df_is_asymptotic() -> None:
    m = mm.Lmer("Weight ~ Time + Evit + (1 | Pig)", data=mm.load_dataset("dietox"))
    m.fit(summarize=False, ddf="lme4")
    res = marginal_analysis(m, "Evit")
    assert np.all(np.isinf(res.estimates["DF"].to_numpy()))
    assert "asymptotic" in res.notes_estimates[0]


# ------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"marginal_vars": "Nope"}, "not a variable of the model"),
        ({"marginal_vars": "Time"}, "numeric covariate"),
        ({"marginal_vars": "Pig"}, "not a predictor of the fixed effects"),
        ({"marginal_vars": "Weight"}, "not a predictor of the fixed effects"),
        ({"marginal_vars": "Evit", "grouping_vars": "Evit"}, "more than once"),
        ({"marginal_vars": "Evit", "grouping_vars": "Time"}, "numeric covariate"),
        ({"marginal_vars": "Evit", "p_adjust": "magic"}, "not a known adjustment"),
        ({"marginal_vars": "Evit", "trend": "Evit2"}, "not a variable of the model"),
        ({"marginal_vars": "Evit", "trend": "Evit"}, "is a factor"),
        ({"marginal_vars": "Evit", "level": 1.5}, "level"),
        ({"marginal_vars": "Evit", "contrasts": "poly"}, "contrasts"),
        ({"marginal_vars": ["Evit", 3]}, "marginal_vars"),
        ({"marginal_vars": []}, "at least one"),
    ],
)
def test_bad_input(kwargs: dict[str, Any], match: str, fitted: Any) -> None:
    m, _ = fitted("dietox_evit_factor")
    with pytest.raises(mm.DataError, match=match):
        post_hoc(m, summarize=False, **kwargs)


def test_unused_factor_level_is_not_in_the_grid() -> None:
    # A pandas Categorical filtered to two of its three categories (or an Enum with
    # an unused level): the fit has two levels, and so has emmeans' grid.
    d = mm.load_dataset("dietox")
    full = mm.Lmer("Weight ~ Evit + Time + (1 | Pig)", data=d.filter(pl.col("Evit") != "Evit200"))
    full.fit(summarize=False)
    enum = pl.Enum(["Evit000", "Evit100", "Evit200"])
    sub = d.with_columns(pl.col("Evit").cast(enum)).filter(pl.col("Evit") != "Evit200")
    m = mm.Lmer("Weight ~ Evit + Time + (1 | Pig)", data=sub)
    m.fit(summarize=False)
    est, con = post_hoc(m, "Evit", summarize=False)
    ref_est, ref_con = post_hoc(full, "Evit", summarize=False)
    assert est["Evit"].cast(pl.String).to_list() == ["Evit000", "Evit100"]
    np.testing.assert_allclose(est["Estimate"], ref_est["Estimate"], rtol=1e-10)
    assert con["Contrast"].to_list() == ref_con["Contrast"].to_list() == ["Evit000 - Evit100"]


def test_unfitted_model() -> None:
    m = mm.Lmer("Weight ~ Time + Evit + (1 | Pig)", data=mm.load_dataset("dietox"))
    with pytest.raises(mm.DataError, match="fit"):
        post_hoc(m, "Evit", summarize=False)


# ------------------------------------------------------ multcomp pieces
def test_p_adjust_matches_r() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.20, 0.005])
    # p.adjust(p, m) in R 4.2.2
    expected = {
        "holm": [0.04, 0.09, 0.09, 0.20, 0.025],
        "hochberg": [0.04, 0.08, 0.08, 0.20, 0.025],
        "hommel": [0.04, 0.08, 0.06, 0.20, 0.025],
        "BH": [0.025, 0.05, 0.05, 0.20, 0.025],
        "BY": [0.05708333, 0.11416667, 0.11416667, 0.45666667, 0.05708333],
        "bonferroni": [0.05, 0.20, 0.15, 1.00, 0.025],
    }
    for method, exp in expected.items():
        np.testing.assert_allclose(multcomp.p_adjust(p, method), exp, rtol=1e-6, err_msg=method)


def test_mvt_singular_matches_simulation() -> None:
    # three pairwise differences of three means: a singular correlation matrix
    v = np.diag([1.0, 1.3, 0.8])
    c = np.array([[1, -1, 0], [1, 0, -1], [0, 1, -1.0]])
    s = c @ v @ c.T
    d = np.sqrt(np.diag(s))
    corr = s / np.outer(d, d)
    p = multcomp.pmvt_box(np.full(3, -1.5), np.full(3, 1.5), corr, 10)
    rng = np.random.default_rng(0)
    z = rng.multivariate_normal(np.zeros(3), corr, size=400_000, method="eigh")
    t = z / np.sqrt(rng.chisquare(10, size=400_000) / 10)[:, None]
    assert abs(p - np.mean(np.all(np.abs(t) <= 1.5, axis=1))) < 3e-3
