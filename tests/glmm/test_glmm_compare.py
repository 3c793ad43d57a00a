"""anova(m0, m1, ...) between generalized models against lme4's anova(glmer0, glmer1):
likelihood-ratio tests with no REML refit, models sorted by their number of
parameters, quadrature fits, and the mixes that cannot be compared.

Reference values: tests/fixtures/glmm/glmm.json (made by tests/fixtures/glmm/gen_glmm.R)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

import mixedmodels as mm

REF = json.loads((Path(__file__).parents[1] / "fixtures" / "glmm" / "glmm.json").read_text())
FAMILY = {"binomial": "binomial", "poisson": "poisson", "Gamma": "gamma"}
PREP = {
    "cbpp": lambda d: d.with_columns(prop=pl.col("incidence") / pl.col("size")),
    "dietox": lambda d: d.with_columns(W100=pl.col("Weight") / 100),
}


def glmer(spec: dict[str, Any]) -> mm.Lmer:
    """A model of the fixture, fitted as gen_glmm.R fitted it."""
    d = mm.load_dataset(spec["data"])
    d = PREP.get(spec["data"], lambda x: x)(d)
    m = mm.Lmer(spec["formula"], data=d, family=FAMILY[spec["family"]])
    m.fit(summarize=False, no_warnings=True, nAGQ=spec.get("nAGQ") or 1, link=spec["link"], weights=spec.get("weights"))
    return m


@pytest.fixture(scope="module", params=sorted(REF["anova"]))
def case(request: pytest.FixtureRequest) -> tuple[dict[str, Any], pl.DataFrame, dict[str, mm.Lmer]]:
    ref = REF["anova"][request.param]
    models = {spec["name"]: glmer(spec) for spec in ref["models"]}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to refit: no REML warning
        table = mm.anova(**models)
    return ref, table, models


def test_rows_sorted_by_parameters(case: Any) -> None:
    ref, table, _ = case
    assert table["model"].to_list() == [r["model"] for r in ref["table"]]
    assert table["npar"].to_list() == [r["npar"] for r in ref["table"]]
    assert table["Df"].to_list() == [r["Df"] for r in ref["table"]]


def test_likelihood_ratio_tests(case: Any) -> None:
    ref, table, _ = case
    rows = ref["table"]
    assert table["Chisq"][0] is None and table["P-val"][0] is None
    np.testing.assert_allclose(table["Chisq"].to_numpy()[1:], [r["Chisq"] for r in rows[1:]], rtol=1e-4, atol=2e-3)
    np.testing.assert_allclose(table["P-val"].to_numpy()[1:], [r["p"] for r in rows[1:]], rtol=2e-3, atol=1e-12)


def test_information_criteria(case: Any) -> None:
    """Laplace fits: R's logLik, AIC, BIC and deviance (-2 logLik). Quadrature fits:
    lme4 1.1-31 reports them on another scale, shifted by one constant for every model
    of the data (our logLike_lme4 - logLike), so the tests above are unchanged."""
    ref, table, models = case
    rows = ref["table"]
    shift = np.array([models[r["model"]].logLike_lme4 - models[r["model"]].logLike for r in rows])
    if all((s.get("nAGQ") or 1) == 1 for s in ref["models"]):
        assert np.all(shift == 0)
    else:
        assert np.ptp(shift) < 1e-6 and abs(shift[0]) > 1  # cbpp: -50.0 against -92.0
    np.testing.assert_allclose(table["logLik"].to_numpy() + shift, [r["logLik"] for r in rows], atol=1e-3, rtol=0)
    for name in ("AIC", "BIC", "deviance"):
        np.testing.assert_allclose(table[name].to_numpy() - 2 * shift, [r[name] for r in rows], atol=2e-3, rtol=0)
    assert table["logLik"].to_list() == [models[r["model"]].logLike for r in rows]


def test_models_are_not_refitted_or_changed(case: Any) -> None:
    ref, _, models = case
    for r in ref["table"]:
        m = models[r["model"]]
        assert m.fitted and not m.REML
        assert r["npar"] == m._fit.npar


def test_positional_models_and_refit_flag() -> None:
    ref = REF["anova"]["cbpp_period"]
    m0, m1 = (glmer(s) for s in ref["models"])
    named = mm.anova(m0=m0, m1=m1)
    for refit in (True, False):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            table = mm.anova(m1, m0, refit=refit)
        assert table["model"].to_list() == ["model2", "model1"]  # sorted by npar
        assert table.drop("model").equals(named.drop("model"))


def test_laplace_against_quadrature_fit() -> None:
    """lme4 would subtract logLiks of two scales here (a Chisq of about 84); ours are
    comparable, so the test is close to the Laplace one (25.6)."""
    laplace = glmer(REF["anova"]["cbpp_period"]["models"][0])
    agq = glmer(REF["anova"]["cbpp_period_agq10"]["models"][1])
    table = mm.anova(laplace, agq)
    assert table["Chisq"][1] == pytest.approx(25.6, abs=0.2)


# ---------------------------------------------------------------- refusals
def cbpp_models() -> dict[str, mm.Lmer]:
    d = mm.load_dataset("cbpp")
    specs = {
        "binomial": ("cbind(incidence, size - incidence) ~ period + (1 | herd)", "binomial"),
        "poisson": ("incidence ~ period + (1 | herd)", "poisson"),
        "gaussian": ("incidence ~ period + (1 | herd)", "gaussian"),
    }
    out = {}
    for name, (f, fam) in specs.items():
        m = mm.Lmer(f, data=d, family=fam)
        m.fit(summarize=False, no_warnings=True, **({"REML": False} if fam == "gaussian" else {}))
        out[name] = m
    return out


@pytest.fixture(scope="module")
def mixed() -> dict[str, mm.Lmer]:
    return cbpp_models()


def test_gaussian_and_glmm_cannot_be_compared(mixed: dict[str, mm.Lmer]) -> None:
    with pytest.raises(mm.DataError, match=r"different families.*lmm: gaussian \(linear mixed model\).*glmm: poisson"):
        mm.anova(lmm=mixed["gaussian"], glmm=mixed["poisson"])
    with pytest.raises(mm.DataError, match="different families"):
        mm.anova(mixed["binomial"], mixed["gaussian"], refit=False)


def test_different_families_cannot_be_compared(mixed: dict[str, mm.Lmer]) -> None:
    with pytest.raises(mm.DataError, match=r"different families \(model1: binomial, model2: poisson\)"):
        mm.anova(mixed["binomial"], mixed["poisson"])


def test_unfitted_glmm_is_refused(mixed: dict[str, mm.Lmer]) -> None:
    m = mm.Lmer("incidence ~ 1 + (1 | herd)", data=mm.load_dataset("cbpp"), family="poisson")
    with pytest.raises(mm.DataError, match="model 'm0' has not been fitted"):
        mm.anova(m0=m, m1=mixed["poisson"])


def test_one_model_is_refused(mixed: dict[str, mm.Lmer]) -> None:
    with pytest.raises(mm.DataError, match="at least two fitted models"):
        mm.anova(mixed["poisson"])


def test_different_data_sizes_are_refused(mixed: dict[str, mm.Lmer]) -> None:
    d = mm.load_dataset("cbpp").head(40)
    small = mm.Lmer("incidence ~ 1 + (1 | herd)", data=d, family="poisson")
    small.fit(summarize=False, no_warnings=True)
    with pytest.raises(mm.DataError, match="same size of dataset"):
        mm.anova(small, mixed["poisson"])


def test_ranova_refuses_glmm(mixed: dict[str, mm.Lmer]) -> None:
    with pytest.raises(mm.DataError, match=r"ranova\(\) is for linear mixed models"):
        mm.ranova(mixed["poisson"])
    with pytest.raises(mm.DataError, match=r"ranova\(\) is for linear mixed models"):
        mixed["binomial"].ranova()
