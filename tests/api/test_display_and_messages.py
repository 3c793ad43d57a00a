"""What a model shows (repr, notebook HTML, the optimizer's record with
verbose=True) and the messages of common mistakes (issue 13, item 6)."""

from __future__ import annotations

import pandas as pd
import polars as pl
import pytest

import mixedmodels as mm


@pytest.fixture(scope="module")
def sleep() -> mm.Lmer:
    m = mm.Lmer("Reaction ~ Days + (Days | Subject)", data=mm.load_dataset("sleepstudy"))
    m.fit(summarize=False)
    return m


def test_repr_of_fitted_and_unfitted_models(sleep):
    lines = repr(sleep).splitlines()
    assert lines[0] == "Lmer('Reaction ~ Days + (Days | Subject)')  fitted by REML"
    assert lines[1] == "  180 observations; groups: Subject 18"
    opt = sleep.optsummary
    assert lines[2].startswith(
        f"  REML criterion 1743.63; converged; bfgs, {opt['feval']} evaluations ({opt['geval']} with"
    )
    unfitted = mm.Lmer("Reaction ~ Days + (1 | Subject)", data=mm.load_dataset("sleepstudy"))
    assert repr(unfitted) == "Lmer('Reaction ~ Days + (1 | Subject)', family='gaussian') [not fitted]"
    cbpp = mm.Lmer("incidence ~ period + (1 | herd)", data=mm.load_dataset("cbpp"), family="poisson")
    cbpp.fit(summarize=False)
    assert repr(cbpp).splitlines()[0] == (
        "Glmer('incidence ~ period + (1 | herd)', family='poisson', link='log')  fitted by Laplace approximation"
    )
    assert f"logLik {cbpp.logLike:.2f}" in repr(cbpp)


def test_notebook_html_shows_whole_tables(sleep):
    with pl.Config(tbl_cols=3, tbl_rows=1):
        page = sleep._repr_html_()
    assert page.count("<table") == 2
    for column in sleep.coefs.columns:
        assert f">{column}<" in page
    assert "Days" in page and "Residual" in page and "…" not in page


def test_summary_prints_every_coefficient_column(sleep, capsys):
    with pl.Config(tbl_cols=3):
        coefs = sleep.summary()
    out = capsys.readouterr().out
    assert "Std. Error" in out and "Pr(>|t|)" in out and "df" in out
    assert coefs.equals(sleep.coefs)


def test_verbose_prints_the_optimizers_record(capsys):
    # The live table is tested in test_fit_progress.py; its last line is the optimizer's record.
    m = mm.Lmer("Reaction ~ Days + (Days | Subject)", data=mm.load_dataset("sleepstudy"))
    m.fit(summarize=False, verbose=True)
    out = capsys.readouterr().out.splitlines()
    opt = m.optsummary
    assert out[0].startswith("REML criterion by bfgs, 3 theta")
    assert out[2].split()[-3:] == ["[1,", "0,", "1]"], "the first row is the start"
    assert out[-1].startswith(
        f"converged after {opt['feval']} evaluations ({opt['geval']} with the gradient; "
        f"{opt['derivative_evaluations']} more for the derivatives at the optimum) in "
    )
    assert out[-1].endswith(f"REML criterion {opt['fmin']:.6f}: {opt['status']}")


def test_singular_fit_advice_is_for_python_users():
    m = mm.Lmer("Yield ~ 1 + (1 | Batch)", data=mm.load_dataset("dyestuff2"))
    with pytest.warns(UserWarning, match=r"boundary \(singular\) fit: .*m\.ranef_var") as record:
        m.fit(summarize=False)
    assert m.singular and not any("help(" in str(w.message) for w in record)


def test_cbind_needs_the_binomial_family():
    cbpp = mm.load_dataset("cbpp")
    formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
    with pytest.raises(mm.FormulaError, match='family="binomial"'):
        mm.Lmer(formula, data=cbpp)
    with pytest.raises(mm.FormulaError, match='not family="poisson"'):
        mm.Lmer(formula, data=cbpp, family="poisson")


def test_no_random_effects_points_to_lm():
    with pytest.raises(mm.DataError, match=r"no random-effects term.*mixedmodels\.Lm"):
        mm.Lmer("Reaction ~ Days", data=mm.load_dataset("sleepstudy"))


def test_pandas_columns_without_pyarrow_name_the_extra(monkeypatch):
    data = mm.load_dataset("sleepstudy").to_pandas()
    data["Subject"] = data["Subject"].astype("string")

    def no_pyarrow(*args, **kwargs):
        raise ImportError("pyarrow is required for converting a pandas string column")

    monkeypatch.setattr(pl, "from_pandas", no_pyarrow)
    with pytest.raises(mm.ColumnError) as info:
        mm.Lmer("Reaction ~ Days + (1 | Subject)", data=data)
    message = str(info.value)
    assert message.endswith("pip install 'mixedmodels[pandas]'") and "'Reaction'" in message
    assert isinstance(data, pd.DataFrame)
