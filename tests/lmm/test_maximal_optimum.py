"""The maximal crossed-slopes model, ``y ~ A * B + (1 + A * B | subj) + (1 + A * B | item)``
(20 theta), against lme4's polished optimum (tight BOBYQA, then Nelder-Mead:
tests/fixtures/maximal/polish.R, on the data of make_data.py):

- the benchmark's data set (`maximal_crossed_slopes` in benches/, 60 subjects x 40 items), REML
  and ML: an interior optimum, which BFGS reaches on its own;
- a small data set whose REML optimum lies on the boundary (24 x 16, seed 6), where the
  quasi-Newton run alone stops on another face, 4.5e-6 (relative) higher, and the edge probe
  after it (lme4's `restart_edge`, fit.rs `minimize_bfgs`) finds the way down; the boundary
  fit's second start (BOBYQA from lme4's start) runs as well and is counted.

Issue 9's criterion: within 1e-6 relative of lme4's polished optimum, never above it by more."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

import mixedmodels as mm

HERE = Path(__file__).parents[1] / "fixtures" / "maximal"
POLISHED = json.loads((HERE / "polished.json").read_text())
FORMULA = "y ~ A * B + (1 + A * B | subj) + (1 + A * B | item)"
CASES = [k for k in POLISHED if k != "r_versions"]


@pytest.fixture(scope="module", params=CASES)
def fitted(request):
    ref = POLISHED[request.param]
    data = pl.read_csv(HERE / ref["data"])
    m = mm.Lmer(FORMULA, data=data)
    m.fit(REML=ref["REML"], summarize=False, no_warnings=True)
    return m, ref


def test_criterion_at_lme4s_polished_optimum(fitted):
    m, ref = fitted
    polished = ref["polished"]
    assert (m.deviance - polished) / polished < 1e-6, (m.deviance, polished, m.optsummary)
    assert abs(m.deviance - polished) / polished < 1e-6


def test_same_criterion_as_lme4s_at_its_theta(fitted):
    # The criteria are the same function: R's devfun at the polished theta.
    m, ref = fitted
    assert abs(m.objective_at(ref["theta"]) - ref["devfun_at_theta"]) / ref["devfun_at_theta"] < 1e-10


def test_optimizer_record_names_what_ran(fitted):
    m, ref = fitted
    o = m.optsummary
    assert o["converged"]
    if ref["singular"]:
        # The boundary fit's second start ran, and both runs' evaluations are counted.
        assert o["optimizer"] == "bfgs+bobyqa" and o["feval"] > o["geval"] > 0
    else:
        assert o["optimizer"] == "bfgs" and o["feval"] == o["geval"] < 100


def test_lme4s_deviance_with_reml_true_is_the_ml_deviance():
    # The trap behind an earlier report of a "polished optimum" 1.3e-3 below ours: on a REML fit,
    # lme4 1.1-31's deviance(m, REML = TRUE) is the ML deviance at the REML estimates.
    ref = POLISHED["maximal_60x40_seed20240505_REML"]
    data = pl.read_csv(HERE / ref["data"])
    ml = mm.Lmer(FORMULA, data=data)
    ml.fit(REML=False, summarize=False, no_warnings=True, ddf="lme4")
    assert abs(ml.objective_at(ref["theta"]) - ref["deviance_REML_TRUE"]) < 1e-6 * ref["deviance_REML_TRUE"]
    assert ref["deviance_REML_TRUE"] < ref["polished"] - 9.0
