"""The seed tutorial's pymer4 steps, as written apart from the imports and the
data's path (pymer4's quick start: its sample data, bundled here): fit and
display, the ANOVA table, the forest plot. Checked against lme4 + lmerTest
(tests/fixtures/tutorial/tutorial.R). lme4 1.1-31 stops this fit with a
gradient of 0.0036 (its convergence warning), short of the optimum this
package reaches, so estimates are compared at lme4's own precision there."""

import json
from pathlib import Path

import matplotlib
import pytest

from mixedmodels import Lmer, load_dataset

matplotlib.use("Agg")

try:
    from IPython.display import display
except ImportError:  # the tutorial runs in a notebook; print is display's plain-text form
    display = print

REFERENCE = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "tutorial" / "tutorial.json").read_text())


def test_tutorial_pymer4_steps():
    df = load_dataset("sample_data")
    model = Lmer("DV ~ IV2 + (IV2|Group)", data=df)
    display(model.fit())
    table = model.anova()
    ax = model.plot_summary()

    coefs = model.coefs
    assert coefs["Estimate"].to_list() == pytest.approx(list(REFERENCE["fixef"].values()), rel=1e-3)
    assert coefs["SE"].to_list() == pytest.approx(list(REFERENCE["se"].values()), rel=1e-3)
    assert coefs["DF"].to_list() == pytest.approx(list(REFERENCE["df"].values()), rel=1e-2)
    assert model.deviance <= REFERENCE["REMLcrit"] + 1e-4  # at least as far as lme4 went
    assert table["term"].to_list() == ["IV2"]
    assert table["F-stat"][0] == pytest.approx(REFERENCE["anova"]["F"], rel=1e-3)
    assert table["DenomDF"][0] == pytest.approx(REFERENCE["anova"]["DenDF"], rel=1e-2)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["(Intercept)", "IV2"]
