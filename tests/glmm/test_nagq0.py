"""``fit(nAGQ=0)`` against glmer(nAGQ = 0): theta optimised on the deviance of
PIRLS with the fixed effects estimated inside it (glmer's first stage alone),
standard errors from the weighted least-squares factor there (lme4 computes no
Hessian for nAGQ = 0), and that fit's own logLik.

References: tests/fixtures/glmm/nagq0.json (made by negbin.R there)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

import mixedmodels as mm

FIXTURES = Path(__file__).parents[1] / "fixtures"
CASES = json.loads((FIXTURES / "glmm" / "nagq0.json").read_text())["cases"]
SETUP: dict[str, dict[str, Any]] = {
    "cbpp": {"family": "binomial"},
    "grouseticks": {"family": "poisson"},
    "dietox_gamma": {"family": "gamma", "link": "log"},
    "visits_nb2": {"family": "negative_binomial", "nb_theta": 2.0},
}


def data(name: str) -> pl.DataFrame:
    if name == "negbin_visits":
        return pl.read_csv(FIXTURES / "data" / "negbin_visits.csv")
    d = mm.load_dataset(name)
    return d.with_columns(W100=pl.col("Weight") / 100) if name == "dietox" else d


@pytest.fixture(scope="module", params=sorted(CASES))
def fitted(request: pytest.FixtureRequest) -> tuple[mm.Glmer, dict[str, Any]]:
    case = CASES[request.param]
    setup = dict(SETUP[request.param])
    link = setup.pop("link", None)
    m = mm.Lmer(case["formula"], data=data(case["data"]), **setup)
    m.fit(summarize=False, nAGQ=0, link=link)
    return m, case


def test_estimates_and_standard_errors(fitted: Any) -> None:
    m, case = fitted
    np.testing.assert_allclose(m.beta, list(case["fixef"].values()), rtol=1e-5)
    np.testing.assert_allclose(np.sqrt(np.diag(m.vcov)), list(case["se"].values()), rtol=1e-4)
    np.testing.assert_allclose(m.theta, np.atleast_1d(case["theta"]), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(m.fits, case["fitted"], rtol=1e-5)
    ranef = {(r["group"], r["term"], r["level"]): r for r in case["ranef"]}
    for group, table in m.ranef.items():
        for term in table.columns[1:]:
            want = [ranef[(group, term, lv)]["condval"] for lv in table["level"]]
            np.testing.assert_allclose(table[term], want, rtol=1e-4, atol=1e-6)


def test_own_log_likelihood(fitted: Any) -> None:
    m, case = fitted
    assert m.logLike == pytest.approx(case["logLik"], abs=1e-6)
    assert m.npar == case["npar"]
    assert pytest.approx(case["AIC"], abs=1e-5) == m.AIC
    assert m.deviance == pytest.approx(case["deviance"], rel=1e-6)


def test_summary_and_optimizer_record(fitted: Any) -> None:
    m, case = fitted
    assert m.summary_text().splitlines()[0].endswith("(Adaptive Gauss-Hermite Quadrature, nAGQ = 0)")
    assert m.nAGQ == 0
    opt = m.optsummary
    assert opt["feval_stage2"] == 0 and opt["derivative_evaluations"] == 0
    assert 0 < opt["feval_stage1"] <= 2 * case["feval"]


def test_laplace_fit_is_at_least_as_likely() -> None:
    """The Laplace fit maximises over beta too: its logLik is higher."""
    case = CASES["cbpp"]
    zero = mm.Lmer(case["formula"], data=data("cbpp"), family="binomial")
    zero.fit(summarize=False, nAGQ=0)
    laplace = mm.Lmer(case["formula"], data=data("cbpp"), family="binomial")
    laplace.fit(summarize=False)
    assert laplace.logLike > zero.logLike
    assert abs(laplace.logLike - zero.logLike) < 0.1
