"""post_hoc on generalized models against emmeans 1.8.4 on glmer fits: asymptotic
z inference (df = Inf) on the link scale, and ``type="response"``: back-transformed
means with delta-method SEs, ratios ``A / B`` of means for the log and logit links
(odds ratios, rate ratios), contrasts left on the link scale for other links, and
an offset held at its mean. emmeans' notes are compared too.

Reference values: tests/fixtures/glmm/glmm.json (made by tests/fixtures/glmm/gen_glmm.R)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

import mixedmodels as mm
from mixedmodels.posthoc import marginal_analysis

REF = json.loads((Path(__file__).parents[1] / "fixtures" / "glmm" / "glmm.json").read_text())
FAMILY = {"binomial": "binomial", "poisson": "poisson", "Gamma": "gamma"}
PREP = {
    "cbpp": lambda d: d.with_columns(prop=pl.col("incidence") / pl.col("size")),
    "dietox": lambda d: d.with_columns(W100=pl.col("Weight") / 100),
}
# emmeans' column of the mean, by scale and family
MEAN_COLUMN = {"binomial": "prob", "poisson": "rate", "Gamma": "response"}
ADJUST_ARG = {
    "tukey": "tukey",
    "bonferroni": "bonf",
    "holm": "holm",
    "none": "none",
    "sidak": "sidak",
    "scheffe": "scheffe",
    "mvt": "mvt",
    "dunnettx": "dunnet",
}
MVT_ABS = 2e-3  # mvtnorm is Monte-Carlo

REL_EST = 2e-4  # estimates (glmer's fixed effects agree to 1e-4)
REL = 1e-3  # SEs, intervals, z ratios (glmer's Hessian SEs agree to 1e-3)


def glmer(spec: dict[str, Any]) -> mm.Lmer:
    d = mm.load_dataset(spec["data"])
    d = PREP.get(spec["data"], lambda x: x)(d)
    m = mm.Lmer(spec["formula"], data=d, family=FAMILY[spec["family"]])
    m.fit(summarize=False, no_warnings=True, nAGQ=spec.get("nAGQ") or 1, link=spec["link"], weights=spec.get("weights"))
    return m


def close(ours: Any, ref: list[Any], rel: float, abs_: float = 1e-10) -> None:
    np.testing.assert_allclose(np.asarray(ours, dtype=float), np.asarray(ref, dtype=float), rtol=rel, atol=abs_)


@pytest.fixture(scope="module", params=sorted(REF["posthoc"]))
def case(request: pytest.FixtureRequest) -> tuple[dict[str, Any], mm.Lmer]:
    ref = REF["posthoc"][request.param]
    return ref, glmer(ref["model"])


@pytest.mark.parametrize("scale", ["link", "response"])
def test_marginal_means(case: Any, scale: str) -> None:
    ref, m = case
    rows = ref["scales"][scale]["estimates"]["table"]
    res = marginal_analysis(m, ref["specs"], type=scale)
    est = res.estimates
    spec = ref["specs"][0]
    assert est[spec].to_list() == [str(r[spec]) for r in rows]
    value = "emmean" if scale == "link" else MEAN_COLUMN[ref["model"]["family"]]
    close(est["Estimate"], [r[value] for r in rows], REL_EST, 1e-4 * max(r["SE"] for r in rows))
    close(est["SE"], [r["SE"] for r in rows], REL)
    close(est["2.5_ci"], [r["asymp.LCL"] for r in rows], REL)
    close(est["97.5_ci"], [r["asymp.UCL"] for r in rows], REL)
    assert np.all(np.isinf(est["DF"].to_numpy()))  # emmeans: df = Inf (jsonlite writes NA)
    assert res.notes_estimates == ref["scales"][scale]["estimates"]["mesg"]


def check_contrasts(con: pl.DataFrame, con_ref: dict[str, Any], notes: list[str], adjust: str) -> None:
    rows = con_ref["table"]
    assert con["Contrast"].to_list() == [r["contrast"] for r in rows], adjust
    value = next(k for k in ("estimate", "odds.ratio", "ratio") if k in rows[0])
    close(con["Estimate"], [r[value] for r in rows], REL_EST, 1e-4 * max(r["SE"] for r in rows))
    close(con["SE"], [r["SE"] for r in rows], REL)
    ci_rel = MVT_ABS if adjust == "mvt" else REL  # the mvt quantile is Monte-Carlo
    close(con["2.5_ci"], [r["asymp.LCL"] for r in rows], ci_rel)
    close(con["97.5_ci"], [r["asymp.UCL"] for r in rows], ci_rel)
    close(con["Z-stat"], [r["z.ratio"] for r in rows], REL)
    z = np.abs(con["Z-stat"].to_numpy())
    p, p_ref = con["P-val"].to_numpy(), np.array([r["p.value"] for r in rows])
    if adjust == "mvt":
        np.testing.assert_allclose(p, p_ref, atol=MVT_ABS)
    else:
        # a relative error e of z moves p by about z^2 e (relative); below 1e-12 both are
        # rounding noise (R's ptukey gives 2e-14 for z = 8.9, scipy 0)
        tiny = p_ref < 1e-12
        assert np.all(p[tiny] < 1e-12), adjust
        rel_err = np.abs(np.log(p[~tiny] / p_ref[~tiny]))
        assert np.all(rel_err <= 2 * REL * np.maximum(1.0, z[~tiny] ** 2)), adjust
    assert "T-stat" not in con.columns
    assert np.all(np.isinf(con["DF"].to_numpy()))
    assert notes == con_ref["mesg"], adjust


@pytest.mark.parametrize("scale", ["link", "response"])
def test_pairwise_contrasts(case: Any, scale: str) -> None:
    ref, m = case
    for adjust, con_ref in ref["scales"][scale]["contrasts"].items():
        res = marginal_analysis(m, ref["specs"], p_adjust=ADJUST_ARG[adjust], type=scale)
        check_contrasts(res.contrasts, con_ref, res.notes_contrasts, adjust)


@pytest.mark.parametrize("scale", ["link", "response"])
def test_contrasts_with_the_first_level(scale: str) -> None:
    """contrast(em, "trt.vs.ctrl", adjust = "dunnettx"): Dunnett's z quantiles (df = Inf)."""
    ref = REF["posthoc"]["cbpp_logit"]
    m = glmer(ref["model"])
    con_ref = ref["scales"][scale]["trt_vs_ctrl"]
    res = marginal_analysis(m, ref["specs"], p_adjust="dunnet", contrasts="trt.vs.ctrl", type=scale)
    check_contrasts(res.contrasts, con_ref, res.notes_contrasts, "dunnettx")


def test_ratio_scale_keeps_the_tests_of_the_link_scale(case: Any) -> None:
    ref, m = case
    link = marginal_analysis(m, ref["specs"]).contrasts
    resp = marginal_analysis(m, ref["specs"], type="response").contrasts
    assert resp["Z-stat"].to_list() == link["Z-stat"].to_list()
    assert resp["P-val"].to_list() == link["P-val"].to_list()
    if ref["model"]["link"] in ("log", "logit"):
        np.testing.assert_allclose(resp["Estimate"], np.exp(link["Estimate"]), rtol=1e-12)
        assert all(" / " in c for c in resp["Contrast"])
    else:
        assert resp.equals(link)


def test_glmer_method_takes_type() -> None:
    ref = REF["posthoc"]["cbpp_logit"]
    m = glmer(ref["model"])
    est, con = m.post_hoc("period", type="response", summarize=False)
    rows = ref["scales"]["response"]["estimates"]["table"]
    close(est["Estimate"], [r["prob"] for r in rows], REL_EST)
    assert con["Contrast"][0] == "period1 / period2"
    with pytest.raises(mm.DataError, match="type must be 'link' or 'response'"):
        m.post_hoc("period", type="probability", summarize=False)


def test_printed_tables_carry_emmeans_notes(capsys: pytest.CaptureFixture[str]) -> None:
    m = glmer(REF["posthoc"]["grouseticks_year"]["model"])
    m.post_hoc("YEAR", type="response")
    out = capsys.readouterr().out
    assert "Estimated marginal means (response scale: rates)" in out
    assert "Pairwise ratios" in out
    assert "YEAR95 / YEAR96" in out
    assert "Tests are performed on the log scale" in out
    assert "Degrees-of-freedom method" not in out


def test_trends_stay_on_the_link_scale() -> None:
    """emtrends' slopes are on the linear predictor's scale whatever the type."""
    d = mm.load_dataset("grouseticks_std")
    m = mm.Lmer("TICKS ~ YEAR * HEIGHT + (1 | BROOD) + (1 | LOCATION)", data=d, family="poisson")
    m.fit(summarize=False, no_warnings=True)
    link = marginal_analysis(m, "YEAR", trend="HEIGHT")
    resp = marginal_analysis(m, "YEAR", trend="HEIGHT", type="response")
    assert link.estimates.equals(resp.estimates) and link.contrasts.equals(resp.contrasts)
    # emtrends(gm, ~ YEAR, var = "HEIGHT") in R: -1.219 (0.204), -0.668 (0.169), -0.727 (0.210)
    np.testing.assert_allclose(link.estimates["Estimate"], [-1.219, -0.668, -0.727], atol=6e-4)
    np.testing.assert_allclose(link.estimates["SE"], [0.204, 0.169, 0.210], atol=6e-4)
    assert not any("scale" in n for n in link.notes_estimates)


def test_lmm_unchanged_by_type() -> None:
    d = mm.load_dataset("dietox")
    m = mm.Lmer("Weight ~ Evit + Time + (1 | Pig)", data=d)
    m.fit(summarize=False)
    a = marginal_analysis(m, "Evit")
    b = marginal_analysis(m, "Evit", type="response")
    assert a.estimates.equals(b.estimates) and a.contrasts.equals(b.contrasts)
    assert "T-stat" in a.contrasts.columns
    assert a.notes_estimates[0] == "Degrees-of-freedom method: satterthwaite"


def test_lmm_offset_enters_the_means() -> None:
    """emmeans holds an offset at its mean over the rows of the fit (also for lmer)."""
    ref = REF["lmm_offset"]
    m = mm.Lmer(ref["formula"], data=mm.load_dataset(ref["data"]))
    m.fit(summarize=False)
    est = marginal_analysis(m, "Evit").estimates
    rows = ref["estimates"]
    close(est["Estimate"], [r["emmean"] for r in rows], 1e-6)
    close(est["SE"], [r["SE"] for r in rows], 1e-4)
    close(est["DF"], [r["df"] for r in rows], 1e-3)
    close(est["2.5_ci"], [r["lower.CL"] for r in rows], 1e-4)


def test_rank_deficient_glmm() -> None:
    """An empty cell (period 4 of big herds): glmer drops a column of period * big; the
    mean of that cell, and every mean averaged over it, is not estimable (emmeans' nonEst)."""
    d = mm.load_dataset("cbpp").with_columns(
        big=pl.when(pl.col("size") > 15).then(pl.lit("big")).otherwise(pl.lit("small"))
    )
    d = d.filter(~((pl.col("period") == "4") & (pl.col("big") == "big")))
    m = mm.Lmer("cbind(incidence, size - incidence) ~ period * big + (1 | herd)", data=d, family="binomial")
    m.fit(summarize=False, no_warnings=True)
    assert len(m.coefs) == 7
    # emmeans(m2, ~ period | big) and emmeans(m2, ~ period) in R (printed to 3 digits)
    by = marginal_analysis(m, "period", grouping_vars="big").estimates
    np.testing.assert_allclose(by["Estimate"], [-1.34, -2.35, -3.36, np.nan, -1.69, -2.50, -1.78, -3.98], atol=6e-3)
    np.testing.assert_allclose(by["SE"], [0.249, 0.380, 0.547, np.nan, 0.496, 0.498, 0.424, 1.026], atol=6e-4)
    res = marginal_analysis(m, "period")
    np.testing.assert_allclose(res.estimates["Estimate"], [-1.51, -2.43, -2.57, np.nan], atol=6e-3)
    np.testing.assert_allclose(res.estimates["SE"], [0.287, 0.317, 0.351, np.nan], atol=6e-4)
    con = res.contrasts
    assert np.isnan(con.filter(pl.col("Contrast").str.contains("period4"))["Estimate"].to_numpy()).all()
    assert not np.isnan(con.filter(~pl.col("Contrast").str.contains("period4"))["Estimate"].to_numpy()).any()
